//! Reporter mode: push a registry's state to the daemon on a fixed interval.
//!
//! Recording stays on the registry's lock-free handles; only this exporter's thread
//! walks the registry and talks to the network. A batch job that exits after three
//! seconds must not lose its last interval, so `flush()` pushes now and waits, and drop
//! does one final push before the thread ends.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tachometer_core::Registry;

use super::config::{common_setters, Options};
use super::outbox::{Outbox, Stats, StatsdStats};
use super::transport::{Target, Transport};
use super::walk::Walker;
use super::StatsdError;
use crate::worker::{Control, FinishOnDrop, WaitError};

/// Default push interval (StatsD's own default flush interval).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Shared {
    control: Control,
    stats: Arc<Stats>,
}

/// Configures a [`StatsdReporter`].
#[derive(Debug)]
#[must_use = "call .start(&registry) to begin pushing"]
pub struct ReporterBuilder {
    opts: Options,
    interval: Duration,
}

impl ReporterBuilder {
    common_setters!();

    /// Time between pushes (default 10 s, at least 1 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Starts pushing `registry` from a background thread.
    pub fn start(self, registry: &Registry) -> Result<StatsdReporter, StatsdError> {
        self.opts.validate()?;
        if self.interval < Duration::from_millis(1) {
            return Err(StatsdError::InvalidConfig(format!(
                "interval is {:?}; use at least 1 ms (10 s is StatsD's default)",
                self.interval
            )));
        }
        let transport = Transport::open(&self.opts.target)?;
        let stats = Arc::new(Stats::new(self.opts.registry.as_ref())?);
        let shared = Arc::new(Shared {
            control: Control::default(),
            stats: stats.clone(),
        });
        let outbox = Outbox::new(transport, self.opts.max_payload, stats).with_log();
        let walker = Walker::new(self.opts.dialect, self.opts.prefix);
        let (registry, thread_shared, interval) = (registry.clone(), shared.clone(), self.interval);
        let handle = std::thread::Builder::new()
            .name("tachometer-statsd-reporter".into())
            .spawn(move || run(&registry, walker, outbox, &thread_shared, interval))
            .map_err(|source| StatsdError::Io {
                what: "spawn the StatsD reporter thread",
                source,
            })?;
        Ok(StatsdReporter {
            shared,
            handle: Some(handle),
            flush_timeout: self.opts.flush_timeout,
        })
    }
}

/// Pushes a [`Registry`] to StatsD every interval; pushes once more when dropped.
///
/// What is sent for each metric kind:
///
/// | registry | StatsD |
/// |---|---|
/// | counter, float counter, meter | `name:delta\|c` (change since this reporter's last push) |
/// | gauge, float gauge, callback gauge | `name:value\|g` every push |
/// | explicit histogram | `name.count`, `name.sum` as `c` deltas |
/// | HDR histogram | `name.count`, `name.sum` as `c` deltas; `name.mean`, `.p50`, `.p90`, `.p99`, `.max` as `g` |
/// | timer | as HDR histogram, values in milliseconds; `x_seconds` is sent as `x_milliseconds` |
///
/// Histograms go out as summaries because raw `|ms` samples cannot be rebuilt from
/// buckets; the quantile gauges cover the histogram's sliding window. Use
/// [`StatsdClient`](super::StatsdClient) to send every sample instead. Labels follow the
/// [`Dialect`](super::Dialect). Each reporter keeps its own last-pushed totals, so
/// several reporters (and scrapers) can share one registry. A delta the transport did
/// not send (daemon down, TCP reconnecting, the part of a TCP write after a timeout) is
/// not forgotten: it is counted in `dropped` and included again in the next push, so an
/// outage delays counts rather than losing them, and a delta that did go out is never
/// sent twice. Losses learnt only afterwards — a UDP port-unreachable, a TCP line cut in
/// half whose connection then failed — are counted in `dropped` but not resent.
///
/// ```no_run
/// use std::time::Duration;
/// use tachometer::{Opts, Registry};
/// use tachometer::exporters::statsd::{StatsdReporter, Target};
/// let registry = Registry::new();
/// let jobs = registry.counter(Opts::new("jobs_total", "Jobs run."))?;
/// let reporter = StatsdReporter::builder(Target::udp("127.0.0.1:8125"))
///     .interval(Duration::from_secs(10))
///     .prefix("batch")
///     .start(&registry)?;
/// jobs.increment(3);
/// drop(reporter); // final push: `batch.jobs_total:3|c`
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping the reporter stops it at once (after one final push); bind it to a named variable"]
pub struct StatsdReporter {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
    flush_timeout: Duration,
}

