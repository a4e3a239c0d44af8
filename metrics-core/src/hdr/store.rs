//! Bucket counts for the window ring, allocated only where values land.
//!
//! A histogram's layout has thousands of buckets (4,608 for the default 1 ns–1 h at two
//! significant figures) but real latencies occupy a few decades of them, so the counts
//! of each window live in *chunks* of 64 buckets, allocated on first touch and published
//! with a compare-and-swap; a window's directory of chunk pointers is itself allocated on
//! the window's first record. Writers find the current window's directory through one
//! cached pointer (as short a chain of loads as a flat array); the first record into a
//! window that never had a directory takes the store's switch lock to create it, which
//! happens at most once per window in the histogram's life. An unused window costs one null pointer, a used one a
//! directory (8 bytes per 64 buckets) and 136 bytes per touched chunk.
//!
//! Counts are `u16` (a chunk is two cache lines): when a count reaches 2^15, the adder
//! that took it there moves 2^15 into a companion array of `u32` carries (allocated for
//! that chunk on first use), so a count is `low + 2^15 × carry` — up to 2^47 per bucket
//! and window — and the `u16` keeps 2^15 of headroom for adders racing past the
//! threshold. Between the carry's compare-and-swap and its add a reader sees that
//! bucket 2^15 short; the lifetime count built on top is kept monotonic by its reader.
//!
//! Memory is never freed before the histogram is dropped (a writer may still hold a
//! chunk of a window being cleared); a cleared window keeps its chunks for reuse.
//!
//! What allocates: the first record into a window (its directory), the first record into
//! each 64-bucket chunk of that window, and the first carry in a chunk. Everything else
//! — every later record, every snapshot, every rotation — is allocation-free.

// One of the few modules allowed `unsafe` (see ARCHITECTURE.md, "Unsafe"); every block
// states its SAFETY argument.
#![allow(unsafe_code)]

