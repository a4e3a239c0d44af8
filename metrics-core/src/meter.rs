//! Meters: event counts with mean and 1/5/15-minute exponentially weighted rates,
//! with Dropwizard Metrics' semantics.
//!
//! `mark(n)` first ticks the averages if more than 5 s passed since the last tick, then
//! counts `n`, so events of the current interval are folded in at a later tick —
//! exactly Dropwizard's order. To keep `mark` nearly as cheap as a counter increment it
//! reads the coarse clock ([`Clock::recent`](crate::Clock::recent): one relaxed load)
//! and compares it with the next tick deadline; only the thread that crosses a deadline
//! takes the (uncontended, `try_lock`) tick path. The events of an interval are not
//! counted twice: the tick takes the difference between the striped count and the count
//! at the previous tick.
//!
//! Clock readings are opaque `u64` nanoseconds, possibly from a custom clock that
//! starts anywhere, even near `u64::MAX`: every computation on them saturates, so no
//! reading can overflow (past `u64::MAX` time simply stops). The count saturates at
//! `u64::MAX` (see [`Counter`](crate::Counter)).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::sync::Mutex;

use crate::clock::ClockHandle;
use crate::ewma::{Ewma, TICK_NANOS as TICK};
use crate::striped::Striped;

/// Idle ticks after which Dropwizard resets the averages instead of decaying them
/// (the 15-minute average of a `Long.MAX_VALUE` burst decays below 0.0001/s by then).
const MAX_TICKS: u64 = 9231;

struct Ticks {
    last_tick: u64,
    counted: u64,
    m1: Ewma,
    m5: Ewma,
    m15: Ewma,
}

struct Core {
    count: Striped<u64>,
    next_tick: AtomicU64,
    start: u64,
    clock: ClockHandle,
    ticks: Mutex<Ticks>,
}

/// Counts events and their rates (requests per second over 1, 5 and 15 minutes).
///
/// **A background thread:** the first meter on the system clock starts
/// `tachometer-clock`, which refreshes a coarse clock 1,000 times a second so that
/// [`mark`](Self::mark) costs about a counter increment; see
/// [`SystemClock::stop_coarse_clock`](crate::SystemClock::stop_coarse_clock) to stop it.
/// Meters of a registry on a custom clock do not start it.
///
/// ```
/// let m = tachometer::Meter::new();
/// m.mark(3);
/// assert_eq!(m.snapshot().count, 3);
/// ```
#[derive(Clone)]
pub struct Meter {
    core: Arc<Core>,
}

impl Default for Meter {
    fn default() -> Self {
        Self::with_clock(ClockHandle::System)
    }
}

impl Meter {
    /// A meter on the system clock, not attached to any registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn with_clock(clock: ClockHandle) -> Self {
        clock.prepare();
        let start = clock.now();
        Self {
            core: Arc::new(Core {
                count: Striped::default(),
                next_tick: AtomicU64::new(start.saturating_add(TICK + 1)),
                start,
                ticks: Mutex::new(Ticks {
                    last_tick: start,
                    counted: 0,
                    m1: Ewma::one_minute(),
                    m5: Ewma::five_minutes(),
                    m15: Ewma::fifteen_minutes(),
                }),
                clock,
            }),
        }
    }

    /// Records `n` events. The count saturates at `u64::MAX` rather than wrapping.
    #[inline]
    pub fn mark(&self, n: u64) {
        let core = &*self.core;
        if core.clock.recent() >= core.next_tick.load(Relaxed) {
            self.tick_if_necessary(false);
        }
        core.count.add(n);
    }

    /// Folds completed 5 s intervals into the averages. `wait` is false on the hot path:
    /// if another thread is already ticking, it will do the work.
    #[cold]
    fn tick_if_necessary(&self, wait: bool) {
        let core = &*self.core;
        let mut ticks = if wait {
            core.ticks.lock()
        } else {
            match core.ticks.try_lock() {
                Some(t) => t,
                None => return,
            }
        };
        let now = if wait {
            core.clock.now()
        } else {
            core.clock.recent()
        };
        let age = now.saturating_sub(ticks.last_tick);
        if age <= TICK {
            return;
        }
        let total = core.count.sum();
        // The count never decreases (it saturates), so this cannot underflow.
        let uncounted = total.saturating_sub(ticks.counted);
        ticks.counted = total;
        let required = age / TICK;
        if required >= MAX_TICKS {
            ticks.m1.reset();
            ticks.m5.reset();
            ticks.m15.reset();
        } else {
            let t = &mut *ticks;
            for ewma in [&mut t.m1, &mut t.m5, &mut t.m15] {
                ewma.tick(uncounted);
                for _ in 1..required {
                    ewma.tick(0);
                }
            }
        }
        ticks.last_tick = now - age % TICK;
        core.next_tick
            .store(ticks.last_tick.saturating_add(TICK + 1), Relaxed);
    }

    /// Heap bytes behind one meter (its `Arc` allocation).
    pub(crate) fn heap_bytes() -> usize {
        2 * std::mem::size_of::<usize>() + std::mem::size_of::<Core>()
    }

    /// Events marked so far.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.core.count.sum()
    }

    /// Count, mean rate and the three moving-average rates, in events per second.
    #[must_use]
    pub fn snapshot(&self) -> MeterSnapshot {
        self.tick_if_necessary(true);
        let core = &*self.core;
        let ticks = core.ticks.lock();
        let count = core.count.sum();
        let elapsed = core.clock.now().saturating_sub(core.start);
        let mean_rate = if count == 0 || elapsed == 0 {
            0.0
        } else {
            count as f64 / (elapsed as f64 / 1e9)
        };
        MeterSnapshot {
            count,
            mean_rate,
            m1_rate: ticks.m1.rate_per_second(),
            m5_rate: ticks.m5.rate_per_second(),
            m15_rate: ticks.m15.rate_per_second(),
        }
    }
}

