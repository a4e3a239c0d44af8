//! The Prometheus mapping as plain samples: what every series becomes as
//! `(name, extra label, value)` triples, for encoders that are not text (remote write).
//!
//! It follows the text exporters' mapping exactly (see the table in the
//! [module docs](super)): histograms as cumulative `_bucket{le}` (through `+Inf`),
//! `_sum`, `_count`; HDR histograms and timers as summaries (`{quantile}` over the
//! recent window, lifetime `_sum`/`_count`, timers in seconds); meters as
//! `<base>_total` plus `<base>_rate{window}`. `le` and `quantile` values use the same
//! OpenMetrics canonical spelling. Counters are named as OpenMetrics names them,
//! `<name minus _total>_total`, which is the Prometheus convention a store expects.

use tachometer_core::naming::{Dialect, NamePart, METER_RATE_WINDOWS, SUMMARY_QUANTILES};
use tachometer_core::{Descriptor, Value};

use crate::text::float::write_canonical;

/// Nanoseconds per second: timers record nanoseconds, Prometheus wants seconds.
const NANOS_PER_SECOND: f64 = 1e9;

/// One sample of a series.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample<'a> {
    /// The name's stem (the family name, or its base without `_total`).
    pub(crate) stem: &'a str,
    /// Appended to the stem: `""`, `_total`, `_bucket`, `_sum`, `_count`, `_rate`.
    pub(crate) suffix: &'static str,
    /// The label the sample carries besides the series' own (`le`, `quantile`, `window`).
    pub(crate) extra: Option<(&'static str, &'a str)>,
    /// The value.
    pub(crate) value: f64,
}

