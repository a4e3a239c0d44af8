//! Callback gauges read under a time budget.
//!
//! A callback gauge's closure is user code run at export time; one that blocks (a lock
//! held elsewhere, a slow system call, a remote read) would hold the whole registry
//! walk, and with it every scrape. A closure cannot be preempted, so the walk does not
//! run it itself: it hands the call to a small pool of `tachometer-callback` threads
//! and waits at most the registry's budget (`RegistryBuilder::callback_timeout`,
//! default [`DEFAULT_CALLBACK_TIMEOUT`]). A call that does not answer in time is
//! counted in [`CALLBACK_TIMEOUT_METRIC_NAME`]`{metric="…"}` and the series reads:
//!
//! * the value of the previous call, if that call has finished (it answered after its
//!   own scrape gave up: a slow callback is exported one scrape late), or
//! * `NaN`, if the previous call is still running (the callback is stuck). A stuck
//!   callback is not called again until it returns, so it ties up at most one thread.
//!
//! The pool grows to [`MAX_CALLBACK_THREADS`] threads; calls queue beyond that (and
//! time out if they wait longer than the budget). With no budget
//! (`callback_timeout(None)`), closures run inline on the exporting thread, as before.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, LazyLock, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use crate::counter::Counter;
use crate::family::Family;

/// Name of the self-metric counting callback-gauge reads that missed their budget.
pub const CALLBACK_TIMEOUT_METRIC_NAME: &str = "tachometer_callback_timeouts_total";

/// Default time a callback gauge's closure has to answer during an export.
pub const DEFAULT_CALLBACK_TIMEOUT: Duration = Duration::from_millis(25);

/// Most threads that run callback-gauge closures (one per closure running at once).
pub const MAX_CALLBACK_THREADS: usize = 16;

/// The registry's policy, handed to each callback gauge it builds.
#[derive(Debug, Clone)]
pub(crate) struct CallbackBudget {
    pub(crate) timeout: Option<Duration>,
    /// `tachometer_callback_timeouts_total{metric}`; `None` only while the registry is
    /// being built.
    pub(crate) timeouts: Option<Family<Counter>>,
}

impl Default for CallbackBudget {
    fn default() -> Self {
        Self {
            timeout: Some(DEFAULT_CALLBACK_TIMEOUT),
            timeouts: None,
        }
    }
}

/// One gauge's call state.
#[derive(Debug, Default)]
pub(crate) struct CallState {
    /// A call is queued or running.
    running: AtomicBool,
    /// Bits of the last finished call's value; `has_last` says whether there is one.
    last: AtomicU64,
    has_last: AtomicBool,
    /// The gauge's timeout counter, resolved on first use.
    timeouts: OnceLock<Counter>,
}

type ReadFn = Arc<dyn Fn() -> f64 + Send + Sync>;

/// Calls `read` (panics read as `NaN`).
fn call(read: &ReadFn) -> f64 {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read())).unwrap_or(f64::NAN)
}

/// Reads `read` under `budget` (see the module docs); `family` names the series' family
/// in the timeout counter.
pub(crate) fn read_within(
    read: ReadFn,
    state: &Arc<CallState>,
    budget: &CallbackBudget,
    family: &str,
) -> f64 {
    let Some(timeout) = budget.timeout else {
        return call(&read);
    };
    let missed = |state: &CallState| {
        if let Some(family_counter) = &budget.timeouts {
            let counter = state.timeouts.get_or_init(|| {
                family_counter
                    .with_labels(&[family])
                    .cloned()
                    .unwrap_or_default()
            });
            counter.increment(1);
        }
    };
    if state.running.swap(true, Ordering::AcqRel) {
        // The previous call has not returned: the callback is stuck.
        missed(state);
        return f64::NAN;
    }
    // The previous call finished: its value is the fallback if this one is late.
    let fallback = if state.has_last.load(Ordering::Acquire) {
        f64::from_bits(state.last.load(Ordering::Acquire))
    } else {
        f64::NAN
    };
    let (reply, answer) = mpsc::sync_channel(1);
    POOL.submit(Job {
        read,
        state: Arc::clone(state),
        reply,
    });
    match answer.recv_timeout(timeout) {
        Ok(v) => v,
        Err(_) => {
            missed(state);
            fallback
        }
    }
}

struct Job {
    read: ReadFn,
    state: Arc<CallState>,
    reply: mpsc::SyncSender<f64>,
}

impl Job {
    fn run(self) {
        let v = call(&self.read);
        self.state.last.store(v.to_bits(), Ordering::Release);
        self.state.has_last.store(true, Ordering::Release);
        self.state.running.store(false, Ordering::Release);
        // The exporter may have stopped waiting; that is fine.
        let _ = self.reply.try_send(v);
    }
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

#[derive(Default)]
struct Pool {
    queue: Mutex<Queue>,
    ready: Condvar,
}

static POOL: LazyLock<Pool> = LazyLock::new(Pool::default);

impl Pool {
    fn submit(&'static self, job: Job) {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        q.jobs.push_back(job);
        // One thread per queued call: an idle thread may be about to take an earlier
        // job, and a call must not wait behind a stuck one.
        if q.jobs.len() > q.idle && q.threads < MAX_CALLBACK_THREADS {
            let spawned = std::thread::Builder::new()
                .name("tachometer-callback".to_owned())
                .spawn(move || self.work());
            if spawned.is_ok() {
                q.threads += 1;
            }
        }
        drop(q);
        self.ready.notify_one();
    }

    fn work(&self) {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(job) = q.jobs.pop_front() {
                drop(q);
                job.run();
                q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            } else {
                q.idle += 1;
                q = self.ready.wait(q).unwrap_or_else(PoisonError::into_inner);
                q.idle -= 1;
            }
        }
    }
}
