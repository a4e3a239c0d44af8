//! Striped atomic cells in the manner of Java's `LongAdder`.
//!
//! An idle or single-threaded counter is one `AtomicU64` (plus an empty `OnceLock`):
//! small, and as fast as a plain atomic. When two threads are seen colliding on that base
//! cell, the counter grows a fixed array of cache-line-padded cells, and from then on
//! each thread adds to its own cell. Reads sum all cells. Growing allocates once, on the
//! contention path only.
//!
//! Seeing a collision: a float cell is updated by compare-and-swap, whose failure is the
//! proof. An integer cell is updated by `fetch_add` (a CAS loop costs ~20 % more on one
//! thread), which reports nothing, so every 1,024th unit added it *probes*: a no-op CAS
//! expecting the value its own add produced. Under contention another core has almost
//! always changed the line in between, and the probe fails; alone, it succeeds. A false
//! alarm only costs the cells' memory.
//!
//! Integer totals never wrap: they **saturate**. A cell that reaches [`SATURATED`]
//! (2^63) is clamped back to it and the total then reads `u64::MAX` for good; below
//! that, totals are exact (a sum of cells adds with saturation). Keeping the hot path a
//! plain `fetch_add` needs headroom above 2^63: adds of 2^40 or more take a cold CAS
//! loop, so a cell can only pass 2^63 by less than 2^40 per racing thread before the
//! adder that passed it clamps it — and 2^23 racing threads (more than Linux's largest
//! `pid_max`, 2^22) would still leave it below 2^64. [`add_saturating`] is the same rule for other
//! monotonic atomics (the HDR lifetime sum).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

/// Pads and aligns a value to 128 bytes (two cache lines, as adjacent-line prefetchers
/// pair them) so neighbouring cells never share a line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
static STRIPES: OnceLock<usize> = OnceLock::new();

thread_local! {
    // usize::MAX means "not assigned yet"; const-initialised so access never allocates.
    static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's stripe index (unbounded; callers mask it). Threads get consecutive
/// numbers in creation order and numbers are never reused, so the first `stripes`
/// threads to touch any striped metric never share a cell; later threads (a pool that
/// replaces its threads) may, which costs contention, not correctness.
#[inline]
pub(crate) fn thread_slot() -> usize {
    SLOT.with(|s| {
        let v = s.get();
        if v != usize::MAX {
            v
        } else {
            let v = NEXT_SLOT.fetch_add(1, Relaxed);
            s.set(v);
            v
        }
    })
}

/// Number of cells a grown counter gets: a power of two ≥ 2 × the CPU count, at most 64.
pub(crate) fn stripe_count() -> usize {
    *STRIPES.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
        (cpus * 2).next_power_of_two().clamp(2, 64)
    })
}

/// What adding to the base cell found.
pub(crate) enum BaseAdd {
    /// Added; no sign of contention.
    Done,
    /// Added, and another thread was seen on the cell: time to grow.
    DoneContended,
    /// Not added because another thread got in the way: add elsewhere.
    Refused,
}

/// A value type that striped cells can accumulate.
pub(crate) trait Addend: Copy {
    /// Adds to the shared base cell, reporting contention.
    fn add_to_base(base: &AtomicU64, v: Self) -> BaseAdd;
    fn add_bits(bits: u64, v: Self) -> u64;
    fn from_sum(bits: u64) -> Self;
    fn combine(a: Self, b: Self) -> Self;
    /// Adds to a cell, atomically: usually this thread's alone, but threads beyond
    /// the stripe count share cells (see [`thread_slot`]).
    fn add_to_cell(cell: &AtomicU64, v: Self);
}

/// Probe for contention once per this many units added (a power of two).
const PROBE_EVERY: u64 = 1024;

/// A monotonic `u64` cell at or above this value is saturated: it reads as `u64::MAX`.
pub(crate) const SATURATED: u64 = 1 << 63;
/// Adds at least this large take the CAS path, keeping the `fetch_add` path from
/// wrapping (see the module docs).
const LARGE_ADD: u64 = 1 << 40;

