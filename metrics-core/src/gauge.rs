//! Gauges: values that go up and down, set directly or read from a callback.

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::sync::RwLock;

use crate::callback::{read_within, CallState, CallbackBudget};
use crate::metric::BuildContext;

/// An `i64` value that can be set, incremented and decremented (queue depth, sessions).
///
/// Arithmetic wraps on overflow rather than panicking.
#[derive(Debug, Clone, Default)]
pub struct Gauge {
    value: Arc<AtomicI64>,
}

impl Gauge {
    /// A gauge not attached to any registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, v: i64) {
        self.value.store(v, Relaxed);
    }

    /// Adds `n`.
    #[inline]
    pub fn increment(&self, n: i64) {
        self.value.fetch_add(n, Relaxed);
    }

    /// Subtracts `n`.
    #[inline]
    pub fn decrement(&self, n: i64) {
        self.value.fetch_sub(n, Relaxed);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> i64 {
        self.value.load(Relaxed)
    }
}

/// An `f64` gauge (temperatures, ratios, seconds).
#[derive(Debug, Clone, Default)]
pub struct FloatGauge {
    bits: Arc<AtomicU64>,
}

impl FloatGauge {
    /// A float gauge not attached to any registry, reading `0.0`.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, v: f64) {
        self.bits.store(v.to_bits(), Relaxed);
    }

    /// Adds `v` (a compare-and-swap loop: floats have no atomic add).
    #[inline]
    pub fn increment(&self, v: f64) {
        let mut cur = self.bits.load(Relaxed);
        loop {
            let next = (f64::from_bits(cur) + v).to_bits();
            match self.bits.compare_exchange_weak(cur, next, Relaxed, Relaxed) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Subtracts `v`.
    #[inline]
    pub fn decrement(&self, v: f64) {
        self.increment(-v);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Relaxed))
    }
}

type ReadFn = Arc<dyn Fn() -> f64 + Send + Sync>;

/// Where a registry's callback gauge reports: its budget and its family's name.
#[derive(Debug, Clone)]
struct Export {
    budget: CallbackBudget,
    family: Arc<str>,
    state: Arc<CallState>,
}

/// A gauge whose value is computed by a closure each time metrics are read
/// (pool size, queue length, memory in use). Recording costs nothing.
///
/// Keep the closure quick. During an export it runs under the registry's time budget
/// on a `tachometer-callback` thread (see `RegistryBuilder::callback_timeout`): one
/// that misses the budget reads as its previous value (or `NaN` while it is stuck) and
/// is counted in `tachometer_callback_timeouts_total{metric}`, and the export goes on.
/// If it panics, the series reads `NaN` for that scrape. A series whose closure has
/// not been set yet is not exported. [`get`](Self::get) calls it on the calling thread.
///
/// ```
/// let registry = tachometer::Registry::new();
/// let queue = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(3));
/// let q = queue.clone();
/// registry
///     .callback_gauge(tachometer::Opts::new("queue_length", "Jobs waiting."), move || {
///         q.load(std::sync::atomic::Ordering::Relaxed) as f64
///     })
///     .unwrap();
/// ```
#[derive(Clone)]
pub struct CallbackGauge {
    read: Arc<RwLock<Option<ReadFn>>>,
    /// Set for gauges built by a registry.
    export: Option<Export>,
}

impl CallbackGauge {
    /// A gauge that reports `read()`.
    pub fn new(read: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        let g = Self::unset();
        g.set_callback(read);
        g
    }

    pub(crate) fn unset() -> Self {
        Self {
            read: Arc::new(RwLock::new(None)),
            export: None,
        }
    }

    pub(crate) fn in_registry(ctx: &BuildContext) -> Self {
        Self {
            read: Arc::new(RwLock::new(None)),
            export: Some(Export {
                budget: ctx.callbacks.clone(),
                family: Arc::clone(&ctx.family),
                state: Arc::default(),
            }),
        }
    }

    /// The value for an export: under the registry's budget; `None` if unset.
    pub(crate) fn read_for_export(&self) -> Option<f64> {
        let read = self.read.read().clone()?;
        Some(match &self.export {
            Some(e) => read_within(read, &e.state, &e.budget, &e.family),
            None => call_now(&read),
        })
    }

    /// Replaces the closure.
    pub fn set_callback(&self, read: impl Fn() -> f64 + Send + Sync + 'static) {
        *self.read.write() = Some(Arc::new(read));
    }

    /// Calls the closure, turning a panic into `NaN`; `None` if no closure is set.
    #[must_use]
    pub fn try_get(&self) -> Option<f64> {
        let read = self.read.read().clone()?;
        Some(call_now(&read))
    }

    /// Calls the closure; `NaN` if it panics or is not set.
    #[must_use]
    pub fn get(&self) -> f64 {
        self.try_get().unwrap_or(f64::NAN)
    }
}

fn call_now(read: &ReadFn) -> f64 {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read())).unwrap_or(f64::NAN)
}

impl fmt::Debug for CallbackGauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackGauge").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Set(i64),
        Inc(i64),
        Dec(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<i64>().prop_map(Op::Set),
            (-1000i64..1000).prop_map(Op::Inc),
            (-1000i64..1000).prop_map(Op::Dec),
        ]
    }

    proptest! {
        #[test]
        fn gauge_matches_model(ops in proptest::collection::vec(op(), 0..100)) {
            let g = Gauge::new();
            let mut model = 0i64;
            for o in ops {
                match o {
                    Op::Set(v) => { g.set(v); model = v; }
                    Op::Inc(v) => { g.increment(v); model = model.wrapping_add(v); }
                    Op::Dec(v) => { g.decrement(v); model = model.wrapping_sub(v); }
                }
                prop_assert_eq!(g.get(), model);
            }
        }

        #[test]
        fn float_gauge_matches_model(ops in proptest::collection::vec(-1e6f64..1e6, 0..100)) {
            let g = FloatGauge::new();
            let mut model = 0.0f64;
            for v in ops {
                g.increment(v);
                model += v;
                prop_assert_eq!(g.get(), model);
            }
        }
    }

    #[test]
    fn callback_gauge_reads_closure_and_survives_panic() {
        let g = CallbackGauge::new(|| 42.0);
        assert_eq!(g.get(), 42.0);
        let bad = CallbackGauge::new(|| panic!("boom"));
        assert!(bad.get().is_nan());
    }
}
