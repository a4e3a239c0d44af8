//! Reads series back out of a registry, the way an exporter would.

#![allow(dead_code)] // each test binary uses a different part

use tachometer::{Descriptor, Labels, Registry, Value, Visitor};

/// One series' reading, reduced to what the tests assert on.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Counter(u64),
    Gauge(i64),
    Histogram {
        count: u64,
        sum: f64,
    },
    Meter {
        count: u64,
    },
    /// Durations in nanoseconds.
    Timer {
        count: u64,
        sum: u64,
        min: f64,
    },
}

impl Reading {
    /// Number of events (calls, increments, observations).
    pub fn count(&self) -> u64 {
        match *self {
            Reading::Counter(n) | Reading::Meter { count: n } => n,
            Reading::Histogram { count, .. } | Reading::Timer { count, .. } => count,
            Reading::Gauge(g) => u64::try_from(g).unwrap_or(0),
        }
    }
}

struct Find<'a> {
    family: &'a str,
    labels: &'a [(&'a str, &'a str)],
    found: Vec<(Vec<(String, String)>, Reading)>,
}

impl Visitor for Find<'_> {
    fn series(&mut self, desc: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        if desc.name() != self.family {
            return;
        }
        let all: Vec<(String, String)> = labels
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        if !self
            .labels
            .iter()
            .all(|(n, v)| all.iter().any(|(an, av)| an == n && av == v))
        {
            return;
        }
        let reading = match value {
            Value::Counter(n) => Reading::Counter(n),
            Value::Gauge(g) => Reading::Gauge(g),
            Value::Histogram { counts, sum, .. } => Reading::Histogram {
                count: counts.iter().sum(),
                sum,
            },
            Value::Meter(m) => Reading::Meter { count: m.count },
            // `#[timed]`: seconds; `min` is the lower bound of the lowest populated
            // bucket, at most one bucket width (2^(1/8), 9 %) below the true minimum.
            Value::NativeHistogram(h) => Reading::Timer {
                count: h.count,
                sum: (h.sum * 1e9).round() as u64,
                min: h.quantile(0.0) * 1e9,
            },
            Value::Timer(t) => Reading::Timer {
                count: t.durations.count(),
                sum: t.durations.sum(),
                min: t.durations.min(),
            },
            other => panic!("unexpected value {other:?}"),
        };
        self.found.push((all, reading));
    }
}

/// What a 20 ms call's `min` reads at least: the lower bound of the native bucket
/// holding 20 ms (buckets are 2^(1/8) wide at schema 3).
pub const MIN_20MS: f64 = 20e6 / 1.090_507_732_665_257_7;

/// Every series of `family` whose labels include all of `labels`.
pub fn series_in(
    registry: &Registry,
    family: &str,
    labels: &[(&str, &str)],
) -> Vec<(Vec<(String, String)>, Reading)> {
    let mut f = Find {
        family,
        labels,
        found: Vec::new(),
    };
    registry.visit(&mut f);
    f.found
}

/// The one series of `family` in the global registry matching `labels`, if any.
pub fn series(family: &str, labels: &[(&str, &str)]) -> Option<Reading> {
    let mut found = series_in(tachometer::global(), family, labels);
    assert!(
        found.len() <= 1,
        "labels {labels:?} match several series of {family}: {found:?}"
    );
    found.pop().map(|(_, r)| r)
}

/// Calls recorded for `function` (in any module) with `result`.
pub fn calls(family: &str, function: &str, result: &str) -> u64 {
    series(family, &[("function", function), ("result", result)]).map_or(0, |r| r.count())
}
