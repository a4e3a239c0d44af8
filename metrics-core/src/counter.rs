//! Monotonic counters.
//!
//! A [`Counter`] is a cheap-to-clone handle (`Arc`) to striped cells: incrementing it
//! never touches the registry and never locks; it allocates once, the first time two
//! threads are seen colliding on it (the cells grow), and never again.

use std::sync::Arc;

use crate::striped::Striped;

/// A monotonically increasing `u64` count of events (requests, bytes, errors).
///
/// ```
/// let registry = tachometer::Registry::new();
/// let requests = registry.counter(tachometer::Opts::new("requests_total", "Requests served.")).unwrap();
/// requests.increment(1);
/// assert_eq!(requests.get(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Counter {
    cells: Arc<Striped<u64>>,
}

impl Counter {
    /// A counter not attached to any registry (it will not be exported).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n`. The total never decreases: it is exact below 2^63 (292 years at 1 GHz)
    /// and saturates at `u64::MAX` once any part of it reaches 2^63 (see `striped.rs`),
    /// so `increment(u64::MAX)` reads `u64::MAX` from then on instead of wrapping.
    #[inline]
    pub fn increment(&self, n: u64) {
        self.cells.add(n);
    }

    /// The current total.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.cells.sum()
    }
}

/// A monotonically increasing `f64` total, for sums such as CPU seconds.
///
/// Negative or non-finite increments are ignored: a counter must never go down, and a
/// `NaN` would poison the total for good.
#[derive(Debug, Clone, Default)]
pub struct FloatCounter {
    cells: Arc<Striped<f64>>,
}

impl FloatCounter {
    /// A float counter not attached to any registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `v` if it is finite and non-negative.
    #[inline]
    pub fn increment(&self, v: f64) {
        if v.is_finite() && v > 0.0 {
            self.cells.add(v);
        }
    }

    /// The current total.
    #[must_use]
    pub fn get(&self) -> f64 {
        self.cells.sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn float_counter_ignores_negative_and_nan() {
        let c = FloatCounter::new();
        c.increment(1.5);
        c.increment(-3.0);
        c.increment(f64::NAN);
        c.increment(f64::INFINITY);
        assert_eq!(c.get(), 1.5);
    }

    #[test]
    fn clones_share_state() {
        let a = Counter::new();
        let b = a.clone();
        a.increment(2);
        b.increment(3);
        assert_eq!(a.get(), 5);
    }

    #[test]
    fn increments_near_u64_max_saturate_never_wrap() {
        let c = Counter::new();
        c.increment(u64::MAX);
        assert_eq!(c.get(), u64::MAX);
        c.increment(u64::MAX);
        c.increment(1);
        assert_eq!(c.get(), u64::MAX);
        let c = Counter::new();
        c.increment(5);
        c.increment(u64::MAX - 4);
        assert_eq!(c.get(), u64::MAX);
    }

    proptest! {
        #[test]
        fn saturating_counter_never_decreases(ops in proptest::collection::vec(any::<u64>(), 0..50)) {
            let c = Counter::new();
            let mut model = 0u64;
            for n in ops {
                let before = c.get();
                c.increment(n);
                model = model.saturating_add(n);
                prop_assert!(c.get() >= before);
                // Exact below 2^63, saturated (u64::MAX) from there on.
                if model < 1 << 63 {
                    prop_assert_eq!(c.get(), model);
                } else {
                    prop_assert_eq!(c.get(), u64::MAX);
                }
            }
        }

        #[test]
        fn counter_matches_model(ops in proptest::collection::vec(0u64..1_000_000, 0..200)) {
            let c = Counter::new();
            let mut model = 0u64;
            for n in ops {
                c.increment(n);
                model += n;
                prop_assert_eq!(c.get(), model);
            }
        }
    }
}
