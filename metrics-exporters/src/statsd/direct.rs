//! Direct mode: each event is sent as it happens, as cadence and datadog-go do.
//!
//! The caller formats the line into an inline buffer on its own stack and `try_send`s it
//! into a bounded channel whose slots were allocated up front, so an event costs no
//! allocation, no lock and no syscall on the calling thread, and never blocks: when the
//! queue is full the event is dropped and counted. One background thread drains the
//! queue, packs lines into datagrams and sends them; a slow daemon stalls only that
//! thread. Client-side sampling happens before formatting, so a sampled-out event costs
//! a thread-local random number and nothing else.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::thread::Thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::config::{common_setters, Options};
use super::dialect::{Dialect, Kind};
use super::line::{write_line, Key, Line, Num};
use super::outbox::{Outbox, Stats, StatsdStats};
use super::transport::{Target, Transport};
use super::StatsdError;
use crate::worker::{Control, FinishOnDrop, WaitError};

/// Default queue capacity, in events. Each slot is about 240 bytes, allocated up front.
pub const DEFAULT_QUEUE_CAPACITY: usize = 8192;

/// One metric event for [`StatsdClient::send`].
///
/// ```
/// use tachometer::exporters::statsd::Event;
/// let tags = [("env", "prod")];
/// let _event = Event::count("page.views", 1).rate(0.5).tags(&tags);
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "an Event does nothing until passed to StatsdClient::send"]
pub struct Event<'a> {
    name: &'a str,
    value: Num,
    kind: Kind,
    rate: f64,
    tags: &'a [(&'a str, &'a str)],
}

impl<'a> Event<'a> {
    fn new(name: &'a str, value: Num, kind: Kind) -> Self {
        Self {
            name,
            value,
            kind,
            rate: 1.0,
            tags: &[],
        }
    }

    /// Adds `value` to a counter (`|c`).
    pub fn count(name: &'a str, value: i64) -> Self {
        Self::new(name, Num::Int(value), Kind::Count)
    }

    /// Sets a gauge (`|g`). Negative values are sent the way the dialect requires.
    pub fn gauge(name: &'a str, value: f64) -> Self {
        Self::new(name, Num::Float(value), Kind::Gauge)
    }

    /// Records a duration (`|ms`, in milliseconds with sub-millisecond precision).
    pub fn timing(name: &'a str, duration: Duration) -> Self {
        Self::new(
            name,
            Num::Float(duration.as_nanos() as f64 / 1e6),
            Kind::Timing,
        )
    }

    /// Records a histogram sample (`|h` in DogStatsD, `|ms` in Etsy StatsD).
    pub fn histogram(name: &'a str, value: f64) -> Self {
        Self::new(name, Num::Float(value), Kind::Histogram)
    }

    /// Records a distribution sample (`|d` in DogStatsD, `|ms` in Etsy StatsD).
    pub fn distribution(name: &'a str, value: f64) -> Self {
        Self::new(name, Num::Float(value), Kind::Distribution)
    }

    /// Sends only a `rate` fraction of these events, marked `|@rate` so the daemon
    /// scales them back up (gauges are never sampled). Must be in (0, 1] for every kind;
    /// other values (> 1, ≤ 0, NaN, ±∞) make the event invalid: dropped and counted,
    /// never sent as rate 1.
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }

    /// Labels: DogStatsD tags, or folded into the name for Etsy StatsD.
    pub fn tags(mut self, tags: &'a [(&'a str, &'a str)]) -> Self {
        self.tags = tags;
        self
    }
}

// Lines travel by value into preallocated queue slots; that is the point.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Line(Line),
    Flush(u64),
}

#[derive(Debug)]
struct Shared {
    stats: Arc<Stats>,
    /// Flush tickets travel in the queue ([`Msg::Flush`]); the sender thread completes
    /// them in order of arrival.
    control: Control,
    next_flush: AtomicU64,
    /// The sender thread, to unpark it (set by the thread itself when it starts).
    worker: OnceLock<Thread>,
    dialect: Dialect,
    prefix: String,
    max_payload: usize,
    flush_timeout: Duration,
}

impl Shared {
    /// Unparks the sender thread (cheap when it is already awake).
    fn wake(&self) {
        if let Some(t) = self.worker.get() {
            t.unpark();
        }
    }
}

/// Waits for the sender thread when the last client goes away.
#[derive(Debug)]
struct WorkerGuard {
    shared: Arc<Shared>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        // Every sender is gone by now, so the thread is draining what is left and will
        // finish; wait for it, but no longer than the flush timeout.
        let deadline = Instant::now() + self.shared.flush_timeout;
        self.shared.wake();
        let finished = self.shared.control.wait_finished(deadline);
        if let (true, Some(h)) = (finished, self.handle.lock().take()) {
            let _ = h.join();
        }
    }
}

