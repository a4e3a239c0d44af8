//! `#[counted]` and `#[metered]`: exact call counts by result, for every shape.

mod common;

use common::{calls, series, Reading};
use tachometer::{counted, metered};

const CALLS: &str = "function_calls_total";
const EXECUTIONS: &str = "function_executions";

#[counted]
fn ping() {}

#[counted]
fn check(n: u32) -> Result<u32, String> {
    if n % 3 == 0 {
        Err(format!("{n} is a multiple of three"))
    } else {
        Ok(n)
    }
}

#[test]
fn counted_counts_exactly() {
    for _ in 0..1000 {
        ping();
    }
    assert_eq!(
        series(CALLS, &[("function", "ping"), ("result", "ok")]),
        Some(Reading::Counter(1000))
    );
    for n in 0..30 {
        let _ = check(n);
    }
    assert_eq!(calls(CALLS, "check", "error"), 10);
    assert_eq!(calls(CALLS, "check", "ok"), 20);
}

#[counted]
fn hammered() {}

#[test]
fn counted_is_exact_across_threads() {
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10_000 {
                    hammered();
                }
            });
        }
    });
    assert_eq!(calls(CALLS, "hammered", "ok"), 40_000);
}

#[metered]
fn tick() -> Result<(), ()> {
    Ok(())
}

#[metered(name = "jobs", labels(queue = "default"))]
async fn job() {}

#[tokio::test]
async fn metered_marks_a_meter() {
    for _ in 0..5 {
        tick().unwrap();
    }
    job().await;
    assert_eq!(
        series(EXECUTIONS, &[("function", "tick"), ("result", "ok")]),
        Some(Reading::Meter { count: 5 })
    );
    assert_eq!(
        series("jobs", &[("function", "job"), ("queue", "default")]),
        Some(Reading::Meter { count: 1 })
    );
}

#[counted]
#[metered]
async fn both(fail: bool) -> Result<(), ()> {
    tokio::task::yield_now().await;
    if fail {
        Err(())
    } else {
        Ok(())
    }
}

#[tokio::test]
async fn counted_and_metered_stack_on_async_fns() {
    both(false).await.unwrap();
    both(true).await.unwrap_err();
    both(true).await.unwrap_err();
    assert_eq!(calls(CALLS, "both", "ok"), 1);
    assert_eq!(calls(CALLS, "both", "error"), 2);
    assert_eq!(calls(EXECUTIONS, "both", "ok"), 1);
    assert_eq!(calls(EXECUTIONS, "both", "error"), 2);
}
