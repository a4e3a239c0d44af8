//! A [`metrics`] 0.24 recorder that records into a Tachometer [`Registry`].
//!
//! Crates instrumented with the `metrics` facade (`metrics::counter!`, `gauge!`,
//! `histogram!`, `describe_*!`) reach Tachometer's exporters through this bridge:
//!
//! ```
//! // First thing in `main`: recordings made before `install()` go nowhere.
//! tachometer::metrics_bridge::install().unwrap();
//! metrics::counter!("jobs_done_total", "queue" => "mail").increment(1);
//! ```
//!
//! # What maps to what
//!
//! | `metrics` | Tachometer |
//! |---|---|
//! | `counter!` (`increment`, `absolute`) | [`Counter`] (`absolute(v)` raises the total to `v`, never lowers it) |
//! | `gauge!` (`set`, `increment`, `decrement`, f64) | [`FloatGauge`] |
//! | `histogram!` | [`Histogram`] with explicit buckets: [`Buckets::default_latency`] unless [`Recorder::set_buckets_for_metric`] says otherwise |
//! | `describe_*!(name, unit, help)` | the family's help and unit |
//! | labels | label names and values; `.` and other characters Prometheus rejects become `_` |
//!
//! A handle returned by the recorder (`metrics::Counter` …) holds the Tachometer
//! series itself, so a handle kept across calls records straight into its atomics.
//! `counter!(…)` in a hot loop resolves its key each time (one read lock and a hash
//! lookup); keep the handle when that matters.
//!
//! # Help and units
//!
//! A family's help and unit are fixed when the family is registered, which for the
//! bridge is at the first recording of a name. A `describe_*!` that arrives before
//! that is applied; one that arrives later cannot change the exported help (the
//! registry does not rewrite descriptions): the first help is kept. Describe first,
//! as metrics-rs recommends. A unit is exported only when it is `seconds` or `bytes`
//! and the name already ends with it (`_seconds`, `_bytes`, optionally followed by
//! `_total`), because OpenMetrics requires a family's name to carry its unit.
//!
//! # Conflicts never drop data silently
//!
//! A family has one kind and one set of label names (the first call site's). A call
//! site that asks for the same name as another kind (a `gauge!` where a `counter!`
//! was registered), with another set of label names, or with a name or label the
//! registry rejects, cannot record into that family. It is counted once per distinct
//! key in `tachometer_registration_conflicts_total{metric}` and receives a handle
//! that records nothing but counts each lost call in
//! `tachometer_bridge_dropped_total{metric}`. Label names in another order are not a
//! conflict: values are matched to the family's label names by name.
//!
//! # Pitfalls
//!
//! * Metrics recorded before [`install`] (or before `metrics::set_global_recorder`)
//!   are lost: the facade has no recorder yet. Install the bridge first thing in `main`,
//!   before starting runtimes or libraries that record.
//! * Two semver-incompatible `metrics` versions in one dependency tree are two
//!   facades with two global recorders: the bridge serves `metrics` 0.24 only
//!   (`cargo tree -i metrics` shows the versions in your tree).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use metrics::{Key, KeyName, Metadata, SharedString};
use tachometer_core::{Buckets, Counter, Family, FloatGauge, Histogram, Opts, Registry, Unit};

/// The self-metric counting call sites whose registration conflicted.
pub const CONFLICTS_METRIC_NAME: &str = "tachometer_registration_conflicts_total";
/// The self-metric counting recordings lost to a conflict.
pub const DROPPED_METRIC_NAME: &str = "tachometer_bridge_dropped_total";

type Hasher = foldhash::fast::RandomState;

/// Why [`install`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstallError {
    /// Another `metrics` recorder is already the global one.
    AlreadyInstalled,
}

impl std::fmt::Display for InstallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InstallError::AlreadyInstalled => f.write_str(
                "a metrics recorder is already installed; call tachometer::metrics_bridge::install() \
                 once, first thing in main, and remove any other metrics exporter's install",
            ),
        }
    }
}

impl std::error::Error for InstallError {}

