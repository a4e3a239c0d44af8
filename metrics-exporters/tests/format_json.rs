//! The Dropwizard metrics-json shape (protocols.md §4.6, vectors §4.7 #8): exact bytes,
//! field order included, for unlabeled series; labels as key and object; and the whole
//! document parses as JSON.
#![cfg(feature = "json")]

use std::sync::Arc;
use std::time::Duration;

use tachometer_core::{Buckets, HdrConfig, ManualClock, Opts, Registry};
use tachometer_exporters::json::{encode, DurationUnit, JsonOptions};

fn json(r: &Registry, options: &JsonOptions) -> String {
    let mut s = String::new();
    encode(r, options, &mut s);
    s
}

fn still_registry() -> Registry {
    Registry::builder()
        .clock(Arc::new(ManualClock::new()))
        .build()
}

/// The text of `section` → `key` in `doc`, cut out of the raw bytes (not re-serialized,
/// so field order is what we wrote).
fn entry<'d>(doc: &'d str, section: &str, key: &str) -> &'d str {
    let start = doc
        .find(&format!("\"{section}\":{{"))
        .expect("section present");
    let needle = format!("{}:", serde_json::to_string(key).unwrap());
    let at = start
        + doc[start..]
            .find(&needle)
            .unwrap_or_else(|| panic!("{key} in {section}: {doc}"));
    let body = &doc[at + needle.len()..];
    let mut depth = 0;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &body[..=i];
                }
            }
            _ => {}
        }
    }
    panic!("unterminated entry in {doc}")
}

#[test]
fn empty_registry_4_7_8() {
    assert_eq!(
        json(&Registry::new(), &JsonOptions::default()),
        r#"{"version":"4.0.0","gauges":{},"counters":{},"histograms":{},"meters":{},"timers":{}}"#
    );
}

