//! Native histograms: Prometheus' sparse, exponential histograms.
//!
//! A value `v > 0` lands in bucket `ceil(2^schema · log2 v)`, so every bucket spans the
//! same ratio `2^(2^−schema)` (schema 3: 9 %); negative values mirror that; values within
//! `±zero_threshold` count in the zero bucket. Bucket indices are client_golang's to the
//! bit (see `index.rs`).
//!
//! # Storage and recording
//!
//! Each sign has a dense *window* of `max_buckets` atomic counters covering consecutive
//! keys. Recording is a key computation, one `fetch_add` on the bucket and one add to
//! the (striped) sum: lock-free and allocation-free, like the explicit histogram. The
//! first value positions the window around itself.
//!
//! A value outside the window takes the slow path (a mutex, rare): a new layout is
//! planned from the populated keys — move the window if the populated range fits,
//! otherwise widen the zero bucket (up to `max_zero_threshold`) or halve the resolution
//! (`schema − 1`, merging bucket pairs, as client_golang does when it exceeds its bucket
//! limit) until it fits — then published, and the old layout's counters are *sealed*
//! one by one (swapped with a marker bit) and moved over. A recorder that still held the
//! old layout sees the marker in its `fetch_add` result and records again into the new
//! one, so no observation is lost or counted twice, and no recorder ever waits.
//! Retired layouts are freed when the histogram drops (moves are bounded: at most about
//! `log2(max_buckets) + 2` per schema, and 12 halvings).
//!
//! Unlike client_golang, the limit bounds the *range* of keys per sign rather than the
//! number of populated buckets (populated ≤ range, so no more than `max_buckets` are ever
//! exported per sign), and memory per series is fixed at `8 · max_buckets` bytes.
//!
//! Classic buckets can be kept alongside ("classic + native"), so text-format scrapers
//! still see a histogram.

// One of the few modules allowed `unsafe` (see ARCHITECTURE.md, "Unsafe"); every block
// states its SAFETY argument.
#![allow(unsafe_code)]

mod index;
mod table;

use std::fmt;
use std::ptr;
use std::sync::atomic::{
    fence, AtomicI64, AtomicPtr, AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use std::sync::Arc;

use crate::sync::Mutex;

use crate::error::Error;
use crate::histogram::{bucket_index, Buckets};
use crate::striped::Striped;

use index::{coarsen, max_key};
pub(crate) use index::{key8, key_at, upper_bound};

/// The coarsest schema (bucket ratio 2^16).
pub const MIN_SCHEMA: i8 = -4;
/// The finest schema (bucket ratio 2^(1/256), 0.27 %).
pub const MAX_SCHEMA: i8 = 8;
/// client_golang's default zero threshold, 2^−128: a boundary at every schema, and > 0 so
/// that Prometheus 2.42 recognises even an empty histogram as native.
pub const DEFAULT_ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39;
/// The default cap on buckets per sign (the Prometheus docs' suggestion).
pub const DEFAULT_MAX_BUCKETS: u32 = 160;
/// The default schema: 3, buckets 9.05 % wide (the docs' suggested factor 1.1).
pub const DEFAULT_SCHEMA: i8 = 3;

/// Marks a retired layout's counter; recorders that see it record again.
const SEALED: u64 = 1 << 63;
/// A window whose position the first value decides.
const UNSET: i64 = i64::MIN;

/// Configuration of a [`NativeHistogram`].
///
/// ```
/// use tachometer_core::{Buckets, NativeConfig};
/// let c = NativeConfig::new().factor(1.1).max_buckets(100).classic(Buckets::default_latency());
/// assert_eq!(c.schema_value(), 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct NativeConfig {
    schema: i8,
    zero_threshold: f64,
    max_zero_threshold: f64,
    max_buckets: u32,
    classic: Option<Buckets>,
}

impl Default for NativeConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl NativeConfig {
    /// Schema 3, zero threshold 2^−128, at most 160 buckets per sign, no classic buckets.
    pub fn new() -> Self {
        Self {
            schema: DEFAULT_SCHEMA,
            zero_threshold: DEFAULT_ZERO_THRESHOLD,
            max_zero_threshold: 0.0,
            max_buckets: DEFAULT_MAX_BUCKETS,
            classic: None,
        }
    }

