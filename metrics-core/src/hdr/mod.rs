//! HDR-style log-linear histograms over a sliding time window.
//!
//! Recording is one bit-arithmetic index computation and two relaxed atomic adds (the
//! bucket in the current sub-window and the lifetime sum): lock-free and O(1). The
//! window is a ring of `sub_windows + 1` sets of counts, kept sparse (see `store.rs`):
//! 64-bucket chunks of `u16` counts allocated where values land, so a timer whose
//! values span 1 ms–1 s holds about 14 KiB and a window that saw nothing costs a null
//! pointer. Recording allocates only on the first value of a window and on the first
//! value in each 64-bucket chunk of a window (and once per chunk when a count first
//! passes 2^15 in one sub-window); after that it is allocation-free.
//!
//! Readers rotate the ring when they find that a sub-window's time has passed, so
//! writers never read a clock. A snapshot walks the touched chunks of the ring into a
//! sorted list of non-empty buckets, reusing the snapshot's buffer
//! ([`HdrHistogram::snapshot_into`]), and computes quantiles, min, max, mean and stddev
//! from it exactly as the `hdrhistogram` crate does for the same layout (tested).
//! Quantiles therefore follow recent traffic (the last `window` to `window + window /
//! sub_windows`, for readers that look at least once per sub-window, as a scraper does),
//! while the lifetime count and sum stay monotonic, as Dropwizard's sliding-time-window
//! reservoir and Prometheus summaries expect.
//!
//! The lifetime sum saturates instead of wrapping: it is exact below 2^63 and reads
//! `u64::MAX` from there on (2^63 ns is 292 years of recorded time; a histogram whose
//! range reaches `u64::MAX / 2` saturates on its third maximal value), so a `_sum`
//! exported as a counter never goes backwards.
//!
//! Relative error: values are reported as the highest value equivalent to their bucket,
//! which is within `1 / 2^ceil(log2(2 * 10^sigfig) - 1)` of the value: 0.78 % at the
//! default 2 significant figures, 0.098 % at 3.

pub(crate) mod layout;
mod store;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use crate::sync::Mutex;

use crate::clock::ClockHandle;
use crate::error::Error;
use crate::striped::{add_saturating, saturated, CachePadded};
use layout::Layout;
use store::Store;

/// Shape and window of an HDR histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HdrConfig {
    /// Smallest value told apart from 0 (rounded down to a power of two). Default 1.
    pub lowest: u64,
    /// Largest value tracked precisely; larger values are clamped. Default 3.6e12
    /// (one hour in nanoseconds).
    pub highest: u64,
    /// Significant decimal digits, 0..=5. Default 2 (relative error ≤ 0.78 %).
    pub significant_figures: u8,
    /// How far back quantiles look. Default 60 s.
    pub window: Duration,
    /// How many slices the window rotates in. Default 3.
    pub sub_windows: u32,
}

impl Default for HdrConfig {
    fn default() -> Self {
        Self {
            lowest: 1,
            highest: 3_600_000_000_000,
            significant_figures: 2,
            window: Duration::from_secs(60),
            sub_windows: 3,
        }
    }
}

impl HdrConfig {
    /// Sets [`HdrConfig::significant_figures`].
    #[must_use]
    pub fn significant_figures(mut self, digits: u8) -> Self {
        self.significant_figures = digits;
        self
    }

    /// Sets the value range.
    #[must_use]
    pub fn range(mut self, lowest: u64, highest: u64) -> Self {
        self.lowest = lowest;
        self.highest = highest;
        self
    }

    /// Sets the window and its number of slices.
    #[must_use]
    pub fn window(mut self, window: Duration, sub_windows: u32) -> Self {
        self.window = window;
        self.sub_windows = sub_windows;
        self
    }

    pub(crate) fn validate(&self) -> Result<Layout, Error> {
        if self.sub_windows == 0 || self.window < Duration::from_millis(self.sub_windows.into()) {
            return Err(Error::InvalidConfig(format!(
                "HDR window must be at least 1 ms per sub-window (got {:?} in {} sub-windows)",
                self.window, self.sub_windows
            )));
        }
        Layout::new(self.lowest, self.highest, self.significant_figures)
    }
}

