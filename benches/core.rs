//! Hot-path costs of Tachometer's core operations, next to the floors they are judged
//! against (a thread-local `Cell` add and a relaxed `AtomicU64::fetch_add`).
//!
//! Each operation is a criterion group; peers are added as more functions in the same
//! group so ratios come from one run. `*_2threads` groups measure wall time per
//! operation with two threads hammering the same metric (ns/op = wall / total ops).

use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tachometer::{Buckets, HdrConfig, Opts, Registry};

/// 1,024 values spread log-uniformly from 1 ms to 16 s, identical for every library.
pub fn latency_inputs() -> Vec<f64> {
    (0..1024)
        .map(|i| 0.001 * (16_000f64).powf(f64::from(i) / 1023.0))
        .collect()
}

/// Runs `op(i)` on `threads` threads, `iters` times each, and returns the wall time
/// divided so criterion reports time per operation across all threads.
pub fn contended<F>(iters: u64, threads: usize, op: F) -> Duration
where
    F: Fn(u64) + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (op, barrier) = (op.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..iters {
                    op(i);
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().expect("bench thread panicked");
    }
    start.elapsed() / threads as u32
}

fn floors(c: &mut Criterion) {
    let mut g = c.benchmark_group("floor");
    thread_local!(static CELL: Cell<u64> = const { Cell::new(0) });
    g.bench_function("thread_local_cell_add", |b| {
        b.iter(|| CELL.with(|c| c.set(c.get().wrapping_add(black_box(1)))))
    });
    let atomic = AtomicU64::new(0);
    g.bench_function("atomic_fetch_add", |b| {
        b.iter(|| atomic.fetch_add(black_box(1), Ordering::Relaxed))
    });
    g.bench_function("std_instant_now", |b| b.iter(Instant::now));
    let clock = quanta::Clock::new();
    g.bench_function("quanta_now", |b| b.iter(|| clock.now()));
    g.bench_function("quanta_recent", |b| b.iter(quanta::Instant::recent));
    g.finish();
}

fn counters(c: &mut Criterion) {
    let r = Registry::new();
    let counter = r.counter(Opts::new("bench_total", "")).unwrap();
    let family = r
        .counter_family(Opts::new("bench_labeled_total", "").labels(&["method", "route", "status"]))
        .unwrap();
    let mut g = c.benchmark_group("counter_increment");
    g.bench_function("tachometer", |b| b.iter(|| counter.increment(black_box(1))));
    g.finish();

    let mut g = c.benchmark_group("labeled_lookup_increment");
    let labels = [String::from("GET"), String::from("/users/{id}"), String::from("200")];
    g.bench_function("tachometer", |b| {
        b.iter(|| family.with_labels(black_box(&labels)).unwrap().increment(1))
    });
    g.finish();

    let mut g = c.benchmark_group("counter_increment_2threads");
    let shared = counter.clone();
    g.bench_function("tachometer", |b| {
        b.iter_custom(|iters| {
            let c = shared.clone();
            contended(iters, 2, move |_| c.increment(1))
        })
    });
    let atomic = Arc::new(AtomicU64::new(0));
    g.bench_function("atomic_fetch_add", |b| {
        b.iter_custom(|iters| {
            let a = atomic.clone();
            contended(iters, 2, move |_| {
                a.fetch_add(1, Ordering::Relaxed);
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("labeled_lookup_increment_2threads");
    g.bench_function("tachometer", |b| {
        b.iter_custom(|iters| {
            let f = family.clone();
            contended(iters, 2, move |_| {
                f.with_labels(&["GET", "/users/{id}", "200"]).unwrap().increment(1)
            })
        })
    });
    g.finish();
}

fn gauges(c: &mut Criterion) {
    let r = Registry::new();
    let gauge = r.gauge(Opts::new("bench_gauge", "")).unwrap();
    let fgauge = r.float_gauge(Opts::new("bench_fgauge", "")).unwrap();
    let mut g = c.benchmark_group("gauge_set");
    g.bench_function("tachometer", |b| b.iter(|| gauge.set(black_box(42))));
    g.bench_function("tachometer_f64", |b| b.iter(|| fgauge.set(black_box(4.2))));
    g.finish();
}

fn histograms(c: &mut Criterion) {
    let inputs = latency_inputs();
    let r = Registry::new();
    let hist = r
        .histogram(Opts::new("bench_seconds", ""), Buckets::default_latency())
        .unwrap();
    let hdr = r
        .hdr_histogram(Opts::new("bench_hdr", ""), HdrConfig::default())
        .unwrap();
    let nanos: Vec<u64> = inputs.iter().map(|s| (s * 1e9) as u64).collect();

    let mut g = c.benchmark_group("histogram_record");
    let mut i = 0usize;
    g.bench_function("tachometer", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            hist.record(black_box(inputs[i]))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("hdr_record");
    g.bench_function("tachometer", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            hdr.record(black_box(nanos[i]))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("histogram_record_2threads");
    let inputs = Arc::new(inputs);
    let h = hist.clone();
    let inp = inputs.clone();
    g.bench_function("tachometer", |b| {
        b.iter_custom(|iters| {
            let (h, inp) = (h.clone(), inp.clone());
            contended(iters, 2, move |i| h.record(inp[(i & 1023) as usize]))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("hdr_record_2threads");
    let nanos = Arc::new(nanos);
    g.bench_function("tachometer", |b| {
        b.iter_custom(|iters| {
            let (h, n) = (hdr.clone(), nanos.clone());
            contended(iters, 2, move |i| h.record(n[(i & 1023) as usize]))
        })
    });
    g.finish();
}

fn meters_and_timers(c: &mut Criterion) {
    let r = Registry::new();
    let meter = r.meter(Opts::new("bench_meter", "")).unwrap();
    let timer = r.timer(Opts::new("bench_timer_seconds", "")).unwrap();
    let mut g = c.benchmark_group("meter_mark");
    g.bench_function("tachometer", |b| b.iter(|| meter.mark(black_box(1))));
    g.finish();
    let mut g = c.benchmark_group("timer_record");
    let d = Duration::from_micros(250);
    g.bench_function("tachometer", |b| b.iter(|| timer.record(black_box(d))));
    g.bench_function("tachometer_time_closure", |b| {
        b.iter(|| timer.time(|| black_box(1)))
    });
    g.finish();
}

criterion_group!(
    benches,
    floors,
    counters,
    gauges,
    histograms,
    meters_and_timers
);
criterion_main!(benches);
