//! Text helpers for the rule generator: numbers, durations, PromQL strings and YAML
//! strings, each written so that the output parses back to exactly what was meant.

use std::fmt::Write as _;
use std::time::Duration;

/// A number for PromQL and YAML: rounded to 12 significant digits (so that `1 - 0.999`
/// prints `0.001`, not `0.0010000000000000009`), then Rust's shortest round-trip form,
/// which never uses an exponent and which PromQL reads back as the same value.
pub(crate) fn num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v == f64::INFINITY {
            "+Inf".into()
        } else if v == f64::NEG_INFINITY {
            "-Inf".into()
        } else {
            "0".into()
        };
    }
    // `{:.11e}` is 12 significant digits; parsing it back gives the rounded value.
    let rounded: f64 = format!("{v:.11e}").parse().unwrap_or(v);
    format!("{rounded}")
}

/// A percentage for prose: `99.9`, `99`, `0.1`.
pub(crate) fn percent(ratio: f64) -> String {
    num(ratio * 100.0)
}

/// A Prometheus duration (`5m`, `1h30m`, `3d`, `2s500ms`); zero is `0s`. Sub-millisecond
/// parts are rounded to the nearest millisecond, the finest unit Prometheus has.
pub(crate) fn duration(d: Duration) -> String {
    let mut ms = (d.as_nanos() + 500_000) / 1_000_000;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, len) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= len {
            let _ = write!(out, "{}{unit}", ms / len);
            ms %= len;
        }
    }
    out
}

/// Parses a Prometheus-style duration: one or more `<integer><unit>` parts with units
/// `ms`, `s`, `m`, `h`, `d`, `w`, `y` (365 days), largest first, e.g. `5m`, `1h30m`, `3d`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(tachometer::rules::parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert!(tachometer::rules::parse_duration("5 minutes").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "{text:?} is not a duration; write e.g. 5m, 1h30m, 3d or 500ms \
             (units ms, s, m, h, d, w, y, largest first)"
        )
    };
    if text.is_empty() || text.len() > 64 {
        return Err(bad());
    }
    let mut total: u128 = 0;
    let mut rest = text;
    let mut last_unit = u128::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return Err(bad());
        }
        let n: u128 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return Err(bad()),
        };
        if ms >= last_unit {
            return Err(bad());
        }
        last_unit = ms;
        rest = &rest[unit_len..];
        total += n * ms;
    }
    u64::try_from(total)
        .map(Duration::from_millis)
        .map_err(|_| bad())
}

/// Whether `name` is a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub(crate) fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `value` as a double-quoted PromQL string: `\` and `"` escaped, control characters as
/// `\u00XX` (so the text stays printable inside YAML).
pub(crate) fn promql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `value` as a double-quoted YAML scalar: `\` and `"` escaped, control characters as
/// `\u00XX`. Double quotes keep `{{ … }}` templates, `: ` and `#` from meaning anything
/// to YAML.
pub(crate) fn yaml_string(value: &str) -> String {
    // YAML's double-quoted escapes are a superset of these, with the same spelling.
    promql_string(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_to_twelve_significant_digits() {
        assert_eq!(num(1.0 - 0.999), "0.001");
        assert_eq!(num(14.4 * 0.001), "0.0144");
        assert_eq!(num(0.85), "0.85");
        assert_eq!(num(2.0), "2");
        assert_eq!(num(0.1), "0.1");
        assert_eq!(num(1e-7), "0.0000001");
        assert_eq!(num(0.0), "0");
        assert_eq!(percent(0.999), "99.9");
    }

    #[test]
    fn durations_round_trip() {
        for (text, secs) in [
            ("5m", 300),
            ("1h", 3600),
            ("1h30m", 5400),
            ("1d", 86_400),
            ("3d", 259_200),
        ] {
            assert_eq!(parse_duration(text), Ok(Duration::from_secs(secs)));
            assert_eq!(duration(Duration::from_secs(secs)), text);
        }
        assert_eq!(duration(Duration::from_millis(2500)), "2s500ms");
        assert_eq!(parse_duration("2s500ms"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("1w"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(duration(Duration::from_secs(7 * 86_400)), "7d");
        assert_eq!(duration(Duration::ZERO), "0s");
        for bad in ["", "5", "m", "5M", "1m1h", "5m5m", "-5m", "1.5h", "5 m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn strings_escape_what_would_break_them() {
        assert_eq!(promql_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(promql_string("a\nb"), r#""a\u000ab""#);
        assert_eq!(
            yaml_string("{{ $labels.job }}: x"),
            r#""{{ $labels.job }}: x""#
        );
        assert!(is_label_name("job"));
        assert!(is_label_name("_x1"));
        assert!(!is_label_name("1x"));
        assert!(!is_label_name(""));
        assert!(!is_label_name("a-b"));
    }
}
