//! `#[timed]` on synchronous functions: counts, durations, labels, every receiver and
//! return shape, and the options.

mod common;

use std::sync::LazyLock;
use std::time::Duration;

use common::{calls, series, series_in, Reading};
use tachometer::{timed, Registry};

const FAMILY: &str = "function_duration_seconds";

#[timed]
fn sleep_20ms() {
    std::thread::sleep(Duration::from_millis(20));
}

#[test]
fn counts_calls_and_measures_at_least_the_sleep() {
    for _ in 0..3 {
        sleep_20ms();
    }
    let Some(Reading::Timer { count, sum, min }) = series(FAMILY, &[("function", "sleep_20ms")])
    else {
        panic!("no series for sleep_20ms");
    };
    assert_eq!(count, 3);
    assert!(sum >= 60_000_000, "three 20 ms sleeps summed to {sum} ns");
    // The lowest bucket's lower bound: at most one bucket width below 20 ms.
    assert!(min >= common::MIN_20MS, "shortest call was {min} ns");
}

#[timed]
fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    if n == 0 {
        return Ok(0);
    }
    Ok(n * 2)
}

#[test]
fn result_label_follows_ok_err_question_mark_and_early_return() {
    assert_eq!(parse("21"), Ok(42));
    assert_eq!(parse("0"), Ok(0));
    assert!(parse("x").is_err());
    assert!(parse("-1").is_err());
    assert_eq!(calls(FAMILY, "parse", "ok"), 2);
    assert_eq!(calls(FAMILY, "parse", "error"), 2);
    assert_eq!(calls(FAMILY, "parse", "cancelled"), 0);
}

#[timed]
fn explicit_err(fail: bool) -> std::io::Result<()> {
    if fail {
        return Err(std::io::Error::other("no"));
    }
    Ok(())
}

#[test]
fn result_aliases_are_recognised() {
    explicit_err(true).unwrap_err();
    explicit_err(false).unwrap();
    explicit_err(false).unwrap();
    assert_eq!(calls(FAMILY, "explicit_err", "error"), 1);
    assert_eq!(calls(FAMILY, "explicit_err", "ok"), 2);
}

#[test]
fn labels_name_the_function_and_its_module() {
    sleep_20ms();
    let found = series_in(tachometer::global(), FAMILY, &[("function", "sleep_20ms")]);
    let labels = &found[0].0;
    let names: Vec<&str> = labels.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["function", "module", "result"]);
    assert_eq!(labels[1].1, "timed");
    assert_eq!(labels[2].1, "ok");
}

#[timed]
fn panics() -> u32 {
    panic!("boom")
}

#[test]
fn a_panic_counts_as_an_error() {
    assert!(std::panic::catch_unwind(panics).is_err());
    assert_eq!(calls(FAMILY, "panics", "error"), 1);
    assert_eq!(calls(FAMILY, "panics", "ok"), 0);
}

struct Account {
    balance: i64,
    name: String,
}

impl Account {
    #[timed(function = "Account::name")]
    fn name(&self) -> &str {
        &self.name
    }

    #[timed(function = "Account::deposit")]
    fn deposit(&mut self, amount: i64) -> Result<&mut i64, String> {
        if amount <= 0 {
            return Err(format!("cannot deposit {amount}"));
        }
        self.balance += amount;
        Ok(&mut self.balance)
    }

    #[timed(function = "Account::close")]
    fn close(self) -> i64 {
        self.balance
    }

    #[timed(function = "Account::open")]
    fn open(name: &str) -> Self {
        Account {
            balance: 0,
            name: name.to_owned(),
        }
    }
}

#[test]
fn methods_with_every_receiver() {
    let mut a = Account::open("alice");
    assert_eq!(a.name(), "alice");
    *a.deposit(5).unwrap() += 1;
    assert!(a.deposit(-1).is_err());
    assert_eq!(a.close(), 6);
    assert_eq!(calls(FAMILY, "Account::open", "ok"), 1);
    assert_eq!(calls(FAMILY, "Account::name", "ok"), 1);
    assert_eq!(calls(FAMILY, "Account::deposit", "ok"), 1);
    assert_eq!(calls(FAMILY, "Account::deposit", "error"), 1);
    assert_eq!(calls(FAMILY, "Account::close", "ok"), 1);
}

#[timed]
fn largest<T: PartialOrd + Copy>(items: &[T]) -> Option<T> {
    let mut best = *items.first()?;
    for &i in items {
        if i > best {
            best = i;
        }
    }
    Some(best)
}

struct Stack<T> {
    items: Vec<T>,
}

impl<T: Clone> Stack<T> {
    #[timed(function = "Stack::push")]
    fn push(&mut self, item: T) -> usize {
        self.items.push(item);
        self.items.len()
    }
}

#[test]
fn generic_functions_share_one_series_across_instantiations() {
    assert_eq!(largest(&[1, 5, 3]), Some(5));
    assert_eq!(largest(&[1.5, 0.5]), Some(1.5));
    assert_eq!(largest::<u8>(&[]), None);
    assert_eq!(calls(FAMILY, "largest", "ok"), 3);
    let mut a = Stack { items: vec![1u8] };
    let mut b = Stack {
        items: Vec::<String>::new(),
    };
    assert_eq!(a.push(2), 2);
    assert_eq!(b.push("x".into()), 1);
    assert_eq!(calls(FAMILY, "Stack::push", "ok"), 2);
}

