//! Runtime support for the code `tachometer-macros` generates. Not a public API: only
//! the macros' output may use it, and it may change in any release.
//!
//! Every macro call site owns one `static` site (`FnSite` for `#[timed]`,
//! `#[counted]`, `#[metered]`; `MetricSite` for `counter!` and friends). The first
//! call registers the family and resolves the series; every later call is an atomic
//! load of an initialised `OnceLock` and the record itself — no lock, no hashing, no
//! allocation. A registration error (usually the same name registered elsewhere with
//! another definition) is never a panic: the site prints one line to stderr and records
//! into a detached metric that no exporter sees.

use std::borrow::Borrow;
use std::future::Future;
use std::sync::OnceLock;

use tachometer_core::{
    Buckets, Clock, Error, Family, HdrConfig, Metric, NativeConfig, Opts, SystemClock, Unit,
};
pub use tachometer_core::{Counter, Gauge, Histogram, Meter, NativeHistogram, Registry, Timer};

/// Outcome index: the call returned (an `Ok`, or any value of a non-`Result` function).
pub const OK: u8 = 0;
/// Outcome index: the call returned an `Err` or panicked.
pub const ERROR: u8 = 1;
/// Outcome index: the future was dropped before it completed.
pub const CANCELLED: u8 = 2;
/// The `result` label value of each outcome index.
const RESULT_VALUES: [&str; 3] = ["ok", "error", "cancelled"];

/// What a macro needs to know about a metric type beyond [`Metric`].
pub trait MacroMetric: Metric {
    /// The family configuration a macro registers with.
    fn config() -> Self::Config;
    /// The family unit, if any.
    fn unit() -> Option<Unit> {
        None
    }
    /// A metric attached to no registry, used when registration failed.
    fn detached() -> Self;
}

/// A metric the function attributes record one call into.
pub trait CallMetric: MacroMetric {
    /// Whether the call's start time must be read (only timers need it).
    const TIMED: bool;
    /// Clock reading in nanoseconds (0 for metrics that do not time).
    fn now(&self) -> u64;
    /// Records one call that started at `start`.
    fn record_call(&self, start: u64);
}

impl MacroMetric for Counter {
    fn config() {}
    fn detached() -> Self {
        Counter::new()
    }
}

impl MacroMetric for Gauge {
    fn config() {}
    fn detached() -> Self {
        Gauge::new()
    }
}

impl MacroMetric for Meter {
    fn config() {}
    fn detached() -> Self {
        Meter::new()
    }
}

impl MacroMetric for Histogram {
    fn config() -> Buckets {
        Buckets::default()
    }
    fn detached() -> Self {
        Histogram::new(Buckets::default())
    }
}

impl MacroMetric for Timer {
    fn config() -> HdrConfig {
        HdrConfig::default()
    }
    fn unit() -> Option<Unit> {
        Some(Unit::Seconds)
    }
    fn detached() -> Self {
        Timer::new()
    }
}

/// `#[timed]` without `summary`: classic + native, in seconds.
impl MacroMetric for NativeHistogram {
    fn config() -> NativeConfig {
        NativeConfig::latency()
    }
    fn unit() -> Option<Unit> {
        Some(Unit::Seconds)
    }
    fn detached() -> Self {
        NativeHistogram::with_config(NativeConfig::latency()).unwrap_or_default()
    }
}

impl CallMetric for Counter {
    const TIMED: bool = false;
    fn now(&self) -> u64 {
        0
    }
    #[inline]
    fn record_call(&self, _: u64) {
        self.increment(1);
    }
}

impl CallMetric for Meter {
    const TIMED: bool = false;
    fn now(&self) -> u64 {
        0
    }
    #[inline]
    fn record_call(&self, _: u64) {
        self.mark(1);
    }
}

