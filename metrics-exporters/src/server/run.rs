//! The accept loop: the connection cap with eviction, per-connection deadlines, the
//! request cap, graceful shutdown.
//!
//! Every connection is in one [`Phase`] at a time, kept in a table shared with the
//! accept loop:
//!
//! * `Head`: waiting for (the rest of) a request head; a fresh connection starts here.
//!   Deadline: `header_read_timeout` from the first byte (from the accept for a fresh
//!   connection), never extended by further bytes.
//! * `Busy`: the request is being answered (rendering). No deadline here: renders are
//!   bounded by the service (render slots, callback budgets).
//! * `Write`: the response is being written. Deadline: `write_timeout` from its start.
//! * `Idle`: keep-alive, between requests. Deadline: `idle_timeout`.
//!
//! Deadlines are enforced in the socket wrapper ([`GuardedIo`]): when one passes, the
//! read or write fails with `TimedOut` and hyper closes the connection. The whole
//! connection is further bounded by `max_connection_lifetime` (then it closes after the
//! response in flight) and `max_requests_per_connection` (the last response carries
//! `Connection: close`).
//!
//! When every slot is taken and a new client connects, the loop evicts the connection
//! that is costing the least to drop: the longest-idle keep-alive connection, else the
//! connection that has been sending its head the longest, else the one that has been
//! writing its response the longest. Connections being answered are never evicted; if
//! all are, the new client waits (in the accepted socket) for one to finish. So a
//! scraper that sends its request promptly is served while the slots are full of
//! clients that trickle headers or never read.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::header::{HeaderValue, CONNECTION};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Sleep;

use super::{MetricsService, ShutdownError};

/// Longest request head (request line and headers) read; longer ones get 431.
pub const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;

/// Connection-level limits fixed at bind time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_connection_lifetime: Duration,
    pub(crate) max_requests_per_connection: u64,
    pub(crate) shutdown_timeout: Duration,
}

/// What a connection is doing; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    Head = 0,
    Busy = 1,
    Write = 2,
    Idle = 3,
}

impl Phase {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Phase::Head,
            1 => Phase::Busy,
            2 => Phase::Write,
            _ => Phase::Idle,
        }
    }
}

/// One connection's phase and when it began, shared by its task and the accept loop.
#[derive(Debug)]
struct Tracker {
    epoch: Instant,
    phase: AtomicU8,
    /// Microseconds since `epoch` at which the phase began.
    since: AtomicU64,
}

impl Tracker {
    fn new(epoch: Instant) -> Self {
        let t = Self {
            epoch,
            phase: AtomicU8::new(Phase::Head as u8),
            since: AtomicU64::new(0),
        };
        t.enter(Phase::Head);
        t
    }

    fn enter(&self, phase: Phase) {
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.since.store(now, Ordering::Relaxed);
        self.phase.store(phase as u8, Ordering::Release);
    }

    fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    /// When the current phase began.
    fn since(&self) -> Instant {
        self.epoch + Duration::from_micros(self.since.load(Ordering::Relaxed))
    }
}

/// The live connections, for eviction.
#[derive(Default)]
struct Table {
    next_id: u64,
    live: HashMap<u64, (Arc<Tracker>, Option<AbortHandle>)>,
}

type SharedTable = Arc<Mutex<Table>>;

fn lock(table: &SharedTable) -> std::sync::MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes a connection from the table when its task ends (or is aborted).
struct Registration {
    table: SharedTable,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.table).live.remove(&self.id);
    }
}

/// Aborts the cheapest connection to drop (see the module docs); whether one was found.
fn evict_one(table: &SharedTable) -> bool {
    let mut table = lock(table);
    let rank = |phase: Phase| match phase {
        Phase::Idle => Some(0),
        Phase::Head => Some(1),
        Phase::Write => Some(2),
        Phase::Busy => None,
    };
    let victim = table
        .live
        .iter()
        .filter(|(_, (_, abort))| abort.is_some())
        .filter_map(|(id, (t, _))| Some(((rank(t.phase())?, t.since()), *id)))
        .min()
        .map(|(_, id)| id);
    let Some(id) = victim else { return false };
    if let Some((_, Some(abort))) = table.live.remove(&id) {
        abort.abort();
    }
    true
}