#[timed]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[test]
fn impl_trait_returns() {
    assert_eq!(evens(7).collect::<Vec<_>>(), [0, 2, 4, 6]);
    assert_eq!(calls(FAMILY, "evens", "ok"), 1);
}

#[timed(
    name = "checkout_duration_seconds",
    help = "Checkout latency.",
    labels(region = "eu", tier = "gold")
)]
fn checkout() -> u8 {
    7
}

#[test]
fn custom_name_help_and_labels() {
    assert_eq!(checkout(), 7);
    let found = series_in(tachometer::global(), "checkout_duration_seconds", &[]);
    assert_eq!(found.len(), 1);
    let (labels, reading) = &found[0];
    let expect = [
        ("function", "checkout"),
        ("module", "timed"),
        ("result", "ok"),
        ("region", "eu"),
        ("tier", "gold"),
    ];
    let labels: Vec<(&str, &str)> = labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(labels, expect);
    assert_eq!(reading.count(), 1);
    let desc = tachometer::global()
        .descriptors()
        .into_iter()
        .find(|d| d.name() == "checkout_duration_seconds")
        .unwrap();
    assert_eq!(desc.help(), "Checkout latency.");
    assert_eq!(desc.unit(), Some(&tachometer::Unit::Seconds));
}

static PRIVATE: LazyLock<Registry> = LazyLock::new(Registry::new);

#[timed(registry = &*PRIVATE)]
fn in_private_registry() {}

#[test]
fn registry_option_records_elsewhere() {
    in_private_registry();
    in_private_registry();
    let found = series_in(&PRIVATE, FAMILY, &[("function", "in_private_registry")]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.count(), 2);
    assert_eq!(calls(FAMILY, "in_private_registry", "ok"), 0);
}

static TAKEN: LazyLock<Registry> = LazyLock::new(|| {
    let taken = Registry::new();
    taken
        .counter(tachometer::Opts::new(
            "function_duration_seconds",
            "Not a timer.",
        ))
        .unwrap();
    taken
});

#[timed(registry = &*TAKEN)]
fn conflicted() -> u8 {
    1
}

// The family name is taken by another definition: registration fails, the function
// still works and records into a detached timer.
#[test]
fn a_conflicting_family_never_breaks_the_function() {
    assert_eq!(conflicted(), 1);
    assert_eq!(conflicted(), 1);
    assert!(series_in(&TAKEN, FAMILY, &[("function", "conflicted")]).is_empty());
}

#[timed]
#[timed(name = "stacked_duration_seconds")]
fn stacked() -> Result<(), ()> {
    Err(())
}

#[test]
fn attributes_stack() {
    stacked().unwrap_err();
    assert_eq!(calls(FAMILY, "stacked", "error"), 1);
    assert_eq!(
        series(
            "stacked_duration_seconds",
            &[("function", "stacked"), ("result", "error")]
        )
        .map(|r| r.count()),
        Some(1)
    );
}

#[timed]
fn classify(n: i32) -> Result<&'static str, String> {
    match n {
        0 => return Ok("zero"),
        n if n < 0 => Err(format!("{n} is negative")),
        _ => Ok("positive"),
    }
}

#[test]
fn returns_nested_in_the_tail_are_labelled() {
    assert_eq!(classify(0), Ok("zero"));
    assert_eq!(classify(4), Ok("positive"));
    assert!(classify(-4).is_err());
    assert_eq!(calls(FAMILY, "classify", "ok"), 2);
    assert_eq!(calls(FAMILY, "classify", "error"), 1);
}

struct Cache {
    hits: u32,
}

#[timed]
impl Cache {
    fn get(&mut self, key: &str) -> Result<u32, String> {
        if key.is_empty() {
            return Err("empty key".to_owned());
        }
        self.hits += 1;
        Ok(self.hits)
    }

    fn new() -> Self {
        Cache { hits: 0 }
    }

    const fn limit() -> u32 {
        8
    }

    #[timed(function = "Cache::special")]
    fn clear(&mut self) {
        self.hits = 0;
    }
}

#[test]
fn on_an_impl_block_every_method_is_type_qualified() {
    let mut c = Cache::new();
    assert_eq!(c.get("a"), Ok(1));
    assert!(c.get("").is_err());
    c.clear();
    const LIMIT: u32 = Cache::limit();
    assert_eq!(LIMIT, 8);
    assert_eq!(calls(FAMILY, "Cache::new", "ok"), 1);
    assert_eq!(calls(FAMILY, "Cache::get", "ok"), 1);
    assert_eq!(calls(FAMILY, "Cache::get", "error"), 1);
    // Its own attribute wins: recorded once, under its own name.
    assert_eq!(calls(FAMILY, "Cache::special", "ok"), 1);
    assert_eq!(calls(FAMILY, "Cache::clear", "ok"), 0);
}

#[timed(summary)]
fn dropwizard_style() -> u8 {
    7
}

#[test]
fn timed_is_a_native_histogram_and_summary_keeps_the_timer() {
    use tachometer::MetricKind;
    assert_eq!(dropwizard_style(), 7);
    sleep_20ms();
    let kind = |name: &str| {
        tachometer::global()
            .descriptors()
            .into_iter()
            .find(|d| d.name() == name)
            .map(|d| d.kind())
    };
    assert_eq!(kind(FAMILY), Some(MetricKind::NativeHistogram));
    assert_eq!(
        kind("function_duration_summary_seconds"),
        Some(MetricKind::Timer)
    );
    assert_eq!(
        calls(
            "function_duration_summary_seconds",
            "dropwizard_style",
            "ok"
        ),
        1
    );
}