impl CallMetric for NativeHistogram {
    const TIMED: bool = true;
    #[inline]
    fn now(&self) -> u64 {
        SystemClock.now()
    }
    #[inline]
    fn record_call(&self, start: u64) {
        let nanos = SystemClock.now().saturating_sub(start);
        // Division, not `* 1e-9`: 25_000_000 ns must be exactly 0.025.
        self.record(nanos as f64 / 1e9);
    }
}

impl CallMetric for Timer {
    const TIMED: bool = true;
    #[inline]
    fn now(&self) -> u64 {
        Timer::now(self)
    }
    #[inline]
    fn record_call(&self, start: u64) {
        self.record_nanos(Timer::now(self).saturating_sub(start));
    }
}

fn register<M: MacroMetric>(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Option<Family<M>> {
    let mut opts = Opts::new(name, help).labels(labels);
    if let Some(unit) = M::unit() {
        opts = opts.unit(unit);
    }
    registry
        .register::<M>(opts, M::config())
        .map_err(|e| report(name, &e))
        .ok()
}

#[cold]
fn report(name: &str, error: &Error) {
    eprintln!(
        "tachometer: a metrics macro could not register {name:?}: {error}. \
         This call site records into a detached metric that is not exported."
    );
}

/// The fixed description of one instrumented function.
#[derive(Debug)]
pub struct FnSpec {
    /// Family name.
    pub name: &'static str,
    /// Family help text.
    pub help: &'static str,
    /// `function` label value.
    pub function: &'static str,
    /// `module` label value (`module_path!()` at the function).
    pub module: &'static str,
    /// Extra label names (after `function`, `module`, `result`).
    pub label_names: &'static [&'static str],
    /// Values of the extra labels, in the same order.
    pub label_values: &'static [&'static str],
}

/// The per-function state behind `#[timed]`, `#[counted]` and `#[metered]`: the
/// family, resolved once, and one series per outcome, each resolved on first use (so
/// a function that never fails exports no `result="error"` series).
#[derive(Debug)]
pub struct FnSite<M: CallMetric> {
    spec: FnSpec,
    family: OnceLock<Option<Family<M>>>,
    series: [OnceLock<M>; 3],
}

impl<M: CallMetric> FnSite<M> {
    /// A site that registers nothing until its first call.
    pub const fn new(spec: FnSpec) -> Self {
        Self {
            spec,
            family: OnceLock::new(),
            series: [OnceLock::new(), OnceLock::new(), OnceLock::new()],
        }
    }

    /// Starts one call. `registry` is called on the first call only; `default` is the
    /// outcome recorded if the guard is dropped without being told otherwise.
    #[inline]
    pub fn start<R: Borrow<Registry>>(
        &'static self,
        registry: impl FnOnce() -> R,
        default: u8,
    ) -> Guard<M> {
        if self.family.get().is_none() {
            self.init(registry);
        }
        let start = if M::TIMED { self.series(OK).now() } else { 0 };
        Guard {
            site: self,
            start,
            outcome: default,
        }
    }

    #[cold]
    fn init<R: Borrow<Registry>>(&self, registry: impl FnOnce() -> R) {
        self.family.get_or_init(|| {
            let s = &self.spec;
            let mut names = vec!["function", "module", "result"];
            names.extend_from_slice(s.label_names);
            register(registry().borrow(), s.name, s.help, &names)
        });
    }

    #[inline]
    fn series(&self, outcome: u8) -> &M {
        self.series[usize::from(outcome)].get_or_init(|| self.resolve(outcome))
    }

    #[cold]
    fn resolve(&self, outcome: u8) -> M {
        let Some(Some(family)) = self.family.get() else {
            return M::detached();
        };
        let s = &self.spec;
        let mut values = vec![s.function, s.module, RESULT_VALUES[usize::from(outcome)]];
        values.extend_from_slice(s.label_values);
        family
            .with_labels(&values[..])
            .cloned()
            .unwrap_or_else(|e| {
                report(s.name, &e);
                M::detached()
            })
    }
}