/// Serves connections until `stop` turns true, then drains them (bounded by
/// `shutdown_timeout`) and reports the outcome on `done`.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    service: MetricsService,
    limits: Limits,
    stop: watch::Receiver<bool>,
    done: oneshot::Sender<Result<(), ShutdownError>>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let table = SharedTable::default();
    let epoch = Instant::now();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        // Our own deadlines (in `GuardedIo`) replace hyper's, which would also cut
        // idle keep-alive connections at the header timeout.
        .header_read_timeout(None)
        .max_header_size(MAX_REQUEST_HEAD_BYTES)
        .keep_alive(true);
    let http = Arc::new(http);
    let mut connections = JoinSet::new();

    loop {
        let stream = tokio::select! {
            biased;
            () = stopped(stop.clone()) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                // Out of file descriptors or a connection reset before accept:
                // back off briefly rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Full: make room by evicting the cheapest connection, or wait for one
                // to finish or to become evictable if every one is being answered.
                let permit = loop {
                    let evicted = evict_one(&table);
                    tokio::select! {
                        biased;
                        () = stopped(stop.clone()) => break None,
                        permit = Arc::clone(&slots).acquire_owned() => break permit.ok(),
                        Some(_) = connections.join_next(), if !connections.is_empty() => {}
                        // Nothing evictable now: look again shortly (an answered
                        // connection turns idle without ending).
                        () = tokio::time::sleep(Duration::from_millis(20)), if !evicted => {}
                    }
                };
                let Some(permit) = permit else { break };
                permit
            }
        };
        let _ = stream.set_nodelay(true);
        let tracker = Arc::new(Tracker::new(epoch));
        let id = {
            let mut t = lock(&table);
            t.next_id += 1;
            let id = t.next_id;
            t.live.insert(id, (Arc::clone(&tracker), None));
            id
        };
        let registration = Registration {
            table: Arc::clone(&table),
            id,
        };
        let abort = connections.spawn(serve_connection(
            stream,
            Arc::clone(&http),
            service.clone(),
            limits,
            tracker,
            (permit, registration),
            stop.clone(),
        ));
        if let Some(entry) = lock(&table).live.get_mut(&id) {
            entry.1 = Some(abort);
        }
    }

    // Stop accepting: the listening socket closes here.
    drop(listener);
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    let outcome = match drained {
        Ok(()) => Ok(()),
        Err(_) => {
            let aborted = connections.len();
            connections.abort_all();
            Err(ShutdownError::TimedOut {
                after: limits.shutdown_timeout,
                aborted,
            })
        }
    };
    let _ = done.send(outcome);
}

/// One connection, from accept to close; holds its slot (`_held`) until it ends.
async fn serve_connection(
    stream: TcpStream,
    http: Arc<http1::Builder>,
    service: MetricsService,
    limits: Limits,
    tracker: Arc<Tracker>,
    _held: (OwnedSemaphorePermit, Registration),
    stop: watch::Receiver<bool>,
) {
    let requests = Arc::new(AtomicU64::new(0));
    let svc_tracker = Arc::clone(&tracker);
    let svc = service_fn(move |req: Request<Incoming>| {
        let tracker = Arc::clone(&svc_tracker);
        let n = requests.fetch_add(1, Ordering::Relaxed) + 1;
        tracker.enter(Phase::Busy);
        let response = service.serve(&req);
        async move {
            let mut res = response.await;
            if n >= limits.max_requests_per_connection {
                res.headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            tracker.enter(Phase::Write);
            Ok::<_, Infallible>(res)
        }
    });
    let conn_tracker = Arc::clone(&tracker);
    let io = GuardedIo::new(stream, tracker, limits);
    let conn = http.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let lifetime = tokio::time::sleep(limits.max_connection_lifetime);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = stopped(stop) => {
            if matches!(conn_tracker.phase(), Phase::Head | Phase::Idle) {
                // No request being answered: close now rather than wait for a head
                // that may never complete.
                return;
            }
        }
        () = lifetime => {}
    }
    // Shutdown or end of life: finish the request in flight (if any), then close.
    // The deadlines still apply, and the wait is bounded on its own as well.
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(
        limits.write_timeout + limits.header_read_timeout,
        conn.as_mut(),
    )
    .await;
}

