//! Macros for Tachometer: `#[timed]`, `#[counted]`, `#[metered]` and the call-site-cached
//! `counter!`, `gauge!`, `histogram!`, `meter!` and `timer!`.
//!
//! Use them through the facade (`tachometer::timed`, `tachometer::counter!`, …): the
//! generated code names everything as `::tachometer::__private::…`, so it works in
//! `#![no_implicit_prelude]` modules and under `#![deny(warnings)]`.
//!
//! # Function attributes
//!
//! ```
//! use tachometer::{counted, metered, timed};
//!
//! #[timed]
//! fn parse(input: &str) -> Result<u32, std::num::ParseIntError> {
//!     input.trim().parse()
//! }
//!
//! #[counted]
//! #[metered]
//! async fn handle() {}
//!
//! #[timed(name = "checkout_duration_seconds", labels(region = "eu"))]
//! fn checkout() {}
//!
//! assert_eq!(parse(" 42 "), Ok(42));
//! assert!(parse("x").is_err());
//! checkout();
//! ```
//!
//! ## Naming
//!
//! Each attribute has one family shared by all the functions it instruments, with the
//! labels `function` (the function's name, or `function = "…"`), `module`
//! (`module_path!()`) and `result`:
//!
//! | attribute | family | kind |
//! |---|---|---|
//! | `#[timed]` | `function_duration_seconds` | histogram, classic + native (seconds; client_golang's default classic buckets, exponential native buckets 9 % wide) |
//! | `#[timed(summary)]` | `function_duration_summary_seconds` | timer (Dropwizard-style summary of durations, plus call rates) |
//! | `#[counted]` | `function_calls_total` | counter |
//! | `#[metered]` | `function_executions` (exported `function_executions_total` and `function_executions_rate`) | meter |
//!
//! `result` is `"ok"` for a completed call — an `Ok`, or any value of a function whose
//! return type is not a `Result` —, `"error"` for an `Err` or a panic, and
//! `"cancelled"` for a future dropped before it completed. Series appear on first use,
//! so a function that never fails exports no `"error"` series. Because `result` is
//! always present, every instrumented function fits the same family and registration
//! never conflicts.
//!
//! On an `impl` block, an attribute instruments every method (except `const fn`s and
//! methods carrying their own attribute of the same kind) and labels each
//! `function="Type::method"`.
//!
//! Options: `name = "…"` (a valid metric name, checked at compile time), `help = "…"`,
//! `function = "…"` (two same-named methods of different types in one module would
//! otherwise share a series; not on `impl` blocks), `labels(key = "value", …)` (constant extra labels; needs
//! `name` too, since a family has one label set) and `registry = <expr>` (an expression
//! giving a `&Registry` or `Registry`, evaluated on the first call only; default
//! `tachometer::global()`).
//!
//! ## What is measured
//!
//! * A plain `fn`: from the call to its return, including the drop of its locals.
//! * An `async fn`: from the first poll (when its body starts; for `f().await` that is
//!   the call) to completion, across every `.await`. Dropped after that but before
//!   completing, it records `"cancelled"`; dropped before its first poll, its body never
//!   ran and nothing is recorded. (Timing from the call itself would mean rewriting the
//!   `async fn` into a `fn` returning `impl Future`, which cannot name the lifetimes it
//!   must capture in edition 2021.)
//! * A `fn` returning `impl Future`, `Pin<Box<dyn Future>>` or `BoxFuture` (what
//!   `#[async_trait]` produces): from the call until the returned future completes.
//!   The boxed forms are boxed once more (one extra allocation per call).
//! * A `Result` is recognised by name: the return type (or future output) must be
//!   spelled `Result<…>`, `io::Result<…>`, `anyhow::Result<…>` and so on.
//!
//! A `Result` function's explicit `return`s and tail are inspected; any other way out
//! (`?`, a macro that expands to `return Err(…)`, a panic) counts as `"error"`. A macro
//! that expands to `return Ok(…)` is therefore mislabelled `"error"` — rare, but know it.
//!
//! ## Cost
//!
//! Each function has one `static` holding its family and one series per outcome,
//! resolved on the first call. After that a call costs an atomic load per outcome
//! lookup, two clock reads and one record (`#[timed]`), or one increment/mark, and it
//! does not allocate once warm (a counter or meter allocates per-thread cells the first
//! time two threads collide on it, a timer its HDR buckets as values first land in
//! them); `cargo bench -p tachometer-benches --bench timed` measures it against the
//! bare function and against `Instant` + `metrics::histogram!`. On a loaded 2-core VM
//! the two clock reads (~70 ns each there) dominate; the macro's own work is the record
//! (~20 ns) and ~10 ns of lookups. A `static` inside a generic function is shared by
//! all its instantiations, so `fn f<T>()` records into one series whatever `T` is.
//!
//! Generated code stays small: one `static` of about 160 bytes per function, one call
//! into a helper shared by every function with the same metric type, and a guard whose
//! `Drop` records. An `async fn` body runs inside one more `async` block, which adds
//! the guard (24 bytes) and the output to its future; a function returning a future
//! gets one small wrapper future per distinct future type.
//!
//! If the family cannot be registered (the name is taken with another definition), the
//! first call prints one line to stderr and the site records into a detached metric
//! that is never exported; the program carries on.
//!
//! # Function-like macros
//!
//! ```
//! let method = String::from("GET");
//! tachometer::counter!("jobs_total", help = "Jobs run.").increment(1);
//! tachometer::counter!("http_requests_total", "method" => method, "code" => "200").increment(1);
//! tachometer::gauge!("queue_depth").set(3);
//! tachometer::histogram!("payload_size_bytes", "route" => "/upload").record(512.0);
//! tachometer::meter!("events").mark(1);
//! tachometer::timer!("flush_seconds").record(std::time::Duration::from_millis(3));
//! ```
//!
//! Each returns a `&'static` handle from the global registry. The name and label names
//! must be literals and are checked at compile time. With literal label values the
//! series is resolved once per call site, so a later call is an atomic load; with
//! computed values the family is cached per call site and each call is the core's
//! allocation-free labelled lookup. `histogram!` uses the default latency buckets
//! (`Buckets::default()`); `timer!` records nanoseconds, exported in seconds.

