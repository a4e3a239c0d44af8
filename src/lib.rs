//! # Tachometer
//!
//! Application metrics for Rust services and batch jobs: counters, gauges, histograms,
//! meters and timers, exported as Prometheus text, OpenMetrics and JSON, pushed to
//! StatsD/DogStatsD, a Pushgateway or a remote-write endpoint. Recording on a resolved
//! handle is a few atomic operations; in the steady state it takes no lock and
//! allocates nothing (the one-time exceptions are listed in [`tachometer_core`]'s docs).
//!
//! This crate is the facade: it re-exports [`tachometer_core`] (metric types and the
//! registry) and, each behind its feature, the macros, the exporters and the tower
//! middleware.
//!
//! ```
//! use tachometer::{Opts, Registry};
//! let registry = Registry::new();
//! let jobs = registry.counter(Opts::new("jobs_total", "Jobs processed.")).unwrap();
//! jobs.increment(1);
//! assert_eq!(jobs.get(), 1);
//! ```
//!
//! # Features
//!
//! All are on by default, which suits an application. A library that only records
//! depends on `tachometer = { version = "…", default-features = false, features =
//! ["macros"] }` and leaves the exporters to the application (the README's "Libraries:
//! record, don't export").
//!
//! | feature | what it adds |
//! |---|---|
//! | `macros` | [`timed`], [`counted`], [`metered`], [`counter!`], [`gauge!`], [`histogram!`], [`meter!`], [`timer!`] |
//! | `tower` | `tachometer::tower`: `MetricsLayer`, the HTTP/gRPC middleware (`http`, `tower-layer`, `tower-service`) |
//! | `axum` | the middleware reads axum 0.8's `MatchedPath` as the `http_route` label (implies `tower`) |
//! | `prometheus` | `exporters::prometheus` (text 0.0.4, OpenMetrics 1.0) and `exporters::negotiate` |
//! | `json` | `exporters::json`, the Dropwizard metrics-json shape (`serde`, `serde_json`) |
//! | `server` | [`serve`], `Server`, `MetricsService`: the hyper endpoint (`tokio`, `hyper`, `flate2`; implies `prometheus`, `json`) |
//! | `statsd` | `exporters::statsd`: StatsD / DogStatsD push |
//! | `pushgateway` | `exporters::push::Pushgateway` (`flate2`) |
//! | `remote-write` | `exporters::push::RemoteWriter`, Prometheus remote write 1.0 (`snap`) |
//! | `prometheus-interop` | `exporters::interop`: serve a `prometheus` crate registry next to ours (not default) |
//! | `rules` | `tachometer::rules`: Prometheus recording and alerting rules for the middleware's and macros' families (implies `tower`, `prometheus`) |
//! | `hdr-serialization` | [`HdrSnapshot::window_v2_bytes`], HdrHistogram's V2 encoding (`flate2`, `nom`, `base64`) |
//!
//! # Macros: the families they record
//!
//! The function attributes record every instrumented function into one family per
//! attribute, labelled `function` (the function's name, `Type::method` on an `impl`
//! block, or `function = "…"`), `module` (`module_path!()`) and `result`:
//!
//! | attribute | family | kind | exported as (Prometheus) |
//! |---|---|---|---|
//! | `#[timed]` | `function_duration_seconds{function, module, result}` | timer | summary: `quantile` 0.5…0.999 over the recent window, lifetime `_sum` (seconds) and `_count` |
//! | `#[counted]` | `function_calls_total{function, module, result}` | counter | counter |
//! | `#[metered]` | `function_executions{function, module, result}` | meter | counter `function_executions_total` and gauge `function_executions_rate{window="1m\|5m\|15m\|mean"}` |
//!
//! `result` is `ok` for a call that returned (an `Ok`, or any value of a function whose
//! return type is not spelled `Result<…>`), `error` for an `Err` or a panic, and
//! `cancelled` for a future dropped after its first poll and before it completed. A
//! series appears on first use, so a function that never fails exports no `error`
//! series. `name = "…"`, `help = "…"`, `function = "…"`, `labels(key = "value", …)`
//! (constant extra labels, after `result`; needs `name`) and `registry = <expr>` (default
//! [`global()`]) change these; the `tachometer-macros` crate docs have the details (what
//! is timed for `async fn` and boxed futures, cost, generated code).
//!
//! ```
//! #[tachometer::timed]
//! fn parse(input: &str) -> Result<u32, std::num::ParseIntError> {
//!     input.trim().parse()
//! }
//! assert_eq!(parse("7"), Ok(7));
//! assert!(parse("x").is_err());
//!
//! # #[cfg(feature = "prometheus")] {
//! use tachometer::exporters::prometheus::{encode, Format};
//! let mut text = String::new();
//! encode(tachometer::global(), Format::Text004, &mut text);
//! let count = |result: &str| {
//!     let line = text.lines().find(|l| {
//!         l.starts_with("function_duration_seconds_count{function=\"parse\",module=")
//!             && l.contains(&format!(",result=\"{result}\"}}"))
//!     });
//!     line.and_then(|l| l.rsplit(' ').next()).map(str::to_owned)
//! };
//! assert_eq!(count("ok").as_deref(), Some("1"));
//! assert_eq!(count("error").as_deref(), Some("1"));
//! assert_eq!(count("cancelled"), None); // no such call yet, so no series
//! # }
//! ```
//!
//! On `/metrics` (0.0.4) that reads, among the quantiles and sums:
//!
//! ```text
//! function_duration_seconds_count{function="parse",module="my_app",result="ok"} 1
//! function_duration_seconds_count{function="parse",module="my_app",result="error"} 1
//! ```
//!
//! The function-like macros (`counter!("name", "label" => value, …)`, `gauge!`,
//! `histogram!`, `meter!`, `timer!`) register the family you name in the [`global()`]
//! registry on first use and return a `&'static` handle, cached per call site.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use tachometer_core::*;