/// The socket, with the phase deadlines enforced on reads and writes.
struct GuardedIo {
    inner: TcpStream,
    tracker: Arc<Tracker>,
    limits: Limits,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
}

impl GuardedIo {
    fn new(inner: TcpStream, tracker: Arc<Tracker>, limits: Limits) -> Self {
        let now = tokio::time::Instant::now();
        Self {
            inner,
            tracker,
            limits,
            read_timer: Box::pin(tokio::time::sleep_until(now)),
            write_timer: Box::pin(tokio::time::sleep_until(now)),
        }
    }

    /// The deadline of the current phase on the read side, if it has one.
    fn read_deadline(&self) -> Option<Instant> {
        let timeout = match self.tracker.phase() {
            Phase::Head => self.limits.header_read_timeout,
            Phase::Idle => self.limits.idle_timeout,
            Phase::Busy | Phase::Write => return None,
        };
        Some(self.tracker.since() + timeout)
    }

    /// The deadline of the current phase on the write side, if it has one.
    fn write_deadline(&self) -> Option<Instant> {
        (self.tracker.phase() == Phase::Write)
            .then(|| self.tracker.since() + self.limits.write_timeout)
    }
}

/// Polls `timer` set to `deadline`: `Ready` once it has passed.
fn expired(timer: &mut Pin<Box<Sleep>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    let deadline = tokio::time::Instant::from_std(deadline);
    if timer.deadline() != deadline {
        timer.as_mut().reset(deadline);
    }
    timer.as_mut().poll(cx).is_ready()
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} deadline passed"))
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && this.tracker.phase() == Phase::Idle {
                    // The next request's first bytes: its head deadline starts now.
                    this.tracker.enter(Phase::Head);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.read_deadline() {
                Some(deadline) if expired(&mut this.read_timer, deadline, cx) => {
                    Poll::Ready(Err(timed_out(if this.tracker.phase() == Phase::Idle {
                        "idle"
                    } else {
                        "request head"
                    })))
                }
                _ => Poll::Pending,
            },
        }
    }
}

impl GuardedIo {
    /// Runs a write-side operation under the write deadline.
    fn guard_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match op(Pin::new(&mut self.inner), cx) {
            Poll::Pending => match self.write_deadline() {
                Some(deadline) if expired(&mut self.write_timer, deadline, cx) => {
                    Poll::Ready(Err(timed_out("response write")))
                }
                _ => Poll::Pending,
            },
            ready => ready,
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.guard_write(cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.guard_write(cx, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = self.guard_write(cx, |s, cx| s.poll_flush(cx));
        if matches!(flushed, Poll::Ready(Ok(()))) && self.tracker.phase() == Phase::Write {
            // hyper flushes once the whole response has left its buffer: the
            // connection is now idle until the next request's first byte. Have the
            // task polled again, so the read side arms the idle deadline.
            self.tracker.enter(Phase::Idle);
            cx.waker().wake_by_ref();
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guard_write(cx, |s, cx| s.poll_shutdown(cx))
    }
}

/// Resolves once shutdown is requested; never, if the handle was dropped without
/// asking (a dropped [`Server`](super::Server) leaves the endpoint running).
async fn stopped(mut stop: watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}
