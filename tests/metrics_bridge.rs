//! The `metrics` facade bridge, fed by a published crate that records through the
//! facade (`metrics-process`) and by direct `metrics::` calls; read back through our
//! Prometheus text output, promtool and Python's prometheus_client.

#![cfg(all(feature = "metrics-bridge", feature = "prometheus"))]

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::Duration;

use tachometer::exporters::prometheus::{encode, Format};
use tachometer::metrics_bridge::{Matcher, Recorder};
use tachometer::{Buckets, Registry};
use tachometer_testkit::{peer, ChildGuard, TempDir};

fn render(registry: &Registry, format: Format) -> String {
    let mut out = String::new();
    encode(registry, format, &mut out);
    out
}

/// Runs `cmd` with `stdin`, bounded to 20 s; (success, stdout, stderr).
fn run(cmd: &mut Command, stdin: &str) -> (Option<i32>, String, String) {
    let dir = TempDir::new("bridge-peer");
    let (i, o, e) = (
        dir.path().join("in"),
        dir.path().join("out"),
        dir.path().join("err"),
    );
    std::fs::write(&i, stdin).unwrap();
    cmd.stdin(Stdio::from(File::open(&i).unwrap()))
        .stdout(Stdio::from(File::create(&o).unwrap()))
        .stderr(Stdio::from(File::create(&e).unwrap()));
    let mut child = ChildGuard::spawn(cmd).expect("cannot start peer");
    let status = child
        .wait_timeout(Duration::from_secs(20))
        .expect("peer did not finish within 20 s");
    (
        status.code(),
        std::fs::read_to_string(&o).unwrap(),
        std::fs::read_to_string(&e).unwrap(),
    )
}

const PARSE_PY: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        print(f.type, s.name, s.value)
"#;

fn metrics_process_registry() -> Registry {
    let registry = Registry::new();
    let recorder = Recorder::new(&registry);
    metrics::with_local_recorder(&recorder, || {
        let collector = metrics_process::Collector::default();
        collector.describe();
        collector.collect();
    });
    registry
}

#[test]
fn metrics_process_metrics_appear_in_our_exposition() {
    let registry = metrics_process_registry();
    let text = render(&registry, Format::Text004);
    for name in [
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_threads",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(name) && !l.starts_with('#'))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"));
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(value > 0.0, "{line}");
    }
    // describe_gauge! arrived before the first recording: its help is exported.
    assert!(
        text.contains("# HELP process_threads "),
        "help missing:\n{text}"
    );
    assert!(
        !text.contains("tachometer_registration_conflicts_total"),
        "{text}"
    );
    let om = render(&registry, Format::OpenMetrics100);
    assert!(om.contains("process_threads"), "{om}");
}

#[test]
fn promtool_accepts_metrics_process_output() {
    let Some(promtool) = peer::promtool() else {
        return;
    };
    let text = render(&metrics_process_registry(), Format::Text004);
    let (code, out, err) = run(Command::new(promtool).args(["check", "metrics"]), &text);
    // promtool exits 3 for lint-only findings (e.g. no help): accepted, not errors.
    assert!(
        code == Some(0) || (code == Some(3) && !err.contains("error while linting")),
        "{code:?} {out} {err}\n{text}"
    );
}

#[test]
fn python_parser_reads_metrics_process_output() {
    let Some(py) = peer::python_prometheus_client() else {
        return;
    };
    let text = render(&metrics_process_registry(), Format::Text004);
    let (code, out, err) = run(Command::new(py).args(["-c", PARSE_PY]), &text);
    assert_eq!(code, Some(0), "{err}\n{text}");
    let threads = out
        .lines()
        .find(|l| l.starts_with("gauge process_threads "))
        .unwrap_or_else(|| panic!("{out}"));
    let v: f64 = threads.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(v >= 1.0, "{threads}");
}

#[test]
fn counters_gauges_and_histograms_record_into_the_registry() {
    let registry = Registry::new();
    let recorder = Recorder::new(&registry).set_buckets_for_metric(
        Matcher::Prefix("payload_".into()),
        Buckets::new(&[10.0, 100.0]).unwrap(),
    );
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("jobs_total", "Jobs run.");
        let c = metrics::counter!("jobs_total", "queue" => "mail");
        c.increment(2);
        c.increment(3);
        metrics::counter!("jobs_total", "queue" => "mail").increment(1);
        metrics::counter!("restarts_total").absolute(7);
        metrics::counter!("restarts_total").absolute(5); // never lowers
        let g = metrics::gauge!("temperature.celsius");
        g.set(20.5);
        g.increment(1.0);
        g.decrement(0.25);
        metrics::histogram!("payload_size").record(50.0);
        metrics::histogram!("latency_seconds").record(0.02);
    });
    let text = render(&registry, Format::Text004);
    for want in [
        "# HELP jobs_total Jobs run.",
        "jobs_total{queue=\"mail\"} 6",
        "restarts_total 7",
        "temperature_celsius 21.25",
        "payload_size_bucket{le=\"10.0\"} 0",
        "payload_size_bucket{le=\"100.0\"} 1",
        "payload_size_bucket{le=\"+Inf\"} 1",
        "latency_seconds_count 1",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    // latency_seconds uses the default latency buckets, not the prefix rule.
    assert!(
        !text.contains("latency_seconds_bucket{le=\"100.0\"}"),
        "{text}"
    );
}

#[test]
fn label_order_does_not_matter_and_handles_share_the_series() {
    let registry = Registry::new();
    let recorder = Recorder::new(&registry);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("req_total", "method" => "GET", "code" => "200").increment(1);
        metrics::counter!("req_total", "code" => "200", "method" => "GET").increment(1);
    });
    let text = render(&registry, Format::Text004);
    assert!(
        text.contains("req_total{method=\"GET\",code=\"200\"} 2"),
        "{text}"
    );
}

#[test]
fn conflicts_are_counted_not_silently_dropped() {
    let registry = Registry::new();
    let recorder = Recorder::new(&registry);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("errors_total", "kind" => "io").increment(1);
        // Another label-name set under the same name: conflict.
        let other = metrics::counter!("errors_total");
        other.increment(1);
        other.increment(1);
        // Another kind under the same name: conflict.
        metrics::gauge!("errors_total", "kind" => "io").set(3.0);
    });
    let text = render(&registry, Format::Text004);
    assert!(text.contains("errors_total{kind=\"io\"} 1"), "{text}");
    assert!(
        text.contains("tachometer_registration_conflicts_total{metric=\"errors_total\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("tachometer_bridge_dropped_total{metric=\"errors_total\"} 3"),
        "{text}"
    );
}

#[test]
fn help_described_after_first_use_keeps_the_first() {
    let registry = Registry::new();
    let recorder = Recorder::new(&registry);
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_gauge!("queue_depth", "Jobs waiting.");
        metrics::gauge!("queue_depth").set(1.0);
        metrics::describe_gauge!("queue_depth", "Another text.");
        metrics::gauge!("queue_depth").set(2.0);
    });
    let text = render(&registry, Format::Text004);
    assert!(text.contains("# HELP queue_depth Jobs waiting."), "{text}");
    assert!(text.contains("queue_depth 2"), "{text}");
}