/// Exporters: Prometheus text and OpenMetrics (feature `prometheus`), JSON (`json`),
/// StatsD (`statsd`), Pushgateway (`pushgateway`) and remote-write (`remote-write`) push,
/// and the HTTP endpoint (`server`); each module is present only with its feature.
#[cfg(any(
    feature = "prometheus",
    feature = "json",
    feature = "server",
    feature = "statsd",
    feature = "pushgateway",
    feature = "remote-write"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "prometheus",
        feature = "json",
        feature = "server",
        feature = "statsd",
        feature = "pushgateway",
        feature = "remote-write"
    )))
)]
pub use tachometer_exporters as exporters;

/// Tower middleware that times HTTP requests: [`tower::MetricsLayer`].
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use tachometer_tower as tower;

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use tachometer_macros::{counted, counter, gauge, histogram, meter, metered, timed, timer};

#[cfg(feature = "rules")]
#[cfg_attr(docsrs, doc(cfg(feature = "rules")))]
pub mod rules;

#[cfg(feature = "metrics-bridge")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics-bridge")))]
pub mod metrics_bridge;

/// Runtime support for the macros' generated code; not a public API.
#[cfg(feature = "macros")]
#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __private;

/// Starts the HTTP endpoint (`/metrics`, `/metrics.json`) for the global registry in one
/// line: `tachometer::serve("127.0.0.1:9000")?`. See [`exporters::server`] for the
/// builder ([`Server::builder`]) and for mounting [`MetricsService`] in axum.
///
/// Like [`global()`], it registers the default collectors (process metrics with the
/// `process` feature) first.
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub fn serve(
    addr: impl std::net::ToSocketAddrs + std::fmt::Display,
) -> Result<Server, tachometer_exporters::server::ServeError> {
    let _ = global();
    tachometer_exporters::server::serve(addr)
}

/// Collectors read at scrape time: process metrics (feature `process`), tokio runtime
/// metrics (feature `tokio`) and build info.
#[cfg(any(feature = "process", feature = "tokio"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "process", feature = "tokio"))))]
pub use tachometer_collectors as collectors;

/// The process-wide default registry: what the macros, [`serve`] and the middleware's
/// `MetricsLayer::new()` record into.
///
/// With the `process` feature (on by default), the first call registers
/// [`collectors::process`]: `process_cpu_seconds_total`, `process_resident_memory_bytes`
/// and the rest of client_golang's process metrics, read from `/proc` only when a scrape
/// walks the registry. To leave them out, build without the feature
/// (`default-features = false`) or record into a [`Registry`] of your own.
#[must_use]
pub fn global() -> &'static Registry {
    let registry = tachometer_core::global();
    #[cfg(feature = "process")]
    {
        static PROCESS: std::sync::Once = std::sync::Once::new();
        PROCESS.call_once(|| {
            if let Err(e) = collectors::process::register(registry) {
                // Only if the program registered one of those names itself first.
                eprintln!("tachometer: process metrics not registered: {e}");
            }
        });
    }
    registry
}

#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use tachometer_exporters::server::{MetricsService, Server};

/// The README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
