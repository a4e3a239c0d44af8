//! # Tachometer
//!
//! Application metrics for Rust services and batch jobs: counters, gauges, histograms,
//! meters and timers whose recording is lock-free and allocation-free, exported as
//! Prometheus text, OpenMetrics and JSON, or pushed to StatsD/DogStatsD, a Pushgateway
//! or a Prometheus remote-write store.
//!
//! This crate is the facade: it re-exports [`tachometer_core`] (metric types and the
//! registry), the macros, the exporters and the tower middleware, each behind a feature
//! of the same name (all on by default).
//!
//! ```
//! use tachometer::{Opts, Registry};
//! let registry = Registry::new();
//! let jobs = registry.counter(Opts::new("jobs_total", "Jobs processed.")).unwrap();
//! jobs.increment(1);
//! assert_eq!(jobs.get(), 1);
//! ```

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

/// Runtime support for the macros' generated code; not a public API.
#[cfg(feature = "macros")]
#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __private;

/// Starts the HTTP endpoint (`/metrics`, `/metrics.json`) for the global registry in one
/// line: `tachometer::serve("127.0.0.1:9000")?`. See [`exporters::server`] for the
/// builder ([`Server::builder`]) and for mounting [`MetricsService`] in axum.
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use tachometer_exporters::server::serve;

#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use tachometer_exporters::server::{MetricsService, Server};

/// The README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
