//! The registry: where families are defined, deduplicated and walked.
//!
//! Registration is the slow path (a lock, validation, a map insert) and returns handles;
//! recording on those handles never touches the registry again. Walking the registry
//! takes its lock only long enough to copy the list of families, so a slow scrape never
//! delays a registration and never delays recording at all.

use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use crate::sync::RwLock;

use crate::callback::{CallbackBudget, CALLBACK_TIMEOUT_METRIC_NAME, DEFAULT_CALLBACK_TIMEOUT};
use crate::clock::{Clock, ClockHandle};
use crate::collect::{Collection, Collector, Gathered, COLLECTOR_REJECTED_METRIC_NAME};
use crate::counter::{Counter, FloatCounter};
use crate::desc::{Descriptor, Opts, DEFAULT_MAX_SERIES};
use crate::error::Error;
use crate::family::{Family, FamilyCore};
use crate::gauge::{CallbackGauge, FloatGauge, Gauge};
use crate::hdr::{HdrConfig, HdrHistogram};
use crate::histogram::{Buckets, Histogram};
use crate::meter::Meter;
use crate::metric::{BuildContext, Metric, Scratch};
use crate::naming::owned_names;
use crate::native::{NativeConfig, NativeHistogram};
use crate::timer::Timer;
use crate::visit::Visitor;

/// Name of the self-metric counting lookups that landed in a family's overflow series.
pub const OVERFLOW_METRIC_NAME: &str = "tachometer_series_overflow_total";

