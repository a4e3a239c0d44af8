//! Byte-exact expositions from protocols.md §1.9 (0.0.4) and §2.9 (OpenMetrics), for
//! the vectors that map onto Tachometer's types, plus the mapping of every kind.
#![cfg(feature = "prometheus")]

use std::sync::Arc;
use std::time::Duration;

use tachometer_core::{Buckets, HdrConfig, ManualClock, Opts, Registry, Unit};
use tachometer_exporters::prometheus::{encode, Encoder, Format};

fn text(r: &Registry) -> String {
    let mut s = String::new();
    encode(r, Format::Text004, &mut s);
    s
}

fn om(r: &Registry) -> String {
    let mut s = String::new();
    encode(r, Format::OpenMetrics100, &mut s);
    s
}

const HELP_2: &str = "Total requests.\nSecond line with \\ backslash and \"quotes\"";

#[test]
fn label_value_escaping_1_9_1() {
    let r = Registry::new();
    let f = r.gauge_family(Opts::new("g", "").labels(&["k"])).unwrap();
    for v in ["C:\\DIR\\FILE.TXT", "say \"hi\"\nbye", "a\tb", "ü", ""] {
        f.with_labels(&[v]).unwrap().set(1);
    }
    assert_eq!(
        text(&r),
        "# TYPE g gauge\n\
         g{k=\"C:\\\\DIR\\\\FILE.TXT\"} 1\n\
         g{k=\"say \\\"hi\\\"\\nbye\"} 1\n\
         g{k=\"a\tb\"} 1\n\
         g{k=\"ü\"} 1\n\
         g{k=\"\"} 1\n"
    );
}

#[test]
fn counter_with_help_escaping_1_9_2_and_1_9_3() {
    let r = Registry::new();
    let f = r
        .counter_family(Opts::new("http_requests_total", HELP_2).labels(&["code", "method"]))
        .unwrap();
    f.with_labels(&["200", "post"]).unwrap().increment(1027);
    assert_eq!(
        text(&r),
        "# HELP http_requests_total Total requests.\\nSecond line with \\\\ backslash and \"quotes\"\n\
         # TYPE http_requests_total counter\n\
         http_requests_total{code=\"200\",method=\"post\"} 1027\n"
    );
}

#[test]
fn openmetrics_counter_2_9_1() {
    // The vector's value is the float 1027.0: a FloatCounter renders exactly that. Its
    // `_created` and exemplar are not produced (not tracked).
    let r = Registry::new();
    let f = r
        .float_counter_family(Opts::new("http_requests_total", HELP_2).labels(&["method", "msg"]))
        .unwrap();
    f.with_labels(&["post", "say \"hi\"\nbye"])
        .unwrap()
        .increment(1027.0);
    assert_eq!(
        om(&r),
        "# TYPE http_requests counter\n\
         # HELP http_requests Total requests.\\nSecond line with \\\\ backslash and \\\"quotes\\\"\n\
         http_requests_total{method=\"post\",msg=\"say \\\"hi\\\"\\nbye\"} 1027.0\n\
         # EOF\n"
    );
    // An integer counter writes an integer, which OpenMetrics allows too.
    let c = r.counter(Opts::new("jobs", "Jobs.")).unwrap();
    c.increment(2);
    assert!(om(&r).contains("# TYPE jobs counter\n# HELP jobs Jobs.\njobs_total 2\n"));
    assert!(text(&r).contains("# HELP jobs Jobs.\n# TYPE jobs counter\njobs 2\n"));
}

fn latency(r: &Registry, labels: &[&str]) -> tachometer_core::Family<tachometer_core::Histogram> {
    r.histogram_family(
        Opts::new("rpc_latency_seconds", "Latency histogram.")
            .unit(Unit::Seconds)
            .labels(labels),
        Buckets::new(&[0.25, 1.0, 2.5]).unwrap(),
    )
    .unwrap()
}

#[test]
fn histogram_1_9_4_with_canonical_le() {
    let r = Registry::new();
    let h = latency(&r, &[]).with_labels::<&str>(&[]).unwrap().clone();
    for v in [0.25, 0.5, 0.5, 1.5, 3.0] {
        h.record(v);
    }
    // As §1.9 #4 except `le="1.0"`: we write OpenMetrics-canonical `le` in both formats.
    assert_eq!(
        text(&r),
        "# HELP rpc_latency_seconds Latency histogram.\n\
         # TYPE rpc_latency_seconds histogram\n\
         rpc_latency_seconds_bucket{le=\"0.25\"} 1\n\
         rpc_latency_seconds_bucket{le=\"1.0\"} 3\n\
         rpc_latency_seconds_bucket{le=\"2.5\"} 4\n\
         rpc_latency_seconds_bucket{le=\"+Inf\"} 5\n\
         rpc_latency_seconds_sum 5.75\n\
         rpc_latency_seconds_count 5\n"
    );
    // §2.9 #2 without the exemplar and `_created`.
    assert_eq!(
        om(&r),
        "# TYPE rpc_latency_seconds histogram\n\
         # UNIT rpc_latency_seconds seconds\n\
         # HELP rpc_latency_seconds Latency histogram.\n\
         rpc_latency_seconds_bucket{le=\"0.25\"} 1\n\
         rpc_latency_seconds_bucket{le=\"1.0\"} 3\n\
         rpc_latency_seconds_bucket{le=\"2.5\"} 4\n\
         rpc_latency_seconds_bucket{le=\"+Inf\"} 5\n\
         rpc_latency_seconds_sum 5.75\n\
         rpc_latency_seconds_count 5\n\
         # EOF\n"
    );
}

