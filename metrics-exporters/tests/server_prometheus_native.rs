//! The proof for native histograms: a real Prometheus 2.42 scrapes our endpoint.
//!
//! Started with `--enable-feature=native-histograms`, Prometheus asks for protobuf first;
//! the family must then exist as one native series (no `_bucket` series), with
//! `histogram_count`/`histogram_sum` equal to what was recorded and `histogram_quantile`
//! within the schema's bucket width of the true median. Started without the flag, the
//! same endpoint must still give it the classic buckets. Prometheus is killed by PID and
//! its directory removed on drop, pass or fail.

#![cfg(feature = "server")]

mod server_support;

use server_support::prometheus_peer::{start_prometheus, start_prometheus_with};
use tachometer_core::{NativeConfig, Opts, Registry};
use tachometer_exporters::server::Server;

const NAME: &str = "tachometer_e2e_native_seconds";

/// 1,000 values from 1 ms growing by 1 % each (1 ms … 21 s), recorded into a
/// classic + native histogram; returns the registry and the values.
fn recorded() -> (Registry, Vec<f64>) {
    let registry = Registry::new();
    let h = registry
        .native_histogram(
            Opts::new(NAME, "Latency in the native e2e test."),
            NativeConfig::latency(),
        )
        .unwrap();
    let values: Vec<f64> = (0..1000).map(|i| 0.001 * 1.01f64.powi(i)).collect();
    for &v in &values {
        h.record(v);
    }
    (registry, values)
}

#[test]
fn prometheus_with_native_histograms_ingests_a_native_series() {
    let (registry, values) = recorded();
    let server = Server::builder()
        .registry(registry)
        .bind("127.0.0.1:0")
        .unwrap();
    let Some(prom) = start_prometheus_with(
        server.local_addr(),
        "",
        &["--enable-feature=native-histograms"],
    ) else {
        return;
    };
    assert_eq!(prom.wait_for("up{job=\"tachometer\"}", |v| v == "1"), "1");
    assert_eq!(
        prom.wait_for(&format!("histogram_count({NAME})"), |_| true),
        "1000"
    );
    let sum: f64 = prom
        .wait_for(&format!("histogram_sum({NAME})"), |_| true)
        .parse()
        .unwrap();
    let want: f64 = values.iter().sum();
    assert!((sum - want).abs() <= want * 1e-12, "sum {sum} vs {want}");

    // One native series under the bare name, and no classic series.
    let series = prom.query_result(NAME).unwrap();
    assert_eq!(series.len(), 1, "{series:?}");
    assert!(
        series[0].get("histogram").is_some(),
        "not native: {series:?}"
    );
    for suffix in ["_bucket", "_count", "_sum"] {
        let classic = prom.query_result(&format!("{NAME}{suffix}")).unwrap();
        assert!(classic.is_empty(), "{suffix}: {classic:?}");
    }

    // Schema 3: buckets 2^(1/8) wide, so any estimate inside the right bucket is within
    // 9.05 % of the true median (between the 500th and 501st values).
    let median: f64 = prom
        .wait_for(&format!("histogram_quantile(0.5, {NAME})"), |_| true)
        .parse()
        .unwrap();
    let truth = values[499];
    let width = 2f64.powf(0.125) - 1.0;
    assert!(
        (median - truth).abs() / truth <= width,
        "median {median} vs {truth}"
    );
    drop(prom);
    server.shutdown_blocking().unwrap();
}

#[test]
fn prometheus_without_the_flag_still_gets_classic_buckets() {
    let (registry, _) = recorded();
    let server = Server::builder()
        .registry(registry)
        .bind("127.0.0.1:0")
        .unwrap();
    let Some(prom) = start_prometheus(server.local_addr(), "") else {
        return;
    };
    assert_eq!(prom.wait_for("up{job=\"tachometer\"}", |v| v == "1"), "1");
    assert_eq!(prom.wait_for(&format!("{NAME}_count"), |_| true), "1000");
    // NativeConfig::latency()'s classic bounds: 12 buckets with +Inf.
    let buckets = prom.query_result(&format!("{NAME}_bucket")).unwrap();
    assert_eq!(buckets.len(), 12, "{buckets:?}");
    let le_1 = prom.wait_for(&format!("{NAME}_bucket{{le=\"1.0\"}}"), |_| true);
    // Values ≤ 1 s: 0.001·1.01^i ≤ 1 for i ≤ 694.
    assert_eq!(le_1, "695");
    drop(prom);
    server.shutdown_blocking().unwrap();
}
