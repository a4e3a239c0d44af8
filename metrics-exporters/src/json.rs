//! The JSON shape of Dropwizard's `metrics-json` (`MetricsModule`, as `MetricsServlet`
//! serves it), so dashboards and scripts written for Dropwizard read Tachometer as is.
//!
//! ```text
//! {"version":"4.0.0","gauges":{…},"counters":{…},"histograms":{…},"meters":{…},"timers":{…}}
//! ```
//!
//! Each section maps a series key to an object whose fields come in Dropwizard's order:
//!
//! | section | Tachometer kinds | fields |
//! |---|---|---|
//! | `gauges` | `Gauge`, `FloatGauge`, `CallbackGauge` | `value` |
//! | `counters` | `Counter`, `FloatCounter` | `count` |
//! | `histograms` | `HdrHistogram` | `count`, `max`, `mean`, `min`, `p50`, `p75`, `p95`, `p98`, `p99`, `p999`, `stddev` (raw values) |
//! | `histograms` | `Histogram` (explicit buckets) | `count`, `sum`, `buckets` |
//! | `histograms` | collected `Summary` | `count`, `sum`, `quantiles` (canonical quantile → value) |
//! | `gauges` | collected `Unknown` | `value` |
//! | `meters` | `Meter` | `count`, `m15_rate`, `m1_rate`, `m5_rate`, `mean_rate`, `units` (`"events/second"`) |
//! | `timers` | `Timer` | the histogram fields in the duration unit, then `m15_rate`, `m1_rate`, `m5_rate`, `mean_rate`, `duration_units`, `rate_units` (`"calls/second"`) |
//!
//! Where we differ from Dropwizard, and why:
//!
//! * **Labels.** Dropwizard has none; its keys are dotted names. A labeled series is keyed
//!   `name{k="v",…}` in Prometheus style (label values escaped as in the text format, so
//!   keys are unique and readable) and its object *also* carries `"labels":{"k":"v",…}`
//!   as its last field, so a consumer never has to parse keys. An unlabeled series has
//!   neither: its key is the bare name and its object is exactly Dropwizard's. Keys are
//!   sorted (byte order), as Dropwizard's `TreeMap` sorts them.
//! * **Non-finite numbers** (a `NaN` gauge, the statistics of an empty window) are `null`:
//!   JSON has no NaN, and Jackson's quoted `"NaN"` breaks numeric consumers. An empty
//!   window also gives `null` for `max`/`min`/quantiles/`mean`/`stddev` where Dropwizard
//!   would report 0, because 0 would be a lie about latency.
//! * **Windows and counts.** Statistics come from the HDR histogram's recent window;
//!   `count` is the lifetime count (Dropwizard's histogram count is lifetime too).
//! * **Explicit-bucket histograms** do not exist in Dropwizard. They appear under
//!   `histograms` with `count`, `sum` and `buckets`, a map from upper bound (OpenMetrics
//!   canonical spelling, `"+Inf"` last) to the *cumulative* count, and without the
//!   quantile fields, which buckets cannot give exactly.
//! * **Units.** Rates are per second (as Dropwizard's default). Timer durations are in
//!   [`JsonOptions::duration_unit`] (default seconds, Dropwizard's servlet default),
//!   computed in floating point, so sub-second units do not hit Dropwizard's integer
//!   `rateFactor` bug.
//!
//! ```
//! use tachometer::{Opts, Registry};
//! use tachometer::exporters::json::{encode, JsonOptions};
//! let registry = Registry::new();
//! registry.counter(Opts::new("jobs_total", "Jobs.")).unwrap().increment(100);
//! let mut out = String::new();
//! encode(&registry, &JsonOptions::default(), &mut out);
//! assert_eq!(
//!     out,
//!     r#"{"version":"4.0.0","gauges":{},"counters":{"jobs_total":{"count":100}},"histograms":{},"meters":{},"timers":{}}"#
//! );
//! ```

use serde::ser::SerializeMap;
use serde::Serialize;
use tachometer_core::{Descriptor, HdrSnapshot, Labels, Registry, Value, Visitor};

use crate::text::{escape, float};

