//! What HDR histograms and timers cost in memory, measured with a counting allocator:
//! a labeled timer series spanning 1 ms–1 s, an unused window, the family byte cap, and
//! a registry walk that allocates nothing per series.

use std::sync::Arc;
use std::time::Duration;

use tachometer_core::{
    Descriptor, HdrConfig, Labels, ManualClock, Opts, Registry, Timer, Value, Visitor,
    OVERFLOW_LABEL_VALUE, OVERFLOW_METRIC_NAME,
};
use tachometer_testkit::{allocations_during, net_bytes_during, CountingAllocator};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// `n` durations spread log-uniformly over 1 ms–1 s (every bucket of that span).
fn log_uniform_ms_to_s(n: u64) -> impl Iterator<Item = u64> {
    (0..n).map(move |i| (1e6 * 1000f64.powf(i as f64 / n as f64)) as u64)
}

fn manual_registry() -> (Registry, ManualClock) {
    let clock = ManualClock::new();
    let r = Registry::builder().clock(Arc::new(clock.clone())).build();
    (r, clock)
}

#[test]
fn a_timer_series_spanning_1ms_to_1s_holds_at_most_16_kib() {
    let (r, clock) = manual_registry();
    let family = r
        .timer_family(Opts::new("rpc_duration_seconds", "RPC time.").labels(&["method"]))
        .unwrap();
    family.with_labels(&["warm"]).unwrap().record_nanos(1);
    let (timer, bytes) = net_bytes_during(|| {
        let t = family.with_labels(&["GetUser"]).unwrap().clone();
        // Fill all four windows of the ring (60 s in three 20 s slices, plus the live one).
        for _ in 0..5 {
            for ns in log_uniform_ms_to_s(20_000) {
                t.record_nanos(ns);
            }
            clock.advance(Duration::from_secs(20));
            let _ = t.snapshot();
        }
        t
    });
    let accounted = timer.resident_bytes();
    eprintln!("timer series 1 ms–1 s: {bytes} bytes allocated, {accounted} accounted");
    assert!(bytes <= 16 * 1024, "{bytes} bytes for one timer series");
    // The accounting (what the byte cap sees) matches what was allocated, within the
    // label entry and table share that the family adds.
    assert!(
        (accounted as i64 - bytes).abs() <= 512,
        "accounted {accounted} vs allocated {bytes}"
    );
    let s = timer.snapshot();
    assert_eq!(s.durations.count(), 5 * 20_000);
    let p99 = s.durations.quantile(0.99);
    assert!((p99 / 1e9 - 0.933).abs() < 0.02, "p99 {p99}");
}

#[test]
fn an_unused_window_costs_nothing() {
    let t = Timer::new();
    let empty = t.resident_bytes();
    t.record(Duration::from_millis(3));
    let one_window = t.resident_bytes() - empty;
    // One directory (8 bytes per 64 buckets) and one 64-bucket chunk, nothing for the
    // three other windows.
    assert!(one_window < 1024, "{one_window}");
    let h = tachometer_core::HdrHistogram::new(
        HdrConfig::default().window(Duration::from_secs(600), 60),
    )
    .unwrap();
    // A 61-window ring costs its pointers until values arrive.
    assert!(h.resident_bytes() < 1024, "{}", h.resident_bytes());
}

struct Overflow(Option<u64>);

impl Visitor for Overflow {
    fn series(&mut self, f: &Descriptor, labels: Labels<'_>, v: Value<'_>) {
        if let (OVERFLOW_METRIC_NAME, Value::Counter(n)) = (f.name(), v) {
            if labels.values().any(|v| v == "lat_seconds") {
                self.0 = Some(n);
            }
        }
    }
}

#[test]
fn the_byte_cap_folds_new_series_into_overflow_and_counts_them() {
    let (r, _clock) = manual_registry();
    let family = r
        .timer_family(
            Opts::new("lat_seconds", "Latency.")
                .labels(&["user"])
                .max_bytes(256 * 1024),
        )
        .unwrap();
    let mut created = 0;
    for i in 0..1000 {
        let t = family.with_labels(&[format!("u{i}")]).unwrap();
        for ns in log_uniform_ms_to_s(2_000) {
            t.record_nanos(ns);
        }
        created = family.len();
    }
    let held = family.resident_bytes();
    eprintln!("byte cap 256 KiB: {created} series, {held} bytes held");
    assert!(created < 100, "{created} series under a 256 KiB cap");
    // Past the cap by at most what one series can grow after its creation.
    assert!(held <= 256 * 1024 + 16 * 1024, "{held}");
    let overflow = family.with_labels(&[OVERFLOW_LABEL_VALUE]).unwrap();
    assert!(overflow.snapshot().durations.count() >= 2_000 * (1000 - created as u64));
    let mut v = Overflow(None);
    r.visit(&mut v);
    assert!(v.0.unwrap_or(0) >= 1000 - created as u64, "{:?}", v.0);
}

struct Quantiles(f64);

impl Visitor for Quantiles {
    fn series(&mut self, _: &Descriptor, _: Labels<'_>, v: Value<'_>) {
        match v {
            Value::Timer(t) => self.0 += t.durations.quantile(0.99),
            Value::HdrHistogram(h) => self.0 += h.quantile(0.5),
            _ => {}
        }
    }
}

fn walk_allocations(series: usize) -> u64 {
    let (r, _clock) = manual_registry();
    let timers = r
        .timer_family(Opts::new("t_seconds", "T.").labels(&["k"]))
        .unwrap();
    let hdrs = r
        .hdr_histogram_family(
            Opts::new("sizes", "S.").labels(&["k"]),
            HdrConfig::default(),
        )
        .unwrap();
    for i in 0..series {
        let k = format!("k{i}");
        for ns in log_uniform_ms_to_s(300) {
            timers
                .with_labels(&[k.as_str()])
                .unwrap()
                .record_nanos(ns + i as u64);
            hdrs.with_labels(&[k.as_str()]).unwrap().record(ns / 1000);
        }
    }
    let mut v = Quantiles(0.0);
    r.visit(&mut v);
    let ((), n) = allocations_during(|| r.visit(&mut v));
    assert!(v.0 > 0.0);
    n
}

#[test]
fn a_walk_allocates_nothing_per_timer_or_hdr_series() {
    let small = walk_allocations(10);
    let large = walk_allocations(1_000);
    assert_eq!(
        small, large,
        "{small} allocations for 10 series, {large} for 1000"
    );
}