#[test]
fn labeled_and_fresh_histograms() {
    let r = Registry::new();
    let f = latency(&r, &["method"]);
    f.with_labels(&["GET"]).unwrap().record(0.25);
    let _ = f.with_labels(&["PUT"]).unwrap();
    let out = text(&r);
    assert!(
        out.contains("rpc_latency_seconds_bucket{method=\"GET\",le=\"0.25\"} 1\n"),
        "{out}"
    );
    assert!(out.contains(
        "rpc_latency_seconds_bucket{method=\"PUT\",le=\"0.25\"} 0\n\
         rpc_latency_seconds_bucket{method=\"PUT\",le=\"1.0\"} 0\n\
         rpc_latency_seconds_bucket{method=\"PUT\",le=\"2.5\"} 0\n\
         rpc_latency_seconds_bucket{method=\"PUT\",le=\"+Inf\"} 0\n\
         rpc_latency_seconds_sum{method=\"PUT\"} 0\n\
         rpc_latency_seconds_count{method=\"PUT\"} 0\n"
    ));
    assert!(om(&r).contains("rpc_latency_seconds_sum{method=\"PUT\"} 0.0\n"));
}

#[test]
fn canonical_le_2_9_4() {
    let r = Registry::new();
    let h = r
        .histogram(
            Opts::new("h", ""),
            Buckets::new(&[1e-5, 0.005, 0.01, 1.0, 10.0, 1e6]).unwrap(),
        )
        .unwrap();
    h.record(2.0);
    let out = om(&r);
    let les: Vec<&str> = out
        .lines()
        .filter_map(|l| {
            l.split_once("le=\"")
                .map(|(_, rest)| rest.split('"').next().unwrap())
        })
        .collect();
    assert_eq!(
        les,
        ["1e-05", "0.005", "0.01", "1.0", "10.0", "1e+06", "+Inf"]
    );
    assert_eq!(text(&r).matches("le=\"1e+06\"").count(), 1);
}

#[test]
fn openmetrics_omits_sum_and_count_next_to_negative_buckets() {
    let r = Registry::new();
    let h = r
        .histogram(
            Opts::new("temp_celsius", ""),
            Buckets::new(&[-10.0, 0.0, 10.0]).unwrap(),
        )
        .unwrap();
    h.record(-20.0);
    let om = om(&r);
    assert!(om.contains("temp_celsius_bucket{le=\"-10.0\"} 1\n"));
    assert!(!om.contains("_sum") && !om.contains("_count"), "{om}");
    assert!(text(&r).contains("temp_celsius_sum -20\ntemp_celsius_count 1\n"));
}

#[test]
fn empty_summary_1_9_5() {
    let r = Registry::new();
    let _ = r
        .hdr_histogram(Opts::new("rpc_size_bytes", "Sizes."), HdrConfig::default())
        .unwrap();
    let _ = r.timer(Opts::new("rpc_duration_seconds", "")).unwrap();
    let mut want = String::from("# TYPE rpc_duration_seconds summary\n");
    for q in ["0.5", "0.75", "0.95", "0.98", "0.99", "0.999"] {
        want.push_str(&format!("rpc_duration_seconds{{quantile=\"{q}\"}} NaN\n"));
    }
    want.push_str("rpc_duration_seconds_sum 0\nrpc_duration_seconds_count 0\n");
    want.push_str("# HELP rpc_size_bytes Sizes.\n# TYPE rpc_size_bytes summary\n");
    for q in ["0.5", "0.75", "0.95", "0.98", "0.99", "0.999"] {
        want.push_str(&format!("rpc_size_bytes{{quantile=\"{q}\"}} NaN\n"));
    }
    want.push_str("rpc_size_bytes_sum 0\nrpc_size_bytes_count 0\n");
    assert_eq!(text(&r), want);
}

fn manual_registry() -> (Registry, ManualClock) {
    let clock = ManualClock::new();
    (
        Registry::builder().clock(Arc::new(clock.clone())).build(),
        clock,
    )
}

