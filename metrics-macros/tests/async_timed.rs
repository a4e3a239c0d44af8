//! `#[timed]` on `async fn` and on functions returning futures, under tokio:
//! durations across awaits, `Result` labels and cancellation.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use common::{calls, series, Reading};
use tachometer::timed;

const FAMILY: &str = "function_duration_seconds";

#[timed]
async fn nap(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[tokio::test]
async fn async_fn_is_timed_across_awaits() {
    assert_eq!(nap(20).await, 20);
    assert_eq!(nap(20).await, 20);
    let Some(Reading::Timer { count, min, .. }) =
        series(FAMILY, &[("function", "nap"), ("result", "ok")])
    else {
        panic!("no series for nap");
    };
    assert_eq!(count, 2);
    assert!(min >= common::MIN_20MS, "shortest nap took {min} ns");
}

#[timed]
async fn fetch(id: u32) -> Result<String, String> {
    tokio::task::yield_now().await;
    if id == 0 {
        return Err("no such id".to_owned());
    }
    let parsed: u32 = format!("{id}")
        .parse()
        .map_err(|_| "unreachable".to_owned())?;
    Ok(format!("item {parsed}"))
}

#[tokio::test]
async fn async_result_labels() {
    assert_eq!(fetch(3).await.as_deref(), Ok("item 3"));
    assert!(fetch(0).await.is_err());
    assert!(fetch(0).await.is_err());
    assert_eq!(calls(FAMILY, "fetch", "ok"), 1);
    assert_eq!(calls(FAMILY, "fetch", "error"), 2);
}

#[timed]
async fn forever() -> Result<(), String> {
    std::future::pending::<()>().await;
    Ok(())
}

#[tokio::test]
async fn a_future_dropped_before_completion_is_recorded_as_cancelled() {
    let outcome = tokio::time::timeout(Duration::from_millis(20), forever()).await;
    assert!(outcome.is_err(), "the pending future must time out");
    let Some(Reading::Timer { count, min, .. }) =
        series(FAMILY, &[("function", "forever"), ("result", "cancelled")])
    else {
        panic!("the cancelled call was not recorded");
    };
    assert_eq!(count, 1);
    // The timeout's 20 ms run on tokio's clock from before the first poll, the record
    // on the TSC from the first poll: under load the reading has come in at 11-19.5 ms.
    // What cannot fail is that the cancelled call carries its time, not zero.
    assert!(min >= 1e6, "cancelled after {min} ns");
    assert_eq!(
        calls(FAMILY, "forever", "ok") + calls(FAMILY, "forever", "error"),
        0
    );
    // An `async fn` body starts at the first poll: a future never polled never ran,
    // and records nothing (documented).
    drop(forever());
    assert_eq!(calls(FAMILY, "forever", "cancelled"), 1);
}

struct Service {
    greeting: String,
}

impl Service {
    // What `#[async_trait]` turns `async fn greet(&self) -> ..` into.
    #[timed(function = "Service::greet")]
    fn greet<'a>(
        &'a self,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if name.is_empty() {
                return Err("empty name".to_owned());
            }
            Ok(format!("{}, {name}", self.greeting))
        })
    }

    #[timed(function = "Service::len")]
    fn len(&self) -> impl Future<Output = usize> + '_ {
        async move { self.greeting.len() }
    }

    #[timed(function = "Service::shout")]
    async fn shout(&mut self) -> &str {
        self.greeting.make_ascii_uppercase();
        tokio::task::yield_now().await;
        &self.greeting
    }
}

#[tokio::test]
async fn functions_returning_futures_are_timed_until_the_future_completes() {
    let mut s = Service {
        greeting: "hello".to_owned(),
    };
    assert_eq!(s.greet("bob").await.as_deref(), Ok("hello, bob"));
    assert!(s.greet("").await.is_err());
    let Some(Reading::Timer { min, .. }) =
        series(FAMILY, &[("function", "Service::greet"), ("result", "ok")])
    else {
        panic!("no series for greet");
    };
    // The call itself returns at once; only the future's completion covers the sleep.
    assert!(min >= common::MIN_20MS, "greet took {min} ns");
    assert_eq!(calls(FAMILY, "Service::greet", "error"), 1);
    assert_eq!(s.len().await, 5);
    drop(s.len());
    assert_eq!(calls(FAMILY, "Service::len", "ok"), 1);
    assert_eq!(calls(FAMILY, "Service::len", "cancelled"), 1);
    assert_eq!(s.shout().await, "HELLO");
    assert_eq!(calls(FAMILY, "Service::shout", "ok"), 1);
}

#[timed]
async fn spawned_work(n: u64) -> u64 {
    tokio::task::yield_now().await;
    n * 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_futures_are_send_and_all_counted() {
    let handles: Vec<_> = (0..50).map(|n| tokio::spawn(spawned_work(n))).collect();
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    assert_eq!(total, 2 * (0..50).sum::<u64>());
    assert_eq!(calls(FAMILY, "spawned_work", "ok"), 50);
}

// Both orders with the runtime's attribute: `#[timed]` sees either the `async fn` or
// the synchronous function `#[tokio::main]` made of it.
#[timed(function = "timed_outside")]
#[tokio::main(flavor = "current_thread")]
async fn timed_outside() -> u8 {
    tokio::task::yield_now().await;
    9
}

#[tokio::main(flavor = "current_thread")]
#[timed(function = "timed_inside")]
async fn timed_inside() -> Result<u8, String> {
    tokio::task::yield_now().await;
    Err("inside".to_owned())
}

#[test]
fn works_with_tokio_main_in_either_order() {
    assert_eq!(timed_outside(), 9);
    assert!(timed_inside().is_err());
    assert_eq!(calls(FAMILY, "timed_outside", "ok"), 1);
    assert_eq!(calls(FAMILY, "timed_inside", "error"), 1);
}

trait Repository {
    // A default method: the site is shared by every implementor that keeps it.
    #[timed(function = "Repository::describe")]
    fn describe(&self) -> String {
        format!("{} rows", self.rows())
    }

    fn rows(&self) -> usize;

    async fn load(&self, id: u32) -> Result<String, String>;
}

struct Memory;

impl Repository for Memory {
    fn rows(&self) -> usize {
        2
    }

    #[timed(function = "Memory::load")]
    async fn load(&self, id: u32) -> Result<String, String> {
        tokio::task::yield_now().await;
        if id < 2 {
            Ok(format!("row {id}"))
        } else {
            Err(format!("no row {id}"))
        }
    }
}

#[tokio::test]
async fn trait_default_methods_and_async_trait_methods() {
    assert_eq!(Memory.describe(), "2 rows");
    assert_eq!(Memory.load(1).await.as_deref(), Ok("row 1"));
    assert!(Memory.load(7).await.is_err());
    assert_eq!(calls(FAMILY, "Repository::describe", "ok"), 1);
    assert_eq!(calls(FAMILY, "Memory::load", "ok"), 1);
    assert_eq!(calls(FAMILY, "Memory::load", "error"), 1);
}
