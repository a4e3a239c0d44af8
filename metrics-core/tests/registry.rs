//! Registry behaviour: idempotence, conflicts, validation, cardinality caps, the walk.

use std::sync::Arc;

use tachometer_core::{
    Buckets, Descriptor, Error, HdrConfig, Labels, ManualClock, MetricKind, Opts, Registry, Unit,
    Value, Visitor, OVERFLOW_LABEL_VALUE, OVERFLOW_METRIC_NAME,
};

/// Collects the walk as `name{labels} value` lines.
#[derive(Default)]
struct Lines(Vec<String>);

impl Visitor for Lines {
    fn series(&mut self, family: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let v = match value {
            Value::Counter(c) => c.to_string(),
            Value::Gauge(g) => g.to_string(),
            Value::FloatGauge(g) => g.to_string(),
            Value::FloatCounter(c) => c.to_string(),
            Value::Histogram { counts, sum, .. } => format!("{counts:?} sum={sum}"),
            Value::HdrHistogram(s) => format!("count={}", s.count()),
            Value::NativeHistogram(s) => format!("native count={} sum={}", s.count, s.sum),
            Value::Meter(m) => format!("count={}", m.count),
            Value::Timer(t) => format!("count={}", t.durations.count()),
            Value::Summary {
                quantiles, count, ..
            } => format!("{quantiles:?} count={count}"),
            Value::Unknown(v) => format!("untyped {v}"),
        };
        self.0
            .push(format!("{}{{{}}} {v}", family.name(), labels.join(",")));
    }
}

fn walk(r: &Registry) -> Vec<String> {
    let mut lines = Lines::default();
    r.visit(&mut lines);
    lines.0
}

#[test]
fn same_definition_returns_same_series() {
    let r = Registry::new();
    let a = r.counter(Opts::new("jobs_total", "Jobs.")).unwrap();
    let b = r.counter(Opts::new("jobs_total", "Jobs.")).unwrap();
    a.increment(2);
    assert_eq!(b.get(), 2);
    let fam1 = r
        .histogram_family(
            Opts::new("lat_seconds", "L.").labels(&["route"]),
            Buckets::default(),
        )
        .unwrap();
    let fam2 = r
        .histogram_family(
            Opts::new("lat_seconds", "L.").labels(&["route"]),
            Buckets::default(),
        )
        .unwrap();
    fam1.with_labels(&["/a"]).unwrap().record(0.1);
    assert_eq!(fam2.with_labels(&["/a"]).unwrap().snapshot().count, 1);
}

#[test]
fn conflicting_definitions_name_both() {
    let r = Registry::new();
    r.counter(Opts::new("x_total", "X.")).unwrap();
    let cases: Vec<Error> = vec![
        r.gauge(Opts::new("x_total", "X.")).unwrap_err(),
        r.counter_family(Opts::new("x_total", "X.").labels(&["a"]))
            .unwrap_err(),
        r.counter(Opts::new("x_total", "X.").unit(Unit::Bytes))
            .unwrap_err(),
        r.counter(Opts::new("x_total", "Other help.")).unwrap_err(),
    ];
    for e in cases {
        let msg = e.to_string();
        assert!(matches!(e, Error::Conflict { .. }), "{msg}");
        assert!(
            msg.contains("already registered as counter \"x_total\""),
            "{msg}"
        );
        assert!(msg.contains("cannot register it again as"), "{msg}");
    }
    r.histogram(Opts::new("h", "H."), Buckets::new(&[1.0]).unwrap())
        .unwrap();
    let e = r
        .histogram(Opts::new("h", "H."), Buckets::new(&[2.0]).unwrap())
        .unwrap_err();
    assert!(
        e.to_string().contains("buckets [1.0]") && e.to_string().contains("buckets [2.0]"),
        "{e}"
    );
}

#[test]
fn sample_name_collisions_are_conflicts() {
    let r = Registry::new();
    r.histogram(Opts::new("rpc_seconds", "H."), Buckets::default())
        .unwrap();
    let e = r.counter(Opts::new("rpc_seconds_count", "C.")).unwrap_err();
    assert!(e.to_string().contains("rpc_seconds_count"), "{e}");
    r.counter(Opts::new("req_total", "C.")).unwrap();
    assert!(
        r.gauge(Opts::new("req", "G.")).is_err(),
        "OpenMetrics family name of req_total is req"
    );
}

