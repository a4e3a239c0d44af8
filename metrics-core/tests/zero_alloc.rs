//! Recording on a resolved handle — and a labeled lookup that hits — allocates nothing.

use std::time::Duration;

use tachometer_core::{Buckets, HdrConfig, NativeConfig, Opts, Registry};
use tachometer_testkit::{allocations_during, CountingAllocator};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

fn assert_no_alloc(what: &str, f: impl FnOnce()) {
    let ((), n) = allocations_during(f);
    assert_eq!(n, 0, "{what} allocated {n} time(s)");
}

#[test]
fn the_allocator_counts() {
    let (v, n) = allocations_during(|| Vec::<u8>::with_capacity(16));
    drop(v);
    assert!(n >= 1, "the counting allocator must see a Vec allocation");
}

#[test]
fn hot_paths_do_not_allocate() {
    let r = Registry::new();
    let counter = r.counter(Opts::new("c_total", "")).unwrap();
    let fcounter = r.float_counter(Opts::new("f_total", "")).unwrap();
    let gauge = r.gauge(Opts::new("g", "")).unwrap();
    let fgauge = r.float_gauge(Opts::new("fg", "")).unwrap();
    let hist = r
        .histogram(Opts::new("h_seconds", ""), Buckets::default())
        .unwrap();
    let hdr = r
        .hdr_histogram(Opts::new("hdr", ""), HdrConfig::default())
        .unwrap();
    let native = r
        .native_histogram(Opts::new("n_seconds", ""), NativeConfig::new())
        .unwrap();
    let hybrid = r
        .native_histogram(Opts::new("nh_seconds", ""), NativeConfig::latency())
        .unwrap();
    let meter = r.meter(Opts::new("m", "")).unwrap();
    let timer = r.timer(Opts::new("t_seconds", "")).unwrap();
    let family = r
        .counter_family(Opts::new("req_total", "").labels(&["method", "route", "status"]))
        .unwrap();
    family
        .with_labels(&["GET", "/users/{id}", "200"])
        .unwrap()
        .increment(1); // creates the series

    // Warm thread-locals (stripe slot) before counting.
    counter.increment(1);
    assert_no_alloc("counter increment", || {
        for _ in 0..1000 {
            counter.increment(1);
        }
    });
    assert_no_alloc("float counter increment", || fcounter.increment(0.5));
    assert_no_alloc("gauge set/increment", || {
        gauge.set(5);
        gauge.increment(1);
        gauge.decrement(2);
    });
    assert_no_alloc("float gauge set", || fgauge.set(1.5));
    assert_no_alloc("explicit histogram record", || {
        for i in 0..1000 {
            hist.record(f64::from(i) / 100.0);
        }
    });
    // The first values position the window (and a value outside it moves the window,
    // which allocates the new one); after that the range is covered.
    let latencies: Vec<f64> = (0..1000).map(|i| 1e-4 * 1.01f64.powi(i % 700)).collect();
    for &v in &latencies {
        native.record(v);
        native.record(-v);
        hybrid.record(v);
    }
    assert_no_alloc("native histogram record", || {
        for &v in &latencies {
            native.record(v);
            native.record(-v);
            native.record(0.0);
        }
    });
    assert_no_alloc("classic + native histogram record", || {
        for &v in &latencies {
            hybrid.record(v);
        }
    });
    // HDR buckets are allocated per 64-bucket chunk on first touch (see `hdr/store.rs`):
    // the first pass over these values allocates, every later one must not.
    let (_, first) = allocations_during(|| {
        for i in 0..1000 {
            hdr.record(i * 1_000_003);
        }
    });
    assert!(first > 0, "first touch allocates the window's chunks");
    assert_no_alloc("HDR record", || {
        for _ in 0..3 {
            for i in 0..1000 {
                hdr.record(i * 1_000_003);
            }
        }
    });
    assert_no_alloc("meter mark", || {
        for _ in 0..1000 {
            meter.mark(1);
        }
    });
    // Warm every chunk of the window (the same first-touch rule), so that a closure
    // slowed down by the scheduler cannot land in a fresh one.
    for ns in 0..256u64 {
        timer.record_nanos(ns);
    }
    for shift in 0..35 {
        for sub in (128u64..256).step_by(16) {
            timer.record_nanos(sub << shift);
        }
    }
    assert_no_alloc("timer record", || {
        timer.record(Duration::from_micros(250));
        timer.time(|| ());
        drop(timer.start());
    });
    let method = String::from("GET");
    assert_no_alloc("labeled with_labels hit + increment", || {
        for _ in 0..1000 {
            family
                .with_labels(&[method.as_str(), "/users/{id}", "200"])
                .unwrap()
                .increment(1);
        }
    });
    assert_eq!(
        family
            .with_labels(&["GET", "/users/{id}", "200"])
            .unwrap()
            .get(),
        1001
    );
}
