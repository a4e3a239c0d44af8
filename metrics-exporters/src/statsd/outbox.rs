//! The sending end shared by both modes: pack, send, and count every loss.
//!
//! "Never lose silently" is enforced here: every unit that does not leave the process —
//! refused as too long, invalid, or in a payload the transport failed to send — is added
//! to the `dropped` counter, which can live in a registry as
//! `tachometer_statsd_dropped_total` so the loss is itself monitored.
//!
//! Accounting is per unit, never per payload: a TCP write cut short delivers some units
//! of a payload and not others, and only the ones not delivered are dropped (and, in
//! reporter mode, sent again), so delivered + dropped = produced holds exactly. Units
//! that a transport learns were lost only later (a UDP port-unreachable, an in-flight
//! TCP unit whose connection failed) are counted when that becomes known; a reporter
//! cannot send those again (see [`Delivery::lost_earlier`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use tachometer_core::{Counter, Opts, Registry};

use super::packer::Packer;
use super::transport::{Delivery, Transport};
use super::StatsdError;

/// Name of the self-metric counting events that never reached the transport.
pub const DROPPED_METRIC_NAME: &str = "tachometer_statsd_dropped_total";

/// Counters shared by an exporter's callers and its background thread.
#[derive(Debug)]
pub(crate) struct Stats {
    pub(crate) dropped: Counter,
    delivered: AtomicU64,
    datagrams: AtomicU64,
    send_errors: AtomicU64,
}

impl Stats {
    pub(crate) fn new(registry: Option<&Registry>) -> Result<Self, StatsdError> {
        let dropped = match registry {
            Some(r) => r
                .counter(Opts::new(
                    DROPPED_METRIC_NAME,
                    "StatsD events dropped: queue full, line invalid or over the payload limit, or send failed.",
                ))
                .map_err(StatsdError::Registry)?,
            None => Counter::new(),
        };
        Ok(Self {
            dropped,
            delivered: AtomicU64::new(0),
            datagrams: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
        })
    }

    pub(crate) fn snapshot(&self) -> StatsdStats {
        StatsdStats {
            delivered: self.delivered.load(Relaxed),
            dropped: self.dropped.get(),
            datagrams_sent: self.datagrams.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
        }
    }
}

/// What an exporter has done so far.
///
/// `dropped` counts events (lines); when several exporters share a registry's
/// `tachometer_statsd_dropped_total`, it is their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsdStats {
    /// Events (lines) the transport took.
    pub delivered: u64,
    /// Events that never reached the transport (queue full, invalid, oversize, send failed).
    pub dropped: u64,
    /// Payloads the transport accepted whole.
    pub datagrams_sent: u64,
    /// Payloads the transport refused in whole or in part (daemon down, timeout,
    /// backing off), plus UDP datagrams the daemon's host refused afterwards (port
    /// closed).
    pub send_errors: u64,
}

/// Packer + transport + loss accounting.
#[derive(Debug)]
pub(crate) struct Outbox {
    packer: Packer,
    transport: Transport,
    stats: Arc<Stats>,
    /// When enabled (reporter mode): `(units, sent)` per payload and per refused unit,
    /// in order, so the reporter can keep the deltas that did not leave.
    log: Option<Vec<(u64, bool)>>,
}

fn deliver(
    transport: &mut Transport,
    stats: &Stats,
    log: &mut Option<Vec<(u64, bool)>>,
    payload: &[u8],
    ends: &[usize],
) {
    let Delivery {
        units,
        failed,
        lost_earlier,
    } = transport.send(payload, ends);
    lost(stats, lost_earlier);
    let (sent, unsent) = (units as u64, (ends.len() - units) as u64);
    if failed {
        stats.send_errors.fetch_add(1, Relaxed);
    } else {
        stats.datagrams.fetch_add(1, Relaxed);
    }
    stats.delivered.fetch_add(sent, Relaxed);
    stats.dropped.increment(unsent);
    if let Some(log) = log {
        if sent > 0 {
            log.push((sent, true));
        }
        if unsent > 0 {
            log.push((unsent, false));
        }
    }
}

/// Counts units of earlier payloads that turned out lost (one refused payload).
fn lost(stats: &Stats, units: u64) {
    if units > 0 {
        stats.send_errors.fetch_add(1, Relaxed);
        stats.dropped.increment(units);
    }
}

impl Outbox {
    pub(crate) fn new(transport: Transport, max_payload: usize, stats: Arc<Stats>) -> Self {
        Self {
            packer: Packer::new(max_payload),
            transport,
            stats,
            log: None,
        }
    }

    /// Records the fate of every unit, for [`Outbox::take_log`].
    pub(crate) fn with_log(mut self) -> Self {
        self.log = Some(Vec::new());
        self
    }

    /// Queues one unit for the next payload (sending the current one if it is full).
    pub(crate) fn push(&mut self, unit: &[u8]) {
        let Self {
            packer,
            transport,
            stats,
            log,
        } = self;
        let mut send = |d: &[u8], ends: &[usize]| deliver(transport, stats, log, d, ends);
        if packer.push(unit, &mut send).is_err() {
            stats.dropped.increment(1);
            if let Some(log) = log {
                log.push((1, false));
            }
        }
    }

    /// Sends whatever is pending.
    pub(crate) fn flush(&mut self) {
        let Self {
            packer,
            transport,
            stats,
            log,
        } = self;
        packer.flush(&mut |d: &[u8], ends: &[usize]| deliver(transport, stats, log, d, ends));
        lost(stats, transport.poll());
    }

    /// Moves the recorded `(units, sent)` entries into `into`.
    pub(crate) fn take_log(&mut self, into: &mut Vec<(u64, bool)>) {
        if let Some(log) = &mut self.log {
            into.append(log);
        }
    }

    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }
}

impl Drop for Outbox {
    /// Settles what the transport still holds: an in-flight TCP unit is finished if the
    /// daemon takes it within the write timeout, otherwise counted as dropped.
    fn drop(&mut self) {
        lost(&self.stats, self.transport.close());
    }
}