/// Go's `'g'` formatting of `v`, as a float gauge's 0.0.4 sample shows it.
fn go(v: f64) -> String {
    let registry = Registry::new();
    registry.float_gauge(Opts::new("g", "")).unwrap().set(v);
    let mut out = String::new();
    encode(&registry, Format::Text004, &mut out);
    let line = out
        .lines()
        .find(|l| l.starts_with("g "))
        .expect("the sample");
    line["g ".len()..].to_owned()
}

#[test]
fn timer_is_a_summary_in_seconds() {
    let (r, _clock) = manual_registry();
    let t = r
        .timer_family(
            Opts::new("job_duration_seconds", "Job time.")
                .unit(Unit::Seconds)
                .labels(&["job"]),
        )
        .unwrap();
    let t = t.with_labels(&["a"]).unwrap();
    t.record(Duration::from_millis(20));
    t.record(Duration::from_millis(5));
    let snap = t.snapshot();
    let mut want = String::from(
        "# HELP job_duration_seconds Job time.\n# TYPE job_duration_seconds summary\n",
    );
    for (q, s) in [
        (0.5, "0.5"),
        (0.75, "0.75"),
        (0.95, "0.95"),
        (0.98, "0.98"),
        (0.99, "0.99"),
        (0.999, "0.999"),
    ] {
        let v = snap.durations.quantile(q) / 1e9;
        // HDR precision: 2 significant figures by default.
        let exact = if q <= 0.5 { 0.005 } else { 0.020 };
        assert!((v - exact).abs() <= exact * 0.01, "q{q} = {v}");
        want.push_str(&format!(
            "job_duration_seconds{{job=\"a\",quantile=\"{s}\"}} {}\n",
            go(v)
        ));
    }
    want.push_str(
        "job_duration_seconds_sum{job=\"a\"} 0.025\njob_duration_seconds_count{job=\"a\"} 2\n",
    );
    assert_eq!(text(&r), want);
    let om = om(&r);
    assert!(om.starts_with(
        "# TYPE job_duration_seconds summary\n# UNIT job_duration_seconds seconds\n# HELP job_duration_seconds Job time.\n"
    ));
    assert!(om.ends_with("job_duration_seconds_sum{job=\"a\"} 0.025\njob_duration_seconds_count{job=\"a\"} 2\n# EOF\n"));
}

#[test]
fn hdr_histogram_exports_raw_values() {
    let (r, _clock) = manual_registry();
    let h = r
        .hdr_histogram(
            Opts::new("payload_bytes", "").unit(Unit::Bytes),
            HdrConfig::default(),
        )
        .unwrap();
    for v in 1..=100 {
        h.record(v);
    }
    let out = text(&r);
    assert!(
        out.contains("payload_bytes{quantile=\"0.5\"} 50\n"),
        "{out}"
    );
    assert!(
        out.contains("payload_bytes{quantile=\"0.999\"} 100\n"),
        "{out}"
    );
    assert!(
        out.ends_with("payload_bytes_sum 5050\npayload_bytes_count 100\n"),
        "{out}"
    );
}

#[test]
fn meter_is_a_counter_family_plus_a_rate_gauge_family() {
    let (r, clock) = manual_registry();
    let m = r
        .meter_family(Opts::new("requests_total", "Requests.").labels(&["route"]))
        .unwrap();
    m.with_labels(&["/a"]).unwrap().mark(5);
    m.with_labels(&["/b"]).unwrap().mark(0);
    clock.advance(Duration::from_secs(10));
    let out = text(&r);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "# HELP requests_total Requests.",
            "# TYPE requests_total counter",
            "requests_total{route=\"/a\"} 5",
            "requests_total{route=\"/b\"} 0",
            "# HELP requests_rate Requests.",
            "# TYPE requests_rate gauge",
        ]
    );
    let rates: Vec<(&str, f64)> = lines[6..]
        .iter()
        .map(|l| {
            let (series, v) = l.rsplit_once(' ').unwrap();
            (series, v.parse().unwrap())
        })
        .collect();
    let names: Vec<&str> = rates.iter().map(|r| r.0).collect();
    assert_eq!(
        names,
        [
            "requests_rate{route=\"/a\",window=\"1m\"}",
            "requests_rate{route=\"/a\",window=\"5m\"}",
            "requests_rate{route=\"/a\",window=\"15m\"}",
            "requests_rate{route=\"/a\",window=\"mean\"}",
            "requests_rate{route=\"/b\",window=\"1m\"}",
            "requests_rate{route=\"/b\",window=\"5m\"}",
            "requests_rate{route=\"/b\",window=\"15m\"}",
            "requests_rate{route=\"/b\",window=\"mean\"}",
        ]
    );
    // 5 events, then two 5 s ticks: the first folds them in (1/s), the second decays.
    let expect = [
        (-5.0f64 / 60.0).exp(),
        (-5.0f64 / 300.0).exp(),
        (-5.0f64 / 900.0).exp(),
        0.5,
    ];
    for (i, want) in expect.iter().enumerate() {
        assert!(
            (rates[i].1 - want).abs() < 1e-9,
            "{}: {} vs {want}",
            rates[i].0,
            rates[i].1
        );
        assert_eq!(rates[4 + i].1, 0.0);
    }
    let om = om(&r);
    assert!(om.starts_with(
        "# TYPE requests counter\n# HELP requests Requests.\nrequests_total{route=\"/a\"} 5\n\
         requests_total{route=\"/b\"} 0\n# TYPE requests_rate gauge\n# HELP requests_rate Requests.\n\
         requests_rate{route=\"/a\",window=\"1m\"} "
    ));
    assert!(om.contains("requests_rate{route=\"/b\",window=\"1m\"} 0.0\n"));
}