#![deny(missing_docs)]

mod args;
mod function_like;
mod instrument;
mod names;
// The core's naming table and name rules, compiled here from the same file (a symlink to
// `metrics-core/src/naming.rs`); the macros use only the rules and reserved labels.
#[allow(dead_code, unreachable_pub)]
mod naming;
mod shape;

use proc_macro::TokenStream;

use args::Kind;
use function_like::MetricType;

/// Times every call of a function into the timer family `function_duration_seconds`
/// with the labels `function`, `module` and `result` (`ok`, `error` for an `Err` or a
/// panic, `cancelled` for a future dropped before it completed), in the global registry.
///
/// Prometheus sees a summary: windowed quantiles, lifetime `_sum` in seconds and
/// `_count`. An `async fn` is timed from its first poll to its completion.
///
/// Options: `name = "…"` (another family), `help = "…"`, `function = "…"` (the
/// `function` label value), `labels(k = "v", …)` (constant extra labels; needs `name`),
/// `registry = <expr>` (a `&Registry` or `Registry`, evaluated on the first call).
/// The `tachometer-macros` crate docs cover `impl` blocks, functions returning futures,
/// how a `Result` is recognised, and the cost.
///
/// ```
/// #[tachometer::timed]
/// fn parse(input: &str) -> Result<u32, std::num::ParseIntError> {
///     input.trim().parse()
/// }
/// assert_eq!(parse("42"), Ok(42));
/// ```
///
/// The timer's call meter starts the core's `tachometer-clock` thread (one per process,
/// 1,000 wake-ups a second, stoppable with `tachometer::SystemClock::stop_coarse_clock()`)
/// the first time a `#[timed]` function runs on the system clock.
#[proc_macro_attribute]
pub fn timed(attr: TokenStream, item: TokenStream) -> TokenStream {
    instrument::expand(Kind::Timed, attr.into(), item.into()).into()
}

/// Counts completed calls of a function into the counter family `function_calls_total`
/// with the labels `function`, `module` and `result` (`ok`, `error`, `cancelled`, as for
/// [`macro@timed`]), in the global registry.
///
/// Options as for [`macro@timed`].
#[proc_macro_attribute]
pub fn counted(attr: TokenStream, item: TokenStream) -> TokenStream {
    instrument::expand(Kind::Counted, attr.into(), item.into()).into()
}

/// Marks the meter family `function_executions` (count and 1/5/15-minute rates) on every
/// completed call, with the labels `function`, `module` and `result` (`ok`, `error`,
/// `cancelled`, as for [`macro@timed`]), in the global registry. Prometheus sees the
/// counter `function_executions_total` and the gauge `function_executions_rate{window}`.
///
/// Options as for [`macro@timed`].
#[proc_macro_attribute]
pub fn metered(attr: TokenStream, item: TokenStream) -> TokenStream {
    instrument::expand(Kind::Metered, attr.into(), item.into()).into()
}

/// `counter!("name", "label" => value, …, help = "…")`: a `&'static Counter` from the
/// global registry, cached per call site.
#[proc_macro]
pub fn counter(input: TokenStream) -> TokenStream {
    function_like::expand(MetricType::Counter, input.into()).into()
}

/// `gauge!("name", "label" => value, …)`: a `&'static Gauge` from the global registry.
#[proc_macro]
pub fn gauge(input: TokenStream) -> TokenStream {
    function_like::expand(MetricType::Gauge, input.into()).into()
}

/// `histogram!("name", "label" => value, …)`: a `&'static Histogram` with the default
/// latency buckets, from the global registry.
#[proc_macro]
pub fn histogram(input: TokenStream) -> TokenStream {
    function_like::expand(MetricType::Histogram, input.into()).into()
}

/// `meter!("name", "label" => value, …)`: a `&'static Meter` from the global registry.
#[proc_macro]
pub fn meter(input: TokenStream) -> TokenStream {
    function_like::expand(MetricType::Meter, input.into()).into()
}

/// `timer!("name", "label" => value, …)`: a `&'static Timer` from the global registry.
#[proc_macro]
pub fn timer(input: TokenStream) -> TokenStream {
    function_like::expand(MetricType::Timer, input.into()).into()
}
