//! After its first call, an instrumented function and a cached metric macro allocate
//! nothing: the site's `static` already holds the resolved series.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tachometer::{counted, counter, histogram, metered, timed};
use tachometer::{Descriptor, Labels, Value, Visitor};
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

/// Window moves of every native histogram in the global registry so far.
fn moves() -> u64 {
    struct Moves(u64);
    impl Visitor for Moves {
        fn series(&mut self, _: &Descriptor, _: Labels<'_>, value: Value<'_>) {
            if let Value::NativeHistogram(h) = value {
                self.0 += h.moves;
            }
        }
    }
    let mut m = Moves(0);
    tachometer::global().visit(&mut m);
    m.0
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

    let moves_before = moves();
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
    // Only a move of a duration histogram's bucket window allocates (a call timed far
    // outside the durations seen so far, e.g. on a loaded machine); without one, nothing.
    if moves() == moves_before {
        assert_eq!(
            allocs, 0,
            "1,000 rounds of instrumented calls allocated {allocs} times"
        );
    }
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