trait ErasedFamily: Send + Sync {
    fn descriptor(&self) -> &Descriptor;
    fn visit(&self, visitor: &mut dyn Visitor, scratch: &mut Scratch);
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<M: Metric> ErasedFamily for FamilyCore<M> {
    fn descriptor(&self) -> &Descriptor {
        FamilyCore::descriptor(self)
    }
    fn visit(&self, visitor: &mut dyn Visitor, scratch: &mut Scratch) {
        FamilyCore::visit(self, visitor, scratch);
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

#[derive(Default)]
struct Families {
    by_name: BTreeMap<Box<str>, Arc<dyn ErasedFamily>>,
    /// Families collectors claimed at registration ([`Collector::describe`]): name →
    /// descriptor and index in `collectors`.
    described: HashMap<Box<str>, (Descriptor, usize)>,
    /// Every sample name a family exports (`x_bucket`, `x_total`, …) → its family, so two
    /// families can never emit the same sample name (see [`crate::naming`]).
    sample_names: HashMap<String, Box<str>>,
    collectors: Vec<Arc<dyn Collector>>,
    /// [`COLLECTOR_REJECTED_METRIC_NAME`], registered with the first collector.
    rejected: Option<Family<Counter>>,
}

impl Families {
    /// The descriptor of the registered or described family called `name`.
    fn descriptor(&self, name: &str) -> Option<&Descriptor> {
        self.by_name
            .get(name)
            .map(|f| f.descriptor())
            .or_else(|| self.described.get(name).map(|(d, _)| d))
    }

    /// A conflict error if one of `samples` is already owned by another family.
    fn check_samples(&self, desc: &Descriptor, samples: &[String]) -> Result<(), Error> {
        for s in samples {
            if let Some(owner) = self.sample_names.get(s) {
                let existing = self
                    .descriptor(owner)
                    .map_or_else(|| owner.to_string(), ToString::to_string);
                return Err(Error::Conflict {
                    name: desc.name.to_string(),
                    existing: format!("{existing} (which exports samples named {s:?})"),
                    requested: desc.to_string(),
                });
            }
        }
        Ok(())
    }
}

struct Inner {
    families: RwLock<Families>,
    ctx: BuildContext,
    max_series: usize,
    max_bytes: Option<usize>,
    overflow: Option<Family<Counter>>,
}

/// A set of metric families. Cheap to clone (clones share the families).
///
/// Most programs use the process-wide [`global()`] registry; libraries and tests create
/// their own.
///
/// ```
/// use tachometer::{Opts, Registry};
/// let registry = Registry::new();
/// let a = registry.counter(Opts::new("jobs_total", "Jobs run.")).unwrap();
/// let b = registry.counter(Opts::new("jobs_total", "Jobs run.")).unwrap(); // same series
/// a.increment(1);
/// assert_eq!(b.get(), 1);
/// let err = registry.gauge(Opts::new("jobs_total", "Jobs run.")).unwrap_err();
/// assert!(err.to_string().contains("already registered as counter"));
/// ```
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

/// Configures a [`Registry`].
#[derive(Debug, Default)]
#[must_use]
pub struct RegistryBuilder {
    clock: Option<Arc<dyn Clock>>,
    max_series: Option<usize>,
    max_bytes: Option<usize>,
    callback_timeout: Option<Option<Duration>>,
}

impl RegistryBuilder {
    /// The clock meters, timers and windows use (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Default cap on label sets per family (default 10,000).
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = Some(max);
        self
    }

    /// Default cap on the heap each family's series hold, in bytes (default: none);
    /// see [`Opts::max_bytes`].
    pub fn max_bytes_per_family(mut self, bytes: usize) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// How long a callback gauge's closure may take during an export (default
    /// [`DEFAULT_CALLBACK_TIMEOUT`](crate::DEFAULT_CALLBACK_TIMEOUT), 25 ms). Closures
    /// run on a `tachometer-callback` thread; one that misses the budget reads as its
    /// previous value (`NaN` while still stuck) and counts in
    /// `tachometer_callback_timeouts_total{metric}`, so it cannot hold the scrape.
    /// `None` runs closures inline on the exporting thread, without a bound.
    ///
    /// ```
    /// use std::time::Duration;
    /// let registry = tachometer::Registry::builder()
    ///     .callback_timeout(Duration::from_millis(100))
    ///     .build();
    /// # let _ = registry;
    /// ```
    pub fn callback_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.callback_timeout = Some(timeout.into());
        self
    }

    /// Builds the registry.
    pub fn build(self) -> Registry {
        let mut registry = Registry {
            inner: Arc::new(Inner {
                families: RwLock::default(),
                ctx: BuildContext {
                    clock: ClockHandle::new(self.clock.clone()),
                    family_bytes: None,
                    callbacks: CallbackBudget {
                        timeout: self
                            .callback_timeout
                            .unwrap_or(Some(DEFAULT_CALLBACK_TIMEOUT)),
                        timeouts: None,
                    },
                    family: Arc::from(""),
                },
                max_series: self.max_series.unwrap_or(DEFAULT_MAX_SERIES),
                max_bytes: self.max_bytes,
                overflow: None,
            }),
        };
        let overflow = registry
            .register_with::<Counter>(
                Opts::new(
                    OVERFLOW_METRIC_NAME,
                    "Label-set lookups that exceeded their family's series cap and were folded into the overflow series.",
                )
                .labels(&["metric"]),
                (),
                None,
            )
            .expect("the self-metric definition is valid");
        let timeouts = registry
            .register_with::<Counter>(
                Opts::new(
                    CALLBACK_TIMEOUT_METRIC_NAME,
                    "Callback-gauge reads that missed the registry's callback timeout (exported as the previous value, or NaN while the callback is still running).",
                )
                .labels(&["metric"]),
                (),
                None,
            )
            .expect("the self-metric definition is valid");
        let inner = Arc::get_mut(&mut registry.inner).expect("registry not shared yet");
        inner.overflow = Some(overflow);
        inner.ctx.callbacks.timeouts = Some(timeouts);
        registry
    }
}

impl Registry {
    /// An empty registry (apart from its self-metric) on the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A registry with a custom clock or series cap.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// Registers (or finds) the family `opts` describes, of metric type `M`.
    ///
    /// The same definition again returns the same family. A different definition under
    /// the same name — other kind, unit, help, label names or configuration — or a name
    /// whose exported samples would collide with another family's is an
    /// [`Error::Conflict`] naming both.
    pub fn register<M: Metric>(&self, opts: Opts, config: M::Config) -> Result<Family<M>, Error> {
        self.register_with(opts, config, self.inner.overflow.clone())
    }