/// Sets a [`Recorder`] for [`tachometer::global()`](crate::global) as the global
/// `metrics` recorder.
///
/// # Errors
/// [`InstallError::AlreadyInstalled`] when a global `metrics` recorder is already set.
pub fn install() -> Result<(), InstallError> {
    metrics::set_global_recorder(Recorder::new(crate::global()))
        .map_err(|_| InstallError::AlreadyInstalled)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

enum AnyFamily {
    Counter(Family<Counter>),
    Gauge(Family<FloatGauge>),
    Histogram(Family<Histogram>),
}

struct FamilyEntry {
    family: AnyFamily,
    label_names: Vec<String>,
}

#[derive(Clone, Default)]
struct Description {
    help: Option<SharedString>,
    unit: Option<metrics::Unit>,
}

struct Inner {
    registry: Registry,
    counters: RwLock<HashMap<Key, Arc<BridgeCounter>, Hasher>>,
    gauges: RwLock<HashMap<Key, Arc<BridgeGauge>, Hasher>>,
    histograms: RwLock<HashMap<Key, Arc<BridgeHistogram>, Hasher>>,
    /// Families by sanitized name, and descriptions by metric name.
    families: Mutex<HashMap<String, FamilyEntry>>,
    descriptions: Mutex<HashMap<String, Description>>,
    buckets: RwLock<Vec<(Matcher, Buckets)>>,
    conflicts: OnceLock<Option<Family<Counter>>>,
    dropped: OnceLock<Option<Family<Counter>>>,
}

/// Which histogram names a bucket layout applies to (as metrics-exporter-prometheus'
/// `Matcher`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Matcher {
    /// Exactly this name.
    Full(String),
    /// Names starting with this.
    Prefix(String),
    /// Names ending with this.
    Suffix(String),
}

impl Matcher {
    fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Full(s) => name == s,
            Matcher::Prefix(s) => name.starts_with(s.as_str()),
            Matcher::Suffix(s) => name.ends_with(s.as_str()),
        }
    }
}