/// The unit timer durations are reported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DurationUnit {
    /// Nanoseconds.
    Nanoseconds,
    /// Microseconds.
    Microseconds,
    /// Milliseconds (what Dropwizard reporters usually configure).
    Milliseconds,
    /// Seconds (the default, as in Dropwizard's servlet and Prometheus).
    #[default]
    Seconds,
    /// Minutes.
    Minutes,
    /// Hours.
    Hours,
    /// Days.
    Days,
}

impl DurationUnit {
    /// The name written in `duration_units` (Java's `TimeUnit` name, lower-case).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DurationUnit::Nanoseconds => "nanoseconds",
            DurationUnit::Microseconds => "microseconds",
            DurationUnit::Milliseconds => "milliseconds",
            DurationUnit::Seconds => "seconds",
            DurationUnit::Minutes => "minutes",
            DurationUnit::Hours => "hours",
            DurationUnit::Days => "days",
        }
    }

    fn nanos(self) -> f64 {
        match self {
            DurationUnit::Nanoseconds => 1.0,
            DurationUnit::Microseconds => 1e3,
            DurationUnit::Milliseconds => 1e6,
            DurationUnit::Seconds => 1e9,
            DurationUnit::Minutes => 60e9,
            DurationUnit::Hours => 3600e9,
            DurationUnit::Days => 86_400e9,
        }
    }
}

/// How [`encode`] writes the document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsonOptions {
    /// Unit of timer durations (default seconds).
    pub duration_unit: DurationUnit,
    /// Indent the output for people (Dropwizard's `?pretty=true`). Default compact.
    pub pretty: bool,
}

impl JsonOptions {
    /// Sets [`JsonOptions::duration_unit`].
    #[must_use]
    pub fn duration_unit(mut self, unit: DurationUnit) -> Self {
        self.duration_unit = unit;
        self
    }

    /// Sets [`JsonOptions::pretty`].
    #[must_use]
    pub fn pretty(mut self, pretty: bool) -> Self {
        self.pretty = pretty;
        self
    }
}

/// Appends `registry` as a Dropwizard metrics-json document to `out`.
pub fn encode(registry: &Registry, options: &JsonOptions, out: &mut String) {
    let mut collector = Collector {
        unit: options.duration_unit,
        ..Collector::default()
    };
    registry.visit(&mut collector);
    let doc = collector.into_document();
    let mut buf = Vec::with_capacity(4096);
    let written = if options.pretty {
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"  ");
        doc.serialize(&mut serde_json::Serializer::with_formatter(
            &mut buf, formatter,
        ))
    } else {
        doc.serialize(&mut serde_json::Serializer::new(&mut buf))
    };
    // Writing to a Vec cannot fail, every map key is a string and serde_json writes
    // non-finite floats as null, so there is no error to report.
    debug_assert!(written.is_ok(), "{written:?}");
    out.push_str(&String::from_utf8_lossy(&buf));
}

/// Label names and values in declaration order, serialized as a JSON object.
struct LabelMap(Vec<(String, String)>);

impl Serialize for LabelMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl LabelMap {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An `i64` or an `f64` (Dropwizard gauges hold any JSON value).
#[derive(Serialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Uint(u64),
    Float(f64),
}

#[derive(Serialize)]
struct GaugeEntry {
    value: Number,
    #[serde(skip_serializing_if = "LabelMap::is_empty")]
    labels: LabelMap,
}

#[derive(Serialize)]
struct CounterEntry {
    count: Number,
    #[serde(skip_serializing_if = "LabelMap::is_empty")]
    labels: LabelMap,
}

/// Window statistics in Dropwizard's field order (`count` is lifetime). `M` is the type
/// of `max`/`min`: `u64` for HDR histograms (Dropwizard writes a histogram's as longs),
/// `f64` for timers (converted to the duration unit).
#[derive(Serialize)]
struct Stats<M> {
    count: u64,
    max: Option<M>,
    mean: f64,
    min: Option<M>,
    p50: f64,
    p75: f64,
    p95: f64,
    p98: f64,
    p99: f64,
    p999: f64,
    stddev: f64,
}