/// Adds `v` to a monotonic cell without ever wrapping; read it with [`saturated`].
#[inline(always)]
pub(crate) fn add_saturating(cell: &AtomicU64, v: u64) {
    if v >= LARGE_ADD {
        add_large(cell, v);
        return;
    }
    let prev = cell.fetch_add(v, Relaxed);
    if prev + v >= SATURATED {
        clamp(cell);
    }
}

/// The reading of a cell kept by [`add_saturating`].
#[inline]
pub(crate) fn saturated(bits: u64) -> u64 {
    if bits >= SATURATED {
        u64::MAX
    } else {
        bits
    }
}

#[cold]
#[inline(never)]
fn add_large(cell: &AtomicU64, v: u64) {
    let mut cur = cell.load(Relaxed);
    loop {
        let next = cur.max(cur.saturating_add(v).min(SATURATED));
        match cell.compare_exchange_weak(cur, next, Relaxed, Relaxed) {
            Ok(_) => return,
            Err(actual) => cur = actual,
        }
    }
}

/// Pulls a saturated cell back to [`SATURATED`] (it stays saturated), restoring the
/// headroom that keeps `fetch_add` from wrapping.
#[cold]
#[inline(never)]
fn clamp(cell: &AtomicU64) {
    cell.fetch_min(SATURATED, Relaxed);
}

impl Addend for u64 {
    #[inline(always)]
    fn add_to_base(base: &AtomicU64, v: u64) -> BaseAdd {
        if v >= LARGE_ADD {
            add_large(base, v);
            return BaseAdd::Done;
        }
        let prev = base.fetch_add(v, Relaxed);
        // No overflow: `prev` is below 2^63 plus less than 2^40 per racing adder.
        let next = prev + v;
        if (prev ^ next) < PROBE_EVERY {
            return BaseAdd::Done;
        }
        if next >= SATURATED {
            clamp(base);
            return BaseAdd::Done;
        }
        match base.compare_exchange(next, next, Relaxed, Relaxed) {
            Ok(_) => BaseAdd::Done,
            Err(_) => BaseAdd::DoneContended,
        }
    }
    #[inline]
    fn add_bits(bits: u64, v: u64) -> u64 {
        bits.saturating_add(v)
    }
    fn from_sum(bits: u64) -> u64 {
        saturated(bits)
    }
    fn combine(a: u64, b: u64) -> u64 {
        a.saturating_add(b)
    }
    #[inline]
    fn add_to_cell(cell: &AtomicU64, v: u64) {
        add_saturating(cell, v);
    }
}

impl Addend for f64 {
    #[inline]
    fn add_to_base(base: &AtomicU64, v: f64) -> BaseAdd {
        let cur = base.load(Relaxed);
        match base.compare_exchange(cur, Self::add_bits(cur, v), Relaxed, Relaxed) {
            Ok(_) => BaseAdd::Done,
            Err(_) => BaseAdd::Refused,
        }
    }
    #[inline]
    fn add_bits(bits: u64, v: f64) -> u64 {
        (f64::from_bits(bits) + v).to_bits()
    }
    fn from_sum(bits: u64) -> f64 {
        f64::from_bits(bits)
    }
    fn combine(a: f64, b: f64) -> f64 {
        a + b
    }
    #[inline]
    fn add_to_cell(cell: &AtomicU64, v: f64) {
        let mut cur = cell.load(Relaxed);
        while let Err(actual) =
            cell.compare_exchange_weak(cur, Self::add_bits(cur, v), Relaxed, Relaxed)
        {
            cur = actual;
        }
    }
}

/// A sum that scales under contention. `T` is `u64` (saturating at `u64::MAX`, see the
/// module docs) or `f64`; both start at all-zero bits, which is `0` and `0.0`.
#[derive(Debug)]
pub(crate) struct Striped<T> {
    base: AtomicU64,
    cells: OnceLock<Box<[CachePadded<AtomicU64>]>>,
    _marker: std::marker::PhantomData<T>,
}