    fn register_with<M: Metric>(
        &self,
        opts: Opts,
        config: M::Config,
        overflow: Option<Family<Counter>>,
    ) -> Result<Family<M>, Error> {
        M::validate(&config)?;
        let desc = Descriptor::with_config(&opts, M::KIND, M::describe_config(&config))?;
        if let Some(existing) = self.inner.families.read().by_name.get(&*desc.name) {
            return same_family(existing, &desc);
        }
        let mut families = self.inner.families.write();
        if let Some(existing) = families.by_name.get(&*desc.name) {
            return same_family(existing, &desc);
        }
        if let Some((existing, _)) = families.described.get(&*desc.name) {
            return Err(Error::Conflict {
                name: desc.name.to_string(),
                existing: format!("{existing} (described by a collector)"),
                requested: desc.to_string(),
            });
        }
        let samples = owned_names(&desc.name, desc.kind.exposition());
        families.check_samples(&desc, &samples)?;
        let max_series = opts.max_series.unwrap_or(self.inner.max_series);
        let max_bytes = opts.max_bytes.or(self.inner.max_bytes);
        let core = Arc::new(FamilyCore::<M>::new(
            Arc::new(desc),
            config,
            self.inner.ctx.clone(),
            (max_series, max_bytes),
            overflow,
        ));
        let name: Box<str> = core.descriptor().name.clone();
        for s in samples {
            families.sample_names.insert(s, name.clone());
        }
        families.by_name.insert(name, core.clone());
        Ok(Family { core })
    }

    /// Registers an unlabeled metric and returns its single series.
    pub fn metric<M: Metric>(&self, opts: Opts, config: M::Config) -> Result<M, Error> {
        let family = self.register::<M>(opts, config)?;
        let series = family.with_labels::<&str>(&[])?;
        Ok(series.clone())
    }

    /// Adds a [`Collector`], whose families every later walk visits in name order
    /// with the registered ones (see [`crate::collect`]). The families it
    /// [describes](Collector::describe) are checked and claimed now: an
    /// [`Error::Conflict`] if one clashes with a registered or described family.
    pub fn register_collector(&self, collector: impl Collector) -> Result<(), Error> {
        let collector: Arc<dyn Collector> = Arc::new(collector);
        let described = collector.describe();
        self.rejected_family()?;
        let mut families = self.inner.families.write();
        let index = families.collectors.len();
        let mut claimed: Vec<(Descriptor, Vec<String>)> = Vec::new();
        for desc in described {
            let samples = owned_names(&desc.name, desc.kind.exposition());
            if let Some(existing) = families.descriptor(&desc.name) {
                return Err(Error::Conflict {
                    name: desc.name.to_string(),
                    existing: existing.to_string(),
                    requested: desc.to_string(),
                });
            }
            families.check_samples(&desc, &samples)?;
            if let Some((other, _)) = claimed
                .iter()
                .find(|(_, taken)| samples.iter().any(|s| taken.contains(s)))
            {
                return Err(Error::Conflict {
                    name: desc.name.to_string(),
                    existing: other.to_string(),
                    requested: desc.to_string(),
                });
            }
            claimed.push((desc, samples));
        }
        for (desc, samples) in claimed {
            for s in samples {
                families.sample_names.insert(s, desc.name.clone());
            }
            families.described.insert(desc.name.clone(), (desc, index));
        }
        families.collectors.push(collector);
        Ok(())
    }

    /// The [`COLLECTOR_REJECTED_METRIC_NAME`] family, registered on first use.
    fn rejected_family(&self) -> Result<Family<Counter>, Error> {
        if let Some(f) = &self.inner.families.read().rejected {
            return Ok(f.clone());
        }
        let family = self.counter_family(
            Opts::new(
                COLLECTOR_REJECTED_METRIC_NAME,
                "Collected families and series left out of a walk: a name clash with another family, or labels or a value that do not fit their family.",
            )
            .labels(&["metric"]),
        )?;
        self.inner.families.write().rejected = Some(family.clone());
        Ok(family)
    }

    /// Walks every family and series (see [`Visitor`]), registered and collected, in
    /// family-name order.
    pub fn visit(&self, visitor: &mut dyn Visitor) {
        self.visit_with(&[], visitor);
    }

