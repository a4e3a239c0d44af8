//! Serving an existing `prometheus` crate registry from our endpoint.
//!
//! A program migrating to Tachometer (or linking a library that still uses the
//! `prometheus` crate) should not need two endpoints and two scrape jobs. A
//! [`PrometheusCollector`] gathers the other registry's families at scrape time and
//! hands them to the common walk as a [`Collector`], so every format writes them exactly
//! as it writes our own families:
//!
//! | `prometheus` crate | Tachometer |
//! |---|---|
//! | `COUNTER` | float counter (OpenMetrics: family `x`, sample `x_total`, as for our counters) |
//! | `GAUGE` | float gauge |
//! | `HISTOGRAM` | histogram (`le` in canonical form, `1.0`, in both formats) |
//! | `SUMMARY` | summary |
//! | `UNTYPED` | untyped (`unknown` in OpenMetrics) |
//!
//! * **Name order.** The families join ours in name order, and the exposition ends with
//!   one `# EOF` (OpenMetrics) because there is only one walk.
//! * **Name clashes:** a family whose names collide with one of ours (say `jobs` next to
//!   our counter `jobs_total`) is left out, since two families of one name make the
//!   whole exposition invalid for Prometheus, and ours wins; so is a family or series
//!   our naming rules reject. Each is counted in
//!   [`tachometer_collector_rejected_total{metric}`](tachometer_core::COLLECTOR_REJECTED_METRIC_NAME).
//! * **Differences from the crate's own `TextEncoder`:** `le` and `quantile` values are
//!   spelled canonically (`le="1.0"` where it writes `le="1"`; Prometheus ≥ 3 normalises
//!   to this form on ingestion), and sample timestamps, which only custom collectors set,
//!   are not carried (every value is read at scrape time anyway).
//!
//! [`encode_with`] renders both registries for one response; to include the other
//! registry in every exporter (JSON, StatsD too), register the collector instead:
//! `ours.register_collector(PrometheusCollector::new(theirs))`.
//!
//! ```
//! use tachometer::exporters::interop::encode_with;
//! use tachometer::exporters::prometheus::Format;
//! let ours = tachometer::Registry::new();
//! let theirs = prometheus::Registry::new();
//! let c = prometheus::IntCounter::new("legacy_jobs_total", "Jobs.").unwrap();
//! theirs.register(Box::new(c.clone())).unwrap();
//! c.inc_by(3);
//! let mut out = String::new();
//! encode_with(&ours, &theirs, Format::OpenMetrics100, &mut out);
//! assert!(out.contains("# TYPE legacy_jobs counter\n"));
//! assert!(out.ends_with("\nlegacy_jobs_total 3.0\n# EOF\n"));
//! ```

use ::prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType};
use tachometer_core::{Collection, Collector, MetricKind, Opts, Registry, Value};

use crate::prometheus::{Encoder, Format};

/// A `prometheus` crate registry as a [`Collector`]: its families are gathered at every
/// walk (see the [module docs](self)).
#[derive(Clone)]
pub struct PrometheusCollector {
    registry: ::prometheus::Registry,
}

impl PrometheusCollector {
    /// Collects `registry`'s families.
    #[must_use]
    pub fn new(registry: ::prometheus::Registry) -> Self {
        Self { registry }
    }
}

impl std::fmt::Debug for PrometheusCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusCollector")
            .finish_non_exhaustive()
    }
}

/// Renders `ours` in `format` together with the families `theirs` gathers, as one valid
/// exposition (in name order; `theirs` loses name clashes).
pub fn encode_with(
    ours: &Registry,
    theirs: &::prometheus::Registry,
    format: Format,
    out: &mut String,
) {
    let theirs = PrometheusCollector::new(theirs.clone());
    Encoder::new().encode_collected(ours, &[&theirs], format, out);
}

impl Collector for PrometheusCollector {
    fn collect(&self, out: &mut Collection<'_>) {
        for mf in self.registry.gather() {
            collect_family(&mf, out);
        }
    }
}

/// Label names of a family: those of its first metric (the crate gives every metric of
/// a family the same names, sorted).
fn label_names(mf: &MetricFamily) -> Vec<&str> {
    mf.get_metric()
        .first()
        .map(|m| m.get_label().iter().map(LabelPair::name).collect())
        .unwrap_or_default()
}

