//! Prometheus remote write 1.0: `WriteRequest` protobuf, snappy block compression,
//! a bounded queue, batches, retries with backoff, and exact accounting.
//!
//! Each interval (and each flush) the registry is walked once; every sample of the
//! Prometheus mapping ([`crate::prometheus`]) becomes one `TimeSeries` with one
//! `Sample` stamped with the walk's time. Encoded `TimeSeries` go into a bounded queue
//! as bytes: a `WriteRequest` is nothing but its `TimeSeries` fields back to back, so a
//! batch is a concatenation of queued entries, snappy-compressed and POSTed. Nothing
//! is decoded or re-encoded on retry.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tachometer_core::{Counter, Descriptor, Labels, Opts, Registry, Value, Visitor};

use super::http::{self, Endpoint, Request};
use super::{exit_hook, Auth, ExitFlush, Jitter, PushError, PushStats};
use crate::pbwire::{begin_message, end_message, put_double, put_int64, put_str};
use crate::prometheus::samples::{for_each_sample, Sample};
use crate::worker::{Control, FinishOnDrop, WaitError};

/// Time a stop waits past its deadline for the worker to record the last answer.
const STOP_GRACE: Duration = Duration::from_millis(100);

/// Encodes a registry as a remote-write 1.0 `WriteRequest`, snappy-compressed: the
/// body a [`RemoteWriter`] POSTs, for callers with their own HTTP client (and for
/// measuring). Buffers are reused across calls.
///
/// Each sample of the Prometheus mapping becomes one `TimeSeries` with the labels
/// `__name__`, the series' labels (empty values left out, as Prometheus treats them
/// as absent), the sample's `le`/`quantile`/`window`, and the external labels the
/// series does not already have, sorted byte-wise by name as the spec requires.
///
/// ```
/// use tachometer::{Opts, Registry};
/// use tachometer::exporters::push::RemoteWriteEncoder;
/// let registry = Registry::new();
/// registry.counter(Opts::new("up_total", "")).unwrap().increment(1);
/// let mut encoder = RemoteWriteEncoder::new();
/// encoder.external_label("job", "x").unwrap();
/// let body = encoder.encode(&registry, 1_700_000_000_000);
/// assert_eq!(body.samples, 1);
/// assert!(!body.snappy.is_empty());
/// ```
#[derive(Debug)]
pub struct RemoteWriteEncoder {
    walker: Walker,
    proto: Vec<u8>,
    ends: Vec<usize>,
    compressed: Vec<u8>,
    snappy: snap::raw::Encoder,
}

/// One encoded request (see [`RemoteWriteEncoder::encode`]).
#[derive(Debug, Clone, Copy)]
pub struct EncodedRequest<'a> {
    /// The `WriteRequest` protobuf, uncompressed.
    pub protobuf: &'a [u8],
    /// The same, as a snappy block: the HTTP body.
    pub snappy: &'a [u8],
    /// Number of samples (= `TimeSeries`) in it.
    pub samples: u64,
}

impl Default for RemoteWriteEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl RemoteWriteEncoder {
    /// An encoder without external labels.
    #[must_use]
    pub fn new() -> Self {
        Self {
            walker: Walker::default(),
            proto: Vec::new(),
            ends: Vec::new(),
            compressed: Vec::new(),
            snappy: snap::raw::Encoder::new(),
        }
    }

    /// Adds a label every series gets unless it has one of that name (like
    /// Prometheus' `external_labels`). Names follow Prometheus' label syntax.
    pub fn external_label(&mut self, name: &str, value: &str) -> Result<(), PushError> {
        self.walker.add_external(name, value)
    }

    /// Encodes every series of `registry` with timestamp `timestamp_ms` (milliseconds
    /// since the Unix epoch).
    pub fn encode(&mut self, registry: &Registry, timestamp_ms: i64) -> EncodedRequest<'_> {
        self.proto.clear();
        self.ends.clear();
        let samples = self
            .walker
            .walk(registry, timestamp_ms, &mut self.proto, &mut self.ends);
        compress(&mut self.snappy, &self.proto, &mut self.compressed);
        EncodedRequest {
            protobuf: &self.proto,
            snappy: &self.compressed,
            samples,
        }
    }
}

fn compress(enc: &mut snap::raw::Encoder, input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.resize(snap::raw::max_compress_len(input.len()), 0);
    // Only fails for inputs over 2^32 - 1 bytes; batches are far below.
    let n = enc.compress(input, out).unwrap_or(0);
    out.truncate(n);
}

