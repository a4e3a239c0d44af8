//! The proof: a real Prometheus server scrapes our endpoint and its query API returns
//! exactly what we recorded.
//!
//! The test starts Debian's `prometheus` on a free 127.0.0.1 port with a temporary
//! config and data directory, scraping every second. Prometheus rejects a whole scrape
//! on a bad `Content-Type`, a malformed exposition or a missing OpenMetrics `# EOF`, so
//! `up == 1` already proves negotiation and framing; the exact counter value and a
//! `histogram_quantile` over our buckets prove the samples arrive intact. Prometheus is
//! killed by PID and the directory removed on drop, pass or fail.

#![cfg(feature = "server")]

mod server_support;

use server_support::get;
use server_support::prometheus_peer::start_prometheus;
use tachometer_core::{Buckets, Opts, Registry};
use tachometer_exporters::server::{Auth, Server};

#[test]
fn prometheus_scrapes_our_endpoint_and_reads_exact_values() {
    let registry = Registry::new();
    registry
        .counter(Opts::new(
            "tachometer_e2e_jobs_total",
            "Jobs processed in the e2e test.",
        ))
        .unwrap()
        .increment(42);
    let latency = registry
        .histogram(
            Opts::new("tachometer_e2e_latency_seconds", "Latency in the e2e test."),
            Buckets::new(&[0.1, 0.5, 1.0, 5.0]).unwrap(),
        )
        .unwrap();
    // 2 in (0, 0.1], 6 in (0.1, 0.5], 2 in (0.5, 1.0]: cumulative 2, 8, 10, 10, 10.
    for v in [0.05, 0.07, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.7, 0.9] {
        latency.record(v);
    }
    let server = Server::builder()
        .registry(registry)
        .bind("127.0.0.1:0")
        .unwrap();
    let Some(prom) = start_prometheus(server.local_addr(), "") else {
        return;
    };

    assert_eq!(prom.wait_for("up{job=\"tachometer\"}", |v| v == "1"), "1");
    assert_eq!(prom.wait_for("tachometer_e2e_jobs_total", |_| true), "42");
    // Prometheus interpolates inside the bucket holding rank 0.5 × 10 = 5: the (0.1, 0.5]
    // bucket, 3 of its 6 observations in, so 0.1 + 0.4 × 3/6 = 0.3.
    let median = prom.wait_for(
        "histogram_quantile(0.5, sum by (le) (tachometer_e2e_latency_seconds_bucket))",
        |_| true,
    );
    let median: f64 = median.parse().unwrap();
    assert!((median - 0.3).abs() < 1e-9, "median {median}");
    assert_eq!(
        prom.wait_for("tachometer_e2e_latency_seconds_count", |_| true),
        "10"
    );
    // The scrape used OpenMetrics: Prometheus' scrape of a text/plain body would not
    // carry the `counter` type for the `_total`-stripped family name.
    let metadata = get(
        prom.addr,
        "/api/v1/metadata?metric=tachometer_e2e_jobs",
        &[],
    )
    .text();
    assert!(metadata.contains("\"type\":\"counter\""), "{metadata}");

    drop(prom);
    server.shutdown_blocking().unwrap();
}

#[test]
fn prometheus_scrapes_through_bearer_auth_and_is_refused_with_a_wrong_token() {
    let registry = Registry::new();
    registry
        .counter(Opts::new(
            "tachometer_e2e_auth_total",
            "Counted behind auth.",
        ))
        .unwrap()
        .increment(9);
    let server = Server::builder()
        .registry(registry)
        .auth(Auth::bearer("e2e-token").unwrap())
        .bind("127.0.0.1:0")
        .unwrap();
    let target = server.local_addr();
    let wrong_job = format!(
        "    authorization:\n      type: Bearer\n      credentials: e2e-token\n\
         \x20 - job_name: wrong-token\n    static_configs:\n      - targets: ['{target}']\n\
         \x20   authorization:\n      type: Bearer\n      credentials: not-the-token\n"
    );
    let Some(prom) = start_prometheus(target, &wrong_job) else {
        return;
    };
    assert_eq!(prom.wait_for("up{job=\"tachometer\"}", |v| v == "1"), "1");
    assert_eq!(
        prom.wait_for("tachometer_e2e_auth_total{job=\"tachometer\"}", |_| true),
        "9"
    );
    assert_eq!(prom.wait_for("up{job=\"wrong-token\"}", |_| true), "0");
    drop(prom);
    server.shutdown_blocking().unwrap();
}
