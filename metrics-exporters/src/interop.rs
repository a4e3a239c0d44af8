//! Serving an existing `prometheus` crate registry from our endpoint.
//!
//! A program migrating to Tachometer (or linking a library that still uses the
//! `prometheus` crate) should not need two endpoints and two scrape jobs. The other
//! registry's families are gathered at scrape time and appended after ours:
//!
//! * **Text 0.0.4:** each family goes through the crate's own `TextEncoder`, so its
//!   output is exactly what that crate would serve. A family the encoder rejects is
//!   left out rather than failing the whole scrape.
//! * **OpenMetrics:** the crate has no OpenMetrics encoder (and the protobuf model is
//!   disabled), so its families are converted here: metadata on the family name,
//!   counters named `x_total` become family `x` with sample `x_total`, `le`/`quantile`
//!   values in canonical form, HELP and label escaping per OpenMetrics. A counter whose
//!   name lacks `_total` is exposed as `unknown` with its sample name unchanged, which
//!   is what the Go reference encoder does; renaming it would give the series a
//!   different name depending on the negotiated format.
//! * **`# EOF` once, at the very end.** Our families are rendered without a terminator
//!   ([`Encoder::write_families`]), the other families follow, and
//!   [`write_terminator`] ends the exposition; nothing is cut out of rendered text.
//! * **Name clashes:** a family whose name (or name without/with `_total`) is one of
//!   our families' is skipped: two families of one name make the whole exposition
//!   invalid for Prometheus, and ours wins.
//!
//! ```
//! use tachometer_exporters::interop::encode_with;
//! use tachometer_exporters::prometheus::Format;
//! let ours = tachometer_core::Registry::new();
//! let theirs = prometheus::Registry::new();
//! let c = prometheus::IntCounter::new("legacy_jobs_total", "Jobs.").unwrap();
//! theirs.register(Box::new(c.clone())).unwrap();
//! c.inc_by(3);
//! let mut out = String::new();
//! encode_with(&ours, &theirs, Format::OpenMetrics100, &mut out);
//! assert!(out.contains("# TYPE legacy_jobs counter\n"));
//! assert!(out.contains("\nlegacy_jobs_total 3.0\n"));
//! assert!(out.ends_with("\nlegacy_jobs_total 3.0\n# EOF\n"));
//! ```

use std::collections::HashSet;
use std::fmt::Write as _;

use ::prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType};
use ::prometheus::TextEncoder;
use tachometer_core::Registry;

use crate::prometheus::escape::{write_help_openmetrics, write_label_value};
use crate::prometheus::float::write_canonical;
use crate::prometheus::{write_terminator, Encoder, Format};

/// Renders `ours` in `format`, then the families `theirs` gathers, as one valid
/// exposition.
pub fn encode_with(
    ours: &Registry,
    theirs: &::prometheus::Registry,
    format: Format,
    out: &mut String,
) {
    Encoder::new().write_families(ours, format, out);
    let taken: HashSet<String> = ours
        .descriptors()
        .iter()
        .map(|d| d.name().to_owned())
        .collect();
    let families: Vec<MetricFamily> = theirs
        .gather()
        .into_iter()
        .filter(|mf| !clashes(&taken, mf.name()))
        .collect();
    match format {
        Format::Text004 => encode_text(&families, out),
        Format::OpenMetrics100 | Format::OpenMetrics001 => {
            for mf in &families {
                write_openmetrics_family(mf, out);
            }
        }
    }
    write_terminator(format, out);
}

/// Appends `families` in Prometheus text 0.0.4 using the crate's own encoder, one
/// family at a time so that a rejected family is dropped alone.
fn encode_text(families: &[MetricFamily], out: &mut String) {
    let encoder = TextEncoder::new();
    for mf in families {
        let before = out.len();
        if encoder.encode_utf8(std::slice::from_ref(mf), out).is_err() {
            out.truncate(before);
        }
    }
}

fn clashes(taken: &HashSet<String>, name: &str) -> bool {
    let base = name.strip_suffix("_total").unwrap_or(name);
    taken.contains(name) || taken.contains(base) || taken.contains(&format!("{base}_total"))
}