/// Checks a label name against `[a-zA-Z_][a-zA-Z0-9_]*`, not `__`-prefixed.
fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with("__")
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()))
}

/// Walks a registry into encoded `TimeSeries` entries.
#[derive(Debug, Default)]
struct Walker {
    /// External labels, sorted by name.
    external: Vec<(String, String)>,
    /// One sample's label names and values, back to back; `spans` index into it.
    arena: String,
    spans: Vec<[u32; 4]>,
    le: String,
}

impl Walker {
    fn add_external(&mut self, name: &str, value: &str) -> Result<(), PushError> {
        if !valid_label_name(name) {
            return Err(PushError::InvalidConfig(format!(
                "external label name {name:?} is invalid; use [a-zA-Z_][a-zA-Z0-9_]* not starting with __"
            )));
        }
        if value.is_empty() {
            return Err(PushError::InvalidConfig(format!(
                "external label {name:?} has an empty value; remote write forbids empty label values"
            )));
        }
        match self
            .external
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
        {
            Ok(_) => Err(PushError::InvalidConfig(format!(
                "external label {name:?} is given twice"
            ))),
            Err(i) => {
                self.external.insert(i, (name.to_owned(), value.to_owned()));
                Ok(())
            }
        }
    }

    /// Appends one `TimeSeries` field per sample to `out`, its end offset to `ends`.
    fn walk(
        &mut self,
        registry: &Registry,
        ts: i64,
        out: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> u64 {
        let mut v = WalkVisitor {
            w: self,
            ts,
            out,
            ends,
            samples: 0,
        };
        registry.visit(&mut v);
        v.samples
    }
}

struct WalkVisitor<'a> {
    w: &'a mut Walker,
    ts: i64,
    out: &'a mut Vec<u8>,
    ends: &'a mut Vec<usize>,
    samples: u64,
}

impl Visitor for WalkVisitor<'_> {
    fn series(&mut self, desc: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        let Walker {
            external,
            arena,
            spans,
            le,
        } = &mut *self.w;
        let (ts, out, ends, samples) =
            (self.ts, &mut *self.out, &mut *self.ends, &mut self.samples);
        for_each_sample(desc, value, le, &mut |s| {
            encode_sample(arena, spans, external, &labels, &s, ts, out);
            ends.push(out.len());
            *samples += 1;
        });
    }
}

fn push_label(arena: &mut String, spans: &mut Vec<[u32; 4]>, name: &[&str], value: &str) {
    let n0 = arena.len() as u32;
    for part in name {
        arena.push_str(part);
    }
    let n1 = arena.len() as u32;
    arena.push_str(value);
    spans.push([n0, n1, n1, arena.len() as u32]);
}

fn encode_sample(
    arena: &mut String,
    spans: &mut Vec<[u32; 4]>,
    external: &[(String, String)],
    labels: &Labels<'_>,
    s: &Sample<'_>,
    ts: i64,
    out: &mut Vec<u8>,
) {
    arena.clear();
    spans.clear();
    push_label(arena, spans, &["__name__"], "");
    // The name is the value of `__name__`: rewrite that span.
    let v0 = arena.len() as u32;
    arena.push_str(s.stem);
    arena.push_str(s.suffix);
    spans[0][2] = v0;
    spans[0][3] = arena.len() as u32;
    for (n, v) in labels.iter() {
        if !v.is_empty() {
            push_label(arena, spans, &[n], v);
        }
    }
    let extra_name = s.extra.map(|(n, _)| n);
    if let Some((n, v)) = s.extra {
        push_label(arena, spans, &[n], v);
    }
    for (n, v) in external {
        let shadowed = labels.names().any(|x| x == n.as_str()) || extra_name == Some(n.as_str());
        if !shadowed {
            push_label(arena, spans, &[n], v);
        }
    }
    let text = arena.as_str();
    let slice = |a: u32, b: u32| &text[a as usize..b as usize];
    spans.sort_unstable_by(|x, y| slice(x[0], x[1]).cmp(slice(y[0], y[1])));

    let series = begin_message(out, 1);
    for sp in spans.iter() {
        let label = begin_message(out, 1);
        put_str(out, 1, slice(sp[0], sp[1]));
        put_str(out, 2, slice(sp[2], sp[3]));
        end_message(out, label);
    }
    let sample = begin_message(out, 2);
    // proto3: zero scalars are left out. Any NaN goes out as the canonical quiet NaN,
    // never as the stale marker 0x7ff0000000000002.
    let value = if s.value.is_nan() { f64::NAN } else { s.value };
    if value.to_bits() != 0 {
        put_double(out, 1, value);
    }
    if ts != 0 {
        put_int64(out, 2, ts);
    }
    end_message(out, sample);
    end_message(out, series);
}