    /// Latency in seconds, classic + native: the defaults plus the classic buckets
    /// [`Buckets::default_latency`], so scrapers without native-histogram support still
    /// get a histogram.
    pub fn latency() -> Self {
        Self::new().classic(Buckets::default_latency())
    }

    /// The starting resolution, −4…8: bucket bounds grow by `2^(2^−schema)`. Checked at
    /// registration (or by [`NativeHistogram::with_config`]).
    pub fn schema(mut self, schema: i8) -> Self {
        self.schema = schema;
        self
    }

    /// The starting resolution as the largest schema whose bucket growth factor is at
    /// most `factor` (client_golang's `NativeHistogramBucketFactor`; 1.1 → schema 3).
    /// Factors ≤ 1 pick the finest schema.
    pub fn factor(mut self, factor: f64) -> Self {
        self.schema = if factor.is_nan() || factor <= 1.0 {
            MAX_SCHEMA
        } else {
            let s = -factor.log2().log2().floor();
            s.clamp(f64::from(MIN_SCHEMA), f64::from(MAX_SCHEMA)) as i8
        };
        self
    }

    /// Values with `|v| <= threshold` count in the zero bucket (default 2^−128; `0.0`
    /// keeps only exact zeros there).
    pub fn zero_threshold(mut self, threshold: f64) -> Self {
        self.zero_threshold = threshold;
        self
    }

    /// How far the zero bucket may widen to stay within `max_buckets` before the
    /// resolution is halved instead (default 0: never widen).
    pub fn max_zero_threshold(mut self, threshold: f64) -> Self {
        self.max_zero_threshold = threshold;
        self
    }

    /// The widest range of bucket keys kept per sign (default 160, at least 8); beyond
    /// it the zero bucket widens or the resolution halves. Memory per series is
    /// `8 · max_buckets` bytes per sign in use.
    pub fn max_buckets(mut self, max: u32) -> Self {
        self.max_buckets = max;
        self
    }

    /// Also keeps classic buckets with these bounds ("classic + native").
    pub fn classic(mut self, buckets: Buckets) -> Self {
        self.classic = Some(buckets);
        self
    }

    /// Drops the classic buckets (native only).
    pub fn without_classic(mut self) -> Self {
        self.classic = None;
        self
    }

    /// The starting schema.
    #[must_use]
    pub fn schema_value(&self) -> i8 {
        self.schema
    }

    /// The classic buckets, if any.
    #[must_use]
    pub fn classic_buckets(&self) -> Option<&Buckets> {
        self.classic.as_ref()
    }

    /// Checks every value; the error says which one to change.
    pub fn validate(&self) -> Result<(), Error> {
        if !(MIN_SCHEMA..=MAX_SCHEMA).contains(&self.schema) {
            return Err(Error::InvalidConfig(format!(
                "native histogram schema {} is out of range: use {MIN_SCHEMA}..={MAX_SCHEMA} (3 = buckets 9 % wide)",
                self.schema
            )));
        }
        if !(self.zero_threshold >= 0.0 && self.zero_threshold.is_finite()) {
            return Err(Error::InvalidConfig(format!(
                "native histogram zero threshold {} must be finite and >= 0",
                self.zero_threshold
            )));
        }
        if !(self.max_zero_threshold >= 0.0 && self.max_zero_threshold.is_finite()) {
            return Err(Error::InvalidConfig(format!(
                "native histogram max zero threshold {} must be finite and >= 0",
                self.max_zero_threshold
            )));
        }
        if !(8..=1 << 16).contains(&self.max_buckets) {
            return Err(Error::InvalidConfig(format!(
                "native histogram max_buckets {} is out of range: use 8..=65536 (160 is usual)",
                self.max_buckets
            )));
        }
        Ok(())
    }

