//! The open collection API: data from outside the registry's own metric types (another
//! metrics library, `/proc`, a database's counters) fed into the same walk as
//! registered families, so every exporter writes it without knowing where it came from.
//!
//! A [`Collector`] is registered on a [`Registry`](crate::Registry) with
//! [`register_collector`](crate::Registry::register_collector). At each walk the
//! registry calls [`Collector::collect`] once; the collector describes each family with
//! a [`Descriptor`] and hands over its series (labels as borrowed or owned pairs, any
//! [`Value`]). The registry then checks every collected family against the same
//! naming rules as registered ones (the [naming table](crate::naming)), and visits the
//! accepted families in name order among the registered ones.
//!
//! Names a collector knows up front can be claimed at registration through
//! [`Collector::describe`]: they are checked then, like a registration, and no family
//! registered later can take them. A family that is collected without being described
//! and whose names collide with another family's is left out of that walk (the
//! registered family wins), and so is a series whose labels or value do not fit its
//! family. Both are counted in [`COLLECTOR_REJECTED_METRIC_NAME`] by family name,
//! and a series' error is also returned to the collector.
//!
//! ```
//! use tachometer::{
//!     Collection, Collector, Descriptor, Labels, MetricKind, Opts, Registry, Value, Visitor,
//! };
//!
//! /// Queue depths read from somewhere else at scrape time.
//! struct Queues;
//!
//! impl Collector for Queues {
//!     fn collect(&self, out: &mut Collection<'_>) {
//!         let desc = Descriptor::new(
//!             &Opts::new("queue_depth", "Jobs waiting, per queue.").labels(&["queue"]),
//!             MetricKind::Gauge,
//!         )
//!         .expect("a valid descriptor");
//!         let mut family = out.family(desc);
//!         for (queue, depth) in [("mail", 3), ("thumbnails", 0)] {
//!             // Labels as pairs; `String`s work as well as `&str`s.
//!             family.series([("queue", queue)], Value::Gauge(depth)).unwrap();
//!         }
//!     }
//! }
//!
//! /// Writes each gauge series as `name{labels} value`.
//! struct Lines(Vec<String>);
//!
//! impl Visitor for Lines {
//!     fn series(&mut self, family: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
//!         if let Value::Gauge(v) = value {
//!             let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
//!             self.0.push(format!("{}{{{}}} {v}", family.name(), labels.join(",")));
//!         }
//!     }
//! }
//!
//! let registry = Registry::new();
//! registry.register_collector(Queues).unwrap();
//! let mut lines = Lines(Vec::new());
//! registry.visit(&mut lines);
//! assert_eq!(lines.0, ["queue_depth{queue=mail} 3", "queue_depth{queue=thumbnails} 0"]);
//! ```

use std::sync::Arc;

use crate::desc::{Descriptor, MetricKind, Opts};
use crate::error::Error;
use crate::hdr::HdrSnapshot;
use crate::meter::MeterSnapshot;
use crate::native::NativeSnapshot;
use crate::timer::TimerSnapshot;
use crate::visit::{Labels, Value, Visitor};

/// Name of the self-metric counting collected families and series left out of a walk
/// (label `metric`: the family's name). Registered with the first collector.
pub const COLLECTOR_REJECTED_METRIC_NAME: &str = "tachometer_collector_rejected_total";

/// A source of families read at walk (scrape) time. See the [module docs](self).
pub trait Collector: Send + Sync + 'static {
    /// Families this collector will hand over, claimed when it is registered: their
    /// names are then checked like a registration's, and reserved. Families collected
    /// without being described are checked at every walk instead. Default: none.
    fn describe(&self) -> Vec<Descriptor> {
        Vec::new()
    }

    /// Hands the current families and series to `out`. Called once per walk, from the
    /// thread that walks; keep it quick, since the scrape waits for it.
    fn collect(&self, out: &mut Collection<'_>);
}

/// What a [`Collector`] hands its families to during a walk.
#[derive(Debug)]
pub struct Collection<'a> {
    pub(crate) gathered: &'a mut Gathered,
    pub(crate) collector: usize,
}

