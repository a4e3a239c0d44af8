//! The `metrics` facade bridge: a pre-resolved `metrics::Counter` through the bridge vs
//! our own `Counter`, and `metrics::counter!` with a label through the bridge vs
//! through metrics-exporter-prometheus (both as local recorders, same run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tachometer::metrics_bridge::Recorder;
use tachometer::{Opts, Registry};

fn bridge(c: &mut Criterion) {
    let registry = Registry::new();
    let bridge = Recorder::new(&registry);
    let peer = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();

    let mut g = c.benchmark_group("bridge_handle");
    let own = registry
        .counter(Opts::new("own_total", "Own handle."))
        .unwrap();
    g.bench_function("tachometer Counter::increment", |b| {
        b.iter(|| own.increment(black_box(1)))
    });
    let via = metrics::with_local_recorder(&bridge, || metrics::counter!("via_bridge_total"));
    g.bench_function("metrics::Counter::increment via bridge", |b| {
        b.iter(|| via.increment(black_box(1)))
    });
    let via_peer = metrics::with_local_recorder(&peer, || metrics::counter!("via_peer_total"));
    g.bench_function(
        "metrics::Counter::increment via metrics-exporter-prometheus",
        |b| b.iter(|| via_peer.increment(black_box(1))),
    );
    g.finish();

    let mut g = c.benchmark_group("bridge_macro");
    metrics::with_local_recorder(&bridge, || {
        g.bench_function("counter!(x, k => v) via bridge", |b| {
            b.iter(|| metrics::counter!("bench_bridge_total", "k" => "v").increment(1))
        });
    });
    metrics::with_local_recorder(&peer, || {
        g.bench_function("counter!(x, k => v) via metrics-exporter-prometheus", |b| {
            b.iter(|| metrics::counter!("bench_bridge_total", "k" => "v").increment(1))
        });
    });
    g.finish();
}

criterion_group!(benches, bridge);
criterion_main!(benches);