    /// The configuration, rendered for comparisons and conflict messages.
    pub(crate) fn describe(&self) -> String {
        let mut s = format!(
            "native schema {} zero threshold {:e} max zero threshold {:e} max buckets {}",
            self.schema, self.zero_threshold, self.max_zero_threshold, self.max_buckets
        );
        if let Some(c) = &self.classic {
            s.push_str(&format!(", classic buckets {:?}", c.bounds()));
        }
        s
    }
}

/// One sign's consecutive buckets: key `offset + i` is `counts[i]`.
struct Window {
    offset: AtomicI64,
    counts: Box<[AtomicU64]>,
}

impl Window {
    fn new(offset: i64, len: usize) -> Self {
        Self {
            offset: AtomicI64::new(offset),
            counts: (0..len).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The populated keys, ascending (racy: a plan input, not a reading).
    fn populated(&self) -> Vec<i32> {
        let off = self.offset.load(Acquire);
        if off == UNSET {
            return Vec::new();
        }
        (self.counts.iter().enumerate())
            .filter(|(_, c)| c.load(Acquire) != 0)
            .map(|(i, _)| (off + i as i64) as i32)
            .collect()
    }

    /// Every key the window can hold (once positioned), ascending.
    fn range(&self) -> Vec<i32> {
        let off = self.offset.load(Acquire);
        if off == UNSET {
            return Vec::new();
        }
        (0..self.counts.len())
            .map(|i| (off + i as i64) as i32)
            .collect()
    }
}

/// A schema, a zero bucket and two windows. Immutable apart from the counters (and the
/// first layout's positive window offset, set once by the first value).
struct Layout {
    schema: i8,
    zero_threshold: f64,
    zero: AtomicU64,
    pos: Window,
    neg: Window,
}

/// What the slow path plans: a layout's parameters.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    schema: i8,
    zero_threshold: f64,
    /// Keys (ascending, distinct) per sign at `schema` the layout must hold.
    pos: Vec<i32>,
    neg: Vec<i32>,
}

impl Plan {
    fn include(&mut self, negative: bool, key: i32) {
        let keys = if negative {
            &mut self.neg
        } else {
            &mut self.pos
        };
        if let Err(i) = keys.binary_search(&key) {
            keys.insert(i, key);
        }
    }

    /// Shrinks the key sets until each spans at most `cap` keys, one remedy at a time as
    /// client_golang does: widen the zero bucket to the lowest populated bucket while it
    /// stays within `max_zt`, else halve the resolution. At the coarsest schema the zero
    /// bucket widens regardless (only reachable with caps below ~140).
    fn fit(&mut self, cap: i64, max_zt: f64) {
        let too_wide = |k: &[i32]| match (k.first(), k.last()) {
            (Some(lo), Some(hi)) => i64::from(*hi) - i64::from(*lo) + 1 > cap,
            _ => false,
        };
        while too_wide(&self.pos) || too_wide(&self.neg) {
            let lowest = [self.pos.first(), self.neg.first()]
                .into_iter()
                .flatten()
                .min()
                .copied();
            let Some(lowest) = lowest else { break };
            let widened = upper_bound(lowest, self.schema);
            if widened <= max_zt || self.schema == MIN_SCHEMA {
                self.zero_threshold = self.zero_threshold.max(widened);
                self.pos.retain(|k| *k > lowest);
                self.neg.retain(|k| *k > lowest);
            } else {
                self.schema -= 1;
                for keys in [&mut self.pos, &mut self.neg] {
                    for k in keys.iter_mut() {
                        *k = coarsen(*k, 1);
                    }
                    keys.dedup();
                }
            }
        }
    }

