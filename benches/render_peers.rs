//! Rendering 10,000 labeled counter series as Prometheus text, Tachometer next to every
//! peer, in one criterion group so the ratios come from one run. (`benches/render.rs`
//! covers Tachometer's formats alone; this target is the side-by-side.)

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "peers/mod.rs"]
mod peers;

use peers::series::{Client, Measured, Metrics, Prom, SeriesSet, Tach};

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

criterion_group!(benches, render_10k);
criterion_main!(benches);
