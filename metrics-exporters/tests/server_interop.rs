//! Serving a `prometheus` crate registry next to ours (feature `prometheus-interop`).
//!
//! The combined exposition is checked by real consumers: Python's `prometheus_client`
//! OpenMetrics parser (strict: one `# EOF` at the very end, `_total` counters,
//! canonical `le`), `promtool check metrics` for 0.0.4, and a real Prometheus scraping
//! the endpoint.

#![cfg(all(feature = "prometheus-interop", feature = "server"))]

mod server_support;

use std::io::Write;
use std::process::{Command, Stdio};

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts as PromOpts};
use server_support::get;
use server_support::prometheus_peer::start_prometheus;
use tachometer_core::{Opts, Registry};
use tachometer_exporters::interop::encode_with;
use tachometer_exporters::prometheus::Format;
use tachometer_exporters::server::Server;
use tachometer_testkit::peer;

const OM_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.9,*/*;q=0.1";

fn ours() -> Registry {
    let r = Registry::new();
    r.counter(Opts::new("interop_ours_total", "Ours."))
        .unwrap()
        .increment(5);
    r
}

fn theirs() -> prometheus::Registry {
    let r = prometheus::Registry::new();
    let requests = IntCounterVec::new(
        PromOpts::new(
            "legacy_requests_total",
            "Legacy requests with \"quotes\" and \\ backslash.",
        ),
        &["path"],
    )
    .unwrap();
    r.register(Box::new(requests.clone())).unwrap();
    requests.with_label_values(&["/a\"b\\c\nd"]).inc_by(3);
    requests.with_label_values(&["/x"]).inc_by(11);
    let in_flight = IntGauge::new("legacy_in_flight", "In flight.").unwrap();
    r.register(Box::new(in_flight.clone())).unwrap();
    in_flight.set(-2);
    let latency = Histogram::with_opts(
        HistogramOpts::new("legacy_latency_seconds", "Latency.").buckets(vec![0.5, 1.0, 2.5]),
    )
    .unwrap();
    r.register(Box::new(latency.clone())).unwrap();
    for v in [0.2, 0.7, 3.0] {
        latency.observe(v);
    }
    // Same name as one of ours: must be left out, ours wins.
    let clash = IntGauge::new("interop_ours_total", "Clashes.").unwrap();
    r.register(Box::new(clash.clone())).unwrap();
    clash.set(999);
    r
}

fn render(format: Format) -> String {
    let mut out = String::new();
    encode_with(&ours(), &theirs(), format, &mut out);
    out
}

#[test]
fn openmetrics_appends_theirs_after_ours_with_one_eof() {
    let body = render(Format::OpenMetrics100);
    assert!(body.ends_with("\n# EOF\n"), "{body}");
    assert_eq!(body.matches("# EOF").count(), 1, "{body}");
    let ours_at = body.find("interop_ours_total 5").expect("ours present");
    let theirs_at = body
        .find("# TYPE legacy_requests counter")
        .expect("theirs converted");
    assert!(ours_at < theirs_at, "ours first:\n{body}");
    for line in [
        "# HELP legacy_requests Legacy requests with \\\"quotes\\\" and \\\\ backslash.\n",
        "legacy_requests_total{path=\"/a\\\"b\\\\c\\nd\"} 3.0\n",
        "legacy_requests_total{path=\"/x\"} 11.0\n",
        "# TYPE legacy_in_flight gauge\n",
        "legacy_in_flight -2.0\n",
        "# TYPE legacy_latency_seconds histogram\n",
        "legacy_latency_seconds_bucket{le=\"0.5\"} 1\n",
        "legacy_latency_seconds_bucket{le=\"1.0\"} 2\n",
        "legacy_latency_seconds_bucket{le=\"2.5\"} 2\n",
        "legacy_latency_seconds_bucket{le=\"+Inf\"} 3\n",
        "legacy_latency_seconds_sum 3.9\n",
        "legacy_latency_seconds_count 3\n",
    ] {
        assert!(body.contains(line), "missing {line:?} in\n{body}");
    }
    assert!(
        !body.contains("999"),
        "the clashing family was skipped:\n{body}"
    );
}

#[test]
fn text_0_0_4_matches_the_crates_own_encoding_but_for_le() {
    let body = render(Format::Text004);
    let mut theirs_only = String::new();
    let families: Vec<_> = theirs()
        .gather()
        .into_iter()
        .filter(|f| f.name() != "interop_ours_total")
        .collect();
    prometheus::TextEncoder::new()
        .encode_utf8(&families, &mut theirs_only)
        .unwrap();
    // Their families go through our walk, which spells `le` canonically in both formats
    // (as Prometheus >= 3 normalises it); everything else is byte for byte the crate's.
    let theirs_only = theirs_only.replace("le=\"1\"", "le=\"1.0\"");
    assert!(
        body.starts_with("# HELP interop_ours_total Ours."),
        "{body}"
    );
    assert!(
        body.contains(&theirs_only),
        "theirs, in name order after ours:\n{body}\nwanted:\n{theirs_only}"
    );
    assert!(!body.contains("999"));
    // The clashing family is left out, and counted.
    assert!(
        body.ends_with(
            "# TYPE tachometer_collector_rejected_total counter\n\
             tachometer_collector_rejected_total{metric=\"interop_ours_total\"} 1\n"
        ),
        "{body}"
    );
}

#[test]
fn python_openmetrics_parser_reads_the_combined_exposition() {
    let Some(python) = peer::python_prometheus_client() else {
        return;
    };
    let script = r#"
import sys, json
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        out.append([f.name, f.type, s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(render(Format::OpenMetrics100).as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "parser rejected it: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let samples: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let find = |name: &str, label: Option<(&str, &str)>| {
        samples
            .iter()
            .find(|s| s[2] == name && label.map_or(true, |(k, v)| s[3][k] == v))
            .unwrap_or_else(|| panic!("{name} {label:?} missing from {samples:?}"))
            .clone()
    };
    let weird = find("legacy_requests_total", Some(("path", "/a\"b\\c\nd")));
    assert_eq!(weird[0], "legacy_requests");
    assert_eq!(weird[1], "counter");
    assert_eq!(weird[4], 3.0);
    assert_eq!(find("legacy_requests_total", Some(("path", "/x")))[4], 11.0);
    assert_eq!(find("legacy_in_flight", None)[4], -2.0);
    assert_eq!(
        find("legacy_latency_seconds_bucket", Some(("le", "1.0")))[4],
        2.0
    );
    assert_eq!(find("legacy_latency_seconds_count", None)[4], 3.0);
    assert_eq!(find("interop_ours_total", None)[4], 5.0);
}

#[test]
fn promtool_accepts_the_combined_text_exposition() {
    let Some(promtool) = peer::promtool() else {
        return;
    };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(render(Format::Text004).as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    // promtool exits 1 for parse errors (3 for lint-only findings, which we report).
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success()
            || (output.status.code() == Some(3) && !stderr.contains("error while linting")),
        "promtool: {:?} {stderr} {}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn served_and_scraped_by_prometheus() {
    let server = Server::builder()
        .registry(ours())
        .prometheus_registry(theirs())
        .bind("127.0.0.1:0")
        .unwrap();
    // Both formats over HTTP.
    // Served bytes are the rendered ones, apart from the count of rejected (clashing)
    // families, which grows by one per scrape.
    let without_rejections = |body: &str| {
        body.lines()
            .filter(|l| !l.starts_with("tachometer_collector_rejected_total{"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let om = get(server.local_addr(), "/metrics", &[("Accept", OM_ACCEPT)]);
    assert_eq!(
        without_rejections(&om.text()),
        without_rejections(&render(Format::OpenMetrics100))
    );
    let text = get(server.local_addr(), "/metrics", &[]);
    assert_eq!(
        without_rejections(&text.text()),
        without_rejections(&render(Format::Text004))
    );

    let Some(prom) = start_prometheus(server.local_addr(), "") else {
        return;
    };
    assert_eq!(prom.wait_for("up{job=\"tachometer\"}", |v| v == "1"), "1");
    assert_eq!(
        prom.wait_for("legacy_requests_total{path=\"/x\"}", |_| true),
        "11"
    );
    assert_eq!(prom.wait_for("interop_ours_total", |_| true), "5");
    assert_eq!(prom.wait_for("legacy_latency_seconds_count", |_| true), "3");
    drop(prom);
    server.shutdown_blocking().unwrap();
}