impl Collection<'_> {
    /// Validates `opts` for a family of `kind` ([`Descriptor::new`]) and starts it. A
    /// family that fails validation is left out, counted like any rejection, and
    /// described in the error: what a collector translating another library's names
    /// should use.
    pub fn try_family(
        &mut self,
        opts: &Opts,
        kind: MetricKind,
    ) -> Result<CollectedFamily<'_>, Error> {
        match Descriptor::new(opts, kind) {
            Ok(desc) => Ok(self.family(desc)),
            Err(e) => {
                self.gathered.rejected.push(opts.name().into());
                Err(e)
            }
        }
    }

    /// Starts the family `desc`; hand its series to the returned [`CollectedFamily`].
    /// A family with no series is left out of the exposition, as registered ones are.
    pub fn family(&mut self, desc: Descriptor) -> CollectedFamily<'_> {
        self.gathered.families.push(GatheredFamily {
            desc: Arc::new(desc),
            collector: self.collector,
            series: Vec::new(),
        });
        let family = self
            .gathered
            .families
            .last_mut()
            .expect("a family was just pushed");
        CollectedFamily {
            family,
            rejected: &mut self.gathered.rejected,
        }
    }
}

/// One family's series, handed over by a [`Collector`].
#[derive(Debug)]
pub struct CollectedFamily<'a> {
    family: &'a mut GatheredFamily,
    rejected: &'a mut Vec<Box<str>>,
}

impl CollectedFamily<'_> {
    /// Adds a series: `labels` as `(name, value)` pairs in the descriptor's label order,
    /// and its `value`, whose shape must match the family's kind (see
    /// [`Value::exposition`]). Histogram bounds must be finite and increasing, with one
    /// count more than bounds; summary quantiles within `0..=1`.
    ///
    /// A series that does not fit is left out, counted, and described in the error.
    pub fn series<I, N, V>(&mut self, labels: I, value: Value<'_>) -> Result<(), Error>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let checked = self.check(labels, &value);
        match checked {
            Ok(values) => {
                self.family.series.push((values, OwnedValue::from(value)));
                Ok(())
            }
            Err(e) => {
                self.rejected.push(self.family.desc.name.clone());
                Err(e)
            }
        }
    }

    fn check<I, N, V>(&self, labels: I, value: &Value<'_>) -> Result<Box<[Box<str>]>, Error>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let desc = &*self.family.desc;
        let invalid = |reason: String| Error::InvalidSeries {
            metric: desc.name.to_string(),
            reason,
        };
        let names = &desc.label_names;
        let mut values = Vec::with_capacity(names.len());
        for (name, v) in labels {
            let (name, v) = (name.as_ref(), v.as_ref());
            match names.get(values.len()) {
                Some(want) if **want == *name => values.push(Box::<str>::from(v)),
                Some(want) => {
                    return Err(invalid(format!(
                        "label {} is {name:?} but the family's is {want:?}; pass labels in the descriptor's order",
                        values.len() + 1
                    )))
                }
                None => {
                    return Err(Error::LabelCount {
                        metric: desc.name.to_string(),
                        expected: names.len(),
                        got: values.len() + 1,
                    })
                }
            }
        }
        if values.len() != names.len() {
            return Err(Error::LabelCount {
                metric: desc.name.to_string(),
                expected: names.len(),
                got: values.len(),
            });
        }
        let want = desc.kind.exposition();
        if value.exposition() != want {
            return Err(invalid(format!(
                "a {:?} value does not fit a {} family (exposed as {want:?})",
                value.exposition(),
                desc.kind.as_str()
            )));
        }
        match *value {
            Value::Histogram { bounds, counts, .. } => {
                if counts.len() != bounds.len() + 1 {
                    return Err(invalid(format!(
                        "{} bucket counts for {} bounds; give one count per bound plus the +Inf bucket",
                        counts.len(),
                        bounds.len()
                    )));
                }
                if bounds.iter().any(|b| !b.is_finite()) || bounds.windows(2).any(|w| w[0] >= w[1])
                {
                    return Err(invalid(format!(
                        "bucket bounds {bounds:?} must be finite and strictly increasing (+Inf is implied)"
                    )));
                }
            }
            Value::Summary { quantiles, .. } => {
                if let Some((q, _)) = quantiles.iter().find(|(q, _)| !(0.0..=1.0).contains(q)) {
                    return Err(invalid(format!("quantile {q} is outside 0..=1")));
                }
            }
            Value::Counter(_)
            | Value::FloatCounter(_)
            | Value::Gauge(_)
            | Value::FloatGauge(_)
            | Value::Unknown(_)
            | Value::HdrHistogram(_)
            | Value::NativeHistogram(_)
            | Value::Meter(_)
            | Value::Timer(_) => {}
        }
        Ok(values.into_boxed_slice())
    }
}

