//! After its first call, an instrumented function and a cached metric macro allocate
//! nothing: the site's `static` already holds the resolved series.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tachometer::{counted, counter, histogram, metered, timed, Opts, Unit};
use tachometer_testkit::{allocations_during, CountingAllocator};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

#[timed]
fn work(x: u64) -> u64 {
    x.wrapping_mul(3)
}

#[timed]
#[counted]
#[metered]
fn fallible(x: u64) -> Result<u64, u64> {
    if x % 2 == 0 {
        Ok(x)
    } else {
        Err(x)
    }
}

#[timed]
async fn ready(x: u64) -> u64 {
    x + 1
}

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn block_on<F: Future>(waker: &Waker, f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Touches every 64-bucket chunk of the current window of the `#[timed]` series (HDR
/// buckets are allocated on first touch, see `hdr/store.rs`), so a call the scheduler
/// slows down cannot land in a fresh chunk during the measured loop.
fn pretouch_timers(series: &[(&str, &str)]) {
    let family = tachometer::global()
        .timer_family(
            Opts::new(
                "function_duration_seconds",
                "Time from call to completion of functions instrumented with #[timed].",
            )
            .unit(Unit::Seconds)
            .labels(&["function", "module", "result"]),
        )
        .expect("the same definition as #[timed]");
    for (function, result) in series {
        let t = family
            .with_labels(&[*function, module_path!(), *result])
            .unwrap();
        for ns in 0..256u64 {
            t.record_nanos(ns);
        }
        for shift in 0..35 {
            for sub in (128u64..256).step_by(16) {
                t.record_nanos(sub << shift);
            }
        }
    }
}

#[test]
fn instrumented_calls_allocate_nothing_after_the_first() {
    let waker = Waker::from(Arc::new(Noop));
    // First calls register families and resolve every outcome's series — which
    // allocates, proving the counting allocator is in place.
    let (_, first) = allocations_during(|| work(1));
    assert!(
        first > 0,
        "the first call should have registered its family"
    );
    fallible(1).unwrap_err();
    fallible(2).unwrap();
    block_on(&waker, ready(1));
    pretouch_timers(&[
        ("work", "ok"),
        ("fallible", "ok"),
        ("fallible", "error"),
        ("ready", "ok"),
    ]);

    let (sum, allocs) = allocations_during(|| {
        let mut sum = 0u64;
        for i in 0..1_000 {
            sum = sum.wrapping_add(work(i));
            sum = sum.wrapping_add(fallible(i).unwrap_or_else(|e| e));
            sum = sum.wrapping_add(block_on(&waker, ready(i)));
        }
        sum
    });
    assert!(sum > 0);
    assert_eq!(
        allocs, 0,
        "1,000 rounds of instrumented calls allocated {allocs} times"
    );
}

fn literal() {
    counter!("alloc_literal_total", "kind" => "a").increment(1);
    histogram!("alloc_literal_seconds").record(0.2);
}

fn runtime(kind: &str) {
    counter!("alloc_runtime_total", "kind" => kind).increment(1);
}

#[test]
fn cached_macros_allocate_nothing_after_the_first() {
    literal();
    runtime("a");
    runtime("b");
    let ((), allocs) = allocations_during(|| {
        for i in 0..1_000 {
            literal();
            runtime(if i % 2 == 0 { "a" } else { "b" });
        }
    });
    assert_eq!(
        allocs, 0,
        "1,000 rounds of macro lookups allocated {allocs} times"
    );
    let c = counter!("alloc_literal_total", "kind" => "a");
    assert_eq!(c.get(), 1_001);
}
