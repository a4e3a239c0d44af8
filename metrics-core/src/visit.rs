//! The read-only walk exporters consume.
//!
//! A registry hands each family's [`Descriptor`] and then each series' labels and
//! [`Value`] to a [`Visitor`]. Values are borrowed views computed during the walk, so
//! formats never reach into metric internals, and a renderer can write 10,000 series
//! without allocating per series (histogram counts and HDR buckets come from reused
//! buffers).

use crate::desc::Descriptor;
use crate::hdr::HdrSnapshot;
use crate::meter::MeterSnapshot;
use crate::naming::Exposition;
use crate::native::NativeSnapshot;
use crate::timer::TimerSnapshot;

/// One series' label names and values, in the family's label order.
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a> {
    pub(crate) names: &'a [Box<str>],
    pub(crate) values: &'a [Box<str>],
}

impl<'a> Labels<'a> {
    /// `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + Clone + 'a {
        self.names().zip(self.values())
    }

    /// Number of labels.
    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the series has no labels.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The label values, in order.
    #[must_use]
    pub fn values(&self) -> Strs<'a> {
        Strs(self.values.iter())
    }

    /// The label names, in order.
    #[must_use]
    pub fn names(&self) -> Strs<'a> {
        Strs(self.names.iter())
    }
}

/// Label names or values, in order, as `&str`s (see [`Labels::names`],
/// [`Labels::values`], [`Descriptor::label_names`](crate::Descriptor::label_names)).
#[derive(Debug, Clone)]
pub struct Strs<'a>(pub(crate) std::slice::Iter<'a, Box<str>>);

impl<'a> Iterator for Strs<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        self.0.next().map(|s| &**s)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Strs<'_> {}

impl DoubleEndedIterator for Strs<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|s| &**s)
    }
}

impl std::iter::FusedIterator for Strs<'_> {}

/// The reading of one series during a walk.
///
/// Not `#[non_exhaustive]`, for the reason [`MetricKind`](crate::MetricKind) is not: a
/// new shape must fail to compile in every exporter until it is handled.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// A [`Counter`](crate::Counter) total.
    Counter(u64),
    /// A [`FloatCounter`](crate::FloatCounter) total.
    FloatCounter(f64),
    /// A [`Gauge`](crate::Gauge) value.
    Gauge(i64),
    /// A [`FloatGauge`](crate::FloatGauge) or [`CallbackGauge`](crate::CallbackGauge) value.
    FloatGauge(f64),
    /// An explicit-bucket [`Histogram`](crate::Histogram).
    Histogram {
        /// Finite upper bounds.
        bounds: &'a [f64],
        /// Non-cumulative counts, one more than `bounds` (the last is `+Inf`).
        counts: &'a [u64],
        /// Sum of observations.
        sum: f64,
    },
    /// A [`NativeHistogram`](crate::NativeHistogram): native buckets, and classic ones
    /// when configured.
    NativeHistogram(&'a NativeSnapshot),
    /// An [`HdrHistogram`](crate::HdrHistogram) (raw `u64` values).
    HdrHistogram(&'a HdrSnapshot),
    /// A [`Meter`](crate::Meter).
    Meter(&'a MeterSnapshot),
    /// A [`Timer`](crate::Timer) (durations in nanoseconds).
    Timer(&'a TimerSnapshot),
    /// Precomputed quantiles, from a [`Collector`](crate::Collector).
    Summary {
        /// `(quantile, value)` pairs, quantiles in `0..=1`.
        quantiles: &'a [(f64, f64)],
        /// Sum of observations.
        sum: f64,
        /// Number of observations.
        count: u64,
    },
    /// A value of unknown type (Prometheus `untyped`), from a [`Collector`](crate::Collector).
    Unknown(f64),
}

impl Value<'_> {
    /// How a series with this value is exposed; a collected series must match its
    /// family's [`MetricKind::exposition`](crate::MetricKind::exposition).
    #[must_use]
    pub const fn exposition(&self) -> Exposition {
        match self {
            Value::Counter(_) | Value::FloatCounter(_) => Exposition::Counter,
            Value::Gauge(_) | Value::FloatGauge(_) => Exposition::Gauge,
            Value::Unknown(_) => Exposition::Unknown,
            Value::Histogram { .. } | Value::NativeHistogram(_) => Exposition::Histogram,
            Value::HdrHistogram(_) | Value::Timer(_) | Value::Summary { .. } => Exposition::Summary,
            Value::Meter(_) => Exposition::Meter,
        }
    }
}

/// Receives a registry's families and series, in family-name order; series of a family
/// come together, in the order they were first used.
pub trait Visitor {
    /// Called before a family's series (also for a family that has none yet).
    fn family(&mut self, _family: &Descriptor) {}

    /// Called once per series.
    fn series(&mut self, family: &Descriptor, labels: Labels<'_>, value: Value<'_>);

    /// Called after a family's last series.
    fn end_family(&mut self, _family: &Descriptor) {}
}
