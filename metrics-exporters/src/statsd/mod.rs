//! StatsD and DogStatsD push, for services and batch jobs.
//!
//! Pull-based scraping cannot see a job that lives for three seconds, and many shops
//! already run a StatsD or Datadog agent, so this module pushes instead — in two modes:
//!
//! * [`StatsdReporter`] walks a [`Registry`](tachometer_core::Registry) every interval
//!   and sends counters as deltas, gauges as values and histograms/timers as summaries
//!   (see its docs for the exact mapping). It flushes on [`StatsdReporter::flush`] and
//!   on drop, so a short job loses nothing.
//! * [`StatsdClient`] sends each event as it happens (`count`, `gauge`, `timing`,
//!   `histogram`, `distribution`, with sample rates and tags). The caller only formats
//!   into a stack buffer and `try_send`s into a bounded queue: it never blocks, never
//!   allocates for a typical line, and never touches a socket.
//!
//! Both pack lines into payloads of at most [`DEFAULT_MAX_PAYLOAD`] bytes (configurable,
//! e.g. [`JUMBO_MAX_PAYLOAD`]), never splitting a line, and send over UDP, TCP
//! (newline-framed, reconnecting with backoff) or a Unix datagram socket ([`Target`]).
//!
//! **Never block, never lose silently.** A full queue, an invalid value (NaN, a negative
//! timing), a line over the payload limit and a payload the daemon did not take are all
//! counted in `dropped` ([`StatsdClient::stats`], [`StatsdReporter::stats`]), also
//! exported as `tachometer_statsd_dropped_total` when a registry is given through
//! `self_metrics`. A daemon that is down costs failed sends, never a panic or a stall of
//! the caller, and sending resumes when it is back. (UDP cannot report every loss: a
//! datagram the network or a full daemon buffer discards leaves no trace.)
//!
//! **Dialects** ([`Dialect`]): Etsy StatsD folds labels into the name
//! ([`LabelStyle::Values`] `name.v1.v2` or [`LabelStyle::GraphiteTags`]
//! `name;k1=v1`) and sanitizes every name to the characters its key sanitizer keeps, so
//! the names we produce are exactly the keys the daemon stores; DogStatsD sends labels
//! as `|#k:v` tags and supports `h` and `d`.

mod config;
mod dialect;
mod direct;
mod error;
mod line;
mod outbox;
mod packer;
mod reporter;
mod transport;
mod walk;

pub use config::{DEFAULT_MAX_PAYLOAD, INTERNET_MAX_PAYLOAD, JUMBO_MAX_PAYLOAD, MAX_UDP_PAYLOAD};
pub use dialect::{Dialect, LabelStyle};
pub use direct::{ClientBuilder, Event, StatsdClient, DEFAULT_QUEUE_CAPACITY};
pub use error::StatsdError;
pub use outbox::{StatsdStats, DROPPED_METRIC_NAME};
pub use reporter::{ReporterBuilder, StatsdReporter, DEFAULT_INTERVAL};
pub use transport::Target;
