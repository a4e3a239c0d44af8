//! Turning one registry walk into StatsD lines, with per-exporter delta state.
//!
//! StatsD counters are deltas (the daemon sums what it receives per flush), while a
//! registry holds lifetime totals — and the same registry may also be scraped by
//! Prometheus or pushed by another exporter. So each reporter remembers what it last
//! pushed per series and sends the difference; nothing in the registry is reset. A
//! delta counts as pushed only once the payload carrying it was sent: if the transport
//! refuses it, the previous total is restored and the next push sends the difference
//! again.
//!
//! Mapping (documented on [`StatsdReporter`](super::StatsdReporter)):
//!
//! | registry | StatsD |
//! |---|---|
//! | counter, float counter, meter | `name:delta\|c` |
//! | gauge, float gauge, callback gauge | `name:value\|g` (every push) |
//! | explicit histogram | `name.count:delta\|c`, `name.sum:delta\|c` |
//! | HDR histogram | `.count`, `.sum` deltas as `c`; `.mean .p50 .p90 .p99 .max` as `g` |
//! | timer | as HDR, with every value in milliseconds; a name ending `_seconds` ends `_milliseconds` instead |
//! | collected summary | `.count`, `.sum` deltas as `c`; one `g` per quantile (`.p50`, `.p999`…) |
//! | collected untyped value | `name:value\|g` |
//!
//! Raw `|ms` samples cannot be rebuilt from buckets, so distributions travel as summary
//! gauges computed over the histogram's window (skipped while the window is empty).

use std::collections::{HashMap, VecDeque};

use tachometer_core::{Descriptor, HdrSnapshot, Labels, Registry, Value, Visitor};

use super::dialect::{Dialect, Kind};
use super::line::{write_line, Key, Num};
use super::outbox::Outbox;

/// The last total pushed for one counter-like series.
#[derive(Debug, Clone, Copy)]
enum Prev {
    U(u64),
    F(f64),
}

/// The summary gauges pushed for HDR histograms and timers.
const QUANTILES: [(&str, f64); 3] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)];

/// Reporter state carried from one push to the next.
#[derive(Debug)]
pub(crate) struct Walker {
    dialect: Dialect,
    prefix: String,
    /// Series key → index into `last`.
    index: HashMap<String, usize>,
    /// What was last pushed per series (`None`: nothing yet).
    last: Vec<Option<Prev>>,
    /// One entry per unit in the outbox not yet settled, in order: for a delta, the
    /// series and its previous value, restored if the unit's payload was not sent — so
    /// a delta lost to an outage is sent again once the daemon is back.
    pending: VecDeque<Option<(usize, Option<Prev>)>>,
    log: Vec<(u64, bool)>,
    key: String,
    line: Vec<u8>,
    /// Reused for a timer's renamed name (see [`timer_name`]).
    timer_name: String,
}

fn pairs<'a>(labels: &Labels<'a>) -> impl Iterator<Item = (&'a str, &'a str)> + Clone + 'a {
    labels.iter()
}

impl Walker {
    pub(crate) fn new(dialect: Dialect, prefix: String) -> Self {
        Self {
            dialect,
            prefix,
            index: HashMap::new(),
            last: Vec::new(),
            pending: VecDeque::new(),
            log: Vec::new(),
            key: String::new(),
            line: Vec::new(),
            timer_name: String::new(),
        }
    }

    /// Walks `registry`, pushes every series into `outbox` and flushes it. `outbox`
    /// must have been built [`with_log`](Outbox::with_log).
    pub(crate) fn push(&mut self, registry: &Registry, outbox: &mut Outbox) {
        let mut push = Push { w: self, outbox };
        registry.visit(&mut push);
        push.outbox.flush();
        push.settle();
        debug_assert!(self.pending.is_empty());
        self.pending.clear();
    }
}

struct Push<'a> {
    w: &'a mut Walker,
    outbox: &'a mut Outbox,
}

impl Push<'_> {
    /// Applies the outcome of every payload sent so far to the pending units.
    fn settle(&mut self) {
        let w = &mut *self.w;
        self.outbox.take_log(&mut w.log);
        for (units, sent) in w.log.drain(..) {
            for _ in 0..units {
                if let Some(Some((idx, old))) = w.pending.pop_front() {
                    if !sent {
                        w.last[idx] = old;
                    }
                }
            }
        }
    }

    fn emit(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &Labels<'_>,
        value: Num,
        kind: Kind,
        undo: Option<(usize, Option<Prev>)>,
    ) -> bool {
        let w = &mut *self.w;
        w.line.clear();
        let key = Key {
            dialect: w.dialect,
            prefix: &w.prefix,
            name,
            suffix,
            labels: pairs(labels),
        };
        match write_line(&mut w.line, &key, value, kind, 1.0) {
            Ok(()) => {
                w.pending.push_back(undo);
                self.outbox.push(&w.line);
                self.settle();
                true
            }
            Err(_) => {
                self.outbox.stats().dropped.increment(1);
                false
            }
        }
    }

    /// Pushes the change of a lifetime total since the last push (all of it the first
    /// time; nothing when unchanged). `scale` converts units (ns → ms for timers).
    fn delta(&mut self, name: &str, suffix: &str, labels: &Labels<'_>, now: Prev, scale: f64) {
        let w = &mut *self.w;
        w.key.clear();
        w.key.push_str(name);
        w.key.push('\0');
        w.key.push_str(suffix);
        for v in labels.values() {
            w.key.push('\0');
            w.key.push_str(v);
        }
        let idx = match w.index.get(w.key.as_str()) {
            Some(&i) => i,
            None => {
                w.index.insert(w.key.clone(), w.last.len());
                w.last.push(None);
                w.last.len() - 1
            }
        };
        let prev = w.last[idx];
        let value = match (prev, now) {
            (Some(Prev::U(p)), Prev::U(n)) if n >= p => Num::UInt(n - p),
            (Some(Prev::F(p)), Prev::F(n)) if n >= p => Num::Float(n - p),
            // First sight, or a total that went backwards (cannot happen for monotonic
            // metrics): send the whole total.
            (_, Prev::U(n)) => Num::UInt(n),
            (_, Prev::F(n)) => Num::Float(n),
        };
        if prev.is_some() && (value == Num::UInt(0) || value == Num::Float(0.0)) {
            return;
        }
        let value = match value {
            Num::UInt(v) if scale != 1.0 => Num::Float(v as f64 * scale),
            Num::Float(v) => Num::Float(v * scale),
            v => v,
        };
        // Recorded before sending so that `settle` can put `prev` back if it fails.
        self.w.last[idx] = Some(now);
        if !self.emit(name, suffix, labels, value, Kind::Count, Some((idx, prev))) {
            self.w.last[idx] = prev;
        }
    }

    fn summary(&mut self, name: &str, labels: &Labels<'_>, s: &HdrSnapshot, scale: f64) {
        if s.window_count() == 0 {
            return;
        }
        self.emit(
            name,
            "mean",
            labels,
            Num::Float(s.mean() * scale),
            Kind::Gauge,
            None,
        );
        for (suffix, q) in QUANTILES {
            self.emit(
                name,
                suffix,
                labels,
                Num::Float(s.quantile(q) * scale),
                Kind::Gauge,
                None,
            );
        }
        self.emit(
            name,
            "max",
            labels,
            Num::Float(s.max() * scale),
            Kind::Gauge,
            None,
        );
    }
}

