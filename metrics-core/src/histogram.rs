//! Histograms with explicit bucket bounds, with Prometheus semantics.
//!
//! An observation `v` lands in the first bucket whose upper bound is `>= v` (so a value
//! equal to a bound counts in that bucket), or in the implicit `+Inf` bucket. Buckets are
//! stored non-cumulatively and made cumulative on export. The count is the sum of the
//! buckets, so `+Inf == _count` holds by construction.
//!
//! Like [`Counter`](crate::Counter), a histogram starts as one set of cells and grows
//! per-thread shards the first time two threads collide on it (detected by a failed
//! compare-and-swap on the sum), so it scales under contention without costing memory
//! when idle.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use crate::error::Error;
use crate::striped::{stripe_count, thread_slot, CachePadded};

/// Upper bounds of a histogram's buckets, strictly increasing and finite; the `+Inf`
/// bucket is implicit.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    bounds: Arc<[f64]>,
}

impl Buckets {
    /// Prometheus client_golang's defaults, for request latencies in seconds:
    /// `.005 .01 .025 .05 .1 .25 .5 1 2.5 5 10`.
    #[must_use]
    pub fn default_latency() -> Self {
        Self {
            bounds: Arc::from(
                &[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ][..],
            ),
        }
    }

    /// Bounds from a list. They must be finite and strictly increasing; a trailing
    /// `+Inf` is accepted and dropped (it is always implicit).
    pub fn new(bounds: &[f64]) -> Result<Self, Error> {
        let mut v: Vec<f64> = bounds.to_vec();
        if v.last() == Some(&f64::INFINITY) {
            v.pop();
        }
        for (i, b) in v.iter().enumerate() {
            if !b.is_finite() {
                return Err(Error::InvalidBuckets(format!(
                    "bucket bound #{i} is {b}; bounds must be finite (+Inf is implicit)"
                )));
            }
            if i > 0 && v[i - 1] >= *b {
                return Err(Error::InvalidBuckets(format!(
                    "bucket bounds must increase strictly, but {} is followed by {b}",
                    v[i - 1]
                )));
            }
        }
        Ok(Self {
            bounds: Arc::from(v),
        })
    }

    /// `count` bounds `start, start+width, …`.
    pub fn linear(start: f64, width: f64, count: usize) -> Result<Self, Error> {
        if count == 0 || width <= 0.0 || !width.is_finite() || !start.is_finite() {
            return Err(Error::InvalidBuckets(format!(
                "linear buckets need count >= 1 and a finite width > 0 (got start {start}, width {width}, count {count})"
            )));
        }
        Self::new(
            &(0..count)
                .map(|i| start + width * i as f64)
                .collect::<Vec<_>>(),
        )
    }

    /// `count` bounds `start, start·factor, start·factor², …`.
    pub fn exponential(start: f64, factor: f64, count: usize) -> Result<Self, Error> {
        if count == 0 || start <= 0.0 || factor <= 1.0 || !factor.is_finite() {
            return Err(Error::InvalidBuckets(format!(
                "exponential buckets need count >= 1, start > 0 and factor > 1 (got start {start}, factor {factor}, count {count})"
            )));
        }
        Self::new(
            &(0..count)
                .map(|i| start * factor.powi(i as i32))
                .collect::<Vec<_>>(),
        )
    }

    /// The finite upper bounds.
    #[must_use]
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }
}

impl Default for Buckets {
    fn default() -> Self {
        Self::default_latency()
    }
}