/// One walk's encoded entries.
#[derive(Debug, Default)]
struct Chunk {
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// First entry not yet sent or dropped.
    next: usize,
    walked_at: Option<Instant>,
}

impl Chunk {
    fn remaining(&self) -> usize {
        self.ends.len() - self.next
    }

    fn start_of(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.ends[i - 1]
        }
    }
}

/// The bounded queue of encoded samples, oldest first.
#[derive(Debug, Default)]
struct Queue {
    chunks: VecDeque<Chunk>,
    spare: Vec<Chunk>,
    pending: usize,
    /// Entries ever removed (sent or dropped), for flush tickets.
    removed: u64,
    /// Entries ever added.
    added: u64,
}

impl Queue {
    fn spare_chunk(&mut self) -> Chunk {
        let mut c = self.spare.pop().unwrap_or_default();
        c.buf.clear();
        c.ends.clear();
        c.next = 0;
        c.walked_at = None;
        c
    }

    /// Appends `chunk`; drops the oldest entries beyond `max`. Returns how many were
    /// dropped.
    fn push(&mut self, chunk: Chunk, max: usize) -> u64 {
        let n = chunk.remaining();
        self.pending += n;
        self.added += n as u64;
        if n == 0 {
            self.spare.push(chunk);
        } else {
            self.chunks.push_back(chunk);
        }
        let over = self.pending.saturating_sub(max);
        self.pop(over);
        over as u64
    }

    /// Removes `n` entries from the front.
    fn pop(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let take = n.min(front.remaining());
            front.next += take;
            n -= take;
            self.pending -= take;
            self.removed += take as u64;
            if front.remaining() == 0 {
                if let Some(c) = self.chunks.pop_front() {
                    if self.spare.len() < 2 {
                        self.spare.push(c);
                    }
                }
            }
        }
    }

    /// Copies up to `max` front entries into `body`; returns how many.
    fn front_batch(&self, max: usize, body: &mut Vec<u8>) -> usize {
        body.clear();
        let mut n = 0;
        for c in &self.chunks {
            if n >= max {
                break;
            }
            let take = (max - n).min(c.remaining());
            let (a, b) = (c.start_of(c.next), c.ends[c.next + take - 1]);
            body.extend_from_slice(&c.buf[a..b]);
            n += take;
        }
        n
    }

    fn oldest(&self) -> Option<Instant> {
        self.chunks.front().and_then(|c| c.walked_at)
    }
}

/// Configures a [`RemoteWriter`] (see [`RemoteWriter::builder`]).
#[derive(Debug)]
#[must_use = "call .start(&registry) to begin writing"]
pub struct RemoteWriteBuilder {
    url: String,
    external: Vec<(String, String)>,
    auth: Option<Auth>,
    interval: Duration,
    timeout: Duration,
    flush_timeout: Duration,
    max_queue: usize,
    max_batch: usize,
    max_attempts: u32,
    max_sample_age: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    self_metrics: Option<Registry>,
}

