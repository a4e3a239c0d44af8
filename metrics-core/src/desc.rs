//! What a metric family is: name, help, unit, kind, label names, and the rules they obey.

use std::fmt;
use std::sync::Arc;

use crate::error::Error;
use crate::naming::{label_name_problem, Exposition};
use crate::visit::Strs;

/// The default cap on distinct label sets per family.
pub const DEFAULT_MAX_SERIES: usize = 10_000;

/// A metric's base unit. Prometheus and OpenMetrics expect base units (seconds, bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unit {
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
    /// A ratio (0..1), not a percentage.
    Ratio,
    /// Any other unit, written as given (letters, digits and `_`).
    Other(String),
}

impl Unit {
    /// The unit as written in `# UNIT` lines and name suffixes.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Unit::Seconds => "seconds",
            Unit::Bytes => "bytes",
            Unit::Ratio => "ratio",
            Unit::Other(s) => s,
        }
    }
}

/// How a family's series behave and are exported (see the [naming table](crate::naming)).
///
/// Not `#[non_exhaustive]`: a new kind is meant to break every exhaustive `match` on it
/// (the exporters' among them) until it is handled, rather than be dropped by a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Monotonic `u64`.
    Counter,
    /// Monotonic `f64`.
    FloatCounter,
    /// `i64` that goes up and down.
    Gauge,
    /// `f64` that goes up and down.
    FloatGauge,
    /// `f64` read from a closure at export time.
    CallbackGauge,
    /// Explicit-bucket histogram.
    Histogram,
    /// Native (sparse, exponential) histogram, optionally with classic buckets.
    NativeHistogram,
    /// Windowed HDR histogram (exported as a summary).
    HdrHistogram,
    /// Count plus 1/5/15-minute rates.
    Meter,
    /// HDR duration histogram plus a meter.
    Timer,
    /// Precomputed quantiles with a sum and a count, handed over by a
    /// [`Collector`](crate::Collector) (no registry type records it).
    Summary,
    /// A value of unknown type (Prometheus `untyped`), handed over by a
    /// [`Collector`](crate::Collector).
    Unknown,
}

impl MetricKind {
    /// A lower-case name for messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::FloatCounter => "float counter",
            MetricKind::Gauge => "gauge",
            MetricKind::FloatGauge => "float gauge",
            MetricKind::CallbackGauge => "callback gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::NativeHistogram => "native histogram",
            MetricKind::HdrHistogram => "HDR histogram",
            MetricKind::Meter => "meter",
            MetricKind::Timer => "timer",
            MetricKind::Summary => "summary",
            MetricKind::Unknown => "untyped metric",
        }
    }
}

impl MetricKind {
    /// How families of this kind are exposed (see the [naming table](crate::naming)).
    #[must_use]
    pub const fn exposition(self) -> Exposition {
        match self {
            MetricKind::Counter | MetricKind::FloatCounter => Exposition::Counter,
            MetricKind::Gauge | MetricKind::FloatGauge | MetricKind::CallbackGauge => {
                Exposition::Gauge
            }
            MetricKind::Unknown => Exposition::Unknown,
            MetricKind::Histogram | MetricKind::NativeHistogram => Exposition::Histogram,
            MetricKind::HdrHistogram | MetricKind::Timer | MetricKind::Summary => {
                Exposition::Summary
            }
            MetricKind::Meter => Exposition::Meter,
        }
    }
}

/// Options naming a metric family: name, help text, unit, label names and series cap.
///
/// ```
/// use tachometer::{Opts, Unit};
/// let opts = Opts::new("http_request_duration_seconds", "Time to serve a request.")
///     .unit(Unit::Seconds)
///     .labels(&["method", "route"])
///     .max_series(1_000);
/// assert_eq!(opts.label_names().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    pub(crate) name: String,
    pub(crate) help: String,
    pub(crate) unit: Option<Unit>,
    pub(crate) label_names: Vec<String>,
    pub(crate) max_series: Option<usize>,
    pub(crate) max_bytes: Option<usize>,
}

impl Opts {
    /// A metric called `name` described by `help`.
    pub fn new(name: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            unit: None,
            label_names: Vec::new(),
            max_series: None,
            max_bytes: None,
        }
    }

    /// Sets the unit.
    #[must_use]
    pub fn unit(mut self, unit: Unit) -> Self {
        self.unit = Some(unit);
        self
    }

    /// Sets the label names (order matters for `with_labels`).
    #[must_use]
    pub fn labels(mut self, names: &[&str]) -> Self {
        self.label_names = names.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Caps the number of distinct label sets; later ones share one overflow series.
    /// Defaults to the registry's cap ([`DEFAULT_MAX_SERIES`] unless configured).
    #[must_use]
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = Some(max);
        self
    }

    /// Caps the heap the family's series hold, in bytes: once they hold `bytes`, new
    /// label sets share the overflow series (and count in
    /// `tachometer_series_overflow_total`), as past [`max_series`](Self::max_series).
    /// What counts: each series' entry, label values and metric, plus the buckets HDR
    /// histograms and timers allocate as values arrive (a timer whose values span
    /// 1 ms–1 s holds about 15 KiB). Series that exist keep recording, so their later
    /// growth can pass the cap by what they still allocate. Defaults to the registry's
    /// cap (none unless configured).
    #[must_use]
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// The metric name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The label names.
    #[must_use]
    pub fn label_names(&self) -> &[String] {
        &self.label_names
    }
}

