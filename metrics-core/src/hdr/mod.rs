//! HDR-style log-linear histograms over a sliding time window.
//!
//! Recording is one bit-arithmetic index computation and two relaxed atomic adds (the
//! bucket in the current sub-window and the lifetime sum): lock-free, allocation-free,
//! O(1). The window is a ring of `sub_windows + 1` count arrays. Readers rotate the ring
//! when they find that a sub-window's time has passed, so writers never read a clock;
//! a snapshot merges the ring into an `hdrhistogram::Histogram` with the same layout
//! and takes quantiles, min, max, mean and stddev from it. Quantiles therefore follow
//! recent traffic (the last `window` to `window + window / sub_windows`, for readers that
//! look at least once per sub-window, as a scraper does), while the lifetime count and
//! sum stay monotonic, as Dropwizard's sliding-time-window reservoir and Prometheus
//! summaries expect.
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

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use crate::sync::Mutex;

use crate::clock::ClockHandle;
use crate::error::Error;
use crate::striped::{add_saturating, saturated, CachePadded};
use layout::Layout;

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
}

struct Core {
    layout: Layout,
    windows: Box<[Box<[AtomicU64]>]>,
    current: AtomicUsize,
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
/// use tachometer_core::{HdrConfig, HdrHistogram};
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
        let layout = config.validate()?;
        let windows = (0..=config.sub_windows)
            .map(|_| (0..layout.len).map(|_| AtomicU64::new(0)).collect())
            .collect();
        let sub_window_nanos =
            u64::try_from(config.window.as_nanos() / u128::from(config.sub_windows))
                .unwrap_or(u64::MAX);
        let started = clock.now();
        Ok(Self {
            core: Arc::new(Core {
                layout,
                windows,
                current: AtomicUsize::new(0),
                sum: CachePadded(AtomicU64::new(0)),
                retired: AtomicU64::new(0),
                sub_window_nanos,
                clock,
                rotation: Mutex::new(Rotation { started }),
            }),
        })
    }

    /// Records one value. Values above the configured range are clamped to its top.
    #[inline]
    pub fn record(&self, v: u64) {
        let core = &*self.core;
        let idx = core.layout.index_of(v);
        let w = core.current.load(Relaxed);
        core.windows[w][idx].fetch_add(1, Relaxed);
        add_saturating(&core.sum.0, v.min(core.layout.max_value()));
    }

    /// Advances the ring past sub-windows whose time is over.
    fn rotate(&self, rotation: &mut Rotation) {
        let core = &*self.core;
        let now = core.clock.now();
        let elapsed = now.saturating_sub(rotation.started) / core.sub_window_nanos;
        if elapsed == 0 {
            return;
        }
        let ring = core.windows.len();
        for _ in 0..elapsed.min(ring as u64) {
            let next = (core.current.load(Relaxed) + 1) % ring;
            // Swap, not store: an increment racing with the clear is either retired
            // here or stays in the fresh window. Nothing is lost from the count.
            let cleared: u64 = core.windows[next].iter().map(|c| c.swap(0, Relaxed)).sum();
            core.retired.fetch_add(cleared, Relaxed);
            core.current.store(next, Relaxed);
        }
        rotation.started += elapsed * core.sub_window_nanos;
    }

    /// Merges the window into an `hdrhistogram::Histogram` and reads the lifetime totals.
    #[must_use]
    pub fn snapshot(&self) -> HdrSnapshot {
        let core = &*self.core;
        let mut rotation = core.rotation.lock();
        self.rotate(&mut rotation);
        let l = core.layout;
        let mut window =
            hdrhistogram::Histogram::<u64>::new_with_bounds(l.lowest, l.highest, l.sigfig)
                .expect("layout parameters were validated at construction");
        let mut live = 0u64;
        let mut counts = vec![0u64; l.len];
        for w in core.windows.iter() {
            for (acc, c) in counts.iter_mut().zip(w.iter()) {
                *acc += c.load(Relaxed);
            }
        }
        for (i, c) in counts.iter().enumerate() {
            if *c > 0 {
                live += c;
                // In range by construction: index i exists in an identical layout.
                let _ = window.record_n(l.value_from_index(i), *c);
            }
        }
        let retired = core.retired.load(Relaxed);
        drop(rotation);
        HdrSnapshot {
            count: retired + live,
            sum: saturated(core.sum.0.load(Relaxed)),
            window,
        }
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
#[derive(Debug, Clone)]
pub struct HdrSnapshot {
    count: u64,
    sum: u64,
    window: hdrhistogram::Histogram<u64>,
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
        self.window.len()
    }

    /// The value at quantile `q` (0.0..=1.0) of the window, or `NaN` if it is empty.
    #[must_use]
    pub fn quantile(&self, q: f64) -> f64 {
        if self.window.is_empty() {
            return f64::NAN;
        }
        self.window.value_at_quantile(q.clamp(0.0, 1.0)) as f64
    }

    /// Smallest value in the window (bucket precision), `NaN` if empty.
    #[must_use]
    pub fn min(&self) -> f64 {
        if self.window.is_empty() {
            f64::NAN
        } else {
            self.window.min() as f64
        }
    }

    /// Largest value in the window (bucket precision), `NaN` if empty.
    #[must_use]
    pub fn max(&self) -> f64 {
        if self.window.is_empty() {
            f64::NAN
        } else {
            self.window.max() as f64
        }
    }

    /// Mean of the window, `NaN` if empty.
    #[must_use]
    pub fn mean(&self) -> f64 {
        if self.window.is_empty() {
            f64::NAN
        } else {
            self.window.mean()
        }
    }

    /// Population standard deviation of the window, `NaN` if empty.
    #[must_use]
    pub fn stddev(&self) -> f64 {
        if self.window.is_empty() {
            f64::NAN
        } else {
            self.window.stdev()
        }
    }

    /// The window as an `hdrhistogram::Histogram`, for merging or V2 serialization.
    #[must_use]
    pub fn window(&self) -> &hdrhistogram::Histogram<u64> {
        &self.window
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
            .serialize(&self.window, &mut out)
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