impl fmt::Debug for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Meter")
            .field("count", &self.count())
            .finish()
    }
}

/// A meter's readings. Rates are events per second.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MeterSnapshot {
    /// Events since creation.
    pub count: u64,
    /// `count / seconds since creation`; 0 before the first event.
    pub mean_rate: f64,
    /// One-minute exponentially weighted rate.
    pub m1_rate: f64,
    /// Five-minute exponentially weighted rate.
    pub m5_rate: f64,
    /// Fifteen-minute exponentially weighted rate.
    pub m15_rate: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use std::time::Duration;

    fn manual() -> (Meter, ManualClock) {
        let clock = ManualClock::new();
        (
            Meter::with_clock(ClockHandle::Custom(Arc::new(clock.clone()))),
            clock,
        )
    }

    #[test]
    fn dropwizard_meter_vector() {
        let (m, clock) = manual();
        m.mark(1);
        clock.advance(Duration::from_secs(10));
        m.mark(2);
        let s = m.snapshot();
        assert_eq!(s.count, 3);
        assert!((s.mean_rate - 0.3).abs() < 1e-12);
        assert!(
            (s.m1_rate - 0.2 * (-1.0f64 / 12.0).exp()).abs() < 1e-9,
            "m1 {}",
            s.m1_rate
        );
        assert!(
            (s.m5_rate - 0.2 * (-1.0f64 / 60.0).exp()).abs() < 1e-9,
            "m5 {}",
            s.m5_rate
        );
        assert!(
            (s.m15_rate - 0.2 * (-1.0f64 / 180.0).exp()).abs() < 1e-9,
            "m15 {}",
            s.m15_rate
        );
    }

    #[test]
    fn reading_within_the_interval_does_not_tick() {
        let (m, clock) = manual();
        m.mark(5);
        clock.advance(Duration::from_secs(5));
        let s = m.snapshot();
        assert_eq!(s.m1_rate, 0.0, "age must exceed 5 s strictly");
        assert_eq!(s.mean_rate, 1.0);
        clock.advance(Duration::from_nanos(1));
        assert!((m.snapshot().m1_rate - 1.0).abs() < 1e-12);
    }

    #[test]
    fn long_idle_resets_averages() {
        let (m, clock) = manual();
        m.mark(1_000_000);
        clock.advance(Duration::from_secs(6));
        assert!(m.snapshot().m15_rate > 1000.0);
        clock.advance(Duration::from_secs(5 * MAX_TICKS));
        let s = m.snapshot();
        assert!(
            s.m15_rate < 1e-290,
            "reset after {MAX_TICKS} idle ticks: {}",
            s.m15_rate
        );
    }

    #[test]
    fn clock_near_u64_max_never_overflows() {
        let clock = ManualClock::new();
        clock.set(u64::MAX - TICK / 2);
        let m = Meter::with_clock(ClockHandle::Custom(Arc::new(clock.clone())));
        m.mark(1);
        let _ = m.snapshot();
        // Past the end of the clock's range: time stops at u64::MAX, nothing panics.
        clock.advance(Duration::from_secs(60));
        assert_eq!(clock.now(), u64::MAX);
        m.mark(2);
        let s = m.snapshot();
        assert_eq!(s.count, 3);
        assert!(s.m1_rate.is_finite() && s.mean_rate.is_finite());
        // Ticks every interval up to the last representable instant.
        let clock = ManualClock::new();
        clock.set(u64::MAX - 3 * TICK);
        let m = Meter::with_clock(ClockHandle::Custom(Arc::new(clock.clone())));
        for _ in 0..10 {
            m.mark(5);
            clock.advance(Duration::from_secs(2));
            let _ = m.snapshot();
        }
        assert_eq!(m.count(), 50);
    }

    #[test]
    fn count_saturates_instead_of_wrapping() {
        let (m, clock) = manual();
        m.mark(u64::MAX);
        m.mark(1);
        assert_eq!(m.count(), u64::MAX);
        clock.advance(Duration::from_secs(6));
        m.mark(u64::MAX);
        let s = m.snapshot();
        assert_eq!(s.count, u64::MAX);
        assert!(s.m1_rate.is_finite() && s.m1_rate > 0.0);
    }

    #[test]
    fn concurrent_marks_with_snapshots_are_exact() {
        let (m, clock) = manual();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..250_000 {
                        m.mark(1);
                    }
                })
            })
            .collect();
        for _ in 0..100 {
            clock.advance(Duration::from_secs(1));
            let _ = m.snapshot();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(m.snapshot().count, 1_000_000);
    }
}
