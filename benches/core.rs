//! Hot-path costs of Tachometer's operations next to every peer crate that has the
//! operation and next to the floors they are judged against, in one criterion run.
//!
//! Each operation is a criterion group (`counter_increment`, ...) holding one function
//! per library, so ratios come from one process and one set of inputs; the operations
//! themselves are defined once in `peers/ops.rs` (shared with the allocation report).
//! `*_2threads` groups run the same closures on two threads against one metric and
//! report wall time per operation (wall / total operations).

use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "peers/mod.rs"]
mod peers;

use peers::ops::{self, OpSink};

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

/// One thread: criterion's own loop around each library's closure.
struct OneThread<'c> {
    c: &'c mut Criterion,
    group: String,
}

impl OpSink for OneThread<'_> {
    fn op<F: Fn(u64) + Send + Sync + 'static>(&mut self, library: &str, f: F) {
        self.op_local(library, f);
    }
    fn op_local<F: FnMut(u64) + 'static>(&mut self, library: &str, mut f: F) {
        let mut g = self.c.benchmark_group(&self.group);
        let mut i = 0u64;
        g.bench_function(library, |b| {
            b.iter(|| {
                i = i.wrapping_add(1);
                f(i)
            })
        });
        g.finish();
    }
}

/// Two threads on one metric; unsynchronised floors have no contended form.
struct TwoThreads<'c> {
    c: &'c mut Criterion,
    group: String,
}

impl OpSink for TwoThreads<'_> {
    fn op<F: Fn(u64) + Send + Sync + 'static>(&mut self, library: &str, f: F) {
        let f = Arc::new(f);
        let mut g = self.c.benchmark_group(&self.group);
        g.bench_function(library, |b| {
            b.iter_custom(|iters| {
                let f = f.clone();
                contended(iters, 2, move |i| f(i))
            })
        });
        g.finish();
    }
    fn op_local<F: FnMut(u64) + 'static>(&mut self, _library: &str, _f: F) {}
}

fn hot_paths(c: &mut Criterion) {
    let mut sink = OneThread {
        c,
        group: String::new(),
    };
    for (name, run) in ops::all::<OneThread<'_>>() {
        sink.group = name.to_owned();
        run(&mut sink);
    }
}

fn hot_paths_2threads(c: &mut Criterion) {
    let mut sink = TwoThreads {
        c,
        group: String::new(),
    };
    for (name, run) in ops::all::<TwoThreads<'_>>() {
        sink.group = format!("{name}_2threads");
        run(&mut sink);
    }
}

criterion_group!(benches, floors, hot_paths, hot_paths_2threads);
criterion_main!(benches);
