//! Time sources.
//!
//! Every time-based metric (meters, sliding windows, timers) reads time through a
//! [`Clock`], so tests can drive time by hand with a [`ManualClock`] and assert exact
//! EWMA rates and window rotations instead of sleeping.
//!
//! Two readings are offered. [`Clock::now`] is precise and is what timers use.
//! [`Clock::recent`] may lag by a few milliseconds and is what the meter's hot path
//! uses: for [`SystemClock`] it is a single relaxed load of a value that a background
//! thread refreshes every millisecond, so `Meter::mark` costs about a counter increment
//! instead of a clock read. A 5-second EWMA tick does not need better than millisecond
//! precision.
//!
//! # The background thread
//!
//! That thread, named `tachometer-clock`, is started by the first [`Meter`](crate::Meter)
//! or [`Timer`](crate::Timer) built on the system clock (every `#[timed]` and
//! `#[metered]` site builds one), wakes 1,000 times a second, and runs until
//! [`SystemClock::stop_coarse_clock`] stops it (for good: later meters then read the
//! precise clock on every mark, which costs one TSC read, ~10 ns, per mark). Registries
//! built with a custom clock ([`RegistryBuilder::clock`](crate::RegistryBuilder::clock),
//! e.g. a [`ManualClock`]) never start it.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// A monotonic source of nanoseconds.
///
/// Implement it to drive metrics from your own notion of time; most programs use
/// [`SystemClock`] (the default) and tests use [`ManualClock`].
pub trait Clock: Send + Sync + fmt::Debug {
    /// Nanoseconds since an arbitrary, fixed origin. Never decreases.
    fn now(&self) -> u64;

    /// A possibly slightly stale reading of [`Clock::now`], cheap enough for hot paths.
    /// The default returns [`Clock::now`].
    fn recent(&self) -> u64 {
        self.now()
    }
}

/// TSC-backed clock (falls back to the OS monotonic clock where the TSC is unreliable).
/// On this project's reference machine `std::time::Instant::now()` costs 33–36 ns (a
/// `clock_gettime` call) and `quanta` 13.6 ns, and a timer reads the clock twice per call.
static QUANTA: LazyLock<quanta::Clock> = LazyLock::new(quanta::Clock::new);
static ORIGIN: LazyLock<u64> = LazyLock::new(|| QUANTA.raw());
static COARSE_NANOS: AtomicU64 = AtomicU64::new(0);
/// Whether `COARSE_NANOS` is being refreshed: true from just before the thread starts
/// until stop is requested or the thread exits.
static COARSE_RUNNING: AtomicBool = AtomicBool::new(false);
/// Set by [`SystemClock::stop_coarse_clock`]; never cleared.
static COARSE_STOP: AtomicBool = AtomicBool::new(false);
static COARSE_STARTED: OnceLock<()> = OnceLock::new();
static COARSE_THREAD: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);
const COARSE_PERIOD: Duration = Duration::from_millis(1);

#[inline]
fn monotonic_nanos() -> u64 {
    QUANTA.delta_as_nanos(*ORIGIN, QUANTA.raw())
}

