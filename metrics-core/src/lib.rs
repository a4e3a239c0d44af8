//! The core of Tachometer: metric types, the registry, labels, clocks and snapshots.
//!
//! # Design
//!
//! * **Handles are apart from the registry.** [`Counter`], [`Gauge`], [`Histogram`],
//!   [`HdrHistogram`], [`Meter`] and [`Timer`] are `Arc` handles to atomics. Recording
//!   on one never touches the [`Registry`] that made it. In the steady state it takes
//!   no lock and allocates nothing; the exceptions happen once: a counter, meter or
//!   histogram grows per-thread cells the first time two threads collide on it (below);
//!   an [`HdrHistogram`] or [`Timer`] allocates a window's directory and each 64-bucket
//!   chunk the first time a value lands there, and the first record into a never-used
//!   window takes a lock to create it; a meter's 5 s tick *tries* a lock, never waits.
//! * **Contention is paid for only when it happens.** Counters and histograms start as
//!   one set of atomics and grow per-thread, cache-line-padded cells the first time two
//!   threads collide on them (as Java's `LongAdder` does).
//! * **Labels resolve without locks.** [`Family::with_labels`] is a hash and a probe in a
//!   lock-free table: no allocation once the series exists. Keeping the returned handle
//!   is faster still and is the recommended pattern on hot paths.
//! * **Exporters see a read-only walk.** [`Registry::visit`] hands every family's
//!   [`Descriptor`] and each series' [`Labels`] and [`Value`] to a [`Visitor`]; wire
//!   formats are written against that, never against metric internals.
//! * **Time is injectable.** Meters, windows and timers read a [`Clock`]; tests use a
//!   [`ManualClock`] and assert exact rates.
//!
//! ```
//! use tachometer::{Buckets, Opts, Registry, Unit};
//! let registry = Registry::new();
//! let latency = registry
//!     .histogram_family(
//!         Opts::new("http_request_duration_seconds", "Request latency.").unit(Unit::Seconds).labels(&["route"]),
//!         Buckets::default_latency(),
//!     )
//!     .unwrap();
//! latency.with_labels(&["/users/{id}"]).unwrap().record(0.042);
//! ```

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod callback;
mod clock;
pub mod collect;
mod counter;
mod desc;
mod error;
mod ewma;
mod family;
mod gauge;
mod hdr;
mod histogram;
mod meter;
mod metric;
pub mod naming;
mod native;
mod registry;
mod striped;
mod sync;
mod timer;
mod visit;

pub use callback::{CALLBACK_TIMEOUT_METRIC_NAME, DEFAULT_CALLBACK_TIMEOUT, MAX_CALLBACK_THREADS};
pub use clock::{Clock, ManualClock, SystemClock};
pub use collect::{CollectedFamily, Collection, Collector, COLLECTOR_REJECTED_METRIC_NAME};
pub use counter::{Counter, FloatCounter};
pub use desc::{
    is_valid_label_name, is_valid_metric_name, Descriptor, MetricKind, Opts, Unit,
    DEFAULT_MAX_SERIES,
};
pub use error::Error;
pub use family::{Family, OVERFLOW_LABEL_VALUE};
pub use gauge::{CallbackGauge, FloatGauge, Gauge};
pub use hdr::{HdrConfig, HdrHistogram, HdrSnapshot};
pub use histogram::{cumulative, Buckets, Histogram, HistogramSnapshot};
pub use meter::{Meter, MeterSnapshot};
pub use metric::Metric;
pub use native::{
    NativeConfig, NativeHistogram, NativeSide, NativeSnapshot, DEFAULT_MAX_BUCKETS, DEFAULT_SCHEMA,
    DEFAULT_ZERO_THRESHOLD, MAX_SCHEMA, MIN_SCHEMA,
};
pub use registry::{global, Registry, RegistryBuilder, OVERFLOW_METRIC_NAME};
pub use timer::{TimedFuture, Timer, TimerGuard, TimerSnapshot};
pub use visit::{Labels, Strs, Value, Visitor};
