//! Process metrics agree with `/proc` read independently. One test in this binary, so
//! no other test opens or closes descriptors while it counts them.

use std::fs::File;

use tachometer::exporters::prometheus::{encode, Format};
use tachometer::Registry;

/// `name value` of an unlabeled sample in 0.0.4 text.
fn sample(text: &str, name: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.split(' ').next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} sample in:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn scrape(registry: &Registry) -> String {
    let mut out = String::new();
    encode(registry, Format::Text004, &mut out);
    out
}

/// VmRSS from /proc/self/status, in bytes: another file than the collector reads.
fn vm_rss() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024.0
}

#[cfg(target_os = "linux")]
#[test]
fn process_metrics_agree_with_proc() {
    let registry = Registry::new();
    tachometer::collectors::process::register(&registry).unwrap();
    assert!(
        tachometer::collectors::process::register(&registry).is_err(),
        "a second registration must be refused, not duplicate the families"
    );

    let first = scrape(&registry);
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_virtual_memory_max_bytes",
        "process_start_time_seconds",
        "process_open_fds",
        "process_max_fds",
        "process_threads",
    ] {
        sample(&first, name);
    }
    assert!(
        first.contains("# TYPE process_cpu_seconds_total counter"),
        "{first}"
    );
    assert!(
        first.contains("# TYPE process_resident_memory_bytes gauge"),
        "{first}"
    );

    // Open fds: exactly N more after opening N files.
    let before = sample(&first, "process_open_fds");
    let files: Vec<File> = (0..17)
        .map(|_| File::open("/proc/self/stat").unwrap())
        .collect();
    let during = sample(&scrape(&registry), "process_open_fds");
    assert_eq!(during - before, 17.0);
    drop(files);
    assert_eq!(sample(&scrape(&registry), "process_open_fds"), before);

    // Max fds: the soft limit, as the shell's `ulimit -n` reports it.
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .to_owned();
    let max_fds = sample(&first, "process_max_fds");
    if soft != "unlimited" {
        assert_eq!(max_fds, soft.parse::<f64>().unwrap());
    }

    // RSS within 10 % of VmRSS after touching 64 MiB, so the value is large and moving.
    let ballast: Vec<u8> = vec![1; 64 << 20];
    std::hint::black_box(&ballast);
    let rss = sample(&scrape(&registry), "process_resident_memory_bytes");
    let reference = vm_rss();
    assert!(rss > 64.0 * 1024.0 * 1024.0, "rss {rss}");
    assert!(
        (rss - reference).abs() <= 0.10 * reference,
        "rss {rss} vs VmRSS {reference}"
    );
    drop(ballast);

    // CPU time: never decreases, and grows with work. Work in chunks until it moves (the
    // kernel counts in 10 ms ticks); the cap only bounds a broken collector's test.
    let cpu0 = sample(&scrape(&registry), "process_cpu_seconds_total");
    let mut x = 0u64;
    let mut cpu1 = cpu0;
    for _ in 0..1_000 {
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        cpu1 = sample(&scrape(&registry), "process_cpu_seconds_total");
        assert!(cpu1 >= cpu0, "cpu went backwards: {cpu0} -> {cpu1}");
        if cpu1 > cpu0 {
            break;
        }
    }
    assert!(cpu1 > cpu0, "cpu {cpu0} -> {cpu1} after busy work");

    // Start time: in the past, after boot, and within a day of now for a test process.
    let start = sample(&first, "process_start_time_seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        start <= now + 1.0 && start > now - 86_400.0,
        "start {start}, now {now}"
    );

    // Threads: the task directory counts the same threads.
    let tasks = std::fs::read_dir("/proc/self/task").unwrap().count() as f64;
    assert_eq!(sample(&first, "process_threads"), tasks);
}