/// The process's real monotonic clock (the TSC through `quanta`, calibrated against the
/// OS monotonic clock).
///
/// `recent()` reads a value refreshed every millisecond by one background thread,
/// `tachometer-clock`, which the first [`Meter`](crate::Meter) or
/// [`Timer`](crate::Timer) on the system clock starts (every `#[timed]` and `#[metered]`
/// site builds one) and [`stop_coarse_clock`](Self::stop_coarse_clock) stops. While that
/// thread is not running (not started, stopped, or unable to start), `recent()` is
/// `now()`. Registries on a custom clock never start it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    /// Starts the background refresher behind [`Clock::recent`] if it has not been
    /// started or stopped before. Meter and timer constructors call this, so the hot
    /// path never has to.
    pub fn ensure_coarse_clock() {
        COARSE_STARTED.get_or_init(|| {
            if COARSE_STOP.load(Ordering::Acquire) {
                return;
            }
            COARSE_NANOS.store(monotonic_nanos(), Ordering::Relaxed);
            // Before the spawn, so the thread's own "stopped" store always comes later.
            COARSE_RUNNING.store(true, Ordering::Release);
            let spawned = std::thread::Builder::new()
                .name("tachometer-clock".into())
                .spawn(|| {
                    while !COARSE_STOP.load(Ordering::Acquire) {
                        COARSE_NANOS.store(monotonic_nanos(), Ordering::Relaxed);
                        std::thread::sleep(COARSE_PERIOD);
                    }
                    COARSE_RUNNING.store(false, Ordering::Release);
                });
            match spawned {
                Ok(handle) => *lock(&COARSE_THREAD) = Some(handle),
                Err(_) => COARSE_RUNNING.store(false, Ordering::Release),
            }
        });
    }

    /// Stops the `tachometer-clock` thread for the rest of the process and waits for it
    /// to exit (at most about a millisecond); before it was ever started, keeps it from
    /// starting. From then on `recent()` reads the precise clock, so meters stay exact
    /// but each mark pays for a TSC read. For programs that must not keep threads they
    /// did not start (before `fork`, in a sandbox counting threads) or that cannot
    /// afford 1,000 wake-ups a second.
    ///
    /// ```
    /// use tachometer_core::{Clock, SystemClock};
    /// SystemClock::stop_coarse_clock();
    /// assert!(!SystemClock::coarse_clock_running());
    /// let m = tachometer_core::Meter::new(); // does not start it again
    /// m.mark(1);
    /// assert!(!SystemClock::coarse_clock_running());
    /// assert!(SystemClock.recent() <= SystemClock.now());
    /// ```
    pub fn stop_coarse_clock() {
        COARSE_STOP.store(true, Ordering::Release);
        COARSE_RUNNING.store(false, Ordering::Release);
        let handle = lock(&COARSE_THREAD).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// Whether the `tachometer-clock` thread is refreshing [`Clock::recent`].
    #[must_use]
    pub fn coarse_clock_running() -> bool {
        COARSE_RUNNING.load(Ordering::Acquire)
    }
}

/// Locks `m`, ignoring poisoning (the guarded value is a join handle).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> u64 {
        monotonic_nanos()
    }

    #[inline]
    fn recent(&self) -> u64 {
        if COARSE_RUNNING.load(Ordering::Relaxed) {
            COARSE_NANOS.load(Ordering::Relaxed)
        } else {
            monotonic_nanos()
        }
    }
}

/// A clock that only moves when told to: for deterministic tests of rates and windows.
///
/// Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use tachometer::{Clock, ManualClock};
/// let clock = ManualClock::new();
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now(), 5_000_000_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by`, stopping at `u64::MAX` nanoseconds.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// Sets the absolute reading. Going backwards is ignored, keeping the clock monotonic.
    pub fn set(&self, nanos: u64) {
        self.nanos.fetch_max(nanos, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }
}

/// The clock a metric holds: the system clock without indirection, or any other.
#[derive(Debug, Clone, Default)]
pub(crate) enum ClockHandle {
    #[default]
    System,
    Custom(Arc<dyn Clock>),
}

impl ClockHandle {
    pub(crate) fn new(clock: Option<Arc<dyn Clock>>) -> Self {
        match clock {
            Some(c) => ClockHandle::Custom(c),
            None => ClockHandle::System,
        }
    }

    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self {
            ClockHandle::System => SystemClock.now(),
            ClockHandle::Custom(c) => c.now(),
        }
    }

    #[inline]
    pub(crate) fn recent(&self) -> u64 {
        match self {
            ClockHandle::System => SystemClock.recent(),
            ClockHandle::Custom(c) => c.recent(),
        }
    }

    pub(crate) fn prepare(&self) {
        if let ClockHandle::System = self {
            SystemClock::ensure_coarse_clock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_shared_and_monotonic() {
        let a = ManualClock::new();
        let b = a.clone();
        a.advance(Duration::from_millis(3));
        assert_eq!(b.now(), 3_000_000);
        b.set(1);
        assert_eq!(a.now(), 3_000_000);
    }

    #[test]
    fn coarse_clock_follows_real_time() {
        SystemClock::ensure_coarse_clock();
        let before = SystemClock.recent();
        std::thread::sleep(Duration::from_millis(30));
        let after = SystemClock.recent();
        assert!(
            after > before,
            "coarse clock did not advance: {before} -> {after}"
        );
        assert!(SystemClock.now() >= after);
    }
}