impl<T: Addend> Default for Striped<T> {
    fn default() -> Self {
        Self {
            base: AtomicU64::new(0),
            cells: OnceLock::new(),
            _marker: std::marker::PhantomData,
        }
    }
}

impl<T: Addend> Striped<T> {
    #[inline(always)]
    pub(crate) fn add(&self, v: T) {
        if let Some(cells) = self.cells.get() {
            T::add_to_cell(&cells[thread_slot() & (cells.len() - 1)].0, v);
            return;
        }
        match T::add_to_base(&self.base, v) {
            BaseAdd::Done => {}
            BaseAdd::DoneContended => {
                self.grow();
            }
            BaseAdd::Refused => self.add_contended(v),
        }
    }

    #[cold]
    #[inline(never)]
    fn grow(&self) -> &[CachePadded<AtomicU64>] {
        self.cells.get_or_init(|| {
            (0..stripe_count())
                .map(|_| CachePadded(AtomicU64::new(0)))
                .collect()
        })
    }

    #[cold]
    #[inline(never)]
    fn add_contended(&self, v: T) {
        let cells = self.grow();
        T::add_to_cell(&cells[thread_slot() & (cells.len() - 1)].0, v);
    }

    /// The current total. Concurrent adds may or may not be included; none is lost.
    pub(crate) fn sum(&self) -> T {
        let mut total = T::from_sum(self.base.load(Relaxed));
        if let Some(cells) = self.cells.get() {
            for c in cells.iter() {
                total = T::combine(total, T::from_sum(c.0.load(Relaxed)));
            }
        }
        total
    }

    /// Whether contention has been seen and the cells exist (for tests and sizing).
    #[cfg(test)]
    pub(crate) fn is_striped(&self) -> bool {
        self.cells.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn single_thread_stays_unstriped() {
        let s = Striped::<u64>::default();
        for _ in 0..1000 {
            s.add(2);
        }
        assert_eq!(s.sum(), 2000);
        assert!(!s.is_striped());
    }

    #[test]
    fn contention_grows_cells_and_loses_nothing() {
        let s = Arc::new(Striped::<u64>::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..200_000 {
                        s.add(1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.sum(), 1_600_000);
    }

    #[test]
    fn integer_totals_saturate_and_never_go_backwards() {
        // One huge add, then small ones, on the base cell.
        let s = Striped::<u64>::default();
        s.add(u64::MAX);
        assert_eq!(s.sum(), u64::MAX);
        for _ in 0..5000 {
            s.add(1);
            assert_eq!(s.sum(), u64::MAX);
        }
        // Small adds walking across 2^63: exact below, saturated from there on.
        let s = Striped::<u64>::default();
        s.add(SATURATED - 3 * LARGE_ADD);
        let mut last = s.sum();
        for _ in 0..8 {
            s.add(LARGE_ADD - 1);
            let now = s.sum();
            assert!(now >= last, "{now} < {last}");
            last = now;
        }
        assert_eq!(last, u64::MAX);
        // Contended cells, each pushed past 2^63 by several threads.
        let s = Arc::new(Striped::<u64>::default());
        s.grow();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let mut last = 0;
                    for i in 0..20_000u64 {
                        s.add(if i % 1000 == 0 {
                            u64::MAX / 3
                        } else {
                            LARGE_ADD - 1
                        });
                        let now = s.sum();
                        assert!(now >= last, "{now} < {last}");
                        last = now;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.sum(), u64::MAX);
        assert!(s
            .cells
            .get()
            .unwrap()
            .iter()
            .all(|c| c.0.load(Relaxed) < SATURATED + 4 * LARGE_ADD));
    }

    #[test]
    fn float_cells_sum_exactly_for_integral_values() {
        let s = Arc::new(Striped::<f64>::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        s.add(0.5);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.sum(), 200_000.0);
    }
}
