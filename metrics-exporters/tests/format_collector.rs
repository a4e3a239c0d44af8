//! Collected families are written exactly as registered ones: a registry whose only
//! content is a collector re-emitting another registry renders the same bytes in every
//! format, and the shapes only collectors produce (summaries, untyped values) are read
//! by the real parsers.
#![cfg(all(feature = "prometheus", feature = "json"))]

mod format_support;

use std::time::Duration;

use format_support::{every_kind, python_parse, run_bounded};
use tachometer_core::{
    Collection, Collector, Descriptor, HdrSnapshot, Labels, MeterSnapshot, MetricKind,
    NativeSnapshot, Opts, Registry, TimerSnapshot, Value, Visitor,
};
use tachometer_exporters::json::{self, JsonOptions};
use tachometer_exporters::prometheus::{encode, Format};
use tachometer_testkit::TempDir;

/// A walk's value, owned.
enum Owned {
    Counter(u64),
    FloatCounter(f64),
    Gauge(i64),
    FloatGauge(f64),
    Unknown(f64),
    Histogram(Vec<f64>, Vec<u64>, f64),
    Summary(Vec<(f64, f64)>, f64, u64),
    Hdr(HdrSnapshot),
    Native(NativeSnapshot),
    Meter(MeterSnapshot),
    Timer(TimerSnapshot),
}

impl Owned {
    fn new(v: Value<'_>) -> Self {
        match v {
            Value::Counter(v) => Owned::Counter(v),
            Value::FloatCounter(v) => Owned::FloatCounter(v),
            Value::Gauge(v) => Owned::Gauge(v),
            Value::FloatGauge(v) => Owned::FloatGauge(v),
            Value::Unknown(v) => Owned::Unknown(v),
            Value::Histogram {
                bounds,
                counts,
                sum,
            } => Owned::Histogram(bounds.to_vec(), counts.to_vec(), sum),
            Value::Summary {
                quantiles,
                sum,
                count,
            } => Owned::Summary(quantiles.to_vec(), sum, count),
            Value::HdrHistogram(s) => Owned::Hdr(s.clone()),
            Value::NativeHistogram(s) => Owned::Native(s.clone()),
            Value::Meter(m) => Owned::Meter(*m),
            Value::Timer(t) => Owned::Timer(t.clone()),
        }
    }

    fn value(&self) -> Value<'_> {
        match self {
            Owned::Counter(v) => Value::Counter(*v),
            Owned::FloatCounter(v) => Value::FloatCounter(*v),
            Owned::Gauge(v) => Value::Gauge(*v),
            Owned::FloatGauge(v) => Value::FloatGauge(*v),
            Owned::Unknown(v) => Value::Unknown(*v),
            Owned::Histogram(bounds, counts, sum) => Value::Histogram {
                bounds,
                counts,
                sum: *sum,
            },
            Owned::Summary(quantiles, sum, count) => Value::Summary {
                quantiles,
                sum: *sum,
                count: *count,
            },
            Owned::Hdr(s) => Value::HdrHistogram(s),
            Owned::Native(s) => Value::NativeHistogram(s),
            Owned::Meter(m) => Value::Meter(m),
            Owned::Timer(t) => Value::Timer(t),
        }
    }
}

type Series = (Vec<(String, String)>, Owned);

/// Reads a registry's walk into owned families.
#[derive(Default)]
struct Snapshot(Vec<(Descriptor, Vec<Series>)>);

impl Visitor for Snapshot {
    fn family(&mut self, family: &Descriptor) {
        self.0.push((family.clone(), Vec::new()));
    }
    fn series(&mut self, _: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        if let Some((_, series)) = self.0.last_mut() {
            series.push((labels, Owned::new(value)));
        }
    }
}

/// Hands over another registry's families (all but its self-metrics, whose names the
/// mirroring registry owns) at every walk.
struct Mirror(Registry);

impl Collector for Mirror {
    fn collect(&self, out: &mut Collection<'_>) {
        let mut snapshot = Snapshot::default();
        self.0.visit(&mut snapshot);
        for (desc, series) in snapshot.0 {
            if desc.name().starts_with("tachometer_") {
                continue;
            }
            let mut family = out.family(desc);
            for (labels, value) in &series {
                family
                    .series(labels.iter().cloned(), value.value())
                    .unwrap();
            }
        }
    }
}

fn both(registry: &Registry) -> [String; 3] {
    let mut text = String::new();
    encode(registry, Format::Text004, &mut text);
    let mut om = String::new();
    encode(registry, Format::OpenMetrics100, &mut om);
    let mut js = String::new();
    json::encode(registry, &JsonOptions::default(), &mut js);
    [text, om, js]
}

#[test]
fn collected_families_render_like_registered_ones() {
    let (source, _) = every_kind(true);
    let [text, om, js] = both(&source);
    // The source's own overflow self-metric is not mirrored (see `Mirror`).
    let overflow = "# HELP tachometer_series_overflow_total";
    let text = &text[..text.find(overflow).expect("the source overflowed")];
    let om_overflow = om.find("# TYPE tachometer_series_overflow").unwrap();
    let om = format!("{}# EOF\n", &om[..om_overflow]);
    let mut js: serde_json::Value = serde_json::from_str(&js).unwrap();
    let counters = js["counters"].as_object_mut().unwrap();
    counters.retain(|k, _| !k.starts_with("tachometer_"));

    let mirror = Registry::new();
    mirror.register_collector(Mirror(source)).unwrap();
    let [got_text, got_om, got_js] = both(&mirror);
    assert_eq!(got_text, text);
    assert_eq!(got_om, om);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&got_js).unwrap(),
        js
    );
    // Every shape went through: buckets, quantiles, meter rates, float specials.
    for part in ["_bucket{", "quantile=\"0.999\"", "window=\"mean\"", "NaN"] {
        assert!(got_text.contains(part), "{part} in {got_text}");
    }
}