    /// [`visit`](Self::visit), plus the families `extra` collectors hand over for this
    /// walk only, checked as families collected without a description are (a clash
    /// leaves the collected family out). For a source that should appear in one
    /// exporter only; [`register_collector`](Self::register_collector) adds one to all.
    pub fn visit_with(&self, extra: &[&dyn Collector], visitor: &mut dyn Visitor) {
        if !extra.is_empty() {
            // Registered before the family list is copied, so this walk shows its counts.
            // It cannot fail unless something else took the name; then rejections of this
            // walk go uncounted, and the conflict is reported by that registration.
            let _ = self.rejected_family();
        }
        let (registered, collectors) = {
            let families = self.inner.families.read();
            let registered: Vec<Arc<dyn ErasedFamily>> =
                families.by_name.values().cloned().collect();
            (registered, families.collectors.clone())
        };
        let mut scratch = Scratch::default();
        if collectors.is_empty() && extra.is_empty() {
            for f in registered {
                f.visit(visitor, &mut scratch);
            }
            return;
        }
        // Collectors run without the registry's lock: they may register metrics. Extra
        // collectors get indices past the registered ones, so none owns a description.
        let mut gathered = Gathered::default();
        let all = collectors.iter().map(|c| &**c).chain(extra.iter().copied());
        for (collector, c) in all.enumerate() {
            c.collect(&mut Collection {
                gathered: &mut gathered,
                collector,
            });
        }
        self.accept(&mut gathered);
        gathered
            .families
            .sort_by(|a, b| a.desc.name.cmp(&b.desc.name));
        let mut collected = gathered.families.iter().peekable();
        for f in registered {
            while let Some(c) = collected.next_if(|c| c.desc.name < f.descriptor().name) {
                c.visit(visitor);
            }
            f.visit(visitor, &mut scratch);
        }
        for c in collected {
            c.visit(visitor);
        }
    }

    /// Drops collected families whose names are taken (by a registered family, a family
    /// another collector described, or an earlier collected family) and counts them and
    /// the series rejected during collection.
    fn accept(&self, gathered: &mut Gathered) {
        let families = self.inner.families.read();
        let mut taken: HashSet<String> = HashSet::new();
        let rejected = &mut gathered.rejected;
        gathered.families.retain(|g| {
            let desc = &*g.desc;
            let samples = owned_names(&desc.name, desc.kind.exposition());
            let ours = |owner: &str| {
                *owner == *desc.name
                    && families
                        .described
                        .get(owner)
                        .is_some_and(|(d, c)| *c == g.collector && d == desc)
            };
            let free = samples.iter().all(|s| {
                families.sample_names.get(s).map_or(true, |o| ours(o)) && !taken.contains(s)
            });
            if free {
                taken.extend(samples);
            } else {
                rejected.push(desc.name.clone());
            }
            free
        });
        if let Some(counter) = &families.rejected {
            for name in rejected.drain(..) {
                if let Ok(c) = counter.with_labels(&[&*name]) {
                    c.increment(1);
                }
            }
        }
    }