impl RemoteWriteBuilder {
    /// Adds an external label (e.g. `instance`, `job`): every series gets it unless it
    /// has a label of that name.
    pub fn external_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.external.push((name.into(), value.into()));
        self
    }

    /// HTTP basic authentication.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some(Auth::Basic {
            user: user.into(),
            password: password.into(),
        });
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.auth = Some(Auth::Bearer(token.into()));
        self
    }

    /// Time between walks of the registry (default 15 s, at least 1 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Bound on one request (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Bound on `flush()` and on the final flush at drop (default 10 s).
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// Most samples queued (default 100,000); beyond it the oldest are dropped and
    /// counted.
    pub fn max_queue_samples(mut self, n: usize) -> Self {
        self.max_queue = n;
        self
    }

    /// Most samples per request (default 2,000).
    pub fn max_batch_samples(mut self, n: usize) -> Self {
        self.max_batch = n;
        self
    }

    /// Most attempts per batch, the first included (default 10); then it is dropped.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Oldest a sample may be when (re)sent (default 5 min); older ones are dropped.
    /// Prometheus answers 500 to some malformed requests, so retries need this bound.
    pub fn max_sample_age(mut self, age: Duration) -> Self {
        self.max_sample_age = age;
        self
    }

    /// Retry backoff: starts at `min`, doubles per attempt up to `max`, and each wait
    /// is drawn between half and all of it (defaults 30 ms and 5 s, as Prometheus).
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max;
        self
    }

    /// Counts samples in `registry`: `tachometer_remote_write_samples_sent_total`,
    /// `…_retried_total` and `…_dropped_total`.
    pub fn self_metrics(mut self, registry: &Registry) -> Self {
        self.self_metrics = Some(registry.clone());
        self
    }

    /// Starts a background thread writing `registry` to the receiver.
    pub fn start(self, registry: &Registry) -> Result<RemoteWriter, PushError> {
        let endpoint = Endpoint::parse(&self.url).map_err(|m| {
            PushError::InvalidConfig(format!("remote write URL {:?}: {m}", self.url))
        })?;
        let checks: [(bool, &str); 6] = [
            (
                self.interval >= Duration::from_millis(1),
                "interval must be at least 1 ms",
            ),
            (!self.timeout.is_zero(), "timeout must not be 0"),
            (self.max_queue >= 1, "max_queue_samples must be at least 1"),
            (self.max_batch >= 1, "max_batch_samples must be at least 1"),
            (self.max_attempts >= 1, "max_attempts must be at least 1"),
            (
                !self.min_backoff.is_zero() && self.min_backoff <= self.max_backoff,
                "backoff needs 0 < min <= max",
            ),
        ];
        if let Some((_, msg)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(PushError::InvalidConfig((*msg).into()));
        }
        if let Some(auth) = &self.auth {
            auth.validate()?;
        }
        let mut walker = Walker::default();
        for (n, v) in &self.external {
            walker.add_external(n, v)?;
        }
        let metrics = match &self.self_metrics {
            Some(r) => Some(SelfMetrics::register(r)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            control: Control::default(),
            produced: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            last_error: Mutex::new(None),
            metrics,
            flush_timeout: self.flush_timeout,
        });
        let worker = Worker {
            endpoint,
            auth: self.auth.as_ref().map(Auth::header_value),
            timeout: self.timeout,
            interval: self.interval,
            max_queue: self.max_queue,
            max_batch: self.max_batch,
            max_attempts: self.max_attempts,
            max_age: self.max_sample_age,
            min_backoff: self.min_backoff,
            max_backoff: self.max_backoff,
            walker,
            queue: Queue::default(),
            body: Vec::new(),
            compressed: Vec::new(),
            snappy: snap::raw::Encoder::new(),
            head: Vec::new(),
            jitter: Jitter::new(),
            last_ts: 0,
            attempts: 0,
            retry_at: None,
        };
        let thread_shared = shared.clone();
        let registry = registry.clone();
        let handle = std::thread::Builder::new()
            .name("tachometer-remote-write".into())
            .spawn(move || worker.run(&registry, &thread_shared))
            .map_err(|e| PushError::Spawn(e.to_string()))?;
        Ok(RemoteWriter {
            shared,
            handle: Some(handle),
        })
    }
}

#[derive(Debug)]
struct SelfMetrics {
    sent: Counter,
    retried: Counter,
    dropped: Counter,
}

impl SelfMetrics {
    fn register(registry: &Registry) -> Result<Self, PushError> {
        let c = |name: &str, help: &str| {
            registry
                .counter(Opts::new(name, help))
                .map_err(PushError::Registry)
        };
        Ok(Self {
            sent: c(
                "tachometer_remote_write_samples_sent_total",
                "Samples the remote-write receiver accepted.",
            )?,
            retried: c(
                "tachometer_remote_write_samples_retried_total",
                "Samples sent again after a retryable failure, once per retry.",
            )?,
            dropped: c(
                "tachometer_remote_write_samples_dropped_total",
                "Samples given up on: rejected, out of retries or age, queue full, or left at shutdown.",
            )?,
        })
    }
}

#[derive(Debug)]
struct Shared {
    control: Control,
    produced: AtomicU64,
    sent: AtomicU64,
    retried: AtomicU64,
    dropped: AtomicU64,
    last_error: Mutex<Option<PushError>>,
    metrics: Option<SelfMetrics>,
    flush_timeout: Duration,
}