    fn build(&self, cap: usize) -> Layout {
        // Centre the populated range in the window: the slack on either side halves at
        // worst with every move, which bounds the moves per schema.
        let window = |k: &[i32]| match (k.first(), k.last()) {
            (Some(lo), Some(hi)) => {
                let slack = (cap as i64 - (i64::from(*hi) - i64::from(*lo) + 1)) / 2;
                Window::new(i64::from(*lo) - slack, cap)
            }
            _ => Window::new(0, 0),
        };
        Layout {
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero: AtomicU64::new(0),
            pos: window(&self.pos),
            neg: window(&self.neg),
        }
    }
}

/// State only the slow path (moves, reads) touches, under a mutex.
struct Slow {
    /// Layouts replaced by newer ones; recorders may still hold them, so they are freed
    /// only when the histogram drops.
    retired: Vec<*mut Layout>,
    /// Counts that did not fit a freshly planned layout (a recorder raced the plan):
    /// `(negative, key at the new schema, count)`.
    leftovers: Vec<(bool, i32, u64)>,
}

struct Core {
    layout: AtomicPtr<Layout>,
    sum: Striped<f64>,
    pos_inf: AtomicU64,
    neg_inf: AtomicU64,
    classic_bounds: Option<Arc<[f64]>>,
    classic: Box<[AtomicU64]>,
    max_buckets: usize,
    max_zero_threshold: f64,
    /// Layouts replaced so far (each allocated its successor).
    moves: AtomicU64,
    slow: Mutex<Slow>,
}

// SAFETY: the raw pointers (`layout`, `Slow::retired`) point to heap layouts owned by
// this `Core` and freed only in `Drop`; all shared mutation goes through atomics or the
// `slow` mutex.
unsafe impl Send for Core {}
// SAFETY: see `Send`.
unsafe impl Sync for Core {}

impl Drop for Core {
    fn drop(&mut self) {
        let slow = self.slow.get_mut();
        for p in slow.retired.drain(..).chain([*self.layout.get_mut()]) {
            // SAFETY: every pointer came from `Box::into_raw` and appears exactly once
            // (current or retired); no recorder can exist while `&mut self` does.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// A native (sparse, exponential) histogram. Cheap to clone; `record` is lock-free and
/// allocation-free.
///
/// ```
/// use tachometer_core::{NativeConfig, NativeHistogram};
/// let h = NativeHistogram::with_config(NativeConfig::new().schema(0)).unwrap();
/// for v in [0.0, 1.5, 3.0, 100.0] { h.record(v); }
/// let s = h.snapshot();
/// assert_eq!((s.count, s.sum, s.zero_count), (4, 104.5, 1));
/// assert_eq!(s.positive.iter().collect::<Vec<_>>(), vec![(1, 1), (2, 1), (7, 1)]);
/// ```
#[derive(Clone)]
pub struct NativeHistogram {
    core: Arc<Core>,
}

impl Default for NativeHistogram {
    fn default() -> Self {
        Self::build(&NativeConfig::new())
    }
}

impl NativeHistogram {
    /// A native-only histogram with the defaults (schema 3, 160 buckets per sign).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A histogram with `config`, checked first.
    pub fn with_config(config: NativeConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self::build(&config))
    }

    /// Builds from a validated configuration.
    pub(crate) fn build(config: &NativeConfig) -> Self {
        let cap = config.max_buckets as usize;
        let first = Layout {
            schema: config.schema,
            zero_threshold: config.zero_threshold,
            zero: AtomicU64::new(0),
            pos: Window::new(UNSET, cap),
            neg: Window::new(0, 0),
        };
        let classic_bounds = config.classic.as_ref().map(|b| Arc::from(b.bounds()));
        let classic_len = config.classic.as_ref().map_or(0, |b| b.bounds().len() + 1);
        Self {
            core: Arc::new(Core {
                layout: AtomicPtr::new(Box::into_raw(Box::new(first))),
                sum: Striped::default(),
                pos_inf: AtomicU64::new(0),
                neg_inf: AtomicU64::new(0),
                classic_bounds,
                classic: (0..classic_len).map(|_| AtomicU64::new(0)).collect(),
                max_buckets: cap,
                max_zero_threshold: config.max_zero_threshold.max(config.zero_threshold),
                moves: AtomicU64::new(0),
                slow: Mutex::new(Slow {
                    retired: Vec::new(),
                    leftovers: Vec::new(),
                }),
            }),
        }
    }

    /// Records one observation. `NaN` is ignored, as by [`Histogram`](crate::Histogram)
    /// (it has no bucket and would poison the sum); `±Inf` count in the overflow buckets.
    #[inline]
    pub fn record(&self, v: f64) {
        if v.is_nan() {
            return;
        }
        let core = &*self.core;
        if let Some(bounds) = &core.classic_bounds {
            // Classic first: a reader takes native counts before classic ones, so it
            // never sees more native observations than the classic count.
            core.classic[bucket_index(bounds, v)].fetch_add(1, Relaxed);
        }
        let a = v.abs();
        if a == f64::INFINITY {
            let inf = if v > 0.0 {
                &core.pos_inf
            } else {
                &core.neg_inf
            };
            inf.fetch_add(1, Release);
        } else {
            core.place(a, v < 0.0);
        }
        core.sum.add(v);
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn record_duration(&self, d: std::time::Duration) {
        self.record(d.as_secs_f64());
    }

    /// Reads the histogram into `snap`, reusing its buffers (exporters allocate nothing
    /// per series). Waits only for a concurrent layout move, never for recorders.
    pub fn read_into(&self, snap: &mut NativeSnapshot) {
        let core = &*self.core;
        let _slow = core.slow.lock();
        let l = core.current();
        snap.schema = l.schema;
        snap.zero_threshold = l.zero_threshold;
        snap.zero_count = l.zero.load(Acquire);
        read_window(&l.pos, &mut snap.positive);
        read_window(&l.neg, &mut snap.negative);
        snap.positive.inf = core.pos_inf.load(Acquire);
        snap.negative.inf = core.neg_inf.load(Acquire);
        snap.classic_counts.clear();
        snap.classic_counts
            .extend(core.classic.iter().map(|c| c.load(Relaxed)));
        snap.classic_bounds.clone_from(&core.classic_bounds);
        snap.count = if snap.classic_bounds.is_some() {
            snap.classic_counts.iter().sum()
        } else {
            snap.zero_count + snap.positive.total() + snap.negative.total()
        };
        snap.sum = core.sum.sum();
        snap.moves = core.moves.load(Relaxed);
    }

    /// An owned snapshot (allocates; exporters use [`NativeHistogram::read_into`]).
    #[must_use]
    pub fn snapshot(&self) -> NativeSnapshot {
        let mut s = NativeSnapshot::default();
        self.read_into(&mut s);
        s
    }

    /// The classic bounds, if configured.
    #[must_use]
    pub fn classic_bounds(&self) -> Option<&[f64]> {
        self.core.classic_bounds.as_deref()
    }
}

fn read_window(w: &Window, out: &mut NativeSide) {
    out.counts.clear();
    let off = w.offset.load(Acquire);
    out.first_key = 0;
    if off == UNSET {
        return;
    }
    let first = w.counts.iter().position(|c| c.load(Acquire) != 0);
    let last = w.counts.iter().rposition(|c| c.load(Acquire) != 0);
    if let (Some(first), Some(last)) = (first, last) {
        // A count may appear between the two scans; reading it again is harmless.
        out.counts
            .extend(w.counts[first..=last].iter().map(|c| c.load(Acquire)));
        out.first_key = (off + first as i64) as i32;
    }
}

impl Core {
    #[inline]
    fn current(&self) -> &Layout {
        // SAFETY: `layout` always points to a live layout (set in `build`, replaced only
        // under `slow` by another live one); layouts are freed only in `Drop`.
        unsafe { &*self.layout.load(Acquire) }
    }

    /// Adds one observation of magnitude `a` (finite) to the current layout.
    #[inline]
    fn place(&self, a: f64, negative: bool) {
        let mut l = self.current();
        loop {
            let prev = if a <= l.zero_threshold {
                l.zero.fetch_add(1, Release)
            } else {
                let key = i64::from(key_at(key8(a), l.schema));
                let w = if negative { &l.neg } else { &l.pos };
                let mut off = w.offset.load(Relaxed);
                if off == UNSET {
                    off = w.position(key);
                }
                match w.counts.get(key.wrapping_sub(off) as usize) {
                    Some(c) => c.fetch_add(1, Release),
                    None => {
                        l = self.move_for(a, negative, l);
                        continue;
                    }
                }
            };
            if prev & SEALED == 0 {
                return;
            }
            // The layout was retired after this recorder loaded it; the sealing swap
            // happened after the new layout was published.
            fence(Acquire);
            l = self.current();
        }
    }

    /// Slow path: `a` falls outside `seen`'s windows. Plans and publishes a layout that
    /// holds it (unless another thread already did) and returns the current layout.
    #[cold]
    #[inline(never)]
    fn move_for(&self, a: f64, negative: bool, seen: &Layout) -> &Layout {
        let mut slow = self.slow.lock();
        let cur = self.current();
        if !ptr::eq(cur, seen) {
            return cur;
        }
        let mut plan = Plan {
            schema: cur.schema,
            zero_threshold: cur.zero_threshold,
            pos: cur.pos.populated(),
            neg: cur.neg.populated(),
        };
        if a > cur.zero_threshold {
            plan.include(negative, key_at(key8(a), cur.schema));
        }
        plan.fit(self.max_buckets as i64, self.max_zero_threshold);
        let mut latest = self.replace(&mut slow, cur, &plan);
        while !slow.leftovers.is_empty() {
            // A recorder added to the old layout between the plan and the seal, outside
            // the new windows. Plan again around all of the latest windows (recorders
            // may be filling them) plus the leftovers; that layout holds everything, so
            // this runs at most once more in practice.
            let mut leftovers = std::mem::take(&mut slow.leftovers);
            let mut plan = Plan {
                schema: latest.schema,
                zero_threshold: latest.zero_threshold,
                pos: latest.pos.range(),
                neg: latest.neg.range(),
            };
            for &(neg, key, _) in &leftovers {
                plan.include(neg, key);
            }
            plan.fit(self.max_buckets as i64, self.max_zero_threshold);
            let next = self.replace(&mut slow, latest, &plan);
            for &(neg, key, n) in &leftovers {
                if !add_count(next, neg, key, latest.schema, n) {
                    let key = coarsen(key, i32::from(latest.schema - next.schema));
                    slow.leftovers.push((neg, key, n));
                }
            }
            if slow.leftovers.is_empty() {
                leftovers.clear();
                slow.leftovers = leftovers; // keep the capacity
            }
            latest = next;
        }
        self.current()
    }

    /// Publishes a layout built from `plan`, then seals `old`'s counters and moves them
    /// over; counts the new windows cannot hold go to `slow.leftovers`, keyed at the new
    /// schema.
    fn replace<'a>(&'a self, slow: &mut Slow, old: &'a Layout, plan: &Plan) -> &'a Layout {
        let new = Box::into_raw(Box::new(plan.build(self.max_buckets)));
        self.layout.store(new, Release);
        self.moves.fetch_add(1, Relaxed);
        slow.retired.push(ptr::from_ref(old).cast_mut());
        // SAFETY: just published; freed only in `Drop`.
        let new = unsafe { &*new };
        let zero = old.zero.swap(SEALED, AcqRel);
        new.zero.fetch_add(zero, Relaxed);
        for (negative, w) in [(false, &old.pos), (true, &old.neg)] {
            for (i, c) in w.counts.iter().enumerate() {
                let n = c.swap(SEALED, AcqRel);
                if n == 0 {
                    continue;
                }
                // A non-zero count implies the offset was set before it (release/acquire
                // through the counter).
                let key = (w.offset.load(Acquire) + i as i64) as i32;
                if !add_count(new, negative, key, old.schema, n) {
                    let key = coarsen(key, i32::from(old.schema - new.schema));
                    slow.leftovers.push((negative, key, n));
                }
            }
        }
        new
    }
}

/// Adds `n` observations of bucket `key` (at `schema`, ≥ the layout's) to `l`: into the
/// zero bucket if the bucket lies within its threshold, else into the coarsened bucket.
/// `false` if the window cannot hold it.
fn add_count(l: &Layout, negative: bool, key: i32, schema: i8, n: u64) -> bool {
    if upper_bound(key, schema) <= l.zero_threshold {
        l.zero.fetch_add(n, Relaxed);
        return true;
    }
    let key = i64::from(coarsen(key, i32::from(schema - l.schema)));
    let w = if negative { &l.neg } else { &l.pos };
    let off = w.offset.load(Acquire);
    if off == UNSET {
        return false;
    }
    match w.counts.get(key.wrapping_sub(off) as usize) {
        Some(c) => {
            c.fetch_add(n, Relaxed);
            true
        }
        None => false,
    }
}

impl Window {
    /// Positions an unpositioned window so `key` sits in its middle; returns the offset
    /// (this thread's or a racing one's).
    #[cold]
    fn position(&self, key: i64) -> i64 {
        if self.counts.is_empty() {
            return 0;
        }
        let want = key - self.counts.len() as i64 / 2;
        match self.offset.compare_exchange(UNSET, want, AcqRel, Acquire) {
            Ok(_) => want,
            Err(actual) => actual,
        }
    }
}

impl fmt::Debug for NativeHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self.core.current();
        f.debug_struct("NativeHistogram")
            .field("schema", &l.schema)
            .field("zero_threshold", &l.zero_threshold)
            .finish_non_exhaustive()
    }
}

/// One sign's buckets in a [`NativeSnapshot`]: consecutive keys from `first_key`, plus
/// the overflow bucket of `±Inf` observations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NativeSide {
    /// Key of `counts[0]`.
    pub first_key: i32,
    /// Counts of keys `first_key..`; the first and last are non-zero (or it is empty).
    pub counts: Vec<u64>,
    /// `±Inf` observations (bucket `max key + 1`).
    pub inf: u64,
}

impl NativeSide {
    /// Observations on this side.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.inf
    }