/// Everything the collectors handed over in one walk.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    pub(crate) families: Vec<GatheredFamily>,
    /// One entry per rejected series, by family name.
    pub(crate) rejected: Vec<Box<str>>,
}

#[derive(Debug)]
pub(crate) struct GatheredFamily {
    pub(crate) desc: Arc<Descriptor>,
    pub(crate) collector: usize,
    series: Vec<(Box<[Box<str>]>, OwnedValue)>,
}

impl GatheredFamily {
    pub(crate) fn visit(&self, visitor: &mut dyn Visitor) {
        let desc = &*self.desc;
        visitor.family(desc);
        for (values, value) in &self.series {
            let labels = Labels {
                names: &desc.label_names,
                values,
            };
            visitor.series(desc, labels, value.as_value());
        }
        visitor.end_family(desc);
    }
}

/// A [`Value`] kept past the collector's borrow.
#[derive(Debug)]
enum OwnedValue {
    Counter(u64),
    FloatCounter(f64),
    Gauge(i64),
    FloatGauge(f64),
    Unknown(f64),
    Histogram {
        bounds: Box<[f64]>,
        counts: Box<[u64]>,
        sum: f64,
    },
    Summary {
        quantiles: Box<[(f64, f64)]>,
        sum: f64,
        count: u64,
    },
    Hdr(HdrSnapshot),
    Native(NativeSnapshot),
    Meter(MeterSnapshot),
    Timer(TimerSnapshot),
}

impl From<Value<'_>> for OwnedValue {
    fn from(value: Value<'_>) -> Self {
        match value {
            Value::Counter(v) => OwnedValue::Counter(v),
            Value::FloatCounter(v) => OwnedValue::FloatCounter(v),
            Value::Gauge(v) => OwnedValue::Gauge(v),
            Value::FloatGauge(v) => OwnedValue::FloatGauge(v),
            Value::Unknown(v) => OwnedValue::Unknown(v),
            Value::Histogram {
                bounds,
                counts,
                sum,
            } => OwnedValue::Histogram {
                bounds: bounds.into(),
                counts: counts.into(),
                sum,
            },
            Value::Summary {
                quantiles,
                sum,
                count,
            } => OwnedValue::Summary {
                quantiles: quantiles.into(),
                sum,
                count,
            },
            Value::HdrHistogram(s) => OwnedValue::Hdr(s.clone()),
            Value::NativeHistogram(s) => OwnedValue::Native(s.clone()),
            Value::Meter(m) => OwnedValue::Meter(*m),
            Value::Timer(t) => OwnedValue::Timer(t.clone()),
        }
    }
}

impl OwnedValue {
    fn as_value(&self) -> Value<'_> {
        match self {
            OwnedValue::Counter(v) => Value::Counter(*v),
            OwnedValue::FloatCounter(v) => Value::FloatCounter(*v),
            OwnedValue::Gauge(v) => Value::Gauge(*v),
            OwnedValue::FloatGauge(v) => Value::FloatGauge(*v),
            OwnedValue::Unknown(v) => Value::Unknown(*v),
            OwnedValue::Histogram {
                bounds,
                counts,
                sum,
            } => Value::Histogram {
                bounds,
                counts,
                sum: *sum,
            },
            OwnedValue::Summary {
                quantiles,
                sum,
                count,
            } => Value::Summary {
                quantiles,
                sum: *sum,
                count: *count,
            },
            OwnedValue::Hdr(s) => Value::HdrHistogram(s),
            OwnedValue::Native(s) => Value::NativeHistogram(s),
            OwnedValue::Meter(m) => Value::Meter(m),
            OwnedValue::Timer(t) => Value::Timer(t),
        }
    }
}
