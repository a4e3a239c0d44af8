//! The coarse-clock thread behind `Meter::mark` is visible and stoppable: named
//! `tachometer-clock`, started by the first meter on the system clock, never by a
//! registry on a custom clock, and gone once stopped (checked in /proc, not by a flag).
//! One test, in its own process: the thread is process-wide.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tachometer_core::{Clock, ManualClock, Meter, Opts, Registry, SystemClock};

/// Names of this process's threads (Linux); `None` elsewhere.
fn thread_names() -> Option<Vec<String>> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .map(|n| n.trim_end().to_owned())
            .collect(),
    )
}

/// Threads named `tachometer-clock` (Linux shows at most 15 bytes of a name).
fn clock_threads() -> usize {
    thread_names().map_or(0, |names| {
        names
            .iter()
            .filter(|n| "tachometer-clock".starts_with(n.as_str()) && n.len() >= 15)
            .count()
    })
}

/// Waits (bounded) until `clock_threads()` is `n`: a new thread names itself once it
/// runs, and /proc may lag an exit.
fn wait_for_clock_threads(n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while clock_threads() != n {
        assert!(Instant::now() < deadline, "want {n}: {:?}", thread_names());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_clock_thread_is_named_started_by_meters_and_stoppable() {
    // A registry on a manual clock: meters and timers never start it.
    let manual = Registry::builder()
        .clock(Arc::new(ManualClock::new()))
        .build();
    manual.meter(Opts::new("m", "")).unwrap().mark(1);
    manual
        .timer(Opts::new("t", ""))
        .unwrap()
        .record(Duration::from_millis(1));
    assert!(!SystemClock::coarse_clock_running());
    assert_eq!(clock_threads(), 0);

    let meter = Meter::new();
    assert!(SystemClock::coarse_clock_running());
    if thread_names().is_some() {
        wait_for_clock_threads(1);
    }

    SystemClock::stop_coarse_clock();
    assert!(!SystemClock::coarse_clock_running());
    // Joined before `stop_coarse_clock` returned.
    wait_for_clock_threads(0);
    // Meters keep working on the precise clock, and do not restart it.
    meter.mark(2);
    let again = Meter::new();
    again.mark(1);
    assert_eq!(meter.snapshot().count, 2);
    assert!(!SystemClock::coarse_clock_running());
    assert_eq!(clock_threads(), 0);
    let (recent, now) = (SystemClock.recent(), SystemClock.now());
    assert!(recent <= now && now - recent < 1_000_000_000);
}