    /// Whether the side holds no observation.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.inf == 0
    }

    /// `(key, count)` for every key from the first populated to the last, zeros included,
    /// then the `±Inf` bucket (key `max + 1` at `schema`) when populated.
    pub fn buckets(&self, schema: i8) -> impl Iterator<Item = (i32, u64)> + '_ {
        let inf = (self.inf > 0).then(|| (max_key(schema) + 1, self.inf));
        self.counts
            .iter()
            .enumerate()
            .map(|(i, c)| (self.first_key + i as i32, *c))
            .chain(inf)
    }

    /// `(key, count)` of the populated buckets only (without the `±Inf` bucket).
    pub fn iter(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != 0)
            .map(|(i, c)| (self.first_key + i as i32, *c))
    }
}

/// A point-in-time reading of a [`NativeHistogram`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NativeSnapshot {
    /// The current schema (lower than configured after resolution reductions).
    pub schema: i8,
    /// The current zero threshold.
    pub zero_threshold: f64,
    /// Observations with `|v| <= zero_threshold`.
    pub zero_count: u64,
    /// Positive buckets.
    pub positive: NativeSide,
    /// Negative buckets (keyed by `|v|`).
    pub negative: NativeSide,
    /// Number of observations. With classic buckets it is their total, which is never
    /// below the native total even while recorders run.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Classic bounds (finite; `+Inf` implicit), when configured.
    pub classic_bounds: Option<Arc<[f64]>>,
    /// Non-cumulative classic counts, one more than the bounds (empty without them).
    pub classic_counts: Vec<u64>,
    /// How many times the bucket window moved or coarsened so far. Only these moves
    /// allocate (the new window); recording never does otherwise.
    pub moves: u64,
}

