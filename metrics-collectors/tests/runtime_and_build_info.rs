//! Tokio runtime metrics and build info, through the exposition.

use tachometer::exporters::prometheus::{encode, Format};
use tachometer::Registry;

fn scrape(registry: &Registry) -> String {
    let mut out = String::new();
    encode(registry, Format::Text004, &mut out);
    out
}

#[test]
fn runtime_metrics_follow_the_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
        .unwrap();
    let registry = Registry::new();
    tachometer::collectors::tokio::register(&registry, "main", runtime.handle().clone()).unwrap();
    assert!(
        tachometer::collectors::tokio::register(&registry, "other", runtime.handle().clone())
            .is_err()
    );

    // Five tasks parked on a channel are alive until it closes.
    let (tx, rx) = tokio::sync::watch::channel(false);
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let mut rx = rx.clone();
            runtime.spawn(async move {
                let _ = rx.wait_for(|done| *done).await;
            })
        })
        .collect();
    let text = scrape(&registry);
    assert!(
        text.contains("tokio_runtime_workers{runtime=\"main\"} 3\n"),
        "{text}"
    );
    assert!(
        text.contains("tokio_runtime_alive_tasks{runtime=\"main\"} 5\n"),
        "{text}"
    );
    assert!(
        text.contains("tokio_runtime_global_queue_depth{runtime=\"main\"}"),
        "{text}"
    );
    for w in 0..3 {
        assert!(
            text.contains(&format!(
                "tokio_runtime_worker_parks_total{{runtime=\"main\",worker=\"{w}\"}}"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "tokio_runtime_worker_busy_seconds_total{{runtime=\"main\",worker=\"{w}\"}}"
            )),
            "{text}"
        );
    }
    tx.send(true).unwrap();
    runtime.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    let text = scrape(&registry);
    assert!(
        text.contains("tokio_runtime_alive_tasks{runtime=\"main\"} 0\n"),
        "{text}"
    );
}

#[test]
fn build_info_names_the_calling_crate() {
    let registry = Registry::new();
    tachometer::collectors::register_build_info!(&registry).unwrap();
    // Idempotent: a second call keeps one series.
    tachometer::collectors::register_build_info!(&registry).unwrap();
    let text = scrape(&registry);
    let want = format!(
        "target_info{{service_name=\"tachometer-collectors\",service_version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&want), "{text}");
    assert_eq!(text.matches("target_info{").count(), 1, "{text}");
}

#[test]
fn promtool_accepts_the_collected_families() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let Some(promtool) = tachometer_testkit::peer::promtool() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let registry = Registry::new();
    #[cfg(target_os = "linux")]
    tachometer::collectors::process::register(&registry).unwrap();
    tachometer::collectors::tokio::register(&registry, "main", runtime.handle().clone()).unwrap();
    tachometer::collectors::register_build_info!(&registry).unwrap();
    let text = scrape(&registry);
    if cfg!(target_os = "linux") {
        assert!(text.contains("process_cpu_seconds_total "), "{text}");
    }

    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {:?}\n{}{}\ninput:\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
