//! Errors from starting and stopping the HTTP endpoint.

use std::fmt;
use std::io;
use std::time::Duration;

/// Why the endpoint could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// The address string did not resolve to any socket address.
    NoAddress {
        /// The address as given.
        addr: String,
    },
    /// Binding the listening socket failed (port in use, no permission, …).
    Bind {
        /// The address as given.
        addr: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// `max_connections(0)` or a value above tokio's semaphore limit.
    InvalidMaxConnections(usize),
    /// Starting the background thread or its runtime failed (only when called outside
    /// a tokio runtime).
    Runtime(io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::NoAddress { addr } => {
                write!(f, "{addr:?} does not resolve to a socket address; give host:port such as \"127.0.0.1:9000\"")
            }
            ServeError::Bind { addr, source } => write!(
                f,
                "cannot listen on {addr}: {source}; choose a free port (or port 0) and an address of this host"
            ),
            ServeError::InvalidMaxConnections(n) => write!(
                f,
                "max_connections({n}) is out of range; give at least 1 and at most {}",
                tokio::sync::Semaphore::MAX_PERMITS
            ),
            ServeError::Runtime(e) => write!(
                f,
                "cannot start the metrics server's background runtime: {e}; call it from inside a tokio runtime instead"
            ),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Bind { source, .. } | ServeError::Runtime(source) => Some(source),
            _ => None,
        }
    }
}

/// Why a graceful shutdown did not complete cleanly.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShutdownError {
    /// Connections were still busy when the shutdown timeout passed; they were aborted.
    TimedOut {
        /// The timeout that passed.
        after: Duration,
        /// How many connections were aborted.
        aborted: usize,
    },
    /// The server task had already ended, e.g. because its tokio runtime was shut down.
    AlreadyStopped,
    /// `shutdown_blocking` was called on an async task; shutdown was started but not
    /// waited for.
    InsideRuntime,
}

impl fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShutdownError::TimedOut { after, aborted } => write!(
                f,
                "{aborted} connection(s) were still busy {after:?} after shutdown began and were aborted; raise shutdown_timeout to wait longer"
            ),
            ShutdownError::AlreadyStopped => f.write_str(
                "the metrics server had already stopped (its tokio runtime ended); nothing to shut down",
            ),
            ShutdownError::InsideRuntime => f.write_str(
                "shutdown_blocking was called inside a tokio runtime, so shutdown began but was not awaited; use `shutdown().await` there",
            ),
        }
    }
}

impl std::error::Error for ShutdownError {}
