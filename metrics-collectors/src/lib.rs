//! Collectors for Tachometer: data that is not recorded by the program but read when a
//! scrape asks for it, fed into the registry's walk through the core's
//! [`Collector`](tachometer_core::Collector) API.
//!
//! * `process` (feature `process`, on by default): client_golang's `process_*`
//!   metrics, read from `/proc` at scrape time (Linux; registers nothing elsewhere).
//! * `tokio` (feature `tokio`): the stable part of tokio's `RuntimeMetrics` for one
//!   runtime handle.
//! * [`build_info`]: a `target_info` gauge naming the service and its version.
//!
//! Why a crate of its own: reading `/proc` is I/O and tokio is an async runtime, and the
//! core depends on neither (as `tracing-core` keeps integrations out). Nothing here runs
//! between scrapes: a collector costs the program nothing until an exporter walks the
//! registry.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod build_info;
#[cfg(feature = "process")]
#[cfg_attr(docsrs, doc(cfg(feature = "process")))]
pub mod process;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;