impl Shared {
    fn stats(&self) -> PushStats {
        // Read `produced` last: it only grows before `sent`/`dropped` do, so pending
        // is never negative.
        let sent = self.sent.load(Ordering::Acquire);
        let dropped = self.dropped.load(Ordering::Acquire);
        let retried = self.retried.load(Ordering::Acquire);
        let produced = self.produced.load(Ordering::Acquire);
        PushStats {
            produced,
            sent,
            retried,
            dropped,
            pending: produced.saturating_sub(sent + dropped),
        }
    }

    fn add_sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::AcqRel);
        if let Some(m) = &self.metrics {
            m.sent.increment(n);
        }
    }

    fn add_dropped(&self, n: u64) {
        if n == 0 {
            return;
        }
        self.dropped.fetch_add(n, Ordering::AcqRel);
        if let Some(m) = &self.metrics {
            m.dropped.increment(n);
        }
    }

    fn add_retried(&self, n: u64) {
        self.retried.fetch_add(n, Ordering::AcqRel);
        if let Some(m) = &self.metrics {
            m.retried.increment(n);
        }
    }
}

impl ExitFlush for Shared {
    fn exit_flush(&self, deadline: Instant) {
        self.control.stop(deadline, STOP_GRACE);
    }
}

/// Writes a [`Registry`] to a Prometheus remote-write 1.0 receiver from a background
/// thread: every interval, on [`flush`](Self::flush), and a last time on drop or
/// [`shutdown`](Self::shutdown).
///
/// ```no_run
/// use std::time::Duration;
/// use tachometer::{Opts, Registry};
/// use tachometer::exporters::push::RemoteWriter;
/// let registry = Registry::new();
/// let items = registry.counter(Opts::new("items_total", "Items processed."))?;
/// let writer = RemoteWriter::builder("http://127.0.0.1:9090/api/v1/write")
///     .external_label("job", "batch")
///     .interval(Duration::from_secs(15))
///     .start(&registry)?;
/// writer.flush_on_exit(Duration::from_secs(5)); // also covers std::process::exit
/// items.increment(857);
/// let stats = writer.shutdown(Duration::from_secs(5))?;
/// assert_eq!(stats.sent + stats.dropped, stats.produced);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Requests carry `Content-Encoding: snappy`, `Content-Type: application/x-protobuf`
/// and `X-Prometheus-Remote-Write-Version: 0.1.0`. A 2xx answer counts the batch as
/// sent. 5xx, 429 and network errors are retried with exponential backoff and jitter
/// (`Retry-After` is honoured), at most [`max_attempts`](RemoteWriteBuilder::max_attempts)
/// times and while the oldest sample is younger than
/// [`max_sample_age`](RemoteWriteBuilder::max_sample_age); any other status drops the
/// batch at once (its body is kept in [`last_error`](Self::last_error)). Batches go
/// one at a time, in order, so each series' samples arrive in timestamp order.
/// Accounting is exact: `sent + dropped + pending = produced` ([`PushStats`]).
///
/// The thread and its blocking client work from a plain `main` and inside a tokio
/// runtime; `flush()` and `shutdown()` block the calling thread (use
/// `spawn_blocking` in async code).
#[derive(Debug)]
#[must_use = "dropping the writer stops it at once (after a final flush); bind it to a named variable"]
pub struct RemoteWriter {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

impl RemoteWriter {
    /// Starts configuring a writer POSTing to `url` (e.g.
    /// `http://127.0.0.1:9090/api/v1/write` for Prometheus,
    /// `http://127.0.0.1:8428/api/v1/write` for VictoriaMetrics).
    pub fn builder(url: impl Into<String>) -> RemoteWriteBuilder {
        RemoteWriteBuilder {
            url: url.into(),
            external: Vec::new(),
            auth: None,
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            flush_timeout: Duration::from_secs(10),
            max_queue: 100_000,
            max_batch: 2_000,
            max_attempts: 10,
            max_sample_age: Duration::from_secs(300),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            self_metrics: None,
        }
    }

