//! What can go wrong while configuring a pusher or pushing.

use std::fmt;
use std::time::Duration;

use super::http::HttpError;
use super::PushStats;

/// An error from configuring, pushing or flushing a [`Pushgateway`](super::Pushgateway)
/// or [`RemoteWriter`](super::RemoteWriter). `Display` says what happened and what to
/// change.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PushError {
    /// A configuration value is invalid (URL, label name, interval…).
    InvalidConfig(String),
    /// The request never got a status back: DNS, connect, write or read failed.
    Network {
        /// The URL pushed to.
        url: String,
        /// What failed, e.g. `connecting failed: Connection refused`.
        detail: String,
    },
    /// The request did not complete within the configured timeout.
    Timeout {
        /// The URL pushed to.
        url: String,
        /// The configured timeout.
        timeout: Duration,
        /// The step that was under way.
        stage: &'static str,
    },
    /// The receiver answered with a status that is not success. A 4xx (other than 429)
    /// means the request will never succeed as sent; the body says what was rejected.
    Status {
        /// The URL pushed to.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (the receiver's explanation).
        body: String,
    },
    /// Registering a self-metric in the given registry failed.
    Registry(tachometer_core::Error),
    /// A background thread could not be started (the OS error).
    Spawn(String),
    /// `flush()` or `shutdown()` gave up before everything was delivered or dropped.
    FlushTimeout {
        /// The bound that passed.
        timeout: Duration,
        /// The counters at that moment (`pending` samples are still queued).
        stats: PushStats,
    },
    /// The background thread is no longer running (the pusher was shut down).
    Stopped,
}

impl PushError {
    pub(crate) fn from_http(url: String, timeout: Duration, e: HttpError) -> Self {
        match e {
            HttpError::Timeout { stage } => PushError::Timeout {
                url,
                timeout,
                stage,
            },
            other => PushError::Network {
                url,
                detail: other.to_string(),
            },
        }
    }

    /// Whether a later retry of the same request may succeed (network errors,
    /// timeouts, 5xx and 429), as remote write's spec defines it.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            PushError::Network { .. } | PushError::Timeout { .. } => true,
            PushError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::InvalidConfig(m) => write!(f, "invalid push configuration: {m}"),
            PushError::Network { url, detail } => write!(
                f,
                "cannot reach {url}: {detail}; check that the receiver runs and the URL's host and port"
            ),
            PushError::Timeout {
                url,
                timeout,
                stage,
            } => write!(
                f,
                "push to {url} timed out after {timeout:?} while {stage}; raise the timeout or check the receiver"
            ),
            PushError::Status { url, status, body } => {
                write!(f, "{url} answered {status}")?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                match status {
                    400 => write!(f, " (the receiver rejected the request's content; it is not retried)"),
                    401 | 403 => write!(f, " (check basic_auth / bearer_token)"),
                    404 | 405 => write!(f, " (check the URL's path, e.g. /api/v1/write, and that the receiver accepts pushes)"),
                    429 => write!(f, " (the receiver is rate limiting; retried with backoff)"),
                    s if *s >= 500 => write!(f, " (a receiver error; retried with backoff)"),
                    _ => Ok(()),
                }
            }
            PushError::Registry(e) => write!(f, "cannot register the push self-metrics: {e}"),
            PushError::Spawn(e) => write!(f, "cannot start the push thread: {e}"),
            PushError::FlushTimeout { timeout, stats } => write!(
                f,
                "push flush did not finish within {timeout:?} ({} samples still queued, {} sent, {} dropped); \
                 the receiver is down or slow: raise the timeout or check it",
                stats.pending, stats.sent, stats.dropped
            ),
            PushError::Stopped => write!(f, "the pusher has been shut down; build a new one"),
        }
    }
}

impl std::error::Error for PushError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PushError::Registry(e) => Some(e),
            _ => None,
        }
    }
}