/// `p50`, `p90`, `p99`, `p999` for a quantile in `0..=1`: the digits of its percentage
/// (`p0` and `p100` at the ends).
fn quantile_suffix(out: &mut String, q: f64) {
    use std::fmt::Write as _;
    out.clear();
    out.push('p');
    if q >= 1.0 {
        out.push_str("100");
        return;
    }
    // Up to six decimals of the quantile, trailing zeros dropped, at least two digits.
    let mut digits = format!("{:.6}", q.max(0.0));
    let digits = digits.split_off(2);
    let digits = digits.trim_end_matches('0');
    let _ = write!(out, "{digits:0<2}");
    if out == "p00" {
        out.truncate(2);
    }
}

/// A timer's StatsD name: its values are milliseconds, so `x_seconds` becomes
/// `x_milliseconds` (written into `buf`); other names are kept.
fn timer_name<'a>(name: &'a str, buf: &'a mut String) -> &'a str {
    match name.strip_suffix("_seconds") {
        Some(stem) => {
            buf.clear();
            buf.push_str(stem);
            buf.push_str("_milliseconds");
            buf
        }
        None => name,
    }
}

impl Visitor for Push<'_> {
    fn series(&mut self, family: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        let name = family.name();
        match value {
            Value::Counter(v) => self.delta(name, "", &labels, Prev::U(v), 1.0),
            Value::FloatCounter(v) => self.delta(name, "", &labels, Prev::F(v), 1.0),
            Value::Meter(m) => self.delta(name, "", &labels, Prev::U(m.count), 1.0),
            Value::Gauge(v) => {
                self.emit(name, "", &labels, Num::Int(v), Kind::Gauge, None);
            }
            Value::FloatGauge(v) => {
                self.emit(name, "", &labels, Num::Float(v), Kind::Gauge, None);
            }
            Value::Histogram { counts, sum, .. } => {
                self.delta(name, "count", &labels, Prev::U(counts.iter().sum()), 1.0);
                self.delta(name, "sum", &labels, Prev::F(sum), 1.0);
            }
            Value::NativeHistogram(s) => {
                self.delta(name, "count", &labels, Prev::U(s.count), 1.0);
                self.delta(name, "sum", &labels, Prev::F(s.sum), 1.0);
            }
            Value::HdrHistogram(s) => {
                self.delta(name, "count", &labels, Prev::U(s.count()), 1.0);
                self.delta(name, "sum", &labels, Prev::U(s.sum()), 1.0);
                self.summary(name, &labels, s, 1.0);
            }
            Value::Timer(t) => {
                // Values go out in milliseconds, so a name that says seconds must not.
                let mut renamed = std::mem::take(&mut self.w.timer_name);
                let name = timer_name(name, &mut renamed);
                let s = &t.durations;
                self.delta(name, "count", &labels, Prev::U(s.count()), 1.0);
                self.delta(name, "sum", &labels, Prev::U(s.sum()), 1e-6);
                self.summary(name, &labels, s, 1e-6);
                self.w.timer_name = renamed;
            }
            Value::Summary {
                quantiles,
                sum,
                count,
            } => {
                self.delta(name, "count", &labels, Prev::U(count), 1.0);
                self.delta(name, "sum", &labels, Prev::F(sum), 1.0);
                let mut suffix = String::new();
                for &(q, v) in quantiles {
                    quantile_suffix(&mut suffix, q);
                    self.emit(name, &suffix, &labels, Num::Float(v), Kind::Gauge, None);
                }
            }
            Value::Unknown(v) => {
                self.emit(name, "", &labels, Num::Float(v), Kind::Gauge, None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::quantile_suffix;

    #[test]
    fn quantile_suffixes() {
        let mut s = String::new();
        for (q, want) in [
            (0.0, "p0"),
            (0.05, "p05"),
            (0.5, "p50"),
            (0.9, "p90"),
            (0.99, "p99"),
            (0.999, "p999"),
            (1.0, "p100"),
        ] {
            quantile_suffix(&mut s, q);
            assert_eq!(s, want, "{q}");
        }
    }
}
