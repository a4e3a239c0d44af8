//! Process metrics with client_golang's names, types and units, read from `/proc` when a
//! scrape walks the registry (nothing runs between scrapes):
//!
//! | name | type | source |
//! |---|---|---|
//! | `process_cpu_seconds_total` | counter | `/proc/self/stat` utime + stime ÷ `CLK_TCK` |
//! | `process_resident_memory_bytes` | gauge | `/proc/self/stat` rss × page size |
//! | `process_virtual_memory_bytes` | gauge | `/proc/self/stat` vsize |
//! | `process_virtual_memory_max_bytes` | gauge | `/proc/self/limits` "Max address space" (soft) |
//! | `process_start_time_seconds` | gauge | `/proc/self/stat` starttime + `/proc/stat` btime |
//! | `process_open_fds` | gauge | entries of `/proc/self/fd` |
//! | `process_max_fds` | gauge | `/proc/self/limits` "Max open files" (soft) |
//! | `process_threads` | gauge | `/proc/self/stat` num_threads |
//!
//! An "unlimited" limit is exported as 2⁶⁴ − 1, as client_golang does. `process_open_fds`
//! counts the descriptor used to list `/proc/self/fd` too (client_golang's procfs does the
//! same), so it is one more than the program holds between scrapes.
//!
//! On other platforms [`ProcessCollector`] describes and collects nothing. A `/proc` file
//! that cannot be read or parsed leaves its metrics out of that scrape and counts one in
//! [`PROCESS_READ_ERRORS_METRIC_NAME`], so a gap is visible, not silent.
//!
//! The facade's `tachometer::global()` registers this collector on first use (feature
//! `process`, on by default); build without that feature, or use your own
//! [`Registry`], to leave it out. Elsewhere:
//!
//! ```
//! let registry = tachometer::Registry::new();
//! tachometer::collectors::process::register(&registry).unwrap();
//! ```

#[cfg(target_os = "linux")]
use tachometer_core::Value;
use tachometer_core::{
    Collection, Collector, Counter, Descriptor, Error, MetricKind, Opts, Registry, Unit,
};

/// Name of the self-metric counting `/proc` reads that failed (label `file`).
pub const PROCESS_READ_ERRORS_METRIC_NAME: &str = "tachometer_process_read_errors_total";

/// Reads the `process_*` metrics at each walk. See the [module docs](self).
#[derive(Debug)]
pub struct ProcessCollector {
    errors: tachometer_core::Family<Counter>,
}

/// Registers a [`ProcessCollector`] (and its read-error counter) on `registry`.
/// Registering it twice on one registry is an error (its names are taken).
pub fn register(registry: &Registry) -> Result<(), Error> {
    let errors = registry.counter_family(
        Opts::new(
            PROCESS_READ_ERRORS_METRIC_NAME,
            "Reads of /proc files for process metrics that failed; those metrics are missing from that scrape.",
        )
        .labels(&["file"]),
    )?;
    registry.register_collector(ProcessCollector { errors })
}

struct Metric {
    name: &'static str,
    help: &'static str,
    unit: Option<Unit>,
    kind: MetricKind,
}

fn metrics() -> [Metric; 8] {
    let m = |name, help, unit, kind| Metric {
        name,
        help,
        unit,
        kind,
    };
    [
        m(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            Some(Unit::Seconds),
            MetricKind::FloatCounter,
        ),
        m(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            None,
            MetricKind::Gauge,
        ),
        m(
            "process_open_fds",
            "Number of open file descriptors.",
            None,
            MetricKind::Gauge,
        ),
        m(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            Some(Unit::Bytes),
            MetricKind::FloatGauge,
        ),
        m(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            Some(Unit::Seconds),
            MetricKind::FloatGauge,
        ),
        m(
            "process_threads",
            "Number of OS threads in the process.",
            None,
            MetricKind::Gauge,
        ),
        m(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            Some(Unit::Bytes),
            MetricKind::FloatGauge,
        ),
        m(
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
            Some(Unit::Bytes),
            MetricKind::FloatGauge,
        ),
    ]
}

fn descriptor(m: &Metric) -> Descriptor {
    let mut opts = Opts::new(m.name, m.help);
    if let Some(unit) = &m.unit {
        opts = opts.unit(unit.clone());
    }
    Descriptor::new(&opts, m.kind).expect("the process metrics' names are valid")
}