impl StatsdReporter {
    /// Starts configuring a reporter sending to `target`.
    pub fn builder(target: Target) -> ReporterBuilder {
        ReporterBuilder {
            opts: Options::new(target),
            interval: DEFAULT_INTERVAL,
        }
    }

    /// Pushes now and waits until the push has been handed to the transport, or the
    /// flush timeout passes. Returns the counters then (events delivered and dropped
    /// so far).
    pub fn flush(&self) -> Result<StatsdStats, StatsdError> {
        let deadline = Instant::now() + self.flush_timeout;
        let control = &self.shared.control;
        let ticket = control.request_flush();
        control
            .wait_completed(ticket, deadline)
            .map_err(|e| match e {
                WaitError::Finished => StatsdError::Stopped,
                WaitError::Timeout => StatsdError::FlushTimeout(self.flush_timeout),
            })?;
        Ok(self.stats())
    }

    /// Events dropped so far (invalid, oversize, or send failed).
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.shared.stats.dropped.get()
    }

    /// Counters describing what the reporter has done.
    #[must_use]
    pub fn stats(&self) -> StatsdStats {
        self.shared.stats.snapshot()
    }
}

impl StatsdReporter {
    /// Makes an `atexit` hook push one last time (bounded by `timeout`) if the process
    /// exits while this reporter is alive — including by `std::process::exit`, which
    /// runs no destructors.
    pub fn flush_on_exit(&self, timeout: Duration) {
        crate::exit::flush_on_exit(crate::exit::exit_hook(&self.shared), timeout);
    }

    /// Pushes one last time and stops, waiting at most `timeout`; returns the final
    /// counters.
    pub fn shutdown(mut self, timeout: Duration) -> Result<StatsdStats, StatsdError> {
        if self.stop(Instant::now() + timeout) {
            Ok(self.stats())
        } else {
            Err(StatsdError::FlushTimeout(timeout))
        }
    }

    /// Stops the thread after its final push; returns whether it finished by `deadline`.
    fn stop(&mut self, deadline: Instant) -> bool {
        let finished = self.shared.stop(deadline);
        // A thread stuck past the timeout is left to finish on its own rather than
        // blocking the program's exit.
        if let (true, Some(h)) = (finished, self.handle.take()) {
            let _ = h.join();
        }
        self.handle = None;
        finished
    }
}

impl Shared {
    /// Asks for the final push and waits for the thread to finish, until `deadline`.
    fn stop(&self, deadline: Instant) -> bool {
        self.control.stop(deadline, Duration::ZERO)
    }
}

impl crate::exit::ExitFlush for Shared {
    fn exit_flush(&self, deadline: Instant) {
        self.stop(deadline);
    }
}

impl Drop for StatsdReporter {
    fn drop(&mut self) {
        if self.handle.is_some() {
            self.stop(Instant::now() + self.flush_timeout);
        }
    }
}

fn run(
    registry: &Registry,
    mut walker: Walker,
    mut outbox: Outbox,
    shared: &Shared,
    interval: Duration,
) {
    let control = &shared.control;
    let _finish = FinishOnDrop(control);
    let mut next = Instant::now() + interval;
    let mut done = 0;
    loop {
        let work = control.wait_work(done, Some(next));
        walker.push(registry, &mut outbox);
        control.complete(work.flush);
        done = work.flush;
        if work.stop.is_some() {
            return;
        }
        let now = Instant::now();
        if now >= next {
            next = now + interval;
        }
    }
}