    /// Descriptors of all registered families and of those collectors described, sorted
    /// by name.
    #[must_use]
    pub fn descriptors(&self) -> Vec<Descriptor> {
        let families = self.inner.families.read();
        let mut all: Vec<Descriptor> = families
            .by_name
            .values()
            .map(|f| f.descriptor().clone())
            .chain(families.described.values().map(|(d, _)| d.clone()))
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// An unlabeled [`Counter`].
    pub fn counter(&self, opts: Opts) -> Result<Counter, Error> {
        self.metric(opts, ())
    }
    /// A labeled [`Counter`] family.
    pub fn counter_family(&self, opts: Opts) -> Result<Family<Counter>, Error> {
        self.register(opts, ())
    }
    /// An unlabeled [`FloatCounter`].
    pub fn float_counter(&self, opts: Opts) -> Result<FloatCounter, Error> {
        self.metric(opts, ())
    }
    /// A labeled [`FloatCounter`] family.
    pub fn float_counter_family(&self, opts: Opts) -> Result<Family<FloatCounter>, Error> {
        self.register(opts, ())
    }
    /// An unlabeled [`Gauge`].
    pub fn gauge(&self, opts: Opts) -> Result<Gauge, Error> {
        self.metric(opts, ())
    }
    /// A labeled [`Gauge`] family.
    pub fn gauge_family(&self, opts: Opts) -> Result<Family<Gauge>, Error> {
        self.register(opts, ())
    }
    /// An unlabeled [`FloatGauge`].
    pub fn float_gauge(&self, opts: Opts) -> Result<FloatGauge, Error> {
        self.metric(opts, ())
    }
    /// A labeled [`FloatGauge`] family.
    pub fn float_gauge_family(&self, opts: Opts) -> Result<Family<FloatGauge>, Error> {
        self.register(opts, ())
    }
    /// An unlabeled [`CallbackGauge`] reading `read` at export time (replacing any
    /// closure registered before under this name).
    pub fn callback_gauge(
        &self,
        opts: Opts,
        read: impl Fn() -> f64 + Send + Sync + 'static,
    ) -> Result<CallbackGauge, Error> {
        let g: CallbackGauge = self.metric(opts, ())?;
        g.set_callback(read);
        Ok(g)
    }
    /// A labeled [`CallbackGauge`] family; set each series' closure with
    /// [`CallbackGauge::set_callback`].
    pub fn callback_gauge_family(&self, opts: Opts) -> Result<Family<CallbackGauge>, Error> {
        self.register(opts, ())
    }
    /// An unlabeled explicit-bucket [`Histogram`].
    pub fn histogram(&self, opts: Opts, buckets: Buckets) -> Result<Histogram, Error> {
        self.metric(opts, buckets)
    }
    /// A labeled explicit-bucket [`Histogram`] family.
    pub fn histogram_family(
        &self,
        opts: Opts,
        buckets: Buckets,
    ) -> Result<Family<Histogram>, Error> {
        self.register(opts, buckets)
    }
    /// An unlabeled [`NativeHistogram`] (add classic buckets with
    /// [`NativeConfig::classic`], or use [`NativeConfig::latency`]).
    pub fn native_histogram(
        &self,
        opts: Opts,
        config: NativeConfig,
    ) -> Result<NativeHistogram, Error> {
        self.metric(opts, config)
    }
    /// A labeled [`NativeHistogram`] family.
    pub fn native_histogram_family(
        &self,
        opts: Opts,
        config: NativeConfig,
    ) -> Result<Family<NativeHistogram>, Error> {
        self.register(opts, config)
    }
    /// An unlabeled [`HdrHistogram`].
    pub fn hdr_histogram(&self, opts: Opts, config: HdrConfig) -> Result<HdrHistogram, Error> {
        self.metric(opts, config)
    }
    /// A labeled [`HdrHistogram`] family.
    pub fn hdr_histogram_family(
        &self,
        opts: Opts,
        config: HdrConfig,
    ) -> Result<Family<HdrHistogram>, Error> {
        self.register(opts, config)
    }
    /// An unlabeled [`Meter`].
    pub fn meter(&self, opts: Opts) -> Result<Meter, Error> {
        self.metric(opts, ())
    }
    /// A labeled [`Meter`] family.
    pub fn meter_family(&self, opts: Opts) -> Result<Family<Meter>, Error> {
        self.register(opts, ())
    }
    /// An unlabeled [`Timer`] with the default range (1 ns..1 h).
    pub fn timer(&self, opts: Opts) -> Result<Timer, Error> {
        self.metric(opts, HdrConfig::default())
    }
    /// A labeled [`Timer`] family with the default range.
    pub fn timer_family(&self, opts: Opts) -> Result<Family<Timer>, Error> {
        self.register(opts, HdrConfig::default())
    }
}

fn same_family<M: Metric>(
    existing: &Arc<dyn ErasedFamily>,
    desc: &Descriptor,
) -> Result<Family<M>, Error> {
    let found = existing.descriptor();
    if found != desc {
        return Err(Error::Conflict {
            name: desc.name.to_string(),
            existing: found.to_string(),
            requested: desc.to_string(),
        });
    }
    let core = existing
        .clone()
        .into_any()
        .downcast::<FamilyCore<M>>()
        .map_err(|_| Error::Conflict {
            name: desc.name.to_string(),
            existing: found.to_string(),
            requested: desc.to_string(),
        })?;
    Ok(Family { core })
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("families", &self.inner.families.read().by_name.len())
            .finish()
    }
}

static GLOBAL: LazyLock<Registry> = LazyLock::new(Registry::new);

/// The process-wide default registry (what the macros and `serve()` use).
#[must_use]
pub fn global() -> &'static Registry {
    &GLOBAL
}