/// Configures a [`StatsdClient`].
#[derive(Debug)]
#[must_use = "call .build() to start the client"]
pub struct ClientBuilder {
    opts: Options,
    queue_capacity: usize,
}

impl ClientBuilder {
    common_setters!();

    /// How many events may wait for the sender thread (default
    /// [`DEFAULT_QUEUE_CAPACITY`]); beyond that, events are dropped and counted.
    pub fn queue_capacity(mut self, events: usize) -> Self {
        self.queue_capacity = events;
        self
    }

    /// Opens the transport and starts the sender thread.
    pub fn build(self) -> Result<StatsdClient, StatsdError> {
        self.opts.validate()?;
        if self.queue_capacity == 0 {
            return Err(StatsdError::InvalidConfig(
                "queue_capacity is 0; use at least 1".into(),
            ));
        }
        let transport = Transport::open(&self.opts.target)?;
        let stats = Arc::new(Stats::new(self.opts.registry.as_ref())?);
        let shared = Arc::new(Shared {
            stats: stats.clone(),
            control: Control::default(),
            next_flush: AtomicU64::new(0),
            worker: OnceLock::new(),
            dialect: self.opts.dialect,
            prefix: self.opts.prefix,
            max_payload: self.opts.max_payload,
            flush_timeout: self.opts.flush_timeout,
        });
        let (tx, rx) = mpsc::sync_channel(self.queue_capacity);
        let outbox = Outbox::new(transport, self.opts.max_payload, stats);
        let worker_shared = shared.clone();
        let handle = std::thread::Builder::new()
            .name("tachometer-statsd".into())
            .spawn(move || run(rx, outbox, &worker_shared))
            .map_err(|source| StatsdError::Io {
                what: "spawn the StatsD sender thread",
                source,
            })?;
        Ok(StatsdClient {
            tx,
            shared: shared.clone(),
            _worker: Arc::new(WorkerGuard {
                shared,
                handle: Mutex::new(Some(handle)),
            }),
        })
    }
}

/// Sends metric events as they happen, from any thread, without ever blocking.
///
/// Cloning is cheap; all clones feed the same queue and sender thread. When the last
/// clone is dropped, everything queued is sent (bounded by the flush timeout).
///
/// ```no_run
/// use std::time::Duration;
/// use tachometer::exporters::statsd::{Dialect, Event, StatsdClient, Target};
/// let client = StatsdClient::builder(Target::udp("127.0.0.1:8125"))
///     .dialect(Dialect::dogstatsd())
///     .prefix("shop")
///     .build()?;
/// client.count("orders", 1);
/// client.timing("checkout", Duration::from_millis(42));
/// client.send(Event::histogram("basket.size", 3.0).rate(0.1).tags(&[("region", "eu")]));
/// client.flush()?;
/// # Ok::<(), tachometer::exporters::statsd::StatsdError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "dropping the last clone stops the client (after sending what is queued); bind it to a named variable"]
pub struct StatsdClient {
    // Dropped first: the last sender going away is what tells the thread to finish.
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    _worker: Arc<WorkerGuard>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Line(l) => write!(f, "Line({:?})", String::from_utf8_lossy(l.as_bytes())),
            Msg::Flush(id) => write!(f, "Flush({id})"),
        }
    }
}