struct Rotation {
    /// Start of the current sub-window, in clock nanoseconds.
    started: u64,
    /// The largest lifetime count reported so far: a count read while a bucket's carry
    /// is in flight can be 2^15 short, and a counter must never be seen going back.
    reported: u64,
}

struct Core {
    layout: Layout,
    store: Store,
    /// On its own cache line, so recorders' writes do not evict the read-mostly fields
    /// above from other cores.
    sum: CachePadded<AtomicU64>,
    /// Counts of windows already cleared, so the lifetime count stays monotonic.
    retired: AtomicU64,
    sub_window_nanos: u64,
    clock: ClockHandle,
    rotation: Mutex<Rotation>,
}

/// A lock-free log-linear histogram of `u64` values with windowed quantiles.
///
/// ```
/// use tachometer::{HdrConfig, HdrHistogram};
/// let h = HdrHistogram::new(HdrConfig::default()).unwrap();
/// for v in 1..=1000 { h.record(v); }
/// let s = h.snapshot();
/// assert_eq!(s.count(), 1000);
/// assert!((s.quantile(0.5) - 500.0).abs() <= 500.0 * 0.01);
/// ```
#[derive(Clone)]
pub struct HdrHistogram {
    core: Arc<Core>,
}

impl HdrHistogram {
    /// A histogram on the system clock, not attached to any registry.
    pub fn new(config: HdrConfig) -> Result<Self, Error> {
        Self::with_clock(config, ClockHandle::System)
    }

    pub(crate) fn with_clock(config: HdrConfig, clock: ClockHandle) -> Result<Self, Error> {
        Self::build(config, clock, None)
    }

    /// `family_bytes`: the family's running byte total, kept up to date as buckets are
    /// allocated (for its byte cap).
    pub(crate) fn build(
        config: HdrConfig,
        clock: ClockHandle,
        family_bytes: Option<Arc<std::sync::atomic::AtomicUsize>>,
    ) -> Result<Self, Error> {
        let layout = config.validate()?;
        let ring = config.sub_windows as usize + 1;
        let sub_window_nanos =
            u64::try_from(config.window.as_nanos() / u128::from(config.sub_windows))
                .unwrap_or(u64::MAX);
        let started = clock.now();
        Ok(Self {
            core: Arc::new(Core {
                layout,
                store: Store::new(layout.len, ring, family_bytes),
                sum: CachePadded(AtomicU64::new(0)),
                retired: AtomicU64::new(0),
                sub_window_nanos,
                clock,
                rotation: Mutex::new(Rotation {
                    started,
                    reported: 0,
                }),
            }),
        })
    }

    /// Records one value. Values above the configured range are clamped to its top.
    #[inline]
    pub fn record(&self, v: u64) {
        let core = &*self.core;
        core.store.increment(core.layout.index_of(v));
        add_saturating(&core.sum.0, v.min(core.layout.max_value()));
    }

    /// Heap bytes this histogram holds: its fixed part plus the bucket chunks allocated
    /// so far (which only grow, up to every chunk of every window being touched).
    #[must_use]
    pub fn resident_bytes(&self) -> usize {
        Self::fixed_bytes(self.core.store_windows()) + self.core.store.bytes()
    }

    /// The allocation behind a histogram with `windows` ring entries, before any value.
    pub(crate) fn fixed_bytes(windows: usize) -> usize {
        // The `Arc` allocation (two counts + `Core`) and the ring's pointer array.
        2 * std::mem::size_of::<usize>()
            + std::mem::size_of::<Core>()
            + windows * std::mem::size_of::<usize>()
    }

    /// Advances the ring past sub-windows whose time is over.
    fn rotate(&self, rotation: &mut Rotation) {
        let core = &*self.core;
        let now = core.clock.now();
        let elapsed = now.saturating_sub(rotation.started) / core.sub_window_nanos;
        if elapsed == 0 {
            return;
        }
        let ring = core.store_windows();
        for _ in 0..elapsed.min(ring as u64) {
            // Counts are swapped out, not overwritten: an increment racing with the
            // clear is either retired here or stays in the fresh window. Nothing is lost
            // from the count.
            core.retired.fetch_add(core.store.advance(), Relaxed);
        }
        rotation.started += elapsed * core.sub_window_nanos;
    }

    /// Reads the window and the lifetime totals into a new snapshot.
    #[must_use]
    pub fn snapshot(&self) -> HdrSnapshot {
        let mut s = HdrSnapshot::default();
        self.snapshot_into(&mut s);
        s
    }