impl<M> Stats<M> {
    /// The statistics of `s` with every value divided by `divisor`, and `max`/`min`
    /// from `extremes` (absent while the window is empty).
    fn new(s: &HdrSnapshot, divisor: f64, extremes: impl FnOnce(&HdrSnapshot) -> (M, M)) -> Self {
        let (max, min) = if s.window_count() == 0 {
            (None, None)
        } else {
            let (max, min) = extremes(s);
            (Some(max), Some(min))
        };
        let q = |q| s.quantile(q) / divisor;
        Self {
            count: s.count(),
            max,
            mean: s.mean() / divisor,
            min,
            p50: q(0.5),
            p75: q(0.75),
            p95: q(0.95),
            p98: q(0.98),
            p99: q(0.99),
            p999: q(0.999),
            stddev: s.stddev() / divisor,
        }
    }
}

#[derive(Serialize)]
struct HdrEntry {
    #[serde(flatten)]
    stats: Stats<u64>,
    #[serde(skip_serializing_if = "LabelMap::is_empty")]
    labels: LabelMap,
}

/// A collected summary: lifetime `count` and `sum`, and its quantiles (canonical
/// spelling → value).
#[derive(Serialize)]
struct SummaryEntry {
    count: u64,
    sum: f64,
    quantiles: Ordered<f64>,
    #[serde(skip_serializing_if = "LabelMap::is_empty")]
    labels: LabelMap,
}

#[derive(Serialize)]
struct BucketEntry {
    count: u64,
    sum: f64,
    buckets: Buckets,
    #[serde(skip_serializing_if = "LabelMap::is_empty")]
    labels: LabelMap,
}

/// `(key, value)` pairs serialized as a JSON object in the order given: cumulative
/// buckets (`le` text → count) and the sorted sections of the document.
struct Ordered<V>(Vec<(String, V)>);

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// `(upper bound as text, cumulative count)`.
type Buckets = Ordered<u64>;

#[derive(Serialize)]
struct Rates {
    m15_rate: f64,
    m1_rate: f64,
    m5_rate: f64,
    mean_rate: f64,
}

#[derive(Serialize)]
struct MeterEntry {
    count: u64,
    #[serde(flatten)]
    rates: Rates,
    units: &'static str,
    #[serde(skip_serializing_if = "LabelMap::is_empty")]
    labels: LabelMap,
}