#[test]
fn invalid_names_are_errors() {
    let r = Registry::new();
    assert!(matches!(
        r.counter(Opts::new("2xx_total", "")),
        Err(Error::InvalidMetricName { .. })
    ));
    assert!(matches!(
        r.counter(Opts::new("", "")),
        Err(Error::InvalidMetricName { .. })
    ));
    let e = r
        .counter_family(Opts::new("ok_total", "").labels(&["__x"]))
        .unwrap_err();
    assert!(e.to_string().contains("reserved"), "{e}");
    assert!(r
        .histogram_family(Opts::new("h2", "").labels(&["le"]), Buckets::default())
        .is_err());
    assert!(r
        .timer_family(Opts::new("t2", "").labels(&["quantile"]))
        .is_err());
    assert!(r
        .counter_family(Opts::new("ok2_total", "").labels(&["a-b"]))
        .is_err());
    assert!(r
        .hdr_histogram(
            Opts::new("bad_hdr", ""),
            HdrConfig::default().significant_figures(9)
        )
        .is_err());
}

#[test]
fn wrong_label_count_is_an_error() {
    let r = Registry::new();
    let f = r
        .counter_family(Opts::new("req_total", "").labels(&["method", "route", "status"]))
        .unwrap();
    let e = f.with_labels(&["GET"]).unwrap_err();
    assert_eq!(
        e,
        Error::LabelCount {
            metric: "req_total".into(),
            expected: 3,
            got: 1
        }
    );
    assert!(e.to_string().contains("3 label name(s) but 1 value(s)"));
    assert!(
        r.counter(Opts::new("lab_total", "").labels(&["a"]))
            .is_err(),
        "unlabeled getter on a labeled family"
    );
}

#[test]
fn cardinality_cap_folds_into_overflow_series_and_counts() {
    let r = Registry::new();
    let f = r
        .counter_family(Opts::new("hits_total", "").labels(&["user"]).max_series(3))
        .unwrap();
    for i in 0..10 {
        f.with_labels(&[format!("u{i}")]).unwrap().increment(1);
    }
    assert_eq!(f.len(), 3);
    // Known series still resolve to themselves.
    f.with_labels(&["u0"]).unwrap().increment(1);
    let lines = walk(&r);
    assert!(
        lines.contains(&"hits_total{user=u0} 2".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&format!("hits_total{{user={OVERFLOW_LABEL_VALUE}}} 7")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&format!("{OVERFLOW_METRIC_NAME}{{metric=hits_total}} 7")),
        "{lines:?}"
    );
}

#[test]
fn walk_is_sorted_by_family_and_ordered_by_first_use() {
    let clock = ManualClock::new();
    let r = Registry::builder().clock(Arc::new(clock)).build();
    let b = r
        .gauge_family(Opts::new("b_gauge", "").labels(&["k"]))
        .unwrap();
    b.with_labels(&["z"]).unwrap().set(1);
    b.with_labels(&["a"]).unwrap().set(2);
    r.counter(Opts::new("a_total", "")).unwrap().increment(5);
    r.meter(Opts::new("c_events", "")).unwrap().mark(3);
    r.timer(Opts::new("d_seconds", "").unit(Unit::Seconds))
        .unwrap()
        .record(std::time::Duration::from_millis(1));
    r.float_gauge(Opts::new("e_ratio", "")).unwrap().set(0.5);
    r.callback_gauge(Opts::new("f_len", ""), || 7.0).unwrap();
    let lines = walk(&r);
    assert_eq!(
        lines,
        vec![
            "a_total{} 5",
            "b_gauge{k=z} 1",
            "b_gauge{k=a} 2",
            "c_events{} count=3",
            "d_seconds{} count=1",
            "e_ratio{} 0.5",
            "f_len{} 7",
        ]
    );
    let kinds: Vec<MetricKind> = r.descriptors().iter().map(Descriptor::kind).collect();
    assert!(kinds.contains(&MetricKind::Timer));
}

#[test]
fn many_series_grow_the_table_and_stay_findable() {
    let r = Registry::new();
    let f = r
        .counter_family(Opts::new("grow_total", "").labels(&["a", "b"]))
        .unwrap();
    for i in 0..5000 {
        f.with_labels(&[i.to_string(), (i * 7).to_string()])
            .unwrap()
            .increment(i);
    }
    for i in 0..5000u64 {
        assert_eq!(
            f.with_labels(&[i.to_string(), (i * 7).to_string()])
                .unwrap()
                .get(),
            i
        );
    }
    assert_eq!(f.len(), 5000);
    // Concatenation-ambiguous values are different series.
    let g = r
        .counter_family(Opts::new("amb_total", "").labels(&["a", "b"]))
        .unwrap();
    g.with_labels(&["ab", "c"]).unwrap().increment(1);
    assert_eq!(g.with_labels(&["a", "bc"]).unwrap().get(), 0);
}

#[test]
fn global_registry_is_shared() {
    let a = tachometer_core::global()
        .counter(Opts::new("global_test_total", ""))
        .unwrap();
    a.increment(1);
    let b = tachometer_core::global()
        .counter(Opts::new("global_test_total", ""))
        .unwrap();
    assert_eq!(b.get(), 1);
}
