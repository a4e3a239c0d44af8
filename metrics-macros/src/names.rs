//! Compile-time checks of metric and label names with the core's own rules (see
//! `naming.rs`, the core's file compiled here too), so a bad literal is an error at the
//! literal instead of a registration failure at run time.

use crate::naming::{is_valid_metric_name, label_name_problem, METRIC_NAME_RULE};

/// Why `name` is not a valid metric name, if it is not.
pub fn metric_name_error(name: &str) -> Option<String> {
    (!is_valid_metric_name(name))
        .then(|| format!("invalid metric name {name:?}: {METRIC_NAME_RULE}"))
}

/// Label names a macro or a metric kind already uses, each with the reason.
pub type Reserved = &'static [(&'static str, &'static str)];

/// Why `label` is not a valid label name, if it is not.
pub fn label_name_error(label: &str, reserved: Reserved) -> Option<String> {
    if let Some(problem) = label_name_problem(label) {
        Some(format!("invalid label name {label:?}: {problem}"))
    } else {
        reserved
            .iter()
            .find(|(name, _)| *name == label)
            .map(|(_, why)| format!("label name {label:?} is reserved: {why}; pick another name"))
    }
}
