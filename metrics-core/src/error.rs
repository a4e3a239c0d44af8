//! Errors returned when a metric cannot be registered or resolved.
//!
//! Each message says what to change. None of these is ever a panic: metric names and
//! label values often come from configuration or from requests.

use std::fmt;

/// Why a registration or lookup failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    InvalidMetricName {
        /// The offending name.
        name: String,
    },
    /// A label name is malformed, reserved (`__` prefix) or reserved for the metric's
    /// kind (`le` on histograms, `quantile` on summaries), or repeated.
    InvalidLabelName {
        /// The metric being registered.
        metric: String,
        /// The offending label name.
        label: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A metric of this name exists with a different definition.
    Conflict {
        /// The metric name.
        name: String,
        /// The definition already registered.
        existing: String,
        /// The definition that was asked for.
        requested: String,
    },
    /// `with_labels` got a different number of values than the family has label names.
    LabelCount {
        /// The family name.
        metric: String,
        /// Number of label names of the family.
        expected: usize,
        /// Number of values given.
        got: usize,
    },
    /// A [`Collector`](crate::Collector) handed over a series that does not fit its
    /// family (label names, value shape, bucket bounds, quantiles).
    InvalidSeries {
        /// The family name.
        metric: String,
        /// What does not fit.
        reason: String,
    },
    /// Histogram bucket bounds are unusable.
    InvalidBuckets(String),
    /// Some other configuration value is out of range.
    InvalidConfig(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidMetricName { name } => {
                write!(f, "invalid metric name {name:?}: {}", crate::naming::METRIC_NAME_RULE)
            }
            Error::InvalidLabelName { metric, label, reason } => {
                write!(f, "invalid label name {label:?} on metric {metric:?}: {reason}")
            }
            Error::Conflict { name, existing, requested } => write!(
                f,
                "metric {name:?} is already registered as {existing}; cannot register it again as {requested} (use another name, or the same definition)"
            ),
            Error::LabelCount { metric, expected, got } => write!(
                f,
                "metric {metric:?} has {expected} label name(s) but {got} value(s) were given; pass exactly one value per label, in order"
            ),
            Error::InvalidSeries { metric, reason } => {
                write!(f, "collected series of metric {metric:?} left out: {reason}")
            }
            Error::InvalidBuckets(why) => write!(f, "invalid histogram buckets: {why}"),
            Error::InvalidConfig(why) => write!(f, "invalid metric configuration: {why}"),
        }
    }
}

impl std::error::Error for Error {}