/// A `metrics` recorder recording into one Tachometer [`Registry`].
///
/// Cloning is cheap and shares the handles. Use it with `metrics::set_global_recorder`
/// or, for a scope, `metrics::with_local_recorder`:
///
/// ```
/// use tachometer::{metrics_bridge::Recorder, Registry};
/// let registry = Registry::new();
/// let recorder = Recorder::new(&registry);
/// metrics::with_local_recorder(&recorder, || {
///     metrics::counter!("jobs_total").increment(2);
/// });
/// let mut text = String::new();
/// tachometer::exporters::prometheus::encode(&registry, tachometer::exporters::prometheus::Format::Text004, &mut text);
/// assert!(text.contains("jobs_total 2"));
/// ```
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder for `registry` (the handles it returns record into its families).
    #[must_use]
    pub fn new(registry: &Registry) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry: registry.clone(),
                counters: RwLock::default(),
                gauges: RwLock::default(),
                histograms: RwLock::default(),
                families: Mutex::default(),
                descriptions: Mutex::default(),
                buckets: RwLock::default(),
                conflicts: OnceLock::new(),
                dropped: OnceLock::new(),
            }),
        }
    }

    /// Histograms whose name `matcher` matches use `buckets` (the first matching rule
    /// added wins; unmatched names use [`Buckets::default_latency`]). Applies to
    /// histograms registered after this call.
    #[must_use]
    pub fn set_buckets_for_metric(self, matcher: Matcher, buckets: Buckets) -> Self {
        write(&self.inner.buckets).push((matcher, buckets));
        self
    }

    fn describe(&self, key: KeyName, unit: Option<metrics::Unit>, help: SharedString) {
        let mut descriptions = lock(&self.inner.descriptions);
        let d = descriptions.entry(key.as_str().to_owned()).or_default();
        if d.help.is_none() && !help.is_empty() {
            d.help = Some(help);
        }
        if d.unit.is_none() {
            d.unit = unit;
        }
    }

    fn conflict(&self, name: &str) -> Counter {
        let conflicts = self.inner.conflicts.get_or_init(|| {
            self.inner
                .registry
                .counter_family(
                    Opts::new(
                        CONFLICTS_METRIC_NAME,
                        "metrics-facade call sites that could not be registered (kind or label-name clash, invalid name).",
                    )
                    .labels(&["metric"]),
                )
                .ok()
        });
        if let Some(c) = conflicts.as_ref().and_then(|f| f.with_labels(&[name]).ok()) {
            c.increment(1);
        }
        let dropped = self.inner.dropped.get_or_init(|| {
            self.inner
                .registry
                .counter_family(
                    Opts::new(
                        DROPPED_METRIC_NAME,
                        "Recordings through the metrics facade lost to a registration conflict.",
                    )
                    .labels(&["metric"]),
                )
                .ok()
        });
        dropped
            .as_ref()
            .and_then(|f| f.with_labels(&[name]).ok())
            .cloned()
            .unwrap_or_default()
    }

    /// The family for `key`'s name and kind, and `key`'s label values in the family's
    /// label order; `None` on a conflict.
    fn resolve<T>(
        &self,
        key: &Key,
        kind: Kind,
        pick: impl FnOnce(&AnyFamily, &[&str]) -> Option<T>,
    ) -> Option<T> {
        let name = sanitize(key.name(), false);
        let labels: Vec<(String, &str)> = key
            .labels()
            .map(|l| (sanitize(l.key(), true), l.value()))
            .collect();
        let mut families = lock(&self.inner.families);
        if !families.contains_key(&name) {
            let names: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
            let description = lock(&self.inner.descriptions)
                .get(key.name())
                .cloned()
                .unwrap_or_default();
            let mut opts = Opts::new(
                name.clone(),
                description.help.as_deref().unwrap_or_default(),
            )
            .labels(&names);
            if let Some(unit) = unit_for(&name, description.unit) {
                opts = opts.unit(unit);
            }
            let family = match kind {
                Kind::Counter => self
                    .inner
                    .registry
                    .counter_family(opts)
                    .map(AnyFamily::Counter),
                Kind::Gauge => self
                    .inner
                    .registry
                    .float_gauge_family(opts)
                    .map(AnyFamily::Gauge),
                Kind::Histogram => {
                    let buckets = read(&self.inner.buckets)
                        .iter()
                        .find(|(m, _)| m.matches(&name) || m.matches(key.name()))
                        .map_or_else(Buckets::default_latency, |(_, b)| b.clone());
                    self.inner
                        .registry
                        .histogram_family(opts, buckets)
                        .map(AnyFamily::Histogram)
                }
            };
            let family = family.ok()?;
            families.insert(
                name.clone(),
                FamilyEntry {
                    family,
                    label_names: names.iter().map(|s| (*s).to_owned()).collect(),
                },
            );
        }
        let entry = families.get(&name)?;
        let same_kind = matches!(
            (&entry.family, kind),
            (AnyFamily::Counter(_), Kind::Counter)
                | (AnyFamily::Gauge(_), Kind::Gauge)
                | (AnyFamily::Histogram(_), Kind::Histogram)
        );
        if !same_kind || entry.label_names.len() != labels.len() {
            return None;
        }
        let mut values = Vec::with_capacity(labels.len());
        for n in &entry.label_names {
            values.push(labels.iter().find(|(k, _)| k == n)?.1);
        }
        pick(&entry.family, &values)
    }
}

fn unit_for(name: &str, unit: Option<metrics::Unit>) -> Option<Unit> {
    let unit = match unit? {
        metrics::Unit::Seconds => Unit::Seconds,
        metrics::Unit::Bytes => Unit::Bytes,
        _ => return None,
    };
    let base = name.strip_suffix("_total").unwrap_or(name);
    base.ends_with(&format!("_{}", unit.as_str()))
        .then_some(unit)
}

/// Replaces characters Prometheus rejects with `_` (and a leading digit).
fn sanitize(s: &str, label: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        let ok = c.is_ascii_alphabetic()
            || c == '_'
            || (!label && c == ':')
            || (i > 0 && c.is_ascii_digit());
        out.push(if ok { c } else { '_' });
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}
fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