impl Collector for ProcessCollector {
    fn describe(&self) -> Vec<Descriptor> {
        if cfg!(target_os = "linux") {
            metrics().iter().map(descriptor).collect()
        } else {
            Vec::new()
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn collect(&self, _out: &mut Collection<'_>) {}

    #[cfg(target_os = "linux")]
    fn collect(&self, out: &mut Collection<'_>) {
        let reading = linux::read();
        for (file, failed) in [
            ("stat", reading.stat.is_none()),
            ("limits", reading.limits.is_none()),
            ("fd", reading.open_fds.is_none()),
        ] {
            if failed {
                if let Ok(c) = self.errors.with_labels(&[file]) {
                    c.increment(1);
                }
            }
        }
        for m in metrics() {
            let value = match (m.name, &reading.stat, &reading.limits) {
                ("process_cpu_seconds_total", Some(s), _) => Value::FloatCounter(s.cpu_seconds),
                ("process_resident_memory_bytes", Some(s), _) => {
                    Value::FloatGauge(s.resident_bytes)
                }
                ("process_virtual_memory_bytes", Some(s), _) => Value::FloatGauge(s.virtual_bytes),
                ("process_start_time_seconds", Some(s), _) => match s.start_time_seconds {
                    Some(t) => Value::FloatGauge(t),
                    None => continue,
                },
                ("process_threads", Some(s), _) => Value::Gauge(s.threads),
                ("process_max_fds", _, Some(l)) => {
                    Value::Gauge(l.max_fds.min(i64::MAX as u64) as i64)
                }
                ("process_virtual_memory_max_bytes", _, Some(l)) => {
                    Value::FloatGauge(l.max_address_space as f64)
                }
                ("process_open_fds", _, _) => match reading.open_fds {
                    Some(n) => Value::Gauge(n),
                    None => continue,
                },
                _ => continue,
            };
            let mut family = out.family(descriptor(&m));
            // Cannot fail: no labels, and each value matches its descriptor's kind.
            let _ = family.series(std::iter::empty::<(&str, &str)>(), value);
        }
    }
}

/// What one read of `/proc` gave; `None` where a file could not be read or parsed.
#[cfg(target_os = "linux")]
#[doc(hidden)]
pub mod linux {
    use std::fs;

    /// Fields of `/proc/self/stat` (and `/proc/stat`'s `btime`).
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Stat {
        /// utime + stime in seconds.
        pub cpu_seconds: f64,
        /// rss × page size.
        pub resident_bytes: f64,
        /// vsize.
        pub virtual_bytes: f64,
        /// btime + starttime ÷ CLK_TCK; `None` if `/proc/stat` has no btime.
        pub start_time_seconds: Option<f64>,
        /// num_threads.
        pub threads: i64,
    }

    /// Soft limits from `/proc/self/limits` (`u64::MAX` when unlimited).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Limits {
        /// "Max open files".
        pub max_fds: u64,
        /// "Max address space".
        pub max_address_space: u64,
    }

    /// One scrape's reading.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Reading {
        /// From `/proc/self/stat`.
        pub stat: Option<Stat>,
        /// From `/proc/self/limits`.
        pub limits: Option<Limits>,
        /// Entries of `/proc/self/fd`.
        pub open_fds: Option<i64>,
    }

    /// Reads everything once.
    pub fn read() -> Reading {
        let (ticks, page) = sysconf();
        let btime = fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| parse_btime(&s));
        Reading {
            stat: fs::read_to_string("/proc/self/stat")
                .ok()
                .and_then(|s| parse_stat(&s, ticks, page, btime)),
            limits: fs::read_to_string("/proc/self/limits")
                .ok()
                .and_then(|s| parse_limits(&s)),
            open_fds: fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.filter(|e| e.is_ok()).count() as i64),
        }
    }

    #[allow(unsafe_code)]
    fn sysconf() -> (f64, f64) {
        // SAFETY: sysconf only reads its integer argument and returns a value; both names
        // are constants every Linux libc defines. A failure returns -1, handled below.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        (
            if ticks > 0 { ticks as f64 } else { 100.0 },
            if page > 0 { page as f64 } else { 4096.0 },
        )
    }

    /// Parses `/proc/self/stat`. The command name (field 2) is in parentheses and may
    /// hold spaces and parentheses, so fields are counted after its last `)`.
    pub fn parse_stat(s: &str, ticks: f64, page: f64, btime: Option<u64>) -> Option<Stat> {
        let rest = &s[s.rfind(')')? + 1..];
        // fields[0] is field 3 (state) of proc(5).
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
        let (utime, stime) = (field(14)?, field(15)?);
        let threads = field(20)?;
        let starttime = field(22)?;
        let vsize = field(23)?;
        let rss = field(24)?;
        Some(Stat {
            cpu_seconds: (utime + stime) as f64 / ticks,
            resident_bytes: rss as f64 * page,
            virtual_bytes: vsize as f64,
            start_time_seconds: btime.map(|b| b as f64 + starttime as f64 / ticks),
            threads: threads as i64,
        })
    }

    /// The `btime` line of `/proc/stat`: boot time in seconds since the epoch.
    pub fn parse_btime(s: &str) -> Option<u64> {
        s.lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
    }

    /// The soft limits of `/proc/self/limits`.
    pub fn parse_limits(s: &str) -> Option<Limits> {
        let soft = |label: &str| -> Option<u64> {
            let line = s.lines().find(|l| l.starts_with(label))?;
            let value = line[label.len()..].split_ascii_whitespace().next()?;
            if value == "unlimited" {
                Some(u64::MAX)
            } else {
                value.parse().ok()
            }
        };
        Some(Limits {
            max_fds: soft("Max open files")?,
            max_address_space: soft("Max address space")?,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn stat_with_a_hostile_command_name() {
            // proc(5) layout; comm "a) (b c" holds spaces and parentheses.
            let line = "1234 (a) (b c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 1000 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
            let s = parse_stat(line, 100.0, 4096.0, Some(1_700_000_000)).unwrap();
            assert_eq!(s.cpu_seconds, 3.0);
            assert_eq!(s.threads, 7);
            assert_eq!(s.virtual_bytes, 123_456_789.0);
            assert_eq!(s.resident_bytes, 2048.0 * 4096.0);
            assert_eq!(s.start_time_seconds, Some(1_700_000_010.0));
            assert_eq!(parse_stat("garbage", 100.0, 4096.0, None), None);
        }

        #[test]
        fn limits_soft_values_and_unlimited() {
            let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                          Max address space         unlimited            unlimited            bytes     \n\
                          Max open files            1024                 524288               files     \n";
            assert_eq!(
                parse_limits(limits),
                Some(Limits {
                    max_fds: 1024,
                    max_address_space: u64::MAX
                })
            );
            assert_eq!(
                parse_btime("cpu 1 2\nbtime 1700000000\n"),
                Some(1_700_000_000)
            );
        }
    }
}
