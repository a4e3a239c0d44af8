//! The `batch_job` example's totals arrive whole at the real daemon after it exits.
#![cfg(feature = "statsd")]

mod statsd_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use statsd_support::Daemon;
use tachometer_testkit::{workspace_root, ChildGuard};

#[test]
fn batch_job_totals_arrive_after_it_exits() {
    let Some(daemon) = Daemon::start(false) else {
        return;
    };
    let out_dir = tachometer_testkit::TempDir::new("batch-job");
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
            .args(["--items", "2500", "--statsd", &daemon.udp.to_string()])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(std::fs::File::create(&stderr_path).unwrap()),
    )
    .expect("run cargo");
    // Generous: the first run compiles the facade crate and its dev-dependencies.
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
    let totals: Vec<(String, f64)> = stdout
        .lines()
        .map(|l| {
            let (name, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not `name value`: {l:?}"));
            (
                name.to_string(),
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {l:?}")),
            )
        })
        .collect();
    assert!(
        totals.contains(&("batch_job.items_processed_total".to_string(), 2500.0)),
        "stdout {stdout:?} stderr {stderr:?}"
    );
    assert!(
        totals.contains(&("batch_job.item_duration.count".to_string(), 2500.0)),
        "{stdout:?}"
    );
    for (name, value) in &totals {
        let got = daemon.wait_for(&Some(*value), |d| d.counter(name));
        assert_eq!(
            got,
            Some(*value),
            "{name}; daemon counters {:?}",
            daemon.dump("counters")
        );
    }
    assert_eq!(daemon.bad_lines(), 0.0);
}
