//! Settings both modes share, validated once when the exporter is built.

use std::time::Duration;

use tachometer_core::Registry;

use super::dialect::Dialect;
use super::transport::Target;
use super::StatsdError;

/// Default payload limit: fits one Fast Ethernet frame with the largest IP and UDP
/// headers (StatsD's `metric_types.md`; also datadog-go's optimal UDP size).
pub const DEFAULT_MAX_PAYLOAD: usize = 1432;
/// Payload limit for Gigabit Ethernet with jumbo frames.
pub const JUMBO_MAX_PAYLOAD: usize = 8932;
/// Payload limit for paths across the public Internet.
pub const INTERNET_MAX_PAYLOAD: usize = 512;
/// Largest UDP payload over IPv4 (65535 − 8 UDP − 60 IP header bytes).
pub const MAX_UDP_PAYLOAD: usize = 65467;

#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub target: Target,
    pub dialect: Dialect,
    pub prefix: String,
    pub max_payload: usize,
    pub flush_timeout: Duration,
    pub registry: Option<Registry>,
}

impl Options {
    pub(crate) fn new(target: Target) -> Self {
        Self {
            target,
            dialect: Dialect::default(),
            prefix: String::new(),
            max_payload: DEFAULT_MAX_PAYLOAD,
            flush_timeout: Duration::from_secs(5),
            registry: None,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), StatsdError> {
        if !(64..=MAX_UDP_PAYLOAD).contains(&self.max_payload) {
            return Err(StatsdError::InvalidConfig(format!(
                "max_payload is {} bytes; use 64..={MAX_UDP_PAYLOAD} (1432 on Ethernet, 8932 with jumbo frames, 512 across the Internet)",
                self.max_payload
            )));
        }
        Ok(())
    }
}

/// Builder setters shared by the client and the reporter builders (both hold `opts`).
macro_rules! common_setters {
    () => {
        /// The protocol dialect (default: Etsy StatsD, labels as name segments).
        pub fn dialect(mut self, dialect: $crate::statsd::Dialect) -> Self {
            self.opts.dialect = dialect;
            self
        }

        /// A prefix put before every name, joined with `.` (default: none).
        pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
            self.opts.prefix = prefix.into();
            self
        }

        /// The largest payload sent at once, separators included (default
        /// [`DEFAULT_MAX_PAYLOAD`](crate::statsd::DEFAULT_MAX_PAYLOAD) = 1432; 64..=65467).
        /// A single line longer than this is dropped and counted.
        pub fn max_payload(mut self, bytes: usize) -> Self {
            self.opts.max_payload = bytes;
            self
        }

        /// How long `flush()` and drop wait for pending data to be sent (default 5 s).
        pub fn flush_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.opts.flush_timeout = timeout;
            self
        }

        /// Registers the `tachometer_statsd_dropped_total` self-metric in `registry`
        /// (shared by every StatsD exporter given the same registry).
        pub fn self_metrics(mut self, registry: &tachometer_core::Registry) -> Self {
            self.opts.registry = Some(registry.clone());
            self
        }
    };
}
pub(crate) use common_setters;
