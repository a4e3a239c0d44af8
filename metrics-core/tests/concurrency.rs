//! Many threads, one metric, snapshots taken meanwhile: totals are exact, nothing lost.
//! These also exercise the `unsafe` of the lock-free label table (`family.rs`).

use std::sync::{Arc, Barrier};
use std::thread;

use tachometer_core::{Buckets, HdrConfig, Meter, Opts, Registry, Timer};

const OPS: u64 = 1_000_000;

fn hammer<F: Fn(u64) + Send + Sync + 'static>(threads: usize, op: F, snapshot: impl Fn()) {
    let op = Arc::new(op);
    let start = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (op, start) = (op.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                for i in 0..OPS {
                    op(i);
                }
            })
        })
        .collect();
    start.wait();
    while !handles.iter().all(|h| h.is_finished()) {
        snapshot();
        thread::yield_now();
    }
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn counter_is_exact_under_2_to_8_threads() {
    for threads in [2, 4, 8] {
        let r = Registry::new();
        let c = r.counter(Opts::new("c_total", "")).unwrap();
        let c2 = c.clone();
        let seen = std::cell::Cell::new(0u64);
        hammer(
            threads,
            move |_| c2.increment(1),
            || {
                let now = c.get();
                assert!(now >= seen.get(), "counter went backwards");
                seen.set(now);
            },
        );
        assert_eq!(c.get(), threads as u64 * OPS);
    }
}

#[test]
fn histogram_is_exact_under_threads() {
    let r = Registry::new();
    let h = r
        .histogram(
            Opts::new("h_seconds", ""),
            Buckets::new(&[0.5, 1.0, 2.0]).unwrap(),
        )
        .unwrap();
    let h2 = h.clone();
    hammer(
        4,
        move |i| h2.record((i % 4) as f64 * 0.75),
        || {
            let s = h.snapshot();
            assert!(s.count <= 4 * OPS);
        },
    );
    let s = h.snapshot();
    assert_eq!(s.count, 4 * OPS);
    // values 0, .75, 1.5, 2.25 in equal parts.
    assert_eq!(s.counts, vec![OPS, OPS, OPS, OPS]);
    assert_eq!(s.sum, 4.0 * (OPS as f64 / 4.0) * (0.0 + 0.75 + 1.5 + 2.25));
}

#[test]
fn hdr_histogram_is_exact_under_threads() {
    let r = Registry::new();
    let h = r
        .hdr_histogram(Opts::new("hdr", ""), HdrConfig::default())
        .unwrap();
    let h2 = h.clone();
    hammer(
        4,
        move |i| h2.record(1 + i % 1000),
        || {
            let _ = h.snapshot();
        },
    );
    let s = h.snapshot();
    assert_eq!(s.count(), 4 * OPS);
    assert_eq!(s.sum(), 4 * (OPS / 1000) * (1000 * 1001 / 2));
}

#[test]
fn meter_and_timer_are_exact_under_threads() {
    let m = Meter::new();
    let m2 = m.clone();
    hammer(
        4,
        move |_| m2.mark(1),
        || {
            let _ = m.snapshot();
        },
    );
    assert_eq!(m.snapshot().count, 4 * OPS);

    let t = Timer::new();
    let t2 = t.clone();
    hammer(
        2,
        move |i| t2.record_nanos(i),
        || {
            let _ = t.snapshot();
        },
    );
    let s = t.snapshot();
    assert_eq!(s.durations.count(), 2 * OPS);
    assert_eq!(s.calls.count, 2 * OPS);
}

#[test]
fn labeled_lookups_race_with_inserts_and_growth() {
    let r = Registry::new();
    let f = r
        .counter_family(Opts::new("race_total", "").labels(&["k"]))
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let f = f.clone();
            thread::spawn(move || {
                // Every thread walks the same 2,000 keys in a different order, so inserts,
                // growth and lookups of the same keys interleave across threads.
                for round in 0..5u64 {
                    for i in 0..2000u64 {
                        let key = (i * (2 * t + 1) + round) % 2000;
                        f.with_labels(&[key.to_string()]).unwrap().increment(1);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(f.len(), 2000);
    let total: u64 = (0..2000u64)
        .map(|k| f.with_labels(&[k.to_string()]).unwrap().get())
        .sum();
    assert_eq!(total, 4 * 5 * 2000);
}