/// Appends one family as OpenMetrics 1.0 (without `# EOF`).
fn write_openmetrics_family(mf: &MetricFamily, out: &mut String) {
    let name = mf.name();
    let (family, om_type) = match mf.get_field_type() {
        MetricType::COUNTER => match name.strip_suffix("_total") {
            Some(base) if !base.is_empty() => (base, "counter"),
            _ => (name, "unknown"),
        },
        MetricType::GAUGE => (name, "gauge"),
        MetricType::HISTOGRAM => (name, "histogram"),
        MetricType::SUMMARY => (name, "summary"),
        MetricType::UNTYPED => (name, "unknown"),
    };
    let _ = writeln!(out, "# TYPE {family} {om_type}");
    if !mf.help().is_empty() {
        out.push_str("# HELP ");
        out.push_str(family);
        out.push(' ');
        write_help_openmetrics(out, mf.help());
        out.push('\n');
    }
    for m in mf.get_metric() {
        let ts = m.timestamp_ms();
        match mf.get_field_type() {
            MetricType::COUNTER => {
                let v = m.get_counter().get_value();
                if v.is_nan() || v < 0.0 {
                    continue; // OpenMetrics forbids NaN or negative totals
                }
                sample(out, name, m.get_label(), None, Num::F(v), ts);
            }
            MetricType::GAUGE => sample(
                out,
                name,
                m.get_label(),
                None,
                Num::F(m.get_gauge().get_value()),
                ts,
            ),
            MetricType::UNTYPED => {
                // Only custom collectors produce untyped families; the crate's own
                // TextEncoder reads them through this same deprecated accessor.
                #[allow(deprecated)]
                sample(
                    out,
                    name,
                    m.get_label(),
                    None,
                    Num::F(m.get_untyped().get_value()),
                    ts,
                );
            }
            MetricType::HISTOGRAM => write_histogram(out, name, m, ts),
            MetricType::SUMMARY => {
                let s = m.get_summary();
                let mut q = String::new();
                for quantile in s.get_quantile() {
                    q.clear();
                    write_canonical(&mut q, quantile.quantile());
                    sample(
                        out,
                        name,
                        m.get_label(),
                        Some(("quantile", &q)),
                        Num::F(quantile.value()),
                        ts,
                    );
                }
                let sum = format!("{name}_sum");
                sample(out, &sum, m.get_label(), None, Num::F(s.sample_sum()), ts);
                let count = format!("{name}_count");
                sample(
                    out,
                    &count,
                    m.get_label(),
                    None,
                    Num::U(s.sample_count()),
                    ts,
                );
            }
        }
    }
}

fn write_histogram(out: &mut String, name: &str, m: &Metric, ts: i64) {
    let h = m.get_histogram();
    let bucket = format!("{name}_bucket");
    let mut le = String::new();
    let mut saw_inf = false;
    let mut negative_bound = false;
    let mut last = f64::NEG_INFINITY;
    for b in h.get_bucket() {
        let bound = b.upper_bound();
        // Bounds must be strictly increasing and not NaN; skip any that are not.
        if bound.is_nan() || bound <= last {
            continue;
        }
        last = bound;
        negative_bound |= bound < 0.0;
        le.clear();
        if bound == f64::INFINITY {
            saw_inf = true;
            le.push_str("+Inf");
        } else {
            write_canonical(&mut le, bound);
        }
        sample(
            out,
            &bucket,
            m.get_label(),
            Some(("le", &le)),
            Num::U(b.cumulative_count()),
            ts,
        );
    }
    if !saw_inf {
        sample(
            out,
            &bucket,
            m.get_label(),
            Some(("le", "+Inf")),
            Num::U(h.get_sample_count()),
            ts,
        );
    }
    // OpenMetrics: a histogram with negative thresholds must not expose `_sum`, and
    // `_count` appears exactly when `_sum` does.
    if !negative_bound {
        let sum = format!("{name}_sum");
        sample(
            out,
            &sum,
            m.get_label(),
            None,
            Num::F(h.get_sample_sum()),
            ts,
        );
        let count = format!("{name}_count");
        sample(
            out,
            &count,
            m.get_label(),
            None,
            Num::U(h.get_sample_count()),
            ts,
        );
    }
}

enum Num {
    F(f64),
    U(u64),
}

fn sample(
    out: &mut String,
    name: &str,
    labels: &[LabelPair],
    extra: Option<(&str, &str)>,
    value: Num,
    ts_ms: i64,
) {
    out.push_str(name);
    if !labels.is_empty() || extra.is_some() {
        out.push('{');
        let mut first = true;
        let pairs = labels.iter().map(|l| (l.name(), l.value())).chain(extra);
        for (k, v) in pairs {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(k);
            out.push_str("=\"");
            write_label_value(out, v);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    match value {
        Num::U(v) => {
            let _ = write!(out, "{v}");
        }
        Num::F(v) => write_canonical(out, v),
    }
    if ts_ms != 0 {
        // OpenMetrics timestamps are seconds; the crate's are milliseconds.
        let _ = write!(
            out,
            " {}.{:03}",
            ts_ms.div_euclid(1000),
            ts_ms.rem_euclid(1000)
        );
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clash_detection() {
        let taken: HashSet<String> = ["jobs_total".to_owned(), "temp".to_owned()].into();
        assert!(clashes(&taken, "jobs_total"));
        assert!(clashes(&taken, "jobs"));
        assert!(clashes(&taken, "temp_total"));
        assert!(!clashes(&taken, "other"));
    }
}
