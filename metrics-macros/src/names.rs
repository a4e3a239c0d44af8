//! Compile-time checks of metric and label names, mirroring the core's rules so a bad
//! literal is an error at the literal instead of a registration failure at run time.

/// Why `name` is not a valid metric name, if it is not.
pub fn metric_name_error(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    (!ok).then(|| {
        format!(
            "invalid metric name {name:?}: use letters, digits, '_' and ':' only, not starting with a digit ([a-zA-Z_:][a-zA-Z0-9_:]*)"
        )
    })
}

/// Label names a macro or a metric kind already uses, each with the reason.
pub type Reserved = &'static [(&'static str, &'static str)];

/// Why `label` is not a valid label name, if it is not.
pub fn label_name_error(label: &str, reserved: Reserved) -> Option<String> {
    let mut chars = label.chars();
    let well_formed = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        Some(format!(
            "invalid label name {label:?}: use letters, digits and '_' only, not starting with a digit ([a-zA-Z_][a-zA-Z0-9_]*)"
        ))
    } else if label.starts_with("__") {
        Some(format!(
            "invalid label name {label:?}: names starting with \"__\" are reserved for Prometheus"
        ))
    } else {
        reserved
            .iter()
            .find(|(name, _)| *name == label)
            .map(|(_, why)| format!("label name {label:?} is reserved: {why}; pick another name"))
    }
}