/// Calls `f` with every sample of one series, in exposition order, named by the core's
/// [naming table](tachometer_core::naming) in its OpenMetrics dialect. `le` is a reused
/// buffer for rendering bucket bounds and quantiles.
pub(crate) fn for_each_sample(
    desc: &Descriptor,
    value: Value<'_>,
    le: &mut String,
    f: &mut dyn FnMut(Sample<'_>),
) {
    let name = desc.name();
    let names = desc.kind().exposition().names(Dialect::OpenMetrics);
    let label = names.primary_label.unwrap_or_default();
    let sample = |part: NamePart, value| Sample {
        stem: part.stem_of(name),
        suffix: part.suffix,
        extra: None,
        value,
    };
    let primary = |value| sample(names.primary, value);
    // Present for every kind with `_sum`/`_count` (the table's, so never the fallback).
    let sum = names.sum.unwrap_or(names.primary);
    let count = names.count.unwrap_or(names.primary);
    match value {
        Value::Counter(v) => f(primary(v as f64)),
        Value::FloatCounter(v) | Value::FloatGauge(v) | Value::Unknown(v) => {
            f(primary(v));
        }
        Value::Gauge(v) => f(primary(v as f64)),
        Value::Histogram {
            bounds,
            counts,
            sum: total,
        } => {
            let mut cumulative = 0u64;
            for i in 0..=bounds.len() {
                cumulative = cumulative.saturating_add(counts.get(i).copied().unwrap_or(0));
                le.clear();
                write_canonical(le, bounds.get(i).copied().unwrap_or(f64::INFINITY));
                f(Sample {
                    extra: Some((label, le.as_str())),
                    ..primary(cumulative as f64)
                });
            }
            f(sample(sum, total));
            f(sample(count, cumulative as f64));
        }
        Value::NativeHistogram(s) => {
            // Remote write 1.0 samples carry the classic part (`+Inf` alone without it).
            let (bounds, counts) = s.classic_view();
            let sum = s.sum;
            for_each_sample(
                desc,
                Value::Histogram {
                    bounds,
                    counts,
                    sum,
                },
                le,
                f,
            );
        }
        Value::HdrHistogram(s) => {
            for (q, text) in SUMMARY_QUANTILES {
                f(Sample {
                    extra: Some((label, text)),
                    ..primary(s.quantile(q))
                });
            }
            f(sample(sum, s.sum() as f64));
            f(sample(count, s.count() as f64));
        }
        Value::Timer(t) => {
            let d = &t.durations;
            for (q, text) in SUMMARY_QUANTILES {
                f(Sample {
                    extra: Some((label, text)),
                    ..primary(d.quantile(q) / NANOS_PER_SECOND)
                });
            }
            f(sample(sum, d.sum() as f64 / NANOS_PER_SECOND));
            f(sample(count, d.count() as f64));
        }
        Value::Summary {
            quantiles,
            sum: total,
            count: n,
        } => {
            for &(q, v) in quantiles {
                le.clear();
                write_canonical(le, q);
                f(Sample {
                    extra: Some((label, le.as_str())),
                    ..primary(v)
                });
            }
            f(sample(sum, total));
            f(sample(count, n as f64));
        }
        Value::Meter(m) => {
            f(primary(m.count as f64));
            if let Some((_, rate, window)) = names.rate {
                let rates = [m.m1_rate, m.m5_rate, m.m15_rate, m.mean_rate];
                for (w, r) in METER_RATE_WINDOWS.into_iter().zip(rates) {
                    f(Sample {
                        extra: Some((window, w)),
                        ..sample(rate, r)
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tachometer_core::{Buckets, Labels, Opts, Registry, Visitor};

    use super::*;
    use crate::prometheus::{Encoder, Format};

    /// Renders the samples as 0.0.4-like lines (`name{extra} value`).
    struct Lines(String, String);
    impl Visitor for Lines {
        fn series(&mut self, desc: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
            let out = &mut self.0;
            for_each_sample(desc, value, &mut self.1, &mut |s| {
                out.push_str(s.stem);
                out.push_str(s.suffix);
                let mut pairs: Vec<String> =
                    labels.iter().map(|(n, v)| format!("{n}=\"{v}\"")).collect();
                if let Some((n, v)) = s.extra {
                    pairs.push(format!("{n}=\"{v}\""));
                }
                if !pairs.is_empty() {
                    out.push_str(&format!("{{{}}}", pairs.join(",")));
                }
                out.push_str(&format!(" {}\n", s.value));
            });
        }
    }

    /// Every sample line of the text exporter, counters renamed to `_total`, appears
    /// with the same value here, and nothing else: the two mappings cannot drift.
    #[test]
    fn same_samples_as_the_text_exporter() {
        let r = Registry::new();
        r.counter(Opts::new("jobs", "")).unwrap().increment(3);
        r.counter(Opts::new("rows_total", "")).unwrap().increment(4);
        r.gauge(Opts::new("temp", "")).unwrap().set(-2);
        let h = r
            .histogram_family(
                Opts::new("lat", "").labels(&["route"]),
                Buckets::new(&[0.5, 1.0]).unwrap(),
            )
            .unwrap();
        h.with_labels(&["/a"]).unwrap().record(0.7);
        h.with_labels(&["/a"]).unwrap().record(9.0);
        r.meter(Opts::new("hits_total", "")).unwrap().mark(5);
        r.timer(Opts::new("step_seconds", ""))
            .unwrap()
            .record(std::time::Duration::from_millis(25));
        r.hdr_histogram(
            Opts::new("size_bytes", ""),
            tachometer_core::HdrConfig::default(),
        )
        .unwrap()
        .record(100);

        let mut v = Lines(String::new(), String::new());
        r.visit(&mut v);
        let ours: Vec<(String, f64)> =
            v.0.lines()
                .map(|l| {
                    let (k, val) = l.rsplit_once(' ').unwrap();
                    (k.to_owned(), val.parse().unwrap())
                })
                .collect();
        let text = Encoder::new().encode(&r, Format::Text004).to_owned();
        let theirs: Vec<(String, f64)> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (k, val) = l.rsplit_once(' ').unwrap();
                let k = if k == "jobs" { "jobs_total" } else { k };
                (k.to_owned(), val.parse().unwrap())
            })
            .collect();
        assert_eq!(ours.len(), theirs.len(), "ours:\n{}\ntext:\n{text}", v.0);
        for ((a, x), (b, y)) in ours.iter().zip(&theirs) {
            assert_eq!(a, b);
            // A meter's rates move with the clock between the two walks.
            let moving = a.starts_with("hits_rate");
            assert!(
                moving || x == y || (x.is_nan() && y.is_nan()),
                "{a}: {x} vs {y}"
            );
        }
        assert!(
            v.0.contains("lat_bucket{route=\"/a\",le=\"1.0\"} 1\n"),
            "{}",
            v.0
        );
        assert!(v.0.contains("lat_count{route=\"/a\"} 2\n"), "{}", v.0);
        assert!(v.0.contains("step_seconds_sum 0.025\n"), "{}", v.0);
    }
}
