//! The HTTP endpoint: `/metrics` (Prometheus text or OpenMetrics), `/metrics.json`, and
//! the live metrics page `/metrics/ui` (see [`ui`]).
//!
//! Why a server of our own rather than only a handler: most programs that want metrics
//! do not otherwise run an HTTP server, or run one whose routes, auth and middleware
//! should not apply to a scraper. [`serve`] is the one-line start for them. Programs that
//! already have an axum/tower stack mount [`MetricsService`] instead; both paths share
//! one handler, so behaviour is identical.
//!
//! What the endpoint does, and why:
//!
//! * **Negotiation.** The format follows the scraper's `Accept` header (see
//!   [`negotiate`](crate::negotiate)); Prometheus 3 rejects a scrape whose
//!   `Content-Type` it does not recognise, so every response names its exact format.
//! * **Compression.** gzip when `Accept-Encoding` allows (Prometheus asks by default),
//!   with `Vary: Accept, Accept-Encoding` (`/metrics`) or `Vary: Accept-Encoding`
//!   (`/metrics.json`) so caches keep the variants apart.
//! * **Bounded resources, hostile clients.** Every connection has bounded lifetimes,
//!   each a [`ServerBuilder`] option:
//!
//!   | limit | default | what it bounds |
//!   |---|---|---|
//!   | `max_connections` | 64 | open connections; when full, a new client evicts the longest-idle keep-alive connection, else the slowest request head, else the longest-unread response (never one being answered) |
//!   | `header_read_timeout` | 10 s | a whole request head, from its first byte (trickled bytes do not extend it: slowloris) |
//!   | `idle_timeout` | 90 s | keep-alive idle time between requests |
//!   | `write_timeout` | 30 s | writing one response (clients that never read) |
//!   | `max_connection_lifetime` | 10 min | one connection (closed after its answer in flight) |
//!   | `max_requests_per_connection` | 1000 | requests per connection (the last says `Connection: close`) |
//!   | `max_concurrent_renders` | 2 | renders running at once (others wait, holding no thread) |
//!   | [`MAX_REQUEST_HEAD_BYTES`] | 16 KiB | a request head (431 past it) |
//!   | [`negotiate`](crate::negotiate) bounds | 4 KiB, 64 elements | `Accept` / `Accept-Encoding` (431 past them) |
//!   | `shutdown_timeout` | 10 s | graceful shutdown |
//!
//!   Request bodies are never read. With 200 slowloris and 64 never-reading clients
//!   connected, a scraper is still answered (RELIABILITY.md has the figures).
//! * **Rendering off the I/O threads.** Renders run on tokio's blocking pool, bounded
//!   and shared by scrapes that arrive together; callback gauges answer within the
//!   registry's callback budget (25 ms by default) or are exported late / as `NaN`
//!   and counted in `tachometer_callback_timeouts_total`. A slow render or callback
//!   delays only the scrapes waiting for it, never a 404 or the app around it.
//! * **Scrapes never block recording.** Rendering is a read-only walk of the registry;
//!   recording paths take no lock the walk holds.
//! * **Optional auth.** A bearer token or Basic credentials, compared in constant time.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Serves the global registry until the process exits.
//! let server = tachometer::exporters::server::serve("127.0.0.1:9000")?;
//! # let _ = server;
//! # Ok(()) }
//! ```

mod auth;
mod builder;
mod error;
mod handle;
mod run;
mod service;
pub mod ui;

pub use auth::{Auth, AuthError};
pub use builder::{
    ServerBuilder, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTION_LIFETIME, DEFAULT_MAX_REQUESTS_PER_CONNECTION, DEFAULT_SHUTDOWN_TIMEOUT,
    DEFAULT_WRITE_TIMEOUT,
};
pub use error::{ServeError, ShutdownError};
pub use handle::Server;
pub use run::MAX_REQUEST_HEAD_BYTES;
pub use service::{
    MetricsResponse, MetricsService, MetricsServiceBuilder, ResponseFuture,
    DEFAULT_MAX_CONCURRENT_RENDERS, DEFAULT_UI_PATH,
};

/// Serves the [`global`](tachometer_core::global) registry on `addr` with default
/// options (see [`ServerBuilder`]) and returns at once.
///
/// Works from synchronous and asynchronous code alike: inside a tokio runtime the
/// server runs on it, otherwise on a dedicated background thread. Keep (or drop) the
/// returned handle; dropping it does not stop the server.
pub fn serve(addr: impl std::net::ToSocketAddrs + std::fmt::Display) -> Result<Server, ServeError> {
    Server::builder().bind(addr)
}
