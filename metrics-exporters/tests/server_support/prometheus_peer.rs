//! A real Prometheus server for end-to-end tests (see `server_prometheus.rs`).

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tachometer_testkit::{free_port, peer, wait_for_tcp, ChildGuard, TempDir};

use super::{get, url_encode};

/// Longest we wait for Prometheus to start and to report a scraped value.
const PEER_DEADLINE: Duration = Duration::from_secs(30);

/// A running Prometheus; killed by PID and its directory removed on drop.
pub struct Prometheus {
    /// Where its HTTP API listens.
    pub addr: SocketAddr,
    _child: ChildGuard,
    _dir: TempDir,
}

/// Starts Prometheus scraping `target` every second (with `extra` lines appended to the
/// scrape job), or returns `None` (after a SKIP line) when it is not installed.
pub fn start_prometheus(target: SocketAddr, extra: &str) -> Option<Prometheus> {
    start_prometheus_with(target, extra, &[])
}

/// As [`start_prometheus`], with extra command-line flags (such as
/// `--enable-feature=native-histograms`).
#[allow(dead_code)] // not every test binary uses it
pub fn start_prometheus_with(
    target: SocketAddr,
    extra: &str,
    flags: &[&str],
) -> Option<Prometheus> {
    let binary = peer::prometheus()?;
    let dir = TempDir::new("prometheus");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: tachometer\n    static_configs:\n      - targets: ['{target}']\n{extra}"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = ChildGuard::spawn(
        Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address={addr}"))
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log),
    )
    .expect("spawn prometheus");
    assert!(
        wait_for_tcp(addr, PEER_DEADLINE),
        "prometheus did not listen on {addr}; log:\n{}",
        std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
    );
    Some(Prometheus {
        addr,
        _child: child,
        _dir: dir,
    })
}

impl Prometheus {
    /// The single value of an instant query, if the result has exactly one series.
    pub fn query(&self, promql: &str) -> Option<String> {
        let reply = get(
            self.addr,
            &format!("/api/v1/query?query={}", url_encode(promql)),
            &[],
        );
        if reply.status != 200 {
            return None;
        }
        let json: serde_json::Value = serde_json::from_slice(&reply.body).ok()?;
        let result = json["data"]["result"].as_array()?;
        if result.len() != 1 {
            return None;
        }
        result[0]["value"][1].as_str().map(str::to_owned)
    }

    /// The `result` array of an instant query (`None` on an error status).
    #[allow(dead_code)] // not every test binary uses it
    pub fn query_result(&self, promql: &str) -> Option<Vec<serde_json::Value>> {
        let reply = get(
            self.addr,
            &format!("/api/v1/query?query={}", url_encode(promql)),
            &[],
        );
        if reply.status != 200 {
            return None;
        }
        let json: serde_json::Value = serde_json::from_slice(&reply.body).ok()?;
        json["data"]["result"].as_array().cloned()
    }

    /// Polls `promql` until it has a value satisfying `accept`, up to [`PEER_DEADLINE`].
    pub fn wait_for(&self, promql: &str, accept: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PEER_DEADLINE;
        let mut last = None;
        while Instant::now() < deadline {
            last = self.query(promql);
            if last.as_deref().is_some_and(&accept) {
                return last.unwrap();
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let targets = get(self.addr, "/api/v1/targets", &[]).text();
        panic!("{promql} never became acceptable within {PEER_DEADLINE:?}; last {last:?}; targets: {targets}");
    }
}
