//! `flush_on_exit` delivers through `std::process::exit`, which runs no destructors:
//! this test re-runs its own binary as a child that records, registers the hooks and
//! calls `std::process::exit(3)` without flushing; the real receivers must then hold
//! the child's last values. Without the hooks nothing would arrive (the intervals are
//! an hour), which the child's `--no-hook` run shows.
#![cfg(all(feature = "pushgateway", feature = "remote-write", feature = "statsd"))]

mod push_support;
mod statsd_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use push_support::http10;
use statsd_support::Daemon;
use tachometer_core::{Opts, Registry};
use tachometer_exporters::push::{Pushgateway, RemoteWriter};
use tachometer_exporters::statsd::{StatsdReporter, Target};
use tachometer_testkit::ChildGuard;

const CHILD_ENV: &str = "TACHOMETER_PUSH_EXIT_CHILD";

/// The child's body; a no-op unless started by the parent test.
#[test]
fn exit_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.split(' ');
    let (hook, gateway, remote, statsd) = (
        parts.next().unwrap() == "hook",
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    );
    let registry = Registry::new();
    let jobs = registry.counter(Opts::new("exit_jobs_total", "")).unwrap();
    let hour = Duration::from_secs(3600);
    let g = Pushgateway::builder(gateway, "exit_test")
        .interval(hour)
        .start(&registry)
        .unwrap();
    let w = RemoteWriter::builder(remote)
        .external_label("job", "exit_test")
        .interval(hour)
        .start(&registry)
        .unwrap();
    let s = StatsdReporter::builder(Target::udp(statsd.as_str()))
        .interval(hour)
        .start(&registry)
        .unwrap();
    if hook {
        let bound = Duration::from_secs(5);
        g.flush_on_exit(bound);
        w.flush_on_exit(bound);
        s.flush_on_exit(bound);
    }
    jobs.increment(42);
    std::process::exit(3);
}

fn run_child(hook: bool, gateway: &str, remote: &str, statsd: &str) {
    let spec = format!(
        "{} {gateway} {remote} {statsd}",
        if hook { "hook" } else { "none" }
    );
    let mut child = ChildGuard::spawn(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "exit_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, spec)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .unwrap();
    // The hooks are bounded at 5 s each; the child must be gone well before this.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !child.has_exited() {
        assert!(Instant::now() < deadline, "child did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn flush_on_exit_delivers_through_process_exit() {
    let Some(gw) = push_support::start_pushgateway() else {
        return;
    };
    let Some(vm) = push_support::start_victoria_metrics() else {
        return;
    };
    let Some(daemon) = Daemon::start(false) else {
        return;
    };
    let remote = format!("{}/api/v1/write", vm.url());
    let statsd = daemon.udp.to_string();

    // Without hooks, `exit` loses everything.
    run_child(false, &gw.url(), &remote, &statsd);
    let metrics = http10(gw.addr, "GET", "/metrics", &[], b"").1;
    assert!(!metrics.contains("exit_jobs_total"), "{metrics}");
    assert_eq!(daemon.counter("exit_jobs_total"), None);

    run_child(true, &gw.url(), &remote, &statsd);
    let metrics = http10(gw.addr, "GET", "/metrics", &[], b"").1;
    assert!(
        metrics.contains(r#"exit_jobs_total{instance="",job="exit_test"} 42"#),
        "{metrics}"
    );
    vm.wait_for_value(r#"exit_jobs_total{job="exit_test"}"#, "42");
    assert_eq!(
        daemon.wait_for(&Some(42.0), |d| d.counter("exit_jobs_total")),
        Some(42.0)
    );
}
