//! Labeled families: label values → series, with lock-free, allocation-free hits.
//!
//! Series live in an open-addressing hash table of `AtomicPtr`s with load factor ≤ ½.
//! Readers hash the values (foldhash, seeded per family so attacker-chosen values cannot
//! aim at collisions), probe, and compare; no lock, no reference-count traffic, no
//! allocation. `with_labels` returns `&M` borrowed from the family, so the documented
//! fast path — resolve once, keep the handle (`.clone()`) — and the lookup path are both
//! cheap. Inserts take a mutex, build the entry, and publish it with a release store;
//! growing copies the pointers into a table twice as large and retires the old one.
//! Retired tables and all entries are freed only when the family is dropped, which is
//! what makes the unsynchronized reads sound: nothing a reader can reach is ever freed
//! while the reader holds `&Family`.
//!
//! The number of series is capped (default 10,000). Past the cap, new label sets map to
//! one overflow series whose every label value is [`OVERFLOW_LABEL_VALUE`], and the
//! registry's `tachometer_series_overflow_total{metric="…"}` counts such lookups.
//! An optional byte cap works the same way: the family keeps a running total of the
//! heap its series hold (entries, label values, metrics, and the buckets HDR histograms
//! and timers allocate later, which they report through the shared total), and once it
//! reaches the cap new label sets go to the overflow series too.