#[derive(Serialize)]
struct TimerEntry {
    #[serde(flatten)]
    stats: Stats<f64>,
    #[serde(flatten)]
    rates: Rates,
    duration_units: &'static str,
    rate_units: &'static str,
    #[serde(skip_serializing_if = "LabelMap::is_empty")]
    labels: LabelMap,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Entry {
    Gauge(GaugeEntry),
    Counter(CounterEntry),
    Hdr(HdrEntry),
    Summary(SummaryEntry),
    Buckets(BucketEntry),
    Meter(MeterEntry),
    Timer(TimerEntry),
}

/// One section's entries, sorted by key before serialization.
type Section = Ordered<Entry>;

#[derive(Serialize)]
struct Document {
    version: &'static str,
    gauges: Section,
    counters: Section,
    histograms: Section,
    meters: Section,
    timers: Section,
}

#[derive(Default)]
struct Collector {
    unit: DurationUnit,
    gauges: Vec<(String, Entry)>,
    counters: Vec<(String, Entry)>,
    histograms: Vec<(String, Entry)>,
    meters: Vec<(String, Entry)>,
    timers: Vec<(String, Entry)>,
}

impl Collector {
    fn into_document(self) -> Document {
        let sorted = |mut v: Vec<(String, Entry)>| {
            v.sort_by(|a, b| a.0.cmp(&b.0));
            Ordered(v)
        };
        Document {
            version: "4.0.0",
            gauges: sorted(self.gauges),
            counters: sorted(self.counters),
            histograms: sorted(self.histograms),
            meters: sorted(self.meters),
            timers: sorted(self.timers),
        }
    }
}

/// `name{k="v",…}`, or `name` alone without labels.
fn key(name: &str, labels: Labels<'_>) -> String {
    let mut k = String::from(name);
    if labels.is_empty() {
        return k;
    }
    k.push('{');
    for (i, (n, v)) in labels.iter().enumerate() {
        if i > 0 {
            k.push(',');
        }
        k.push_str(n);
        k.push_str("=\"");
        escape::write_label_value(&mut k, v);
        k.push('"');
    }
    k.push('}');
    k
}

fn rates(m: &tachometer_core::MeterSnapshot) -> Rates {
    Rates {
        m15_rate: m.m15_rate,
        m1_rate: m.m1_rate,
        m5_rate: m.m5_rate,
        mean_rate: m.mean_rate,
    }
}

impl Visitor for Collector {
    fn series(&mut self, family: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        let k = key(family.name(), labels);
        let l = LabelMap(
            labels
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        );
        match value {
            Value::Counter(v) => self.counters.push((
                k,
                Entry::Counter(CounterEntry {
                    count: Number::Uint(v),
                    labels: l,
                }),
            )),
            Value::FloatCounter(v) => {
                self.counters.push((
                    k,
                    Entry::Counter(CounterEntry {
                        count: Number::Float(v),
                        labels: l,
                    }),
                ));
            }
            Value::Gauge(v) => self.gauges.push((
                k,
                Entry::Gauge(GaugeEntry {
                    value: Number::Int(v),
                    labels: l,
                }),
            )),
            Value::FloatGauge(v) => self.gauges.push((
                k,
                Entry::Gauge(GaugeEntry {
                    value: Number::Float(v),
                    labels: l,
                }),
            )),
            Value::Histogram {
                bounds,
                counts,
                sum,
            } => {
                let mut cumulative = 0u64;
                let buckets = (0..=bounds.len())
                    .map(|i| {
                        cumulative = cumulative.saturating_add(counts.get(i).copied().unwrap_or(0));
                        let mut le = String::new();
                        float::write_canonical(
                            &mut le,
                            bounds.get(i).copied().unwrap_or(f64::INFINITY),
                        );
                        (le, cumulative)
                    })
                    .collect();
                let entry = BucketEntry {
                    count: cumulative,
                    sum,
                    buckets: Ordered(buckets),
                    labels: l,
                };
                self.histograms.push((k, Entry::Buckets(entry)));
            }
            Value::NativeHistogram(s) => {
                let (bounds, counts) = s.classic_view();
                let sum = s.sum;
                self.series(
                    family,
                    labels,
                    Value::Histogram {
                        bounds,
                        counts,
                        sum,
                    },
                );
            }
            Value::HdrHistogram(s) => {
                self.histograms.push((
                    k,
                    Entry::Hdr(HdrEntry {
                        stats: Stats::new(s, 1.0, |s| {
                            (s.max_value().unwrap_or(0), s.min_value().unwrap_or(0))
                        }),
                        labels: l,
                    }),
                ));
            }
            Value::Meter(m) => {
                let entry = MeterEntry {
                    count: m.count,
                    rates: rates(m),
                    units: "events/second",
                    labels: l,
                };
                self.meters.push((k, Entry::Meter(entry)));
            }
            Value::Timer(t) => {
                let entry = TimerEntry {
                    stats: Stats::new(&t.durations, self.unit.nanos(), |s| {
                        (s.max() / self.unit.nanos(), s.min() / self.unit.nanos())
                    }),
                    rates: rates(&t.calls),
                    duration_units: self.unit.as_str(),
                    rate_units: "calls/second",
                    labels: l,
                };
                self.timers.push((k, Entry::Timer(entry)));
            }
            Value::Summary {
                quantiles,
                sum,
                count,
            } => {
                let quantiles = quantiles
                    .iter()
                    .map(|&(q, v)| {
                        let mut text = String::new();
                        float::write_canonical(&mut text, q);
                        (text, v)
                    })
                    .collect();
                let entry = SummaryEntry {
                    count,
                    sum,
                    quantiles: Ordered(quantiles),
                    labels: l,
                };
                self.histograms.push((k, Entry::Summary(entry)));
            }
            Value::Unknown(v) => self.gauges.push((
                k,
                Entry::Gauge(GaugeEntry {
                    value: Number::Float(v),
                    labels: l,
                }),
            )),
        }
    }
}
