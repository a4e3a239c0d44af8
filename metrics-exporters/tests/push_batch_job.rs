//! The `batch_job` example pushes to a Pushgateway, a remote-write store and StatsD at
//! once, and every total it prints is returned exactly by the real consumers: a
//! Prometheus scraping the gateway (`honor_labels: true`), VictoriaMetrics receiving
//! remote write, and the StatsD daemon.
#![cfg(all(feature = "pushgateway", feature = "remote-write", feature = "statsd"))]

mod push_support;
mod statsd_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use statsd_support::Daemon;
use tachometer_testkit::{workspace_root, ChildGuard, TempDir};

#[test]
fn batch_job_totals_read_back_from_every_destination() {
    let Some(gw) = push_support::start_pushgateway() else {
        return;
    };
    let Some(vm) = push_support::start_victoria_metrics() else {
        return;
    };
    let Some(daemon) = Daemon::start(false) else {
        return;
    };
    let out_dir = TempDir::new("push-batch-job");
    let stdout_path = out_dir.path().join("stdout");
    let stderr_path = out_dir.path().join("stderr");
    let mut child = ChildGuard::spawn(
        Command::new(env!("CARGO"))
            .current_dir(workspace_root())
            .args([
                "run",
                "--quiet",
                "-p",
                "tachometer",
                "--example",
                "batch_job",
                "--",
            ])
            .args(["--items", "1500", "--job", "push_batch_test"])
            .args(["--pushgateway", &gw.url()])
            .args(["--remote-write", &format!("{}/api/v1/write", vm.url())])
            .args(["--statsd", &daemon.udp.to_string()])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(std::fs::File::create(&stderr_path).unwrap()),
    )
    .expect("run cargo");
    // Generous: the first run may compile the example.
    let deadline = Instant::now() + Duration::from_secs(1200);
    while !child.has_exited() {
        assert!(
            Instant::now() < deadline,
            "batch_job did not finish in time"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let lines: Vec<(&str, &str)> = stdout
        .lines()
        .map(|l| {
            l.rsplit_once(' ')
                .unwrap_or_else(|| panic!("not `selector value`: {l:?}; stderr {stderr}"))
        })
        .collect();
    let (promql, statsd): (Vec<_>, Vec<_>) = lines.iter().partition(|(k, _)| k.contains('{'));
    // Outcomes split the 1500 items; the example says which selectors hold them.
    let get = |sel: &str| -> u64 {
        promql
            .iter()
            .find(|(k, _)| *k == sel)
            .unwrap_or_else(|| panic!("{sel} not printed: {stdout}"))
            .1
            .parse()
            .unwrap()
    };
    assert_eq!(get(r#"items_processed_total{job="push_batch_test"}"#), 1500);
    assert_eq!(get(r#"item_duration_count{job="push_batch_test"}"#), 1500);
    let ok = get(r#"batch_items_total{job="push_batch_test",outcome="ok"}"#);
    let failed = get(r#"batch_items_total{job="push_batch_test",outcome="failed"}"#);
    assert_eq!(ok + failed, 1500);
    assert!(failed > 0, "{stdout}");

    let Some(prom) = push_support::start_prometheus_scraping_gateway(gw.addr) else {
        return;
    };
    for (selector, value) in &promql {
        prom.wait_for_value(selector, value);
        vm.wait_for_value(selector, value);
    }
    assert_eq!(statsd.len(), 2, "{stdout}");
    for (name, value) in &statsd {
        let want: f64 = value.parse().unwrap();
        let got = daemon.wait_for(&Some(want), |d| d.counter(name));
        assert_eq!(got, Some(want), "{name}");
    }
}
