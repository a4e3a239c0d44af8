//! Tachometer's exporters. Each wire format lives in its own module and is fed by one
//! read-only walk of a [`Registry`](tachometer_core::Registry) through the
//! [`Visitor`](tachometer_core::Visitor) trait; no format reaches into metric internals.
//!
//! | module | feature | what |
//! |---|---|---|
//! | `prometheus` | `prometheus` | Prometheus text 0.0.4 and OpenMetrics 1.0 |
//! | `json` | `json` | Dropwizard metrics-json shape |
//! | `server` | `server` | hyper HTTP endpoint (`/metrics`, `/metrics.json`) |
//! | `statsd` | `statsd` | StatsD / DogStatsD push |
//! | `negotiate` | `prometheus` | `Accept` / `Accept-Encoding` negotiation for `/metrics` |
//! | `interop` | `prometheus-interop` | serve a `prometheus` crate registry from the same endpoint |
//! | `push` | `pushgateway`, `remote-write` | push to a Pushgateway; Prometheus remote write 1.0 |

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod prometheus;

#[cfg(any(feature = "prometheus", feature = "json"))]
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
mod text;

#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub mod json;

#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod negotiate;

#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;

#[cfg(feature = "prometheus-interop")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus-interop")))]
pub mod interop;

#[cfg(feature = "statsd")]
#[cfg_attr(docsrs, doc(cfg(feature = "statsd")))]
pub mod statsd;

#[cfg(any(feature = "pushgateway", feature = "remote-write"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "pushgateway", feature = "remote-write")))
)]
pub mod push;

#[cfg(any(feature = "statsd", feature = "pushgateway", feature = "remote-write"))]
mod exit;

// The handshake between exporter handles and their background threads.
#[cfg(any(feature = "statsd", feature = "pushgateway", feature = "remote-write"))]
mod worker;

// Crate-private protobuf wire writer shared by the binary encoders (see its docs).
mod pbwire;
