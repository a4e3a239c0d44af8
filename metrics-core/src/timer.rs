//! Timers: a duration histogram (nanoseconds, windowed quantiles) plus a meter of
//! call rates, as in Dropwizard.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::clock::ClockHandle;
use crate::error::Error;
use crate::hdr::{HdrConfig, HdrHistogram, HdrSnapshot};
use crate::meter::{Meter, MeterSnapshot};

struct Core {
    durations: HdrHistogram,
    calls: Meter,
    clock: ClockHandle,
}

/// Times operations: a latency histogram (nanosecond resolution) and a call-rate meter.
///
/// **A background thread:** its meter starts the `tachometer-clock` thread like any
/// [`Meter`] on the system clock (see
/// [`SystemClock::stop_coarse_clock`](crate::SystemClock::stop_coarse_clock)).
///
/// ```
/// use std::time::Duration;
/// let timer = tachometer::Timer::new();
/// timer.record(Duration::from_millis(20));
/// let answer = timer.time(|| 6 * 7);
/// {
///     let _guard = timer.start(); // records when dropped
/// }
/// assert_eq!(answer, 42);
/// assert_eq!(timer.snapshot().durations.count(), 3);
/// ```
#[derive(Clone)]
pub struct Timer {
    core: Arc<Core>,
}

impl Default for Timer {
    fn default() -> Self {
        Self::with_clock(HdrConfig::default(), ClockHandle::System)
            .expect("the default HDR configuration is valid")
    }
}

impl Timer {
    /// A timer with the default range (1 ns to 1 h, 2 significant figures, 60 s window).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A timer with a custom histogram configuration (values are nanoseconds).
    pub fn with_config(config: HdrConfig) -> Result<Self, Error> {
        Self::with_clock(config, ClockHandle::System)
    }

    pub(crate) fn with_clock(config: HdrConfig, clock: ClockHandle) -> Result<Self, Error> {
        Self::build(config, clock, None)
    }

    /// `family_bytes`: see [`HdrHistogram::build`].
    pub(crate) fn build(
        config: HdrConfig,
        clock: ClockHandle,
        family_bytes: Option<Arc<std::sync::atomic::AtomicUsize>>,
    ) -> Result<Self, Error> {
        Ok(Self {
            core: Arc::new(Core {
                durations: HdrHistogram::build(config, clock.clone(), family_bytes)?,
                calls: Meter::with_clock(clock.clone()),
                clock,
            }),
        })
    }

    /// Records one duration.
    #[inline]
    pub fn record(&self, d: Duration) {
        self.record_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Records one duration given in nanoseconds.
    #[inline]
    pub fn record_nanos(&self, nanos: u64) {
        self.core.durations.record(nanos);
        self.core.calls.mark(1);
    }

    /// Runs `f` and records how long it took.
    pub fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = self.start();
        f()
    }

    /// Starts timing; the duration is recorded when the guard is dropped (or
    /// [`TimerGuard::stop`] is called).
    #[must_use = "the duration is recorded when the guard is dropped; dropping it at once records ~0"]
    pub fn start(&self) -> TimerGuard<'_> {
        TimerGuard {
            timer: self,
            start: self.core.clock.now(),
            done: false,
        }
    }

    /// Wraps a future: the time from this call until it completes is recorded. A future
    /// dropped before completion records nothing (see the macros for cancellation labels).
    pub fn time_future<F: Future>(&self, future: F) -> TimedFuture<F> {
        TimedFuture {
            future,
            timer: self.clone(),
            start: self.core.clock.now(),
        }
    }

    /// Clock reading in nanoseconds, on the clock this timer measures with.
    #[must_use]
    pub fn now(&self) -> u64 {
        self.core.clock.now()
    }

    /// Durations (nanoseconds) and call rates.
    #[must_use]
    pub fn snapshot(&self) -> TimerSnapshot {
        let mut s = TimerSnapshot::default();
        self.snapshot_into(&mut s);
        s
    }

    /// Reads into `into`, reusing its buffer (see [`HdrHistogram::snapshot_into`]).
    pub fn snapshot_into(&self, into: &mut TimerSnapshot) {
        self.core.durations.snapshot_into(&mut into.durations);
        into.calls = self.core.calls.snapshot();
    }

    /// Heap bytes this timer holds (see [`HdrHistogram::resident_bytes`]).
    #[must_use]
    pub fn resident_bytes(&self) -> usize {
        Self::own_bytes() + self.core.durations.resident_bytes()
    }

    /// Heap bytes of a new timer with `config`, before any value.
    pub(crate) fn new_bytes(config: &HdrConfig) -> usize {
        Self::own_bytes() + HdrHistogram::fixed_bytes(config.sub_windows as usize + 1)
    }

    /// The timer's own allocations beside its histogram: its `Arc` and the meter's.
    fn own_bytes() -> usize {
        2 * std::mem::size_of::<usize>() + std::mem::size_of::<Core>() + Meter::heap_bytes()
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer").finish_non_exhaustive()
    }
}

/// Records the time since [`Timer::start`] when dropped.
#[derive(Debug)]
pub struct TimerGuard<'a> {
    timer: &'a Timer,
    start: u64,
    done: bool,
}

impl TimerGuard<'_> {
    /// Records now and returns the measured duration.
    pub fn stop(mut self) -> Duration {
        self.done = true;
        let nanos = self.timer.core.clock.now().saturating_sub(self.start);
        self.timer.record_nanos(nanos);
        Duration::from_nanos(nanos)
    }

    /// Drops the guard without recording anything.
    pub fn discard(mut self) {
        self.done = true;
    }
}

impl Drop for TimerGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let nanos = self.timer.core.clock.now().saturating_sub(self.start);
            self.timer.record_nanos(nanos);
        }
    }
}

pin_project_lite::pin_project! {
    /// A future that records its run time into a [`Timer`] when it completes.
    #[must_use = "futures do nothing unless polled"]
    pub struct TimedFuture<F> {
        #[pin]
        future: F,
        timer: Timer,
        start: u64,
    }
}

impl<F: Future> Future for TimedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        match this.future.poll(cx) {
            Poll::Ready(out) => {
                let nanos = this.timer.core.clock.now().saturating_sub(*this.start);
                this.timer.record_nanos(nanos);
                Poll::Ready(out)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A timer's readings: durations in nanoseconds and the call meter.
#[derive(Debug, Clone, Default)]
pub struct TimerSnapshot {
    /// Durations in nanoseconds.
    pub durations: HdrSnapshot,
    /// Call count and rates (calls per second).
    pub calls: MeterSnapshot,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn guard_and_closure_use_the_clock() {
        let clock = ManualClock::new();
        let t = Timer::with_clock(
            HdrConfig::default(),
            ClockHandle::Custom(Arc::new(clock.clone())),
        )
        .unwrap();
        {
            let _g = t.start();
            clock.advance(Duration::from_millis(20));
        }
        t.time(|| clock.advance(Duration::from_millis(5)));
        t.start().discard();
        let s = t.snapshot();
        assert_eq!(s.durations.count(), 2);
        assert_eq!(s.calls.count, 2);
        assert_eq!(s.durations.sum(), 25_000_000);
        assert!((s.durations.max() - 20e6).abs() <= 20e6 * 0.01);
    }

    #[tokio::test]
    async fn timed_future_records_on_completion() {
        let t = Timer::new();
        let v = t
            .time_future(async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                7
            })
            .await;
        assert_eq!(v, 7);
        let s = t.snapshot();
        assert_eq!(s.durations.count(), 1);
        assert!(s.durations.max() >= 20e6 * 0.99, "{}", s.durations.max());
    }
}
