//! The open collection API: collected families join the walk in name order, obey the
//! registry's naming rules, and what does not fit is left out and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tachometer_core::{
    Collection, Collector, Descriptor, Error, Labels, MetricKind, Opts, Registry, Value, Visitor,
    COLLECTOR_REJECTED_METRIC_NAME,
};

#[derive(Default)]
struct Lines(Vec<String>);

impl Visitor for Lines {
    fn series(&mut self, family: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let v = match value {
            Value::Counter(c) => c.to_string(),
            Value::FloatCounter(c) => c.to_string(),
            Value::Gauge(g) => g.to_string(),
            Value::FloatGauge(g) => g.to_string(),
            Value::Unknown(v) => format!("untyped {v}"),
            Value::Histogram { counts, sum, .. } => format!("{counts:?} sum={sum}"),
            Value::Summary {
                quantiles, count, ..
            } => format!("{quantiles:?} count={count}"),
            Value::HdrHistogram(s) => format!("count={}", s.count()),
            Value::NativeHistogram(s) => format!("native count={}", s.count),
            Value::Meter(m) => format!("count={}", m.count),
            Value::Timer(t) => format!("count={}", t.durations.count()),
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

fn desc(name: &str, kind: MetricKind, labels: &[&str]) -> Descriptor {
    Descriptor::new(&Opts::new(name, "").labels(labels), kind).unwrap()
}

/// Hands over whatever families the closure writes, and remembers the errors.
struct FnCollector<F>(F, Option<Vec<Descriptor>>);

impl<F: Fn(&mut Collection<'_>) + Send + Sync + 'static> Collector for FnCollector<F> {
    fn describe(&self) -> Vec<Descriptor> {
        self.1.clone().unwrap_or_default()
    }
    fn collect(&self, out: &mut Collection<'_>) {
        (self.0)(out);
    }
}

fn collector(f: impl Fn(&mut Collection<'_>) + Send + Sync + 'static) -> impl Collector {
    FnCollector(f, None)
}

fn rejected(r: &Registry) -> Vec<String> {
    walk(r)
        .into_iter()
        .filter(|l| l.starts_with(COLLECTOR_REJECTED_METRIC_NAME))
        .collect()
}

#[test]
fn collected_families_join_the_walk_in_name_order() {
    let r = Registry::new();
    r.counter(Opts::new("b_total", "")).unwrap().increment(2);
    r.gauge(Opts::new("d", "")).unwrap().set(4);
    let calls = Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    r.register_collector(collector(move |out| {
        let n = seen.fetch_add(1, Ordering::Relaxed);
        // Handed over out of order, labels as owned and borrowed pairs.
        let mut e = out.family(desc("e", MetricKind::Gauge, &["k"]));
        e.series([(String::from("k"), format!("v{n}"))], Value::Gauge(5))
            .unwrap();
        let mut c = out.family(desc("c", MetricKind::Histogram, &[]));
        c.series(
            std::iter::empty::<(&str, &str)>(),
            Value::Histogram {
                bounds: &[1.0],
                counts: &[1, 2],
                sum: 7.5,
            },
        )
        .unwrap();
        let mut a = out.family(desc("a", MetricKind::Summary, &[]));
        a.series(
            [("", ""); 0],
            Value::Summary {
                quantiles: &[(0.5, 1.0)],
                sum: 3.0,
                count: 2,
            },
        )
        .unwrap();
        let mut f = out.family(desc("f", MetricKind::Unknown, &[]));
        f.series([("", ""); 0], Value::Unknown(-1.5)).unwrap();
    }))
    .unwrap();
    assert_eq!(
        walk(&r),
        [
            "a{} [(0.5, 1.0)] count=2",
            "b_total{} 2",
            "c{} [1, 2] sum=7.5",
            "d{} 4",
            "e{k=v0} 5",
            "f{} untyped -1.5",
        ]
    );
    // Collected at every walk, once.
    assert_eq!(walk(&r)[4], "e{k=v1} 5");
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[test]
fn clashing_collected_families_are_left_out_and_counted() {
    let r = Registry::new();
    r.counter(Opts::new("jobs_total", "")).unwrap().increment(1);
    r.register_collector(collector(|out| {
        // `jobs` is the OpenMetrics family of the registered counter `jobs_total`.
        out.family(desc("jobs", MetricKind::Gauge, &[]))
            .series([("", ""); 0], Value::Gauge(9))
            .unwrap();
        // A histogram's `_count` sample is a gauge's name below: the later one loses.
        out.family(desc("lat", MetricKind::Histogram, &[]))
            .series(
                [("", ""); 0],
                Value::Histogram {
                    bounds: &[],
                    counts: &[3],
                    sum: 1.0,
                },
            )
            .unwrap();
        out.family(desc("lat_count", MetricKind::Gauge, &[]))
            .series([("", ""); 0], Value::Gauge(1))
            .unwrap();
    }))
    .unwrap();
    let lines = walk(&r);
    assert!(lines.contains(&"jobs_total{} 1".to_owned()), "{lines:?}");
    assert!(lines.contains(&"lat{} [3] sum=1".to_owned()), "{lines:?}");
    assert!(!lines
        .iter()
        .any(|l| l.starts_with("jobs{") || l.starts_with("lat_count")));
    assert_eq!(
        rejected(&r),
        [
            format!("{COLLECTOR_REJECTED_METRIC_NAME}{{metric=jobs}} 2"),
            format!("{COLLECTOR_REJECTED_METRIC_NAME}{{metric=lat_count}} 2"),
        ]
    );
}

#[test]
fn series_that_do_not_fit_are_errors_and_counted() {
    let r = Registry::new();
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = errors.clone();
    r.register_collector(collector(move |out| {
        let mut g = out.family(desc("g", MetricKind::Gauge, &["a", "b"]));
        let mut errs = sink.lock().unwrap();
        errs.push(
            g.series([("b", "1"), ("a", "2")], Value::Gauge(1))
                .unwrap_err(),
        );
        errs.push(g.series([("a", "1")], Value::Gauge(1)).unwrap_err());
        errs.push(
            g.series([("a", "1"), ("b", "2"), ("c", "3")], Value::Gauge(1))
                .unwrap_err(),
        );
        errs.push(
            g.series([("a", "1"), ("b", "2")], Value::Counter(1))
                .unwrap_err(),
        );
        g.series([("a", "ok"), ("b", "ok")], Value::FloatGauge(0.5))
            .unwrap();
        let mut h = out.family(desc("h", MetricKind::Histogram, &[]));
        let bad = |bounds: &'static [f64], counts: &'static [u64]| Value::Histogram {
            bounds,
            counts,
            sum: 0.0,
        };
        errs.push(h.series([("", ""); 0], bad(&[1.0], &[1])).unwrap_err());
        errs.push(
            h.series([("", ""); 0], bad(&[2.0, 1.0], &[1, 1, 1]))
                .unwrap_err(),
        );
        errs.push(
            h.series([("", ""); 0], bad(&[f64::NAN], &[1, 1]))
                .unwrap_err(),
        );
        let mut s = out.family(desc("s", MetricKind::Summary, &[]));
        let summary = Value::Summary {
            quantiles: &[(1.5, 0.0)],
            sum: 0.0,
            count: 0,
        };
        errs.push(s.series([("", ""); 0], summary).unwrap_err());
    }))
    .unwrap();
    let lines = walk(&r);
    assert!(lines.contains(&"g{a=ok,b=ok} 0.5".to_owned()), "{lines:?}");
    let errors: Vec<Error> = errors.lock().unwrap().drain(..).collect();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        text[0].contains("label 1 is \"b\" but the family's is \"a\""),
        "{text:?}"
    );
    assert!(matches!(
        errors[1],
        Error::LabelCount {
            expected: 2,
            got: 1,
            ..
        }
    ));
    assert!(matches!(
        errors[2],
        Error::LabelCount {
            expected: 2,
            got: 3,
            ..
        }
    ));
    assert!(text[3].contains("does not fit a gauge family"), "{text:?}");
    assert!(text[4].contains("one count per bound"), "{text:?}");
    assert!(text[5].contains("strictly increasing"), "{text:?}");
    assert!(text[6].contains("strictly increasing"), "{text:?}");
    assert!(text[7].contains("outside 0..=1"), "{text:?}");
    assert_eq!(errors.len(), 8);
    // Counted per walk: this is the second.
    assert_eq!(
        rejected(&r),
        [
            format!("{COLLECTOR_REJECTED_METRIC_NAME}{{metric=g}} 8"),
            format!("{COLLECTOR_REJECTED_METRIC_NAME}{{metric=h}} 6"),
            format!("{COLLECTOR_REJECTED_METRIC_NAME}{{metric=s}} 2"),
        ]
    );
}

#[test]
fn described_families_are_claimed_at_registration() {
    let r = Registry::new();
    r.gauge(Opts::new("taken", "")).unwrap();
    let clash = FnCollector(
        |_: &mut Collection<'_>| {},
        Some(vec![desc("taken", MetricKind::Gauge, &[])]),
    );
    let err = r.register_collector(clash).unwrap_err();
    assert!(
        err.to_string().contains("already registered as gauge"),
        "{err}"
    );
    // Sample names clash too: a histogram `h` owns `h_count`.
    let clash = FnCollector(
        |_: &mut Collection<'_>| {},
        Some(vec![
            desc("taken_count", MetricKind::Gauge, &[]),
            desc("taken", MetricKind::Histogram, &[]),
        ]),
    );
    assert!(matches!(
        r.register_collector(clash),
        Err(Error::Conflict { .. })
    ));
    // And within one collector's own description.
    let clash = FnCollector(
        |_: &mut Collection<'_>| {},
        Some(vec![
            desc("x", MetricKind::Histogram, &[]),
            desc("x_sum", MetricKind::Gauge, &[]),
        ]),
    );
    assert!(matches!(
        r.register_collector(clash),
        Err(Error::Conflict { .. })
    ));

    let claimed = desc("proc_open_fds", MetricKind::Gauge, &[]);
    let described = FnCollector(
        |out: &mut Collection<'_>| {
            out.family(desc("proc_open_fds", MetricKind::Gauge, &[]))
                .series([("", ""); 0], Value::Gauge(12))
                .unwrap();
        },
        Some(vec![claimed.clone()]),
    );
    r.register_collector(described).unwrap();
    assert!(r.descriptors().contains(&claimed));
    assert!(walk(&r).contains(&"proc_open_fds{} 12".to_owned()));
    // Nothing registered later can take the name, nor another collector's family.
    let err = r.gauge(Opts::new("proc_open_fds", "")).unwrap_err();
    assert!(
        err.to_string().contains("described by a collector"),
        "{err}"
    );
    r.register_collector(collector(|out| {
        out.family(desc("proc_open_fds", MetricKind::Gauge, &[]))
            .series([("", ""); 0], Value::Gauge(99))
            .unwrap();
    }))
    .unwrap();
    let lines = walk(&r);
    assert!(
        lines.contains(&"proc_open_fds{} 12".to_owned()),
        "{lines:?}"
    );
    assert!(
        !lines.contains(&"proc_open_fds{} 99".to_owned()),
        "{lines:?}"
    );
}
