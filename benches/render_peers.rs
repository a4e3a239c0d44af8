//! Rendering 10,000 labeled counter series as Prometheus text (and as the protobuf
//! exposition), Tachometer next to every peer, in one criterion group so the ratios come from one run. (`benches/render.rs`
//! covers Tachometer's formats alone; this target is the side-by-side.)

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "peers/mod.rs"]
mod peers;

use peers::series::{Client, ClientProto, Measured, Metrics, Prom, SeriesSet, Tach, TachProto};

fn bench_one<S: SeriesSet>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    let mut set = S::build();
    g.bench_function(S::NAME, |b| b.iter(|| black_box(set.render())));
}

fn render_10k(c: &mut Criterion) {
    let mut g = c.benchmark_group("render_10k_series");
    g.sample_size(20);
    bench_one::<Tach>(&mut g);
    bench_one::<Measured>(&mut g);
    bench_one::<Client>(&mut g);
    bench_one::<Prom>(&mut g);
    bench_one::<Metrics>(&mut g);
    g.finish();
}

/// The same 10,000 series as the protobuf exposition (`io.prometheus.client`, delimited),
/// against the one peer that has a protobuf encoder.
fn render_10k_protobuf(c: &mut Criterion) {
    let mut g = c.benchmark_group("render_10k_series_protobuf");
    g.sample_size(20);
    bench_one::<TachProto>(&mut g);
    bench_one::<ClientProto>(&mut g);
    g.finish();
}

criterion_group!(benches, render_10k, render_10k_protobuf);
criterion_main!(benches);
