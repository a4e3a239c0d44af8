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

/// Collects one walk of a counter family: `(label value, count)` in walk order.
struct Walk(Vec<(String, u64)>);

impl tachometer_core::Visitor for Walk {
    fn series(
        &mut self,
        family: &tachometer_core::Descriptor,
        labels: tachometer_core::Labels<'_>,
        value: tachometer_core::Value<'_>,
    ) {
        if family.name() != "table_total" {
            return;
        }
        let tachometer_core::Value::Counter(n) = value else {
            panic!("a counter family yielded {value:?}");
        };
        let (name, v) = labels.iter().next().expect("one label");
        assert_eq!(name, "k");
        self.0.push((v.to_owned(), n));
    }
}

/// The lock-free label table (the `unsafe` in `family.rs`) under the worst mix it meets:
/// threads released together insert through several growths and past the series cap
/// while other threads walk it. Every walk must see only whole entries, each key once,
/// in insertion order (a walk is a prefix of the final order), counts that never go
/// back, and at the end every increment is accounted for, overflow included. Miri and
/// the sanitizers need a nightly toolchain this project does not have (ARCHITECTURE.md);
/// this runs the table's reads and writes against each other instead, many times.
#[test]
fn label_table_walks_race_with_inserts_growth_and_overflow() {
    // Under Miri (`cargo +nightly miri test`), a size its interpreter gets through.
    const KEYS: u64 = if cfg!(miri) { 40 } else { 3000 };
    const CAP: usize = if cfg!(miri) { 24 } else { 2000 };
    const WRITERS: u64 = if cfg!(miri) { 2 } else { 3 };
    for iteration in 0..if cfg!(miri) { 1 } else { 4 } {
        let r = Registry::new();
        let f = r
            .counter_family(Opts::new("table_total", "").labels(&["k"]).max_series(CAP))
            .unwrap();
        let start = Arc::new(std::sync::Barrier::new(WRITERS as usize + 1));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|t| {
                let (f, start) = (f.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    for i in 0..KEYS {
                        let key = (i * (2 * t + 1) + iteration) % KEYS;
                        f.with_labels(&[key.to_string()]).unwrap().increment(1);
                    }
                })
            })
            .collect();
        let walker = {
            let (r, start, done) = (r.clone(), start.clone(), done.clone());
            thread::spawn(move || {
                start.wait();
                let mut walks = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    let mut w = Walk(Vec::new());
                    r.visit(&mut w);
                    walks.push(w.0);
                }
                walks
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        let walks = walker.join().unwrap();
        let mut last = Walk(Vec::new());
        r.visit(&mut last);
        let final_order: Vec<&str> = last.0.iter().map(|(k, _)| k.as_str()).collect();
        // CAP series plus the overflow series, which comes last.
        assert_eq!(final_order.len(), CAP + 1);
        assert_eq!(final_order[CAP], tachometer_core::OVERFLOW_LABEL_VALUE);
        let unique: std::collections::HashSet<&str> = final_order.iter().copied().collect();
        assert_eq!(unique.len(), final_order.len(), "each key once");
        let total: u64 = last.0.iter().map(|(_, n)| n).sum();
        assert_eq!(total, WRITERS * KEYS, "every increment counted once");
        let mut seen_counts = std::collections::HashMap::new();
        for walk in &walks {
            let keys: Vec<&str> = walk.iter().map(|(k, _)| k.as_str()).collect();
            let overflow = keys.last() == Some(&tachometer_core::OVERFLOW_LABEL_VALUE);
            let ordinary = &keys[..keys.len() - usize::from(overflow)];
            assert_eq!(
                ordinary,
                &final_order[..ordinary.len()],
                "a walk is a prefix"
            );
            for (k, n) in walk {
                let prev = seen_counts.insert(k.clone(), *n).unwrap_or(0);
                assert!(*n >= prev, "{k}: {prev} then {n}");
            }
        }
        assert!(!walks.is_empty());
    }
}
