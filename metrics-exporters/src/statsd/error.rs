//! What can go wrong while setting up or flushing a StatsD exporter.
//!
//! Only setup and `flush()` report errors: once running, failures to reach the daemon
//! are counted (see `StatsdStats`), never returned to the code recording metrics.

use std::fmt;
use std::io;
use std::time::Duration;

/// An error from building or flushing a StatsD client or reporter.
#[derive(Debug)]
#[non_exhaustive]
pub enum StatsdError {
    /// The target address could not be resolved.
    Resolve {
        /// The address as given.
        target: String,
        /// Why resolution failed.
        source: io::Error,
    },
    /// A socket operation failed during setup.
    Io {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// A configuration value is out of range.
    InvalidConfig(String),
    /// Registering the self-metric in the given registry failed.
    Registry(tachometer_core::Error),
    /// `flush()` gave up before everything queued was handed to the transport.
    FlushTimeout(Duration),
    /// The background sender thread is no longer running.
    Stopped,
}

impl fmt::Display for StatsdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatsdError::Resolve { target, source } => write!(
                f,
                "cannot resolve StatsD target {target:?} ({source}); give it as host:port, e.g. \"127.0.0.1:8125\""
            ),
            StatsdError::Io { what, source } => write!(f, "cannot {what}: {source}"),
            StatsdError::InvalidConfig(msg) => write!(f, "invalid StatsD configuration: {msg}"),
            StatsdError::Registry(e) => write!(f, "cannot register the StatsD self-metric: {e}"),
            StatsdError::FlushTimeout(t) => write!(
                f,
                "StatsD flush did not finish within {t:?}; the daemon or network is slow — raise flush_timeout or check the target"
            ),
            StatsdError::Stopped => write!(f, "the StatsD sender thread has stopped; build a new client or reporter"),
        }
    }
}

impl std::error::Error for StatsdError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StatsdError::Resolve { source, .. } | StatsdError::Io { source, .. } => Some(source),
            StatsdError::Registry(e) => Some(e),
            _ => None,
        }
    }
}