use std::ptr;
use std::sync::atomic::{
    AtomicPtr, AtomicU16, AtomicU32, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use std::sync::Arc;

use crate::sync::Mutex;

pub(crate) const CHUNK_BITS: u32 = 6;
/// Buckets per chunk.
pub(crate) const CHUNK: usize = 1 << CHUNK_BITS;
/// A `u16` count at or above this moves 2^15 into its carry.
const CARRY: u16 = 1 << 15;

type Carries = [AtomicU32; CHUNK];

/// 64 bucket counts of one window.
struct Chunk {
    low: [AtomicU16; CHUNK],
    /// Null until a count of this chunk first reaches 2^15.
    carries: AtomicPtr<Carries>,
}

impl Chunk {
    fn carries(&self) -> Option<&Carries> {
        let carries = self.carries.load(Acquire);
        // SAFETY: a non-null `carries` was published by `Store::carry` with a release CAS
        // after full initialization and is freed only in `Store::drop`.
        (!carries.is_null()).then(|| unsafe { &*carries })
    }

    /// Adds the 64 counts to `acc`.
    fn add_into(&self, acc: &mut [u64; CHUNK]) {
        for (a, low) in acc.iter_mut().zip(&self.low) {
            *a += u64::from(low.load(Relaxed));
        }
        if let Some(carries) = self.carries() {
            for (a, c) in acc.iter_mut().zip(carries) {
                *a += u64::from(c.load(Relaxed)) * u64::from(CARRY);
            }
        }
    }

    /// Zeroes the 64 counts, returning their total.
    fn take_all(&self) -> u64 {
        let mut total: u64 = self.low.iter().map(|c| u64::from(c.swap(0, Relaxed))).sum();
        if let Some(carries) = self.carries() {
            total += carries
                .iter()
                .map(|c| u64::from(c.swap(0, Relaxed)) * u64::from(CARRY))
                .sum::<u64>();
        }
        total
    }
}

/// The counts of every window of one histogram, plus the bytes they hold.
pub(crate) struct Store {
    /// Chunks per window (the layout's length rounded up to whole chunks).
    chunks: usize,
    /// Per window: a directory of `chunks` chunk pointers, or null while unused.
    windows: Box<[AtomicPtr<AtomicPtr<Chunk>>]>,
    /// The window writers record into.
    current: AtomicUsize,
    /// `windows[current]`, cached for writers; null until that window has a directory.
    current_dir: AtomicPtr<AtomicPtr<Chunk>>,
    /// Serializes window switches with the creation of the current window's directory.
    switch: Mutex<()>,
    /// Heap bytes held by directories, chunks and carries.
    bytes: AtomicUsize,
    /// The family's running total, when the series belongs to a family with a byte cap.
    family_bytes: Option<Arc<AtomicUsize>>,
}

// SAFETY: the raw pointers point to allocations owned by this store, freed only in
// `Drop`; everything reachable through them is atomics.
unsafe impl Send for Store {}
// SAFETY: see `Send`; all shared mutation is atomic.
unsafe impl Sync for Store {}

impl Store {
    pub(crate) fn new(len: usize, windows: usize, family_bytes: Option<Arc<AtomicUsize>>) -> Self {
        Self {
            chunks: len.div_ceil(CHUNK),
            windows: (0..windows)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            current: AtomicUsize::new(0),
            current_dir: AtomicPtr::new(ptr::null_mut()),
            switch: Mutex::new(()),
            bytes: AtomicUsize::new(0),
            family_bytes,
        }
    }

    /// Number of windows (the ring's length).
    pub(crate) fn windows(&self) -> usize {
        self.windows.len()
    }

    /// Heap bytes held by the counts (not counting the fixed `Store` itself).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Relaxed)
    }

    fn grew(&self, n: usize) {
        self.bytes.fetch_add(n, Relaxed);
        if let Some(f) = &self.family_bytes {
            f.fetch_add(n, Relaxed);
        }
    }

    /// The directory of window `w`, if it has one.
    fn directory(&self, w: usize) -> Option<&[AtomicPtr<Chunk>]> {
        let dir = self.windows[w].load(Acquire);
        if dir.is_null() {
            return None;
        }
        // SAFETY: a non-null directory was allocated by `new_directory` as a boxed slice
        // of exactly `self.chunks` pointers, published with a release CAS, and is freed
        // only in `Drop`.
        Some(unsafe { std::slice::from_raw_parts(dir, self.chunks) })
    }

    /// Adds one to bucket `idx` of the current window.
    #[inline(always)]
    pub(crate) fn increment(&self, idx: usize) {
        let mut dir = self.current_dir.load(Acquire);
        if dir.is_null() {
            dir = self.touch_current();
        }
        debug_assert!(idx >> CHUNK_BITS < self.chunks);
        // SAFETY: `dir` is a published directory of `self.chunks` pointers (see
        // `directory`), and `idx` is a layout index, below `self.chunks * CHUNK`.
        let slot = unsafe { &*dir.add(idx >> CHUNK_BITS) };
        let chunk = slot.load(Acquire);
        // SAFETY: non-null chunk pointers were published by `new_chunk` with a release
        // CAS after initialization; chunks are freed only in `Drop`.
        let chunk = if chunk.is_null() {
            self.new_chunk(slot)
        } else {
            unsafe { &*chunk }
        };
        let i = idx & (CHUNK - 1);
        if chunk.low[i].fetch_add(1, Relaxed) >= CARRY - 1 {
            self.carry(chunk, i);
        }
    }

    /// Creates the current window's directory (its first record ever) and caches it.
    #[cold]
    #[inline(never)]
    fn touch_current(&self) -> *mut AtomicPtr<Chunk> {
        let _switch = self.switch.lock();
        let w = self.current.load(Relaxed);
        let dir = self.directory(w).unwrap_or_else(|| self.new_directory(w));
        let dir = dir.as_ptr().cast_mut();
        self.current_dir.store(dir, Release);
        dir
    }

    /// Makes the next window of the ring current, first zeroing it; returns the number
    /// of values it held. Writers still holding the previous directory finish into the
    /// previous window; nothing is lost.
    pub(crate) fn advance(&self) -> u64 {
        let _switch = self.switch.lock();
        let next = (self.current.load(Relaxed) + 1) % self.windows.len();
        let cleared = self.clear(next);
        self.current.store(next, Relaxed);
        self.current_dir
            .store(self.windows[next].load(Acquire), Release);
        cleared
    }

    #[cold]
    #[inline(never)]
    fn new_directory(&self, w: usize) -> &[AtomicPtr<Chunk>] {
        let dir: Box<[AtomicPtr<Chunk>]> = (0..self.chunks)
            .map(|_| AtomicPtr::new(ptr::null_mut()))
            .collect();
        let raw = Box::into_raw(dir).cast::<AtomicPtr<Chunk>>();
        match self.windows[w].compare_exchange(ptr::null_mut(), raw, AcqRel, Acquire) {
            Ok(_) => self.grew(self.chunks * std::mem::size_of::<AtomicPtr<Chunk>>()),
            Err(_) => {
                // SAFETY: `raw` came from `Box::into_raw` of a slice of `self.chunks`
                // pointers just above and was never published.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(raw, self.chunks)) });
            }
        }
        self.directory(w)
            .expect("published above or by the racing writer")
    }

    #[cold]
    #[inline(never)]
    fn new_chunk<'a>(&self, slot: &'a AtomicPtr<Chunk>) -> &'a Chunk {
        let raw = Box::into_raw(Box::new(Chunk {
            low: [const { AtomicU16::new(0) }; CHUNK],
            carries: AtomicPtr::new(ptr::null_mut()),
        }));
        let p = match slot.compare_exchange(ptr::null_mut(), raw, AcqRel, Acquire) {
            Ok(_) => {
                self.grew(std::mem::size_of::<Chunk>());
                raw
            }
            Err(winner) => {
                // SAFETY: `raw` was never published; it is ours to free.
                drop(unsafe { Box::from_raw(raw) });
                winner
            }
        };
        // SAFETY: `p` is a published chunk (ours or the winner's), freed only in `Drop`.
        unsafe { &*p }
    }

    /// Moves 2^15 of bucket `i` into its carry if the count still holds that much (one
    /// of several racing adders does it; the others find it done).
    #[cold]
    #[inline(never)]
    fn carry(&self, chunk: &Chunk, i: usize) {
        let mut carries = chunk.carries.load(Acquire);
        if carries.is_null() {
            let raw = Box::into_raw(Box::new([const { AtomicU32::new(0) }; CHUNK]));
            carries = match chunk
                .carries
                .compare_exchange(ptr::null_mut(), raw, AcqRel, Acquire)
            {
                Ok(_) => {
                    self.grew(std::mem::size_of::<Carries>());
                    raw
                }
                Err(winner) => {
                    // SAFETY: `raw` was never published.
                    drop(unsafe { Box::from_raw(raw) });
                    winner
                }
            };
        }
        // SAFETY: published above or by a racing writer; freed only in `Drop`.
        let carries = unsafe { &*carries };
        let low = &chunk.low[i];
        let mut cur = low.load(Relaxed);
        while cur >= CARRY {
            match low.compare_exchange_weak(cur, cur - CARRY, Relaxed, Relaxed) {
                Ok(_) => {
                    carries[i].fetch_add(1, Relaxed);
                    return;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Zeroes window `w`, returning the number of values it held.
    fn clear(&self, w: usize) -> u64 {
        let Some(dir) = self.directory(w) else {
            return 0;
        };
        let mut cleared = 0;
        for slot in dir {
            let p = slot.load(Acquire);
            if !p.is_null() {
                // SAFETY: see `increment`.
                cleared += unsafe { &*p }.take_all();
            }
        }
        cleared
    }

    /// Calls `f(index, count)` for every non-zero bucket of the windows summed, in
    /// ascending index order.
    pub(crate) fn for_each_nonzero(&self, mut f: impl FnMut(usize, u64)) {
        let dirs_len = self.windows.len();
        for c in 0..self.chunks {
            let mut acc = [0u64; CHUNK];
            let mut any = false;
            for w in 0..dirs_len {
                let Some(dir) = self.directory(w) else {
                    continue;
                };
                let p = dir[c].load(Acquire);
                if p.is_null() {
                    continue;
                }
                any = true;
                // SAFETY: see `increment`.
                unsafe { &*p }.add_into(&mut acc);
            }
            if any {
                for (i, a) in acc.iter().enumerate() {
                    if *a > 0 {
                        f((c << CHUNK_BITS) + i, *a);
                    }
                }
            }
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        for w in self.windows.iter() {
            let dir = w.load(Acquire);
            if dir.is_null() {
                continue;
            }
            // SAFETY: allocated by `new_directory` as a boxed slice of `self.chunks`
            // pointers; `&mut self` means no other reference exists any more.
            let dir = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(dir, self.chunks)) };
            for slot in dir.iter() {
                let p = slot.load(Acquire);
                if p.is_null() {
                    continue;
                }
                // SAFETY: allocated by `new_chunk` with `Box::into_raw`; unreachable now.
                let chunk = unsafe { Box::from_raw(p) };
                let carries = chunk.carries.load(Acquire);
                if !carries.is_null() {
                    // SAFETY: allocated by `carry` with `Box::into_raw`.
                    drop(unsafe { Box::from_raw(carries) });
                }
            }
        }
        if let Some(f) = &self.family_bytes {
            f.fetch_sub(self.bytes.load(Relaxed), Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_carry_past_u16_exactly() {
        let s = Store::new(200, 2, None);
        s.increment(5);
        assert_eq!(s.advance(), 0);
        for _ in 0..200_000 {
            s.increment(130);
        }
        let mut seen = Vec::new();
        s.for_each_nonzero(|i, c| seen.push((i, c)));
        assert_eq!(seen, [(5, 1), (130, 200_000)]);
        assert_eq!(s.advance(), 1, "window 0 held the 5");
        assert_eq!(s.advance(), 200_000);
        assert_eq!(s.advance(), 0);
        // Two directories of 4 chunk pointers, two chunks, one carry array.
        assert_eq!(
            s.bytes(),
            2 * 4 * 8 + 2 * std::mem::size_of::<Chunk>() + std::mem::size_of::<Carries>()
        );
    }

    #[test]
    fn racing_adders_across_the_carry_lose_nothing() {
        let s = Arc::new(Store::new(64, 1, None));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..300_000usize {
                        s.increment(i % 3);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut total = 0;
        s.for_each_nonzero(|_, c| total += c);
        assert_eq!(total, 1_200_000);
    }
}
