//! Sample lines, shared by the 0.0.4 and OpenMetrics visitors.
//!
//! Apart from headers, the formats differ in only three places, so the sample writer
//! takes a [`Dialect`] instead of being written twice: the sample name of a plain
//! counter (0.0.4 uses the registered name, OpenMetrics `<family>_total`), how float
//! values are spelled (`1` vs `1.0`), and whether a histogram may show `_sum`/`_count`
//! (OpenMetrics forbids a negative or NaN sum and a `_sum` next to negative buckets, and
//! `_count` must come and go with `_sum`).
//!
//! Everything is written straight into the caller's `String`: names as two borrowed
//! parts (`base` + `suffix`), label values escaped run by run, numbers through the
//! stack-only writers in [`float`](super::float). A series therefore costs no allocation
//! once the buffers have grown to size.

use tachometer_core::{Descriptor, Labels, Value};

use super::escape::write_label_value;
use super::float::{write_canonical, write_float, write_u64};

/// Which text format a sample is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Prometheus text 0.0.4.
    Text,
    /// OpenMetrics 1.0.
    OpenMetrics,
}

/// Quantiles every HDR histogram and timer exports, with their canonical spelling
/// (identical in both formats).
pub(crate) const QUANTILES: [(f64, &str); 6] = [
    (0.5, "0.5"),
    (0.75, "0.75"),
    (0.95, "0.95"),
    (0.98, "0.98"),
    (0.99, "0.99"),
    (0.999, "0.999"),
];

/// Nanoseconds per second: timers record nanoseconds, both formats want base units.
const NANOS_PER_SECOND: f64 = 1e9;

/// A family name without a trailing `_total` (the OpenMetrics counter family name, and
/// the base a meter's two families are named from).
pub(crate) fn base_name(name: &str) -> &str {
    name.strip_suffix("_total").unwrap_or(name)
}

/// The label a sample carries after the series' own labels.
#[derive(Clone, Copy)]
enum Extra<'s> {
    None,
    /// A value that needs no escaping (`window="1m"`, `quantile="0.99"`).
    Str(&'static str, &'s str),
    /// A bucket bound, rendered in OpenMetrics canonical form in both formats.
    Le(f64),
}

struct SampleWriter<'o> {
    out: &'o mut String,
    dialect: Dialect,
}

impl SampleWriter<'_> {
    fn start(&mut self, name: &str, suffix: &str, labels: Labels<'_>, extra: Extra<'_>) {
        let out = &mut *self.out;
        out.push_str(name);
        out.push_str(suffix);
        if labels.is_empty() && matches!(extra, Extra::None) {
            out.push(' ');
            return;
        }
        out.push('{');
        let mut first = true;
        for (n, v) in labels.iter() {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(n);
            out.push_str("=\"");
            write_label_value(out, v);
            out.push('"');
        }
        if !first && !matches!(extra, Extra::None) {
            out.push(',');
        }
        match extra {
            Extra::None => {}
            Extra::Str(n, v) => {
                out.push_str(n);
                out.push_str("=\"");
                out.push_str(v);
                out.push('"');
            }
            Extra::Le(bound) => {
                out.push_str("le=\"");
                write_canonical(out, bound);
                out.push('"');
            }
        }
        out.push_str("} ");
    }

    fn uint(&mut self, name: &str, suffix: &str, labels: Labels<'_>, extra: Extra<'_>, v: u64) {
        self.start(name, suffix, labels, extra);
        write_u64(self.out, v);
        self.out.push('\n');
    }

    fn int(&mut self, name: &str, suffix: &str, labels: Labels<'_>, v: i64) {
        self.start(name, suffix, labels, Extra::None);
        super::float::write_i64(self.out, v);
        self.out.push('\n');
    }

    fn float(&mut self, name: &str, suffix: &str, labels: Labels<'_>, extra: Extra<'_>, v: f64) {
        self.start(name, suffix, labels, extra);
        match self.dialect {
            Dialect::Text => write_float(self.out, v),
            Dialect::OpenMetrics => write_canonical(self.out, v),
        }
        self.out.push('\n');
    }
}

/// Writes one series' samples. Everything goes to `out` except a meter's rate samples,
/// which belong to a second family and go to `aux` (flushed at the family's end).
pub(crate) fn write_series(
    out: &mut String,
    aux: &mut String,
    dialect: Dialect,
    desc: &Descriptor,
    labels: Labels<'_>,
    value: Value<'_>,
) {
    let name = desc.name();
    let mut w = SampleWriter { out, dialect };
    let (counter_name, counter_suffix) = match dialect {
        Dialect::Text => (name, ""),
        Dialect::OpenMetrics => (base_name(name), "_total"),
    };
    match value {
        Value::Counter(v) => w.uint(counter_name, counter_suffix, labels, Extra::None, v),
        Value::FloatCounter(v) => w.float(counter_name, counter_suffix, labels, Extra::None, v),
        Value::Gauge(v) => w.int(name, "", labels, v),
        Value::FloatGauge(v) => w.float(name, "", labels, Extra::None, v),
        Value::Histogram {
            bounds,
            counts,
            sum,
        } => {
            let mut cumulative = 0u64;
            // Always through `+Inf`, whatever `counts` holds, so the `+Inf` bucket exists
            // and equals `_count`.
            for i in 0..=bounds.len() {
                cumulative = cumulative.saturating_add(counts.get(i).copied().unwrap_or(0));
                let le = bounds.get(i).copied().unwrap_or(f64::INFINITY);
                w.uint(name, "_bucket", labels, Extra::Le(le), cumulative);
            }
            let show_sum = match dialect {
                Dialect::Text => true,
                Dialect::OpenMetrics => sum >= 0.0 && bounds.iter().all(|b| *b >= 0.0),
            };
            if show_sum {
                w.float(name, "_sum", labels, Extra::None, sum);
                w.uint(name, "_count", labels, Extra::None, cumulative);
            }
        }
        Value::HdrHistogram(s) => {
            for (q, text) in QUANTILES {
                w.float(
                    name,
                    "",
                    labels,
                    Extra::Str("quantile", text),
                    s.quantile(q),
                );
            }
            w.uint(name, "_sum", labels, Extra::None, s.sum());
            w.uint(name, "_count", labels, Extra::None, s.count());
        }
        Value::Timer(t) => {
            let d = &t.durations;
            for (q, text) in QUANTILES {
                let seconds = d.quantile(q) / NANOS_PER_SECOND;
                w.float(name, "", labels, Extra::Str("quantile", text), seconds);
            }
            // Division, not `* 1e-9`: 25_000_000 ns must print as 0.025, not 0.025000000000000001.
            w.float(
                name,
                "_sum",
                labels,
                Extra::None,
                d.sum() as f64 / NANOS_PER_SECOND,
            );
            w.uint(name, "_count", labels, Extra::None, d.count());
        }
        Value::Meter(m) => {
            let base = base_name(name);
            w.uint(base, "_total", labels, Extra::None, m.count);
            let mut r = SampleWriter { out: aux, dialect };
            for (window, rate) in [
                ("1m", m.m1_rate),
                ("5m", m.m5_rate),
                ("15m", m.m15_rate),
                ("mean", m.mean_rate),
            ] {
                r.float(base, "_rate", labels, Extra::Str("window", window), rate);
            }
        }
        // A kind added to the core later: nothing we know how to write.
        _ => {}
    }
}
