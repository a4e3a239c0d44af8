//! Per-call cost of the macros against the bare function and against hand-written
//! timing with the `metrics` crate (`Instant` + `histogram!`), in one criterion run.
//!
//! `cargo bench -p tachometer-benches --bench timed`

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};

#[inline(never)]
fn bare(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

#[tachometer::timed]
#[inline(never)]
fn timed(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

#[tachometer::timed]
#[inline(never)]
fn timed_result(x: u64) -> Result<u64, u64> {
    let y = black_box(x).wrapping_mul(31);
    if y % 7 == 0 {
        Err(y)
    } else {
        Ok(y)
    }
}

#[tachometer::counted]
#[inline(never)]
fn counted(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

#[inline(never)]
fn metrics_by_hand(x: u64) -> u64 {
    let start = Instant::now();
    let out = black_box(x).wrapping_mul(31);
    metrics::histogram!("hand_duration_seconds", "function" => "metrics_by_hand")
        .record(start.elapsed().as_secs_f64());
    out
}

fn functions(c: &mut Criterion) {
    // Without a recorder `metrics` discards everything; a real one makes it comparable.
    let _handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("no other recorder is installed");
    let mut g = c.benchmark_group("function");
    g.bench_function("bare", |b| b.iter(|| bare(black_box(3))));
    g.bench_function("#[timed]", |b| b.iter(|| timed(black_box(3))));
    g.bench_function("#[timed] -> Result", |b| {
        b.iter(|| timed_result(black_box(3)))
    });
    g.bench_function("#[counted]", |b| b.iter(|| counted(black_box(3))));
    g.bench_function("metrics: Instant + histogram!", |b| {
        b.iter(|| metrics_by_hand(black_box(3)))
    });
    g.finish();

    // Where `#[timed]`'s time goes: the clock reads and the record.
    let mut g = c.benchmark_group("parts");
    let timer = tachometer::Timer::new();
    g.bench_function("Timer::now", |b| b.iter(|| black_box(timer.now())));
    g.bench_function("Timer::record_nanos", |b| {
        b.iter(|| timer.record_nanos(black_box(1_000)))
    });
    g.finish();

    let mut g = c.benchmark_group("macro");
    g.bench_function("counter! literal", |b| {
        b.iter(|| tachometer::counter!("bench_literal_total", "kind" => "a").increment(1))
    });
    let kind = String::from("a");
    g.bench_function("counter! runtime label", |b| {
        b.iter(|| tachometer::counter!("bench_runtime_total", "kind" => kind.as_str()).increment(1))
    });
    g.bench_function("metrics::counter!", |b| {
        b.iter(|| metrics::counter!("bench_metrics_total", "kind" => "a").increment(1))
    });
    g.finish();
}

criterion_group!(benches, functions);
criterion_main!(benches);