impl NativeSnapshot {
    /// `(upper bound, cumulative count)` of the classic buckets, ending at `+Inf`;
    /// empty without classic buckets.
    pub fn classic(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        crate::histogram::cumulative(
            self.classic_bounds.as_deref().unwrap_or(&[]),
            &self.classic_counts,
        )
    }

    /// The classic buckets as `(finite bounds, non-cumulative counts)`; without classic
    /// bounds, no bound and the single `+Inf` bucket holding `count` (what text formats
    /// show of a native-only histogram, as client_golang does).
    #[must_use]
    pub fn classic_view(&self) -> (&[f64], &[u64]) {
        match &self.classic_bounds {
            Some(bounds) => (bounds, &self.classic_counts),
            None => (&[], std::slice::from_ref(&self.count)),
        }
    }

    /// Adds `other`'s observations, as Prometheus adds native histograms (`sum by`):
    /// both are brought to the coarser schema and the wider zero bucket first.
    /// Classic counts are added when both have the same bounds, else dropped.
    pub fn merge(&mut self, other: &NativeSnapshot) {
        use std::collections::BTreeMap;
        let schema = self.schema.min(other.schema);
        let zt = self.zero_threshold.max(other.zero_threshold);
        let mut zero = self.zero_count + other.zero_count;
        let mut sides = [BTreeMap::new(), BTreeMap::new()];
        for snap in [&*self, other] {
            let pairs = [&snap.positive, &snap.negative]
                .into_iter()
                .zip(sides.iter_mut());
            for (side, map) in pairs {
                for (key, n) in side.iter() {
                    if upper_bound(key, snap.schema) <= zt {
                        zero += n;
                    } else {
                        let key = coarsen(key, i32::from(snap.schema - schema));
                        *map.entry(key).or_insert(0u64) += n;
                    }
                }
            }
        }
        for (side, map) in [&mut self.positive, &mut self.negative]
            .into_iter()
            .zip(&sides)
        {
            side.counts.clear();
            let (Some((&first, _)), Some((&last, _))) =
                (map.first_key_value(), map.last_key_value())
            else {
                continue;
            };
            side.first_key = first;
            side.counts.resize((last - first + 1) as usize, 0);
            for (k, n) in map {
                side.counts[(k - first) as usize] = *n;
            }
        }
        self.positive.inf += other.positive.inf;
        self.negative.inf += other.negative.inf;
        self.schema = schema;
        self.zero_threshold = zt;
        self.zero_count = zero;
        self.count += other.count;
        self.sum += other.sum;
        self.moves += other.moves;
        if self.classic_bounds == other.classic_bounds {
            for (a, b) in self.classic_counts.iter_mut().zip(&other.classic_counts) {
                *a += b;
            }
        } else {
            self.classic_bounds = None;
            self.classic_counts.clear();
        }
    }