#[test]
fn families_without_series_are_left_out_and_empty_bodies_are_minimal() {
    let r = Registry::new();
    let _ = r
        .counter_family(Opts::new("unused_total", "x").labels(&["a"]))
        .unwrap();
    let _ = r
        .callback_gauge_family(Opts::new("cb", "x").labels(&["a"]))
        .unwrap()
        .with_labels(&["1"]);
    assert_eq!(text(&r), "");
    // §2.9 #7.
    assert_eq!(om(&r), "# EOF\n");
    let mut s = String::new();
    encode(&r, Format::OpenMetrics001, &mut s);
    assert_eq!(s, "# EOF\n");
}

#[test]
fn families_are_sorted_and_the_overflow_self_metric_is_a_counter() {
    let r = Registry::new();
    let f = r
        .gauge_family(Opts::new("b_gauge", "").labels(&["k"]).max_series(1))
        .unwrap();
    f.with_labels(&["1"]).unwrap().set(1);
    f.with_labels(&["2"]).unwrap().set(-2);
    r.float_gauge(Opts::new("a_gauge", "")).unwrap().set(-0.5);
    let out = text(&r);
    assert_eq!(
        out,
        "# TYPE a_gauge gauge\na_gauge -0.5\n\
         # TYPE b_gauge gauge\nb_gauge{k=\"1\"} 1\nb_gauge{k=\"__overflow__\"} -2\n\
         # HELP tachometer_series_overflow_total Label-set lookups that exceeded their family's series cap and were folded into the overflow series.\n\
         # TYPE tachometer_series_overflow_total counter\n\
         tachometer_series_overflow_total{metric=\"b_gauge\"} 1\n"
    );
    assert!(om(&r).contains("# TYPE tachometer_series_overflow counter\n"));
}

#[test]
fn unit_line_only_when_the_name_ends_with_the_unit() {
    let r = Registry::new();
    r.gauge(Opts::new("queue_bytes", "").unit(Unit::Bytes))
        .unwrap()
        .set(1);
    r.gauge(Opts::new("queue_size", "").unit(Unit::Bytes))
        .unwrap()
        .set(1);
    r.counter(Opts::new("cpu_seconds_total", "").unit(Unit::Seconds))
        .unwrap()
        .increment(1);
    r.meter(Opts::new("work_seconds_total", "").unit(Unit::Seconds))
        .unwrap()
        .mark(1);
    let out = om(&r);
    assert!(out.contains("# TYPE queue_bytes gauge\n# UNIT queue_bytes bytes\n"));
    assert!(out.contains("# TYPE queue_size gauge\nqueue_size 1\n"));
    assert!(out
        .contains("# TYPE cpu_seconds counter\n# UNIT cpu_seconds seconds\ncpu_seconds_total 1\n"));
    assert!(out.contains("# TYPE work_seconds counter\n# UNIT work_seconds seconds\n"));
    assert!(out.contains("# TYPE work_seconds_rate gauge\nwork_seconds_rate{window=\"1m\"}"));
    assert!(!text(&r).contains("# UNIT"));
}

#[test]
fn encoder_reuses_its_buffer_and_matches_encode() {
    let r = Registry::new();
    let f = r
        .counter_family(Opts::new("c_total", "").labels(&["a"]))
        .unwrap();
    for i in 0..100 {
        f.with_labels(&[i.to_string()]).unwrap().increment(i);
    }
    let mut e = Encoder::new();
    let first = e.encode(&r, Format::OpenMetrics100).to_owned();
    assert_eq!(first, om(&r));
    let second = e.encode(&r, Format::OpenMetrics100);
    assert_eq!(second, first, "the buffer is cleared, not appended to");
    let mut s = String::new();
    e.write_families(&r, Format::OpenMetrics100, &mut s);
    assert_eq!(format!("{s}# EOF\n"), first);
}