fn pairs(m: &Metric) -> impl Iterator<Item = (&str, &str)> {
    m.get_label().iter().map(|l| (l.name(), l.value()))
}

fn collect_family(mf: &MetricFamily, out: &mut Collection<'_>) {
    let kind = match mf.get_field_type() {
        MetricType::COUNTER => MetricKind::FloatCounter,
        MetricType::GAUGE => MetricKind::FloatGauge,
        MetricType::HISTOGRAM => MetricKind::Histogram,
        MetricType::SUMMARY => MetricKind::Summary,
        MetricType::UNTYPED => MetricKind::Unknown,
    };
    let opts = Opts::new(mf.name(), mf.help()).labels(&label_names(mf));
    // A family our rules reject is counted by the collection; nothing else to do here.
    let Ok(mut family) = out.try_family(&opts, kind) else {
        return;
    };
    let mut bounds = Vec::new();
    let mut counts = Vec::new();
    let mut quantiles = Vec::new();
    for m in mf.get_metric() {
        let value = match mf.get_field_type() {
            MetricType::COUNTER => Value::FloatCounter(m.get_counter().get_value()),
            MetricType::GAUGE => Value::FloatGauge(m.get_gauge().get_value()),
            // Only custom collectors produce untyped families; the crate's own
            // TextEncoder reads them through this same deprecated accessor.
            #[allow(deprecated)]
            MetricType::UNTYPED => Value::Unknown(m.get_untyped().get_value()),
            MetricType::HISTOGRAM => {
                let h = m.get_histogram();
                histogram(
                    h.get_bucket(),
                    h.get_sample_count(),
                    &mut bounds,
                    &mut counts,
                );
                Value::Histogram {
                    bounds: &bounds,
                    counts: &counts,
                    sum: h.get_sample_sum(),
                }
            }
            MetricType::SUMMARY => {
                let s = m.get_summary();
                quantiles.clear();
                quantiles.extend(s.get_quantile().iter().map(|q| (q.quantile(), q.value())));
                Value::Summary {
                    quantiles: &quantiles,
                    sum: s.sample_sum(),
                    count: s.sample_count(),
                }
            }
        };
        // A series that does not fit is counted by the collection.
        let _ = family.series(pairs(m), value);
    }
}

/// Converts the crate's cumulative buckets (finite bounds, maybe `+Inf` last) into
/// finite `bounds` and per-bucket `counts` ending with the `+Inf` bucket. Bounds out of
/// order are passed on for [`CollectedFamily::series`](tachometer_core::CollectedFamily::series)
/// to reject.
fn histogram(
    buckets: &[::prometheus::proto::Bucket],
    total: u64,
    bounds: &mut Vec<f64>,
    counts: &mut Vec<u64>,
) {
    bounds.clear();
    counts.clear();
    let mut below = 0u64;
    for b in buckets {
        if b.upper_bound() == f64::INFINITY {
            break;
        }
        bounds.push(b.upper_bound());
        counts.push(b.cumulative_count().saturating_sub(below));
        below = b.cumulative_count();
    }
    counts.push(total.saturating_sub(below));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_buckets_become_per_bucket_counts() {
        let bucket = |le: f64, n: u64| {
            let mut b = ::prometheus::proto::Bucket::default();
            b.set_upper_bound(le);
            b.set_cumulative_count(n);
            b
        };
        let (mut bounds, mut counts) = (Vec::new(), Vec::new());
        histogram(
            &[bucket(0.5, 1), bucket(1.0, 2), bucket(2.5, 2)],
            3,
            &mut bounds,
            &mut counts,
        );
        assert_eq!(
            (bounds.as_slice(), counts.as_slice()),
            (&[0.5, 1.0, 2.5][..], &[1, 1, 0, 1][..])
        );
        histogram(
            &[bucket(1.0, 4), bucket(f64::INFINITY, 6)],
            6,
            &mut bounds,
            &mut counts,
        );
        assert_eq!(
            (bounds.as_slice(), counts.as_slice()),
            (&[1.0][..], &[4, 2][..])
        );
    }
}
