//! The one handshake between an exporter's handle and its background thread (the
//! Pushgateway and remote-write pushers, the StatsD reporter and direct client): flush
//! tickets, a stop request carrying its deadline, and completion signals.

use std::time::Instant;

use parking_lot::{Condvar, Mutex};

#[derive(Debug, Default)]
struct Ctl {
    /// Flush tickets handed out.
    requested: u64,
    /// Highest ticket the worker has completed.
    completed: u64,
    /// Set once by shutdown/drop/exit: finish by then.
    stop: Option<Instant>,
    /// The worker has returned.
    finished: bool,
}

/// What the worker should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Work {
    /// The highest flush ticket requested (compare with what was completed).
    pub(crate) flush: u64,
    /// Stop by this deadline.
    pub(crate) stop: Option<Instant>,
}

/// Why a wait ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitError {
    /// The deadline passed.
    Timeout,
    /// The worker has finished (so the ticket will never complete).
    Finished,
}

#[derive(Debug, Default)]
pub(crate) struct Control {
    ctl: Mutex<Ctl>,
    cv: Condvar,
}

impl Control {
    /// Handle side: asks for a flush; returns its ticket.
    pub(crate) fn request_flush(&self) -> u64 {
        let mut c = self.ctl.lock();
        c.requested += 1;
        self.cv.notify_all();
        c.requested
    }

    /// Handle side: waits until `ticket` is completed.
    pub(crate) fn wait_completed(&self, ticket: u64, deadline: Instant) -> Result<(), WaitError> {
        let mut c = self.ctl.lock();
        while c.completed < ticket {
            if c.finished {
                return Err(WaitError::Finished);
            }
            if self.cv.wait_until(&mut c, deadline).timed_out() && c.completed < ticket {
                return Err(WaitError::Timeout);
            }
        }
        Ok(())
    }

    /// Handle side: asks the worker to stop by `deadline` (the earliest request wins)
    /// and waits for it until `deadline` plus `grace` (the worker's last request may
    /// still be in flight). Returns whether it finished.
    pub(crate) fn stop(&self, deadline: Instant, grace: std::time::Duration) -> bool {
        {
            let mut c = self.ctl.lock();
            c.stop = Some(c.stop.map_or(deadline, |d| d.min(deadline)));
            self.cv.notify_all();
        }
        self.wait_finished(deadline + grace)
    }

    /// Handle side: waits until the worker has finished, or `until`. Returns whether it
    /// finished.
    pub(crate) fn wait_finished(&self, until: Instant) -> bool {
        let mut c = self.ctl.lock();
        while !c.finished {
            if self.cv.wait_until(&mut c, until).timed_out() {
                return c.finished;
            }
        }
        true
    }

    /// Worker side: waits until a flush or stop is requested beyond `done`, or `until`.
    pub(crate) fn wait_work(&self, done: u64, until: Option<Instant>) -> Work {
        let mut c = self.ctl.lock();
        loop {
            if c.stop.is_some() || c.requested > done {
                break;
            }
            match until {
                Some(t) => {
                    if Instant::now() >= t || self.cv.wait_until(&mut c, t).timed_out() {
                        break;
                    }
                }
                None => self.cv.wait(&mut c),
            }
        }
        Work {
            flush: c.requested,
            stop: c.stop,
        }
    }

    /// Worker side: the current requests, without waiting.
    #[cfg_attr(not(feature = "remote-write"), allow(dead_code))]
    pub(crate) fn peek(&self) -> Work {
        let c = self.ctl.lock();
        Work {
            flush: c.requested,
            stop: c.stop,
        }
    }

    /// Worker side: tickets up to `ticket` are done.
    pub(crate) fn complete(&self, ticket: u64) {
        let mut c = self.ctl.lock();
        if ticket > c.completed {
            c.completed = ticket;
        }
        self.cv.notify_all();
    }

    /// Worker side: the thread is returning.
    pub(crate) fn finish(&self) {
        let mut c = self.ctl.lock();
        c.finished = true;
        self.cv.notify_all();
    }
}

/// Finishes the control when dropped, so a panicking worker still releases waiters.
pub(crate) struct FinishOnDrop<'a>(pub(crate) &'a Control);

impl Drop for FinishOnDrop<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}