pub use crate::naming::is_valid_metric_name;

/// Whether `name` is a valid, non-reserved Prometheus label name.
#[must_use]
pub fn is_valid_label_name(name: &str) -> bool {
    label_name_problem(name).is_none()
}

/// A validated, immutable family description shared by the registry and exporters.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub(crate) name: Box<str>,
    pub(crate) help: Box<str>,
    pub(crate) unit: Option<Unit>,
    pub(crate) kind: MetricKind,
    pub(crate) label_names: Arc<[Box<str>]>,
    /// The kind-specific configuration, rendered for conflict messages and comparison.
    pub(crate) config: String,
}

impl Descriptor {
    /// Validates `opts` for a family of `kind`: what a [`Collector`](crate::Collector)
    /// hands over. Registered families get theirs from the registry.
    ///
    /// ```
    /// use tachometer::{Descriptor, MetricKind, Opts};
    /// let d = Descriptor::new(&Opts::new("queue_depth", "Jobs waiting.").labels(&["queue"]), MetricKind::Gauge).unwrap();
    /// assert_eq!(d.name(), "queue_depth");
    /// assert!(Descriptor::new(&Opts::new("h", "").labels(&["le"]), MetricKind::Histogram).is_err());
    /// ```
    pub fn new(opts: &Opts, kind: MetricKind) -> Result<Self, Error> {
        Self::with_config(opts, kind, String::new())
    }

    pub(crate) fn with_config(
        opts: &Opts,
        kind: MetricKind,
        config: String,
    ) -> Result<Self, Error> {
        if !is_valid_metric_name(&opts.name) {
            return Err(Error::InvalidMetricName {
                name: opts.name.clone(),
            });
        }
        for (i, label) in opts.label_names.iter().enumerate() {
            let reason = if let Some(problem) = label_name_problem(label) {
                Some(problem)
            } else if let Some(reserved) = kind
                .exposition()
                .reserved_label()
                .filter(|r| r.name == label)
            {
                Some(reserved.reason)
            } else if opts.label_names[..i].contains(label) {
                Some("each label name may appear only once")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(Error::InvalidLabelName {
                    metric: opts.name.clone(),
                    label: label.clone(),
                    reason,
                });
            }
        }
        if let Some(Unit::Other(u)) = &opts.unit {
            if u.is_empty() || !u.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::InvalidConfig(format!(
                    "unit {u:?} of metric {:?} must be letters, digits and '_'",
                    opts.name
                )));
            }
        }
        Ok(Self {
            name: opts.name.as_str().into(),
            help: opts.help.as_str().into(),
            unit: opts.unit.clone(),
            kind,
            label_names: opts.label_names.iter().map(|s| s.as_str().into()).collect(),
            config,
        })
    }

    /// The family name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The help text.
    #[must_use]
    pub fn help(&self) -> &str {
        &self.help
    }

    /// The unit, if any.
    #[must_use]
    pub fn unit(&self) -> Option<&Unit> {
        self.unit.as_ref()
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> MetricKind {
        self.kind
    }

    /// The label names, in `with_labels` order.
    #[must_use]
    pub fn label_names(&self) -> Strs<'_> {
        Strs(self.label_names.iter())
    }
}

impl fmt::Display for Descriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?} with labels [", self.kind.as_str(), &*self.name)?;
        for (i, l) in self.label_names.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(l)?;
        }
        f.write_str("]")?;
        if let Some(u) = &self.unit {
            write!(f, ", unit {}", u.as_str())?;
        }
        if !self.config.is_empty() {
            write!(f, ", {}", self.config)?;
        }
        write!(f, ", help {:?}", &*self.help)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_metric_name("http_requests_total"));
        assert!(is_valid_metric_name("a:b_c"));
        assert!(!is_valid_metric_name("2xx_total"));
        assert!(!is_valid_metric_name(""));
        assert!(!is_valid_metric_name("a-b"));
        assert!(!is_valid_metric_name("é"));
        assert!(is_valid_label_name("_x"));
        assert!(!is_valid_label_name("__x"));
        assert!(!is_valid_label_name("a:b"));
        assert!(!is_valid_label_name("1a"));
    }

    #[test]
    fn reserved_labels_are_rejected_per_kind() {
        let e = Descriptor::new(&Opts::new("h", "").labels(&["le"]), MetricKind::Histogram);
        assert!(matches!(e, Err(Error::InvalidLabelName { .. })));
        let e = Descriptor::new(&Opts::new("t", "").labels(&["quantile"]), MetricKind::Timer);
        assert!(matches!(e, Err(Error::InvalidLabelName { .. })));
        let e = Descriptor::new(&Opts::new("m", "").labels(&["window"]), MetricKind::Meter);
        assert!(e.unwrap_err().to_string().contains("rate windows"));
        assert!(Descriptor::new(&Opts::new("g", "").labels(&["le"]), MetricKind::Gauge).is_ok());
        let e = Descriptor::new(&Opts::new("g", "").labels(&["a", "a"]), MetricKind::Gauge);
        assert!(e.unwrap_err().to_string().contains("only once"));
    }
}