    /// Reads the window and the lifetime totals into `into`, reusing its buffer: once
    /// the buffer has grown to the number of non-empty buckets, this allocates nothing
    /// (how a registry walk reads 10,000 series without allocating per series).
    pub fn snapshot_into(&self, into: &mut HdrSnapshot) {
        let core = &*self.core;
        let mut rotation = core.rotation.lock();
        self.rotate(&mut rotation);
        into.layout = core.layout;
        into.buckets.clear();
        let mut live = 0u64;
        core.store.for_each_nonzero(|i, c| {
            live += c;
            // Layout indices fit in u32: the largest layout has well under 2^32 buckets.
            into.buckets.push((i as u32, c));
        });
        into.window_count = live;
        let count = (core.retired.load(Relaxed) + live).max(rotation.reported);
        rotation.reported = count;
        drop(rotation);
        into.count = count;
        into.sum = saturated(core.sum.0.load(Relaxed));
    }
}

impl Core {
    fn store_windows(&self) -> usize {
        self.store.windows()
    }
}

impl fmt::Debug for HdrHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HdrHistogram")
            .field("layout", &self.core.layout)
            .finish_non_exhaustive()
    }
}

/// Lifetime totals plus the recent window of an [`HdrHistogram`].
///
/// Statistics are computed from the window's non-empty buckets exactly as the
/// `hdrhistogram` crate computes them for the same layout.
#[derive(Debug, Clone, Default)]
pub struct HdrSnapshot {
    count: u64,
    sum: u64,
    window_count: u64,
    layout: Layout,
    /// Non-empty buckets of the window, by ascending index: `(index, count)`.
    buckets: Vec<(u32, u64)>,
}

impl HdrSnapshot {
    /// Observations since creation (monotonic).
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of all observations since creation (values above the range count as the top).
    /// Never decreases: exact below 2^63, `u64::MAX` (saturated) from there on.
    #[must_use]
    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// Observations in the current window.
    #[must_use]
    pub fn window_count(&self) -> u64 {
        self.window_count
    }