    /// Walks the registry now and waits until everything queued up to this walk is
    /// sent or dropped (bounded by the flush timeout). Returns the stats then; on
    /// timeout the samples stay queued and the error carries the stats.
    pub fn flush(&self) -> Result<PushStats, PushError> {
        let ticket = self.shared.control.request_flush();
        let deadline = Instant::now() + self.shared.flush_timeout;
        match self.shared.control.wait_completed(ticket, deadline) {
            Ok(()) => Ok(self.shared.stats()),
            Err(WaitError::Timeout) => Err(PushError::FlushTimeout {
                timeout: self.shared.flush_timeout,
                stats: self.shared.stats(),
            }),
            Err(WaitError::Finished) => Err(PushError::Stopped),
        }
    }

    /// What the writer has done so far.
    #[must_use]
    pub fn stats(&self) -> PushStats {
        self.shared.stats()
    }

    /// The last failed request's error (e.g. a 400 and what the receiver said).
    #[must_use]
    pub fn last_error(&self) -> Option<PushError> {
        self.shared.last_error.lock().clone()
    }

    /// Makes an `atexit` hook flush and stop this writer (bounded by `timeout`) if the
    /// process exits while it is alive — including by `std::process::exit`, which runs
    /// no destructors. See the [module docs](super).
    pub fn flush_on_exit(&self, timeout: Duration) {
        super::flush_on_exit(exit_hook(&self.shared), timeout);
    }

    /// Walks one last time, sends what is queued, and stops, waiting at most
    /// `timeout`. Whatever could not be sent by then is dropped and counted, so the
    /// returned stats have `sent + dropped = produced`.
    pub fn shutdown(mut self, timeout: Duration) -> Result<PushStats, PushError> {
        self.stop(timeout)
    }

    fn stop(&mut self, timeout: Duration) -> Result<PushStats, PushError> {
        let finished = self
            .shared
            .control
            .stop(Instant::now() + timeout, STOP_GRACE);
        if !finished {
            // Left to finish on its own rather than blocking the program.
            self.handle = None;
            return Err(PushError::FlushTimeout {
                timeout,
                stats: self.shared.stats(),
            });
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        Ok(self.shared.stats())
    }
}

impl Drop for RemoteWriter {
    fn drop(&mut self) {
        if self.handle.is_some() {
            let _ = self.stop(self.shared.flush_timeout);
        }
    }
}

/// The background thread's state.
struct Worker {
    endpoint: Endpoint,
    auth: Option<String>,
    timeout: Duration,
    interval: Duration,
    max_queue: usize,
    max_batch: usize,
    max_attempts: u32,
    max_age: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    walker: Walker,
    queue: Queue,
    body: Vec<u8>,
    compressed: Vec<u8>,
    snappy: snap::raw::Encoder,
    head: Vec<u8>,
    jitter: Jitter,
    /// Timestamp of the last walk: the next one is strictly later, so a series never
    /// gets two samples at one millisecond (a receiver would reject the second).
    last_ts: i64,
    /// Attempts made for the batch at the queue's front.
    attempts: u32,
    retry_at: Option<Instant>,
}

impl Worker {
    fn run(mut self, registry: &Registry, shared: &Shared) {
        let _finish = FinishOnDrop(&shared.control);
        let mut next_walk = Instant::now() + self.interval;
        let mut walked_ticket = 0;
        // (ticket, entries that must be removed from the queue to complete it)
        let mut flush_goal: Option<(u64, u64)> = None;
        loop {
            let work = shared.control.peek();
            if let Some(deadline) = work.stop {
                self.walk(registry, shared);
                self.drain(shared, deadline);
                shared.control.complete(work.flush);
                return;
            }
            let now = Instant::now();
            if work.flush > walked_ticket {
                self.walk(registry, shared);
                walked_ticket = work.flush;
                flush_goal = Some((work.flush, self.queue.added));
            }
            if now >= next_walk {
                self.walk(registry, shared);
                next_walk = (next_walk + self.interval).max(now);
            }
            if self.queue.pending > 0 && self.retry_at.map_or(true, |t| now >= t) {
                self.attempt(shared, None);
            }
            if let Some((ticket, goal)) = flush_goal {
                if self.queue.removed >= goal {
                    shared.control.complete(ticket);
                    flush_goal = None;
                }
            }
            if self.queue.pending > 0 && self.retry_at.is_none() {
                continue; // more to send right away
            }
            let wake = match self.retry_at {
                Some(t) if self.queue.pending > 0 => t.min(next_walk),
                _ => next_walk,
            };
            shared.control.wait_work(walked_ticket, Some(wake));
        }
    }