// The lock-free table below is one of the few places `unsafe` is allowed (see
// ARCHITECTURE.md, "Unsafe"); every block states its SAFETY argument.
#![allow(unsafe_code)]

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::ptr;
use std::sync::atomic::{
    AtomicPtr, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::{Arc, OnceLock};

use crate::sync::Mutex;

use crate::counter::Counter;
use crate::desc::Descriptor;
use crate::error::Error;
use crate::metric::{BuildContext, Metric, Scratch};
use crate::visit::{Labels, Visitor};

/// The label value every label of the overflow series carries.
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";

struct Entry<M> {
    hash: u64,
    values: Box<[Box<str>]>,
    metric: M,
}

struct Table<M> {
    /// Open addressing with linear probing; length is a power of two, ≥ 2 × `order`.
    slots: Box<[AtomicPtr<Entry<M>>]>,
    /// Entries in insertion order, for deterministic walks.
    order: Box<[AtomicPtr<Entry<M>>]>,
    len: AtomicUsize,
}

impl<M> Table<M> {
    fn with_capacity(capacity: usize) -> Box<Self> {
        let null = || AtomicPtr::new(ptr::null_mut());
        Box::new(Self {
            slots: (0..capacity * 2).map(|_| null()).collect(),
            order: (0..capacity).map(|_| null()).collect(),
            len: AtomicUsize::new(0),
        })
    }

    /// Puts `entry` in the first free slot of its probe sequence. Writer only.
    fn place(&self, hash: u64, entry: *mut Entry<M>) {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while !self.slots[i].load(Relaxed).is_null() {
            i = (i + 1) & mask;
        }
        self.slots[i].store(entry, Release);
    }
}

struct Writer<M> {
    /// Every table ever published, the current one last; freed on drop.
    tables: Vec<*mut Table<M>>,
}

pub(crate) struct FamilyCore<M: Metric> {
    desc: Arc<Descriptor>,
    config: M::Config,
    ctx: BuildContext,
    hasher: foldhash::fast::RandomState,
    table: AtomicPtr<Table<M>>,
    writer: Mutex<Writer<M>>,
    max_series: usize,
    max_bytes: Option<usize>,
    /// Heap held by the series (see the module docs); shared with growing series.
    bytes: Arc<AtomicUsize>,
    overflow: AtomicPtr<Entry<M>>,
    overflow_counter: Option<(Family<Counter>, OnceLock<Counter>)>,
}

// SAFETY: the raw pointers in `table`, `overflow` and `Writer::tables` point to heap
// allocations owned by this family (freed only in `Drop`); entries hold `M: Send + Sync`
// and immutable label values, so sharing and sending the family across threads is as
// safe as sharing `M` itself.
unsafe impl<M: Metric> Send for FamilyCore<M> {}
// SAFETY: see `Send`; all mutation goes through atomics or the writer mutex.
unsafe impl<M: Metric> Sync for FamilyCore<M> {}

impl<M: Metric> FamilyCore<M> {
    pub(crate) fn new(
        desc: Arc<Descriptor>,
        config: M::Config,
        mut ctx: BuildContext,
        (max_series, max_bytes): (usize, Option<usize>),
        overflow_counter: Option<Family<Counter>>,
    ) -> Self {
        let capacity = if desc.label_names.is_empty() { 1 } else { 8 };
        ctx.family = desc.name.as_ref().into();
        let table = Box::into_raw(Table::with_capacity(capacity));
        let bytes = Arc::new(AtomicUsize::new(0));
        ctx.family_bytes = Some(bytes.clone());
        Self {
            desc,
            config,
            ctx,
            hasher: foldhash::fast::RandomState::default(),
            table: AtomicPtr::new(table),
            writer: Mutex::new(Writer {
                tables: vec![table],
            }),
            max_series: max_series.max(1),
            max_bytes,
            bytes,
            overflow: AtomicPtr::new(ptr::null_mut()),
            overflow_counter: overflow_counter.map(|f| (f, OnceLock::new())),
        }
    }

    pub(crate) fn descriptor(&self) -> &Descriptor {
        &self.desc
    }

    #[inline]
    fn hash<S: AsRef<str>>(&self, values: &[S]) -> u64 {
        let mut h = self.hasher.build_hasher();
        // No separator between values: foldhash mixes each write's length into its
        // state, and equal hashes are always confirmed by comparing the values, so
        // ["ab", "c"] vs ["a", "bc"] can at worst cost a probe, never a wrong series.
        for v in values {
            h.write(v.as_ref().as_bytes());
        }
        h.finish()
    }

    #[inline]
    fn current(&self) -> &Table<M> {
        // SAFETY: `table` always points to a live table (set in `new`, replaced only by
        // `grow` with another live one); tables are freed only in `Drop`, which cannot
        // run while `&self` exists.
        unsafe { &*self.table.load(Acquire) }
    }

    #[inline]
    fn find<S: AsRef<str>>(&self, hash: u64, values: &[S]) -> Option<&Entry<M>> {
        let table = self.current();
        let mask = table.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let p = table.slots[i].load(Acquire);
            if p.is_null() {
                return None;
            }
            // SAFETY: non-null slots point to entries published with a release store
            // after full initialization; entries are freed only in `Drop`.
            let e = unsafe { &*p };
            if e.hash == hash
                && e.values
                    .iter()
                    .zip(values)
                    .all(|(a, b)| bytes_eq(a.as_bytes(), b.as_ref().as_bytes()))
            {
                return Some(e);
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    pub(crate) fn with_labels<S: AsRef<str>>(&self, values: &[S]) -> Result<&M, Error> {
        if values.len() != self.desc.label_names.len() {
            return Err(Error::LabelCount {
                metric: self.desc.name.to_string(),
                expected: self.desc.label_names.len(),
                got: values.len(),
            });
        }
        let hash = self.hash(values);
        match self.find(hash, values) {
            Some(e) => Ok(&e.metric),
            None => Ok(self.insert(hash, values)),
        }
    }

    /// Heap bytes a new series with these label values adds (see the module docs).
    fn series_bytes<S: AsRef<str>>(&self, values: &[S]) -> usize {
        std::mem::size_of::<Entry<M>>()
            + values
                .iter()
                .map(|v| std::mem::size_of::<Box<str>>() + v.as_ref().len())
                .sum::<usize>()
            + M::initial_bytes(&self.config)
            // Its share of the hash table: two slots and an order entry, doubled for growth.
            + 6 * std::mem::size_of::<usize>()
    }

    /// Whether a new series of `extra` bytes would pass the byte cap.
    fn over_bytes(&self, extra: usize) -> bool {
        self.max_bytes
            .is_some_and(|max| self.bytes.load(Relaxed).saturating_add(extra) > max)
    }

    /// Heap bytes the family's series hold (see the module docs).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Relaxed)
    }

    #[cold]
    #[inline(never)]
    fn insert<S: AsRef<str>>(&self, hash: u64, values: &[S]) -> &M {
        let extra = self.series_bytes(values);
        if self.current().len.load(Acquire) >= self.max_series || self.over_bytes(extra) {
            if let Some(m) = self.overflowed() {
                return m;
            }
        }
        let mut writer = self.writer.lock();
        if let Some(e) = self.find(hash, values) {
            return &e.metric;
        }
        let mut table = self.current();
        let len = table.len.load(Relaxed);
        if len >= self.max_series || self.over_bytes(extra) {
            drop(writer);
            return self.overflow_slow();
        }
        self.bytes.fetch_add(extra, Relaxed);
        if len == table.order.len() {
            table = self.grow(&mut writer, table);
        }
        let entry = Box::into_raw(Box::new(Entry {
            hash,
            values: values.iter().map(|v| Box::from(v.as_ref())).collect(),
            metric: M::build(&self.config, &self.ctx),
        }));
        table.order[len].store(entry, Release);
        table.place(hash, entry);
        table.len.store(len + 1, Release);
        // SAFETY: just allocated and published; lives until `Drop`.
        unsafe { &(*entry).metric }
    }

    /// Doubles the table: copies entry pointers into a new one, publishes it, retires the old.
    fn grow<'a>(&'a self, writer: &mut Writer<M>, old: &Table<M>) -> &'a Table<M> {
        let len = old.len.load(Relaxed);
        let new = Table::with_capacity(old.order.len() * 2);
        for i in 0..len {
            let p = old.order[i].load(Relaxed);
            new.order[i].store(p, Relaxed);
            // SAFETY: entries in `order[..len]` are live (see `find`).
            new.place(unsafe { (*p).hash }, p);
        }
        new.len.store(len, Relaxed);
        let new = Box::into_raw(new);
        writer.tables.push(new);
        self.table.store(new, Release);
        // SAFETY: just allocated; retained in `writer.tables` until `Drop`.
        unsafe { &*new }
    }

    fn overflowed(&self) -> Option<&M> {
        let p = self.overflow.load(Acquire);
        if p.is_null() {
            return None;
        }
        self.count_overflow();
        // SAFETY: published once with a release store, freed only in `Drop`.
        Some(unsafe { &(*p).metric })
    }

    #[cold]
    fn overflow_slow(&self) -> &M {
        let _writer = self.writer.lock();
        if self.overflow.load(Acquire).is_null() {
            let entry = Box::into_raw(Box::new(Entry {
                hash: 0,
                values: self
                    .desc
                    .label_names
                    .iter()
                    .map(|_| Box::from(OVERFLOW_LABEL_VALUE))
                    .collect(),
                metric: M::build(&self.config, &self.ctx),
            }));
            self.overflow.store(entry, Release);
        }
        drop(_writer);
        self.overflowed()
            .expect("overflow series was just published")
    }

    fn count_overflow(&self) {
        if let Some((family, counter)) = &self.overflow_counter {
            let c = counter.get_or_init(|| {
                family
                    .with_labels(&[&*self.desc.name])
                    .cloned()
                    .unwrap_or_default()
            });
            c.increment(1);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.current().len.load(Acquire)
    }

    pub(crate) fn visit(&self, visitor: &mut dyn Visitor, scratch: &mut Scratch) {
        let desc = &*self.desc;
        visitor.family(desc);
        let table = self.current();
        let len = table.len.load(Acquire);
        let overflow = self.overflow.load(Acquire);
        let entries = table.order[..len]
            .iter()
            .map(|p| p.load(Acquire))
            .chain((!overflow.is_null()).then_some(overflow));
        for p in entries {
            // SAFETY: see `find`; `order[..len]` was published before `len`.
            let e = unsafe { &*p };
            let labels = Labels {
                names: &desc.label_names,
                values: &e.values,
            };
            e.metric
                .read(scratch, &mut |value| visitor.series(desc, labels, value));
        }
        visitor.end_family(desc);
    }
}

/// Byte equality tuned for short label values: two overlapping word loads instead of a
/// `memcmp` call, which dominates the lookup for values of a few bytes.
#[inline(always)]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or([0; 4]));
    match n {
        0 => true,
        // Positions 0, n/2 and n-1 cover every byte of a 1- to 3-byte value.
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        9..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

impl<M: Metric> Drop for FamilyCore<M> {
    fn drop(&mut self) {
        let writer = self.writer.get_mut();
        let current = *writer.tables.last().expect("a family always has a table");
        // SAFETY: we have `&mut self`: no reader exists. Entries are reachable from the
        // current table's `order[..len]` exactly once each (older tables hold copies of
        // the same pointers), plus the overflow entry; each was made by `Box::into_raw`.
        unsafe {
            let t = &*current;
            for p in &t.order[..t.len.load(Relaxed)] {
                drop(Box::from_raw(p.load(Relaxed)));
            }
            let o = self.overflow.load(Relaxed);
            if !o.is_null() {
                drop(Box::from_raw(o));
            }
            for t in writer.tables.drain(..) {
                drop(Box::from_raw(t));
            }
        }
    }
}

/// A labeled family of series of one metric type, created by a
/// [`Registry`](crate::Registry). Cheap to clone.
///
/// ```
/// use tachometer::{Opts, Registry};
/// let registry = Registry::new();
/// let requests = registry
///     .counter_family(Opts::new("http_requests_total", "Requests.").labels(&["method", "route", "status"]))
///     .unwrap();
/// // Lookup path: hashes and compares the values, allocates nothing once the series exists.
/// requests.with_labels(&["GET", "/users/{id}", "200"]).unwrap().increment(1);
/// // Fast path: resolve once, keep the handle.
/// let get_ok = requests.with_labels(&["GET", "/users/{id}", "200"]).unwrap().clone();
/// get_ok.increment(1);
/// assert_eq!(get_ok.get(), 2);
/// assert!(requests.with_labels(&["GET"]).is_err());
/// ```
pub struct Family<M: Metric> {
    pub(crate) core: Arc<FamilyCore<M>>,
}

impl<M: Metric> Family<M> {
    /// The series for these label values (one per label name, in order), created on
    /// first use. Past the family's series cap, the shared overflow series.
    #[inline]
    pub fn with_labels<S: AsRef<str>>(&self, values: &[S]) -> Result<&M, Error> {
        self.core.with_labels(values)
    }

    /// The family's description.
    #[must_use]
    pub fn descriptor(&self) -> &Descriptor {
        self.core.descriptor()
    }

    /// Number of distinct label sets (not counting the overflow series).
    #[must_use]
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Heap bytes the family's series hold, as counted for
    /// [`Opts::max_bytes`](crate::Opts::max_bytes): entries, label values, metrics, and
    /// the buckets HDR histograms and timers have allocated so far.
    #[must_use]
    pub fn resident_bytes(&self) -> usize {
        self.core.bytes()
    }

    /// Whether no series exists yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Walks this family alone.
    pub fn visit(&self, visitor: &mut dyn Visitor) {
        self.core.visit(visitor, &mut Scratch::default());
    }
}

impl<M: Metric> Clone for Family<M> {
    fn clone(&self) -> Self {
        Self {
            core: self.core.clone(),
        }
    }
}

impl<M: Metric> fmt::Debug for Family<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("descriptor", &self.core.desc)
            .field("series", &self.len())
            .finish()
    }
}