/// One writer's cells: per-bucket counts (the last is `+Inf`) and the sum's bits.
struct Shard {
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Shard {
    fn new(buckets: usize) -> Self {
        Self {
            counts: (0..=buckets).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }
}

struct Core {
    bounds: Arc<[f64]>,
    base: Shard,
    shards: OnceLock<Box<[CachePadded<Shard>]>>,
}

/// A histogram with explicit buckets. Cheap to clone; `record` is lock-free and never
/// allocates.
///
/// ```
/// use tachometer::{Buckets, Histogram};
/// let h = Histogram::new(Buckets::new(&[0.25, 1.0, 2.5]).unwrap());
/// for v in [0.25, 0.5, 0.5, 1.5, 3.0] { h.record(v); }
/// let s = h.snapshot();
/// assert_eq!(s.cumulative().collect::<Vec<_>>(), vec![(0.25, 1), (1.0, 3), (2.5, 4), (f64::INFINITY, 5)]);
/// assert_eq!(s.sum, 5.75);
/// ```
#[derive(Clone)]
pub struct Histogram {
    core: Arc<Core>,
}

impl Histogram {
    /// A histogram not attached to any registry.
    #[must_use]
    pub fn new(buckets: Buckets) -> Self {
        let n = buckets.bounds.len();
        Self {
            core: Arc::new(Core {
                bounds: buckets.bounds,
                base: Shard::new(n),
                shards: OnceLock::new(),
            }),
        }
    }

    /// Records one observation. `NaN` is ignored (it has no bucket and would poison the sum).
    #[inline]
    pub fn record(&self, v: f64) {
        if v.is_nan() {
            return;
        }
        let core = &*self.core;
        let idx = bucket_index(&core.bounds, v);
        let shard = match core.shards.get() {
            Some(shards) => &shards[thread_slot() & (shards.len() - 1)].0,
            None => &core.base,
        };
        shard.counts[idx].fetch_add(1, Relaxed);
        let cur = shard.sum.load(Relaxed);
        let next = (f64::from_bits(cur) + v).to_bits();
        if shard
            .sum
            .compare_exchange(cur, next, Relaxed, Relaxed)
            .is_err()
        {
            self.add_sum_contended(shard, v);
        }
    }

    #[cold]
    #[inline(never)]
    fn add_sum_contended(&self, shard: &Shard, v: f64) {
        let mut cur = shard.sum.load(Relaxed);
        loop {
            let next = (f64::from_bits(cur) + v).to_bits();
            match shard.sum.compare_exchange_weak(cur, next, Relaxed, Relaxed) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        let n = self.core.bounds.len();
        self.core.shards.get_or_init(|| {
            (0..stripe_count())
                .map(|_| CachePadded(Shard::new(n)))
                .collect()
        });
    }

    /// The bucket bounds.
    #[must_use]
    pub fn bounds(&self) -> &[f64] {
        &self.core.bounds
    }

    /// Per-bucket (non-cumulative) counts into `counts` (resized to `bounds + 1`), and the sum.
    /// Reuses the caller's buffer so exporters allocate nothing per series.
    pub fn read_into(&self, counts: &mut Vec<u64>) -> f64 {
        let core = &*self.core;
        counts.clear();
        counts.extend(core.base.counts.iter().map(|c| c.load(Relaxed)));
        let mut sum = f64::from_bits(core.base.sum.load(Relaxed));
        if let Some(shards) = core.shards.get() {
            for s in shards.iter() {
                for (acc, c) in counts.iter_mut().zip(s.0.counts.iter()) {
                    *acc += c.load(Relaxed);
                }
                sum += f64::from_bits(s.0.sum.load(Relaxed));
            }
        }
        sum
    }

    /// An owned snapshot (allocates; exporters use [`Histogram::read_into`]).
    #[must_use]
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut counts = Vec::new();
        let sum = self.read_into(&mut counts);
        HistogramSnapshot {
            bounds: self.core.bounds.clone(),
            count: counts.iter().sum(),
            counts,
            sum,
        }
    }
}

/// Index of the bucket for `v`: the first bound `>= v`, or `bounds.len()` for `+Inf`.
#[inline]
pub(crate) fn bucket_index(bounds: &[f64], v: f64) -> usize {
    // A linear scan beats binary search for the short bucket lists people use.
    if bounds.len() <= 16 {
        bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len())
    } else {
        bounds.partition_point(|b| *b < v)
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("bounds", &self.core.bounds)
            .finish_non_exhaustive()
    }
}

/// A point-in-time copy of a [`Histogram`].
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Finite upper bounds.
    pub bounds: Arc<[f64]>,
    /// Non-cumulative counts per bucket; one more than `bounds` (the last is `+Inf`).
    pub counts: Vec<u64>,
    /// Sum of all observations.
    pub sum: f64,
    /// Number of observations (equals the `+Inf` cumulative count).
    pub count: u64,
}

impl HistogramSnapshot {
    /// `(upper bound, cumulative count)` pairs, ending with `(+Inf, count)`.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        cumulative(&self.bounds, &self.counts)
    }
}

/// `(upper bound, cumulative count)` pairs for non-cumulative `counts`, ending at `+Inf`.
pub fn cumulative<'a>(
    bounds: &'a [f64],
    counts: &'a [u64],
) -> impl Iterator<Item = (f64, u64)> + 'a {
    bounds
        .iter()
        .copied()
        .chain(std::iter::once(f64::INFINITY))
        .zip(counts.iter().scan(0u64, |acc, c| {
            *acc += c;
            Some(*acc)
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn value_equal_to_bound_counts_in_that_bucket() {
        let h = Histogram::new(Buckets::new(&[0.25, 1.0, 2.5]).unwrap());
        for v in [0.25, 0.5, 0.5, 1.5, 3.0] {
            h.record(v);
        }
        let s = h.snapshot();
        assert_eq!(s.counts, vec![1, 2, 1, 1]);
        assert_eq!(s.count, 5);
        assert_eq!(s.sum, 5.75);
    }

    #[test]
    fn bucket_helpers() {
        assert_eq!(
            Buckets::linear(1.0, 2.0, 3).unwrap().bounds(),
            &[1.0, 3.0, 5.0]
        );
        assert_eq!(
            Buckets::exponential(1.0, 2.0, 4).unwrap().bounds(),
            &[1.0, 2.0, 4.0, 8.0]
        );
        assert!(Buckets::new(&[1.0, 1.0]).is_err());
        assert!(Buckets::new(&[f64::NAN]).is_err());
        assert!(Buckets::linear(0.0, 0.0, 3).is_err());
        assert!(Buckets::exponential(0.0, 2.0, 3).is_err());
        assert_eq!(
            Buckets::new(&[1.0, f64::INFINITY]).unwrap().bounds(),
            &[1.0]
        );
    }

    #[test]
    fn nan_is_ignored_and_infinities_land_at_the_ends() {
        let h = Histogram::new(Buckets::new(&[0.0, 1.0]).unwrap());
        h.record(f64::NAN);
        h.record(f64::NEG_INFINITY);
        h.record(f64::INFINITY);
        assert_eq!(h.snapshot().counts, vec![1, 0, 1]);
    }

    proptest! {
        #[test]
        fn matches_naive_model(
            bounds in proptest::collection::btree_set(-1000i32..1000, 1..40),
            values in proptest::collection::vec(-1100.0f64..1100.0, 0..300),
        ) {
            let bounds: Vec<f64> = bounds.into_iter().map(|b| f64::from(b) / 4.0).collect();
            let h = Histogram::new(Buckets::new(&bounds).unwrap());
            for v in &values { h.record(*v); }
            let s = h.snapshot();
            for (i, (le, cum)) in s.cumulative().enumerate() {
                let naive = values.iter().filter(|v| **v <= le).count() as u64;
                prop_assert_eq!(cum, naive, "bucket {} le={}", i, le);
            }
            prop_assert_eq!(s.count, values.len() as u64);
        }
    }
}