    /// Walks the registry into a new queue chunk.
    fn walk(&mut self, registry: &Registry, shared: &Shared) {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let ts = now_ms.max(self.last_ts + 1);
        self.last_ts = ts;
        let mut chunk = self.queue.spare_chunk();
        chunk.walked_at = Some(Instant::now());
        let n = self
            .walker
            .walk(registry, ts, &mut chunk.buf, &mut chunk.ends);
        shared.produced.fetch_add(n, Ordering::AcqRel);
        let dropped = self.queue.push(chunk, self.max_queue);
        if dropped > 0 {
            // The dropped ones were at the front: a batch in retry restarts its count.
            self.attempts = 0;
            shared.add_dropped(dropped);
            *shared.last_error.lock() = Some(PushError::InvalidConfig(format!(
                "the remote-write queue was full ({} samples); {dropped} oldest samples dropped: \
                 the receiver is down or slower than the registry grows; raise max_queue_samples",
                self.max_queue
            )));
        }
    }

    /// Sends what is queued until it is empty or `deadline` passes; then drops the rest.
    fn drain(&mut self, shared: &Shared, deadline: Instant) {
        loop {
            if self.queue.pending == 0 {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if let Some(t) = self.retry_at {
                if t > now {
                    std::thread::sleep(t.min(deadline) - now);
                    continue;
                }
            }
            self.attempt(shared, Some(deadline));
        }
        let left = self.queue.pending;
        self.queue.pop(left);
        shared.add_dropped(left as u64);
    }

    /// Sends the front batch once and settles it.
    fn attempt(&mut self, shared: &Shared, deadline: Option<Instant>) {
        // The age bound is checked before each send.
        if self
            .queue
            .oldest()
            .is_some_and(|t| t.elapsed() > self.max_age)
        {
            let n = self.queue.front_batch(self.max_batch, &mut self.body);
            let e = PushError::InvalidConfig(format!(
                "{n} samples older than max_sample_age ({:?}) were dropped unsent; the receiver \
                 kept failing: check it, or raise max_sample_age",
                self.max_age
            ));
            self.settle_drop(shared, n, Some(e));
            return;
        }
        let n = self.queue.front_batch(self.max_batch, &mut self.body);
        compress(&mut self.snappy, &self.body, &mut self.compressed);
        if self.attempts > 0 {
            shared.add_retried(n as u64);
        }
        self.attempts += 1;
        let timeout = match deadline {
            Some(d) => self
                .timeout
                .min(d.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1)),
            None => self.timeout,
        };
        let mut headers: Vec<(&str, &str)> = vec![
            ("Content-Encoding", "snappy"),
            ("Content-Type", "application/x-protobuf"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ];
        if let Some(a) = &self.auth {
            headers.push(("Authorization", a));
        }
        let req = Request {
            method: "POST",
            headers: &headers,
            body: &self.compressed,
        };
        let url = || self.endpoint.url();
        let (error, retry_after) = match http::send(&self.endpoint, &req, timeout, &mut self.head) {
            Ok(resp) if (200..300).contains(&resp.status) => {
                self.queue.pop(n);
                shared.add_sent(n as u64);
                self.attempts = 0;
                self.retry_at = None;
                return;
            }
            Ok(resp) => {
                let retry_after = resp.retry_after;
                let e = PushError::Status {
                    url: url(),
                    status: resp.status,
                    body: resp.body_text(2000),
                };
                (e, retry_after)
            }
            Err(e) => (PushError::from_http(url(), timeout, e), None),
        };
        if !error.is_retryable() || self.attempts >= self.max_attempts {
            self.settle_drop(shared, n, Some(error));
            return;
        }
        // Exponential backoff with jitter: a wait drawn from [b/2, b).
        let exp = self
            .min_backoff
            .saturating_mul(1u32 << (self.attempts - 1).min(20));
        let b = exp.min(self.max_backoff);
        let wait = b.mul_f64(0.5 + 0.5 * self.jitter.unit());
        let wait = retry_after.map_or(wait, |r| wait.max(r.min(Duration::from_secs(60))));
        self.retry_at = Some(Instant::now() + wait);
        *shared.last_error.lock() = Some(error);
    }

    fn settle_drop(&mut self, shared: &Shared, n: usize, error: Option<PushError>) {
        self.queue.pop(n);
        shared.add_dropped(n as u64);
        self.attempts = 0;
        self.retry_at = None;
        if let Some(e) = error {
            *shared.last_error.lock() = Some(e);
        }
    }
}

#[cfg(test)]
mod tests;