/// Looks `key` up in `map`, or builds and inserts its handle.
fn get_or_insert<V>(
    map: &RwLock<HashMap<Key, Arc<V>, Hasher>>,
    key: &Key,
    build: impl FnOnce() -> V,
) -> Arc<V> {
    if let Some(v) = read(map).get(key) {
        return v.clone();
    }
    let v = Arc::new(build());
    write(map).entry(key.clone()).or_insert(v).clone()
}

/// A counter handle: a Tachometer [`Counter`], or on a conflict the count of lost calls.
enum BridgeCounter {
    Live(Counter),
    Lost(Counter),
}

impl metrics::CounterFn for BridgeCounter {
    #[inline]
    fn increment(&self, value: u64) {
        match self {
            BridgeCounter::Live(c) => c.increment(value),
            BridgeCounter::Lost(l) => l.increment(1),
        }
    }

    fn absolute(&self, value: u64) {
        match self {
            // Raise to `value`; a concurrent `absolute` with a larger value may be
            // passed by at most this call's difference (counters never go down).
            BridgeCounter::Live(c) => {
                let now = c.get();
                if value > now {
                    c.increment(value - now);
                }
            }
            BridgeCounter::Lost(l) => l.increment(1),
        }
    }
}

/// A gauge handle (f64).
enum BridgeGauge {
    Live(FloatGauge),
    Lost(Counter),
}

impl metrics::GaugeFn for BridgeGauge {
    fn increment(&self, value: f64) {
        match self {
            BridgeGauge::Live(g) => g.increment(value),
            BridgeGauge::Lost(l) => l.increment(1),
        }
    }
    fn decrement(&self, value: f64) {
        match self {
            BridgeGauge::Live(g) => g.decrement(value),
            BridgeGauge::Lost(l) => l.increment(1),
        }
    }
    fn set(&self, value: f64) {
        match self {
            BridgeGauge::Live(g) => g.set(value),
            BridgeGauge::Lost(l) => l.increment(1),
        }
    }
}

/// A histogram handle.
enum BridgeHistogram {
    Live(Histogram),
    Lost(Counter),
}

impl metrics::HistogramFn for BridgeHistogram {
    fn record(&self, value: f64) {
        match self {
            BridgeHistogram::Live(h) => h.record(value),
            BridgeHistogram::Lost(l) => l.increment(1),
        }
    }
}

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, key: KeyName, unit: Option<metrics::Unit>, help: SharedString) {
        self.describe(key, unit, help);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<metrics::Unit>, help: SharedString) {
        self.describe(key, unit, help);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<metrics::Unit>, help: SharedString) {
        self.describe(key, unit, help);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> metrics::Counter {
        let handle = get_or_insert(&self.inner.counters, key, || {
            let live = self.resolve(key, Kind::Counter, |f, v| match f {
                AnyFamily::Counter(f) => f.with_labels(v).ok().cloned(),
                _ => None,
            });
            match live {
                Some(c) => BridgeCounter::Live(c),
                None => BridgeCounter::Lost(self.conflict(&sanitize(key.name(), false))),
            }
        });
        metrics::Counter::from_arc(handle)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> metrics::Gauge {
        let handle = get_or_insert(&self.inner.gauges, key, || {
            let live = self.resolve(key, Kind::Gauge, |f, v| match f {
                AnyFamily::Gauge(f) => f.with_labels(v).ok().cloned(),
                _ => None,
            });
            match live {
                Some(g) => BridgeGauge::Live(g),
                None => BridgeGauge::Lost(self.conflict(&sanitize(key.name(), false))),
            }
        });
        metrics::Gauge::from_arc(handle)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        let handle = get_or_insert(&self.inner.histograms, key, || {
            let live = self.resolve(key, Kind::Histogram, |f, v| match f {
                AnyFamily::Histogram(f) => f.with_labels(v).ok().cloned(),
                _ => None,
            });
            match live {
                Some(h) => BridgeHistogram::Live(h),
                None => BridgeHistogram::Lost(self.conflict(&sanitize(key.name(), false))),
            }
        });
        metrics::Histogram::from_arc(handle)
    }
}