    /// The `q`-quantile (0…1) estimated from the native buckets, interpolating
    /// exponentially inside a bucket (linearly in the zero bucket), so its relative
    /// error is below the bucket width `2^(2^−schema) − 1`. `NaN` when empty.
    #[must_use]
    pub fn quantile(&self, q: f64) -> f64 {
        let total = self.zero_count + self.positive.total() + self.negative.total();
        if total == 0 || q.is_nan() {
            return f64::NAN;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut seen = 0.0;
        let s = self.schema;
        // Ascending values: -Inf, negative buckets from the largest key, zero, positive.
        let mut within = |n: u64, lo: f64, hi: f64, exponential: bool| -> Option<f64> {
            let n = n as f64;
            if n == 0.0 || seen + n < rank {
                seen += n;
                return None;
            }
            let f = ((rank - seen) / n).clamp(0.0, 1.0);
            Some(if exponential && lo > 0.0 && hi.is_finite() {
                lo * (hi / lo).powf(f)
            } else if exponential && lo < 0.0 && hi < 0.0 {
                -((-lo) * ((-hi) / (-lo)).powf(f))
            } else {
                lo + (hi - lo) * f
            })
        };
        if let Some(v) = within(self.negative.inf, f64::NEG_INFINITY, -f64::MAX, false) {
            return v;
        }
        let zt = self.zero_threshold;
        for (key, n) in self.negative.iter().collect::<Vec<_>>().into_iter().rev() {
            let lo = -upper_bound(key, s);
            let hi = -upper_bound(key - 1, s).max(zt);
            if let Some(v) = within(n, lo, hi, true) {
                return v;
            }
        }
        if let Some(v) = within(self.zero_count, -zt, zt, false) {
            return v;
        }
        for (key, n) in self.positive.iter() {
            let lo = upper_bound(key - 1, s).max(zt);
            let hi = upper_bound(key, s);
            if let Some(v) = within(n, lo, hi, true) {
                return v;
            }
        }
        if self.positive.inf > 0 {
            return f64::INFINITY;
        }
        // Rounding left the rank just above the last bucket: its upper bound.
        self.positive
            .iter()
            .last()
            .map_or(zt, |(k, _)| upper_bound(k, s))
    }
}

#[cfg(test)]
mod tests;
