//! Escaping of label values and HELP text.
//!
//! The two formats agree on label values (`\` → `\\`, `"` → `\"`, LF → `\n`, nothing
//! else: TAB, CR, NUL and non-ASCII are written raw) but not on HELP: 0.0.4 escapes only
//! `\` and LF and writes `"` raw, while OpenMetrics' HELP is an escaped string like a
//! label value, so `"` must become `\"` there. Getting this wrong is invisible to a lax
//! parser and fatal to a strict one, hence one function per rule.
//!
//! Each function copies runs of ordinary bytes in one `push_str`, so the common case (no
//! special characters) is a single copy.

/// Writes a label value escaped for either format.
///
/// ```
/// let mut s = String::new();
/// tachometer_exporters::prometheus::escape::write_label_value(&mut s, "say \"hi\"\nbye");
/// assert_eq!(s, r#"say \"hi\"\nbye"#);
/// ```
pub fn write_label_value(out: &mut String, value: &str) {
    write_escaped(out, value, true);
}

/// Writes HELP text escaped for Prometheus text 0.0.4 (`\` and LF only).
pub fn write_help_text(out: &mut String, help: &str) {
    write_escaped(out, help, false);
}

/// Writes HELP text escaped for OpenMetrics (`\`, `"` and LF).
pub fn write_help_openmetrics(out: &mut String, help: &str) {
    write_escaped(out, help, true);
}

fn write_escaped(out: &mut String, s: &str, quote: bool) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let replacement = match b {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'"' if quote => "\\\"",
            _ => continue,
        };
        // `i` is at an ASCII byte, hence on a char boundary.
        out.push_str(&s[start..i]);
        out.push_str(replacement);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_differs_only_in_quotes() {
        let help = "a \"b\" \\ c\nd\te\r";
        let (mut text, mut om) = (String::new(), String::new());
        write_help_text(&mut text, help);
        write_help_openmetrics(&mut om, help);
        assert_eq!(text, "a \"b\" \\\\ c\\nd\te\r");
        assert_eq!(om, "a \\\"b\\\" \\\\ c\\nd\te\r");
    }
}