#[test]
fn gauge_counter_and_meter_match_dropwizard_bytes() {
    let r = still_registry();
    r.gauge(Opts::new("answer", "")).unwrap().set(100);
    r.counter(Opts::new("jobs_total", ""))
        .unwrap()
        .increment(100);
    r.meter(Opts::new("events_total", "")).unwrap().mark(1);
    let doc = json(&r, &JsonOptions::default());
    assert_eq!(entry(&doc, "gauges", "answer"), r#"{"value":100}"#);
    assert_eq!(entry(&doc, "counters", "jobs_total"), r#"{"count":100}"#);
    // Nothing ticked on the still clock: every rate is exactly 0.
    assert_eq!(
        entry(&doc, "meters", "events_total"),
        r#"{"count":1,"m15_rate":0.0,"m1_rate":0.0,"m5_rate":0.0,"mean_rate":0.0,"units":"events/second"}"#
    );
}

#[test]
fn hdr_histogram_fields_in_dropwizard_order() {
    let r = still_registry();
    let h = r
        .hdr_histogram(Opts::new("sizes", ""), HdrConfig::default())
        .unwrap();
    for v in [5, 1, 2, 3, 4] {
        h.record(v);
    }
    let doc = json(&r, &JsonOptions::default());
    // Values below 2·10^sigfig are exact in an HDR histogram.
    assert_eq!(
        entry(&doc, "histograms", "sizes"),
        r#"{"count":5,"max":5,"mean":3.0,"min":1,"p50":3.0,"p75":4.0,"p95":5.0,"p98":5.0,"p99":5.0,"p999":5.0,"stddev":1.4142135623730951}"#
    );
}

#[test]
fn timer_in_the_configured_duration_unit() {
    let r = still_registry();
    let t = r.timer(Opts::new("db_query_seconds", "")).unwrap();
    t.record(Duration::from_nanos(100));
    t.record(Duration::from_nanos(200));
    let doc = json(
        &r,
        &JsonOptions::default().duration_unit(DurationUnit::Milliseconds),
    );
    assert_eq!(
        entry(&doc, "timers", "db_query_seconds"),
        r#"{"count":2,"max":0.0002,"mean":0.00015,"min":0.0001,"p50":0.0001,"p75":0.0002,"p95":0.0002,"p98":0.0002,"p99":0.0002,"p999":0.0002,"stddev":0.00005,"m15_rate":0.0,"m1_rate":0.0,"m5_rate":0.0,"mean_rate":0.0,"duration_units":"milliseconds","rate_units":"calls/second"}"#
    );
    let seconds = json(&r, &JsonOptions::default());
    assert!(
        entry(&seconds, "timers", "db_query_seconds").contains(r#""max":2e-7,"#),
        "{seconds}"
    );
    assert!(seconds.contains(r#""duration_units":"seconds""#));
}

#[test]
fn empty_windows_and_non_finite_values_are_null() {
    let r = still_registry();
    let _ = r.timer(Opts::new("idle_seconds", "")).unwrap();
    r.float_gauge(Opts::new("broken", ""))
        .unwrap()
        .set(f64::NAN);
    let doc = json(&r, &JsonOptions::default());
    assert_eq!(entry(&doc, "gauges", "broken"), r#"{"value":null}"#);
    assert!(entry(&doc, "timers", "idle_seconds").starts_with(
        r#"{"count":0,"max":null,"mean":null,"min":null,"p50":null,"p75":null,"p95":null,"p98":null,"p99":null,"p999":null,"stddev":null,"m15_rate":0.0"#
    ));
}

#[test]
fn explicit_histogram_has_cumulative_buckets_and_no_quantiles() {
    let r = still_registry();
    let h = r
        .histogram(
            Opts::new("rpc_latency_seconds", ""),
            Buckets::new(&[0.25, 1.0, 2.5]).unwrap(),
        )
        .unwrap();
    for v in [0.25, 0.5, 0.5, 1.5, 3.0] {
        h.record(v);
    }
    let doc = json(&r, &JsonOptions::default());
    assert_eq!(
        entry(&doc, "histograms", "rpc_latency_seconds"),
        r#"{"count":5,"sum":5.75,"buckets":{"0.25":1,"1.0":3,"2.5":4,"+Inf":5}}"#
    );
}

#[test]
fn labels_are_in_the_key_and_in_the_entry_and_keys_are_sorted() {
    let r = still_registry();
    let f = r
        .counter_family(Opts::new("http_requests_total", "").labels(&["code", "method"]))
        .unwrap();
    f.with_labels(&["500", "get"]).unwrap().increment(1);
    f.with_labels(&["200", "say \"hi\"\n"])
        .unwrap()
        .increment(1027);
    r.counter(Opts::new("http_requests_total_x", ""))
        .unwrap()
        .increment(1);
    let doc = json(&r, &JsonOptions::default());
    let counters = &doc[doc.find("\"counters\":").unwrap()..doc.find(",\"histograms\"").unwrap()];
    assert_eq!(
        counters,
        r#""counters":{"http_requests_total_x":{"count":1},"http_requests_total{code=\"200\",method=\"say \\\"hi\\\"\\n\"}":{"count":1027,"labels":{"code":"200","method":"say \"hi\"\n"}},"http_requests_total{code=\"500\",method=\"get\"}":{"count":1,"labels":{"code":"500","method":"get"}}}"#
    );
    // The key is the Prometheus series, the object holds the raw values.
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let e = &v["counters"]["http_requests_total{code=\"200\",method=\"say \\\"hi\\\"\\n\"}"];
    assert_eq!(e["labels"]["method"], "say \"hi\"\n");
    assert_eq!(e["count"], 1027);
}

#[test]
fn every_kind_parses_and_pretty_is_the_same_document() {
    let r = still_registry();
    r.gauge(Opts::new("g", "")).unwrap().set(-3);
    r.float_gauge(Opts::new("fg", ""))
        .unwrap()
        .set(f64::INFINITY);
    r.callback_gauge(Opts::new("cb", ""), || 0.5).unwrap();
    r.float_counter(Opts::new("fc_total", ""))
        .unwrap()
        .increment(2.5);
    r.meter_family(Opts::new("m_total", "").labels(&["k"]))
        .unwrap()
        .with_labels(&["ü"])
        .unwrap()
        .mark(3);
    r.timer(Opts::new("t_seconds", ""))
        .unwrap()
        .record(Duration::from_millis(3));
    r.hdr_histogram(Opts::new("h", ""), HdrConfig::default())
        .unwrap()
        .record(9);
    let compact = json(&r, &JsonOptions::default());
    let pretty = json(&r, &JsonOptions::default().pretty(true));
    assert!(pretty.contains("\n  \"gauges\": {"), "{pretty}");
    let a: serde_json::Value = serde_json::from_str(&compact).unwrap();
    let b: serde_json::Value = serde_json::from_str(&pretty).unwrap();
    assert_eq!(a, b);
    assert_eq!(a["gauges"]["cb"]["value"], 0.5);
    assert_eq!(a["gauges"]["fg"]["value"], serde_json::Value::Null);
    assert_eq!(a["counters"]["fc_total"]["count"], 2.5);
    assert_eq!(a["meters"]["m_total{k=\"ü\"}"]["count"], 3);
    assert_eq!(a["timers"]["t_seconds"]["count"], 1);
    assert_eq!(a["histograms"]["h"]["max"], 9);
    let sections: Vec<&String> = a.as_object().unwrap().keys().collect();
    assert_eq!(sections.len(), 6);
}