/// One call in progress: records into the site's series for its outcome when dropped.
/// A drop during a panic records [`ERROR`].
#[must_use = "the call is recorded when the guard is dropped"]
#[derive(Debug)]
pub struct Guard<M: CallMetric + 'static> {
    site: &'static FnSite<M>,
    start: u64,
    outcome: u8,
}

impl<M: CallMetric> Guard<M> {
    /// Records the outcome of `result` and passes it through.
    #[inline]
    pub fn finish_result<T, E>(mut self, result: Result<T, E>) -> Result<T, E> {
        self.outcome = if result.is_ok() { OK } else { ERROR };
        result
    }

    /// Records a completed call (of a function whose result is not a `Result`).
    #[inline]
    pub fn finish_ok(mut self) {
        self.outcome = OK;
    }
}

impl<M: CallMetric> Drop for Guard<M> {
    #[inline]
    fn drop(&mut self) {
        let outcome = if std::thread::panicking() {
            ERROR
        } else {
            self.outcome
        };
        self.site.series(outcome).record_call(self.start);
    }
}

/// Records `result`'s outcome and passes it through. The value comes first so that it
/// is evaluated before the guard moves: it may contain a `return` that uses the guard.
#[inline]
pub fn finish_result<M: CallMetric, T, E>(result: Result<T, E>, guard: Guard<M>) -> Result<T, E> {
    guard.finish_result(result)
}

/// Wraps a future a function returns: the call is recorded when it completes, or as
/// [`CANCELLED`] if it is dropped first. The guard's start time (the call) is kept.
pub fn timed_future<M: CallMetric, F: Future>(
    future: F,
    mut guard: Guard<M>,
) -> impl Future<Output = F::Output> {
    guard.outcome = CANCELLED;
    async move {
        let out = future.await;
        guard.finish_ok();
        out
    }
}

/// [`timed_future`] for futures whose output is a `Result`, labelled by it.
pub fn timed_result_future<M: CallMetric, T, E, F: Future<Output = Result<T, E>>>(
    future: F,
    mut guard: Guard<M>,
) -> impl Future<Output = Result<T, E>> {
    guard.outcome = CANCELLED;
    async move { guard.finish_result(future.await) }
}

/// The per-call-site state behind `counter!`, `gauge!`, `histogram!`, `meter!` and
/// `timer!`: the family and, for literal label values, the one series.
#[derive(Debug)]
pub struct MetricSite<M: MacroMetric> {
    name: &'static str,
    help: &'static str,
    label_names: &'static [&'static str],
    family: OnceLock<Option<Family<M>>>,
    fixed: OnceLock<&'static M>,
    detached: OnceLock<M>,
}

impl<M: MacroMetric> MetricSite<M> {
    /// A site that registers nothing until first used.
    pub const fn new(
        name: &'static str,
        help: &'static str,
        label_names: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            help,
            label_names,
            family: OnceLock::new(),
            fixed: OnceLock::new(),
            detached: OnceLock::new(),
        }
    }

    /// The series for label values known at compile time, resolved on the first call.
    #[inline]
    pub fn get(&'static self, values: &'static [&'static str]) -> &'static M {
        self.fixed.get_or_init(|| self.with_labels(values))
    }

    /// The series for label values computed at run time: the core's allocation-free
    /// lookup once the series exists.
    #[inline]
    pub fn with_labels(&'static self, values: &[&str]) -> &'static M {
        let family = self
            .family
            .get_or_init(|| register(crate::global(), self.name, self.help, self.label_names));
        match family {
            Some(family) => match family.with_labels(values) {
                Ok(m) => m,
                Err(e) => self.detached(Some(&e)),
            },
            None => self.detached(None),
        }
    }

    #[cold]
    fn detached(&self, error: Option<&Error>) -> &M {
        self.detached.get_or_init(|| {
            if let Some(e) = error {
                report(self.name, e);
            }
            M::detached()
        })
    }
}