    /// The value at quantile `q` (0.0..=1.0) of the window, or `NaN` if it is empty.
    #[must_use]
    pub fn quantile(&self, q: f64) -> f64 {
        if self.window_count == 0 {
            return f64::NAN;
        }
        let q = q.clamp(0.0, 1.0);
        // HdrHistogram's rank rule: the first bucket where the running count reaches
        // ceil(q · n), at least 1.
        let rank = ((q * self.window_count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for &(i, c) in &self.buckets {
            seen += c;
            if seen >= rank {
                let i = i as usize;
                return if q == 0.0 {
                    self.layout.value_from_index(i)
                } else {
                    self.layout.highest_of_index(i)
                } as f64;
            }
        }
        f64::NAN
    }

    /// Smallest value in the window (bucket precision), `NaN` if empty.
    #[must_use]
    pub fn min(&self) -> f64 {
        self.min_value().map_or(f64::NAN, |v| v as f64)
    }

    /// Largest value in the window (bucket precision), `NaN` if empty.
    #[must_use]
    pub fn max(&self) -> f64 {
        self.max_value().map_or(f64::NAN, |v| v as f64)
    }

    /// Smallest value in the window as an integer (the lowest value of its bucket),
    /// `None` if empty.
    #[must_use]
    pub fn min_value(&self) -> Option<u64> {
        let &(i, _) = self.buckets.first()?;
        Some(self.layout.value_from_index(i as usize))
    }

    /// Largest value in the window as an integer (the highest value of its bucket),
    /// `None` if empty.
    #[must_use]
    pub fn max_value(&self) -> Option<u64> {
        let &(i, _) = self.buckets.last()?;
        Some(self.layout.highest_of_index(i as usize))
    }

    /// Mean of the window, `NaN` if empty.
    #[must_use]
    pub fn mean(&self) -> f64 {
        if self.window_count == 0 {
            return f64::NAN;
        }
        let n = self.window_count as f64;
        self.buckets.iter().fold(0.0, |total, &(i, c)| {
            total + self.layout.median_of_index(i as usize) as f64 * c as f64 / n
        })
    }

    /// Population standard deviation of the window, `NaN` if empty.
    #[must_use]
    pub fn stddev(&self) -> f64 {
        if self.window_count == 0 {
            return f64::NAN;
        }
        let mean = self.mean();
        let dev = self.buckets.iter().fold(0.0, |total, &(i, c)| {
            let d = self.layout.median_of_index(i as usize) as f64 - mean;
            total + d * d * c as f64
        });
        (dev / self.window_count as f64).sqrt()
    }

    /// The window as an `hdrhistogram::Histogram` (built on each call), for merging
    /// with other HdrHistogram data.
    #[must_use]
    pub fn window(&self) -> hdrhistogram::Histogram<u64> {
        let l = &self.layout;
        let (lowest, highest, sigfig) = if l.len == 0 {
            let d = HdrConfig::default();
            (d.lowest, d.highest, d.significant_figures)
        } else {
            (l.lowest, l.highest, l.sigfig)
        };
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(lowest, highest, sigfig)
            .expect("layout parameters were validated at construction");
        for &(i, c) in &self.buckets {
            // In range by construction: index i exists in an identical layout.
            let _ = h.record_n(l.value_from_index(i as usize), c);
        }
        h
    }

    /// The window in HdrHistogram's V2 binary encoding (what `HistogramLogProcessor` and
    /// the other HdrHistogram ports read), e.g. to ship raw latency distributions.
    ///
    /// Needs the `hdr-serialization` feature (on by default in `tachometer`), which
    /// enables `hdrhistogram`'s encoder and its `flate2`, `nom` and `base64` dependencies.
    #[cfg(feature = "hdr-serialization")]
    #[cfg_attr(docsrs, doc(cfg(feature = "hdr-serialization")))]
    pub fn window_v2_bytes(&self) -> Result<Vec<u8>, Error> {
        use hdrhistogram::serialization::Serializer as _;
        let mut out = Vec::new();
        hdrhistogram::serialization::V2Serializer::new()
            .serialize(&self.window(), &mut out)
            .map_err(|e| Error::InvalidConfig(format!("cannot encode HDR window: {e}")))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use proptest::prelude::*;

    fn manual(config: HdrConfig) -> (HdrHistogram, ManualClock) {
        let clock = ManualClock::new();
        let h =
            HdrHistogram::with_clock(config, ClockHandle::Custom(Arc::new(clock.clone()))).unwrap();
        (h, clock)
    }

    #[test]
    fn reference_vector_ten_million() {
        let h = HdrHistogram::new(
            HdrConfig::default()
                .range(1, 3_600_000_000)
                .significant_figures(3),
        )
        .unwrap();
        for _ in 0..9 {
            h.record(1);
        }
        h.record(10_000_000);
        let s = h.snapshot();
        assert_eq!(s.count(), 10);
        assert_eq!(s.quantile(0.5), 1.0);
        assert_eq!(s.quantile(0.9), 1.0);
        assert_eq!(s.quantile(0.95), 10_002_431.0);
        assert_eq!(s.max(), 10_002_431.0);
        assert_eq!(s.min(), 1.0);
        assert_eq!(s.mean(), 999_834.5);
        assert_eq!(s.stddev(), 2_999_500.5);
        assert_eq!(s.sum(), 10_000_009);
    }

    #[test]
    fn lifetime_sum_saturates_and_never_goes_backwards() {
        let h = HdrHistogram::new(HdrConfig::default().range(1, u64::MAX / 2)).unwrap();
        let top = h.core.layout.max_value();
        let mut last = 0;
        for _ in 0..5 {
            h.record(u64::MAX / 2);
            let s = h.snapshot();
            assert!(s.sum() >= last, "{} < {last}", s.sum());
            last = s.sum();
        }
        assert_eq!(h.snapshot().count(), 5);
        assert_eq!(last, u64::MAX, "top value {top}");
        // Hours in nanoseconds, the timer default: 5.1 M records used to wrap the sum.
        let h = HdrHistogram::new(HdrConfig::default()).unwrap();
        let hour = 3_600_000_000_000u64;
        h.core.sum.0.store((1 << 63) - 3 * hour, Relaxed);
        let mut last = h.snapshot().sum();
        for _ in 0..10 {
            h.record(hour);
            let now = h.snapshot().sum();
            assert!(now >= last, "{now} < {last}");
            last = now;
        }
        assert_eq!(last, u64::MAX);
    }

    #[test]
    #[cfg(feature = "hdr-serialization")]
    fn v2_serialization_round_trips() {
        use hdrhistogram::serialization::Deserializer;
        let h = HdrHistogram::new(HdrConfig::default()).unwrap();
        for v in [5u64, 500, 50_000, 5_000_000] {
            h.record(v);
        }
        let s = h.snapshot();
        let bytes = s.window_v2_bytes().unwrap();
        let back: hdrhistogram::Histogram<u64> =
            Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back.value_at_quantile(1.0) as f64, s.max());
    }

    #[test]
    fn window_forgets_old_values_but_lifetime_count_stays() {
        let (h, clock) = manual(HdrConfig::default().window(Duration::from_secs(60), 3));
        h.record(1_000);
        clock.advance(Duration::from_secs(20));
        assert_eq!(h.snapshot().window_count(), 1);
        h.record(2_000);
        clock.advance(Duration::from_secs(20));
        let s = h.snapshot();
        assert_eq!(s.window_count(), 2);
        clock.advance(Duration::from_secs(40));
        // 80 s after the first value: it has been rotated out; the second (40 s old) stays.
        let s = h.snapshot();
        assert_eq!(
            s.window_count(),
            1,
            "only the recent value is in the window"
        );
        assert_eq!(s.count(), 2);
        clock.advance(Duration::from_secs(600));
        let s = h.snapshot();
        assert_eq!(s.window_count(), 0);
        assert!(s.quantile(0.5).is_nan());
        assert_eq!(s.count(), 2);
        assert_eq!(s.sum(), 3_000);
    }

    #[test]
    fn concurrent_records_with_rotations_lose_nothing() {
        let (h, clock) = manual(HdrConfig::default().window(Duration::from_millis(30), 3));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for i in 0..250_000u64 {
                        h.record(1 + (i * (t + 1)) % 1_000_000);
                    }
                })
            })
            .collect();
        for _ in 0..200 {
            clock.advance(Duration::from_millis(7));
            let _ = h.snapshot();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(h.snapshot().count(), 1_000_000);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Every statistic equals what the `hdrhistogram` crate computes from the same
        /// values with the same layout (the snapshot no longer builds one).
        #[test]
        fn statistics_match_the_hdrhistogram_crate(
            values in proptest::collection::vec(0u64..u64::MAX, 1..400),
            shift in 0u32..64,
            sigfig in 1u8..=3,
            lowest_shift in 0u32..4,
        ) {
            let config = HdrConfig::default().range(1 << lowest_shift, 3_600_000_000_000).significant_figures(sigfig);
            let h = HdrHistogram::new(config).unwrap();
            let mut reference = hdrhistogram::Histogram::<u64>::new_with_bounds(config.lowest, config.highest, sigfig).unwrap();
            let top = h.core.layout.max_value();
            for v in &values {
                let v = (v >> shift).min(top);
                h.record(v);
                reference.record(v).unwrap();
            }
            let s = h.snapshot();
            prop_assert_eq!(s.window_count(), reference.len());
            for q in [0.0, 0.001, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0] {
                prop_assert_eq!(s.quantile(q), reference.value_at_quantile(q) as f64, "q={}", q);
            }
            prop_assert_eq!(s.min_value(), Some(reference.min()));
            prop_assert_eq!(s.max_value(), Some(reference.max()));
            prop_assert_eq!(s.mean(), reference.mean());
            prop_assert_eq!(s.stddev(), reference.stdev());
            prop_assert_eq!(s.window().len(), reference.len());
        }

        #[test]
        fn quantiles_within_stated_error(
            values in proptest::collection::vec(1u64..3_600_000_000_000, 1..500),
            q in 0.0f64..=1.0,
        ) {
            let h = HdrHistogram::new(HdrConfig::default()).unwrap();
            for v in &values { h.record(*v); }
            let mut sorted = values.clone();
            sorted.sort_unstable();
            // HdrHistogram's rank rule: the smallest value with at least ceil(q·n) values at or below it.
            let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
            let exact = sorted[rank - 1] as f64;
            let got = h.snapshot().quantile(q);
            prop_assert!((got - exact).abs() <= exact * 0.01, "q={} exact={} got={}", q, exact, got);
        }
    }
}