impl StatsdClient {
    /// Starts configuring a client sending to `target`.
    pub fn builder(target: Target) -> ClientBuilder {
        ClientBuilder {
            opts: Options::new(target),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }

    /// Adds `value` to the counter `name`.
    pub fn count(&self, name: &str, value: i64) {
        self.send(Event::count(name, value));
    }

    /// Sets the gauge `name`.
    pub fn gauge(&self, name: &str, value: f64) {
        self.send(Event::gauge(name, value));
    }

    /// Records a duration for the timer `name`.
    pub fn timing(&self, name: &str, duration: Duration) {
        self.send(Event::timing(name, duration));
    }

    /// Records a histogram sample.
    pub fn histogram(&self, name: &str, value: f64) {
        self.send(Event::histogram(name, value));
    }

    /// Records a distribution sample.
    pub fn distribution(&self, name: &str, value: f64) {
        self.send(Event::distribution(name, value));
    }

    /// Formats `event` and queues it; never blocks. Invalid events (non-finite value,
    /// negative sample for `ms`, bad rate, longer than the payload limit) and events
    /// that find the queue full are dropped and counted.
    pub fn send(&self, event: Event<'_>) {
        let sh = &*self.shared;
        if event.kind.sampled() && event.rate < 1.0 && event.rate > 0.0 && !sampled_in(event.rate) {
            return;
        }
        let mut line = Line::new();
        let key = Key {
            dialect: sh.dialect,
            prefix: &sh.prefix,
            name: event.name,
            suffix: "",
            labels: event.tags.iter().copied(),
        };
        if write_line(&mut line, &key, event.value, event.kind, event.rate).is_err()
            || line.as_bytes().len() > sh.max_payload
        {
            sh.stats.dropped.increment(1);
            return;
        }
        let woken = SINCE_WAKE.with(|c| {
            let n = c.get() + 1;
            c.set(if n >= WAKE_STRIDE { 0 } else { n });
            n >= WAKE_STRIDE
        });
        if woken {
            sh.wake();
        }
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.tx.try_send(Msg::Line(line))
        {
            sh.stats.dropped.increment(1);
            sh.wake();
        }
    }

    /// Blocks until every event queued before this call has been handed to the
    /// transport, or the flush timeout passes. Returns the counters then (events
    /// delivered and dropped so far).
    pub fn flush(&self) -> Result<StatsdStats, StatsdError> {
        let sh = &*self.shared;
        let id = sh.next_flush.fetch_add(1, Relaxed) + 1;
        let deadline = Instant::now() + sh.flush_timeout;
        let mut marker = Msg::Flush(id);
        loop {
            match self.tx.try_send(marker) {
                Ok(()) => {
                    sh.wake();
                    break;
                }
                Err(TrySendError::Full(m)) => {
                    if Instant::now() >= deadline {
                        return Err(StatsdError::FlushTimeout(sh.flush_timeout));
                    }
                    marker = m;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(_)) => return Err(StatsdError::Stopped),
            }
        }
        sh.control
            .wait_completed(id, deadline)
            .map_err(|e| match e {
                WaitError::Finished => StatsdError::Stopped,
                WaitError::Timeout => StatsdError::FlushTimeout(sh.flush_timeout),
            })?;
        Ok(self.stats())
    }

    /// Events dropped so far (queue full, invalid, oversize, or send failed).
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.shared.stats.dropped.get()
    }

    /// Counters describing what the client has done.
    #[must_use]
    pub fn stats(&self) -> StatsdStats {
        self.shared.stats.snapshot()
    }
}

fn run(rx: Receiver<Msg>, mut outbox: Outbox, shared: &Shared) {
    let handle = |msg: Msg, outbox: &mut Outbox| match msg {
        Msg::Line(line) => outbox.push(line.as_bytes()),
        Msg::Flush(id) => {
            outbox.flush();
            shared.control.complete(id);
        }
    };
    let _finish = FinishOnDrop(&shared.control);
    // Poll instead of blocking in `recv`: a receiver blocked in the channel must be woken
    // by a futex syscall on the *sending* thread, which would put a syscall on the
    // caller's path whenever the worker has caught up. Parked with a timeout, the worker
    // is woken only by `flush`, by drop, or by a caller every `WAKE_STRIDE` events (see
    // `send`), so bursts after an idle spell still find it awake long before the queue
    // fills. The poll interval starts at 1 ms and backs off to 50 ms while idle.
    let _ = shared.worker.set(std::thread::current());
    let mut poll = POLL_MIN;
    loop {
        let mut got = false;
        loop {
            match rx.try_recv() {
                Ok(msg) => {
                    handle(msg, &mut outbox);
                    got = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    outbox.flush();
                    return;
                }
            }
        }
        // The queue is empty: send the partial datagram so a quiet client still
        // delivers promptly, while under load lines share datagrams.
        outbox.flush();
        poll = if got {
            POLL_MIN
        } else {
            (poll * 2).min(POLL_MAX)
        };
        std::thread::park_timeout(poll);
    }
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
    /// Events this thread queued since it last nudged a sender thread.
    static SINCE_WAKE: Cell<u32> = const { Cell::new(0) };
}

/// Shortest and longest sleep of an idle sender thread.
const POLL_MIN: Duration = Duration::from_millis(1);
const POLL_MAX: Duration = Duration::from_millis(50);
/// Every this many events a calling thread unparks the sender thread — an atomic swap
/// when it is awake, a futex wake when it is not — so a burst cannot outrun a sleeping
/// worker: even 8 threads queue at most 8 × 256 events before it is woken.
const WAKE_STRIDE: u32 = 256;

/// Whether this event survives sampling at `rate` (xorshift64*, per thread).
fn sampled_in(rate: f64) -> bool {
    RNG.with(|s| {
        let mut x = s.get();
        if x == 0 {
            // Seed from the thread's stack address and the clock; quality is not
            // critical, independence between threads is.
            let local = 0u8;
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            x = (&local as *const u8 as u64) ^ t.rotate_left(32) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        (r as f64) * (1.0 / (1u64 << 53) as f64) < rate
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_keeps_about_the_rate() {
        let kept = (0..100_000).filter(|_| sampled_in(0.1)).count();
        assert!((9_000..11_000).contains(&kept), "{kept}");
    }
}