/// Summaries and untyped values from a collector.
struct Legacy;

impl Collector for Legacy {
    fn collect(&self, out: &mut Collection<'_>) {
        let opts = Opts::new("legacy_rpc_seconds", "RPC \"latency\".").labels(&["method"]);
        let mut rpc = out.try_family(&opts, MetricKind::Summary).unwrap();
        for (method, scale) in [("get", 1.0), ("put\n\"x\"", 2.0)] {
            let quantiles = [
                (0.5, 0.01 * scale),
                (0.9, 0.05 * scale),
                (0.99, 0.25 * scale),
            ];
            let value = Value::Summary {
                quantiles: &quantiles,
                sum: 12.5 * scale,
                count: 1000,
            };
            rpc.series([("method", method)], value).unwrap();
        }
        let mut temp = out
            .try_family(
                &Opts::new("legacy_temperature", "Temperature."),
                MetricKind::Unknown,
            )
            .unwrap();
        temp.series([("", ""); 0], Value::Unknown(-3.25)).unwrap();
    }
}

fn legacy() -> [String; 3] {
    let r = Registry::new();
    r.register_collector(Legacy).unwrap();
    both(&r)
}

#[test]
fn summaries_and_untyped_values_are_written_in_each_format() {
    let [text, om, js] = legacy();
    assert_eq!(
        text,
        "# HELP legacy_rpc_seconds RPC \"latency\".\n\
         # TYPE legacy_rpc_seconds summary\n\
         legacy_rpc_seconds{method=\"get\",quantile=\"0.5\"} 0.01\n\
         legacy_rpc_seconds{method=\"get\",quantile=\"0.9\"} 0.05\n\
         legacy_rpc_seconds{method=\"get\",quantile=\"0.99\"} 0.25\n\
         legacy_rpc_seconds_sum{method=\"get\"} 12.5\n\
         legacy_rpc_seconds_count{method=\"get\"} 1000\n\
         legacy_rpc_seconds{method=\"put\\n\\\"x\\\"\",quantile=\"0.5\"} 0.02\n\
         legacy_rpc_seconds{method=\"put\\n\\\"x\\\"\",quantile=\"0.9\"} 0.1\n\
         legacy_rpc_seconds{method=\"put\\n\\\"x\\\"\",quantile=\"0.99\"} 0.5\n\
         legacy_rpc_seconds_sum{method=\"put\\n\\\"x\\\"\"} 25\n\
         legacy_rpc_seconds_count{method=\"put\\n\\\"x\\\"\"} 1000\n\
         # HELP legacy_temperature Temperature.\n\
         # TYPE legacy_temperature untyped\n\
         legacy_temperature -3.25\n"
    );
    assert!(
        om.starts_with("# TYPE legacy_rpc_seconds summary\n"),
        "{om}"
    );
    assert!(
        om.contains("# HELP legacy_rpc_seconds RPC \\\"latency\\\".\n"),
        "{om}"
    );
    assert!(
        om.contains("legacy_rpc_seconds_sum{method=\"get\"} 12.5\n"),
        "{om}"
    );
    assert!(
        om.ends_with(
            "# TYPE legacy_temperature unknown\n# HELP legacy_temperature Temperature.\n\
             legacy_temperature -3.25\n# EOF\n"
        ),
        "{om}"
    );
    let doc: serde_json::Value = serde_json::from_str(&js).unwrap();
    let get = &doc["histograms"]["legacy_rpc_seconds{method=\"get\"}"];
    assert_eq!(get["count"], 1000);
    assert_eq!(get["quantiles"]["0.99"], 0.25);
    assert_eq!(doc["gauges"]["legacy_temperature"]["value"], -3.25);
}

#[test]
fn python_parsers_read_summaries_and_untyped_values() {
    let [text, om, _] = legacy();
    for (is_om, doc) in [(false, text), (true, om)] {
        let Some(mut parsed) = python_parse(is_om, std::slice::from_ref(&doc)) else {
            return;
        };
        let families = parsed.remove(0).unwrap_or_else(|e| panic!("{e}\n{doc}"));
        let rpc = families
            .iter()
            .find(|f| f.name == "legacy_rpc_seconds")
            .unwrap();
        assert_eq!(rpc.kind, "summary");
        let put_p99 = rpc
            .samples
            .iter()
            .find(|s| {
                s.labels.get("method").map(String::as_str) == Some("put\n\"x\"")
                    && s.labels.get("quantile").map(String::as_str) == Some("0.99")
            })
            .unwrap_or_else(|| panic!("{doc}"));
        assert_eq!(put_p99.value, 0.5);
        let temp = families
            .iter()
            .find(|f| f.name == "legacy_temperature")
            .unwrap();
        assert_eq!(temp.kind, "unknown");
        assert_eq!(temp.samples[0].value, -3.25);
    }
}

#[test]
fn promtool_accepts_summaries_and_untyped_values() {
    let Some(promtool) = tachometer_testkit::peer::promtool() else {
        return;
    };
    let [text, _, _] = legacy();
    let dir = TempDir::new("format-collector-promtool");
    let ran = run_bounded(
        std::process::Command::new(promtool).args(["check", "metrics"]),
        text.as_bytes(),
        dir.path(),
        Duration::from_secs(60),
    );
    assert!(ran.status.success(), "promtool: {ran:?}\n{text}");
}
