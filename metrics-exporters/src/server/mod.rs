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
//! * **Bounded resources.** A connection cap (excess connections wait in the kernel's
//!   backlog, not in memory), a header-read timeout against clients that trickle bytes
//!   (slowloris), no request bodies read, and a bounded graceful shutdown.
//! * **Scrapes never block recording.** Rendering is a read-only walk of the registry;
//!   recording paths take no lock the walk holds.
//! * **Optional auth.** A bearer token or Basic credentials, compared in constant time.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Serves the global registry until the process exits.
//! let server = tachometer_exporters::server::serve("127.0.0.1:9000")?;
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
    ServerBuilder, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_TIMEOUT,
};
pub use error::{ServeError, ShutdownError};
pub use handle::Server;
pub use service::{MetricsResponse, MetricsService, MetricsServiceBuilder, DEFAULT_UI_PATH};

/// Serves the [`global`](tachometer_core::global) registry on `addr` with default
/// options (see [`ServerBuilder`]) and returns at once.
///
/// Works from synchronous and asynchronous code alike: inside a tokio runtime the
/// server runs on it, otherwise on a dedicated background thread. Keep (or drop) the
/// returned handle; dropping it does not stop the server.
pub fn serve(addr: impl std::net::ToSocketAddrs + std::fmt::Display) -> Result<Server, ServeError> {
    Server::builder().bind(addr)
}
