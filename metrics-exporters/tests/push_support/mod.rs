//! Real push receivers for end-to-end tests: the Pushgateway, Prometheus (scraping the
//! gateway, or as a remote-write receiver) and VictoriaMetrics. Each listens on a free
//! 127.0.0.1 port, keeps its files in a `TempDir`, and is killed by PID on drop.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tachometer_testkit::{free_port, peer, wait_for_tcp, ChildGuard, TempDir};

/// Longest we wait for a peer to start, and for a query to show a value.
pub const PEER_DEADLINE: Duration = Duration::from_secs(30);

/// A running peer.
pub struct Peer {
    pub addr: SocketAddr,
    pub dir: TempDir,
    log: PathBuf,
    _child: ChildGuard,
}

impl Peer {
    fn spawn(
        name: &str,
        binary: PathBuf,
        args: impl FnOnce(&TempDir, SocketAddr) -> Vec<String>,
    ) -> Peer {
        let dir = TempDir::new(name);
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = dir.path().join(format!("{name}.log"));
        let child = ChildGuard::spawn(
            Command::new(binary)
                .args(args(&dir, addr))
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap()),
        )
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let peer = Peer {
            addr,
            dir,
            log,
            _child: child,
        };
        assert!(
            wait_for_tcp(addr, PEER_DEADLINE),
            "{name} did not listen on {addr}; log:\n{}",
            peer.log()
        );
        peer
    }

    /// The peer's output so far, for failure messages.
    pub fn log(&self) -> String {
        let mut s = std::fs::read_to_string(&self.log).unwrap_or_default();
        s.push_str(
            &std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default(),
        );
        let start = s.len().saturating_sub(4000);
        s[s.floor_char_boundary_compat(start)..].to_owned()
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every series of an instant query: (labels as `{a="b",…}` sorted, value).
    pub fn query(&self, promql: &str) -> Option<Vec<(String, String)>> {
        let (status, body) = http10(
            self.addr,
            "GET",
            &format!("/api/v1/query?query={}", url_encode(promql)),
            &[],
            b"",
        );
        if status != 200 {
            return None;
        }
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        let result = json["data"]["result"].as_array()?;
        let mut out: Vec<(String, String)> = result
            .iter()
            .map(|r| {
                let mut labels: Vec<String> = r["metric"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or_default()))
                            .collect()
                    })
                    .unwrap_or_default();
                labels.sort();
                (
                    format!("{{{}}}", labels.join(",")),
                    r["value"][1].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        out.sort();
        Some(out)
    }

    /// Polls `promql` until its single series has value `want`; panics with what it saw
    /// after [`PEER_DEADLINE`].
    pub fn wait_for_value(&self, promql: &str, want: &str) {
        let deadline = Instant::now() + PEER_DEADLINE;
        let mut last = None;
        while Instant::now() < deadline {
            last = self.query(promql);
            if let Some(rows) = &last {
                if rows.len() == 1 && rows[0].1 == want {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{promql} never became {want} within {PEER_DEADLINE:?}; last {last:?}; log:\n{}",
            self.log()
        );
    }
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for String {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// A Pushgateway.
pub fn start_pushgateway() -> Option<Peer> {
    let bin = peer::pushgateway()?;
    Some(Peer::spawn("pushgateway", bin, |_, addr| {
        vec![format!("--web.listen-address={addr}")]
    }))
}

/// Prometheus with `config` (YAML, after a 1 s global scrape interval) and `flags`.
pub fn start_prometheus(config: &str, flags: &[&str]) -> Option<Peer> {
    let bin = peer::prometheus()?;
    let flags: Vec<String> = flags.iter().map(|f| (*f).to_owned()).collect();
    let config = config.to_owned();
    Some(Peer::spawn("prometheus", bin, move |dir, addr| {
        let file = dir.path().join("prometheus.yml");
        std::fs::write(
            &file,
            format!("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n{config}"),
        )
        .unwrap();
        let mut args = vec![
            format!("--config.file={}", file.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address={addr}"),
        ];
        args.extend(flags);
        args
    }))
}

/// Prometheus scraping `target` (a Pushgateway) with `honor_labels: true`.
pub fn start_prometheus_scraping_gateway(target: SocketAddr) -> Option<Peer> {
    start_prometheus(
        &format!(
            "scrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets: ['{target}']\n"
        ),
        &[],
    )
}

/// Prometheus accepting remote write at `/api/v1/write`.
pub fn start_prometheus_receiver() -> Option<Peer> {
    start_prometheus("", &["--web.enable-remote-write-receiver"])
}

/// Single-node VictoriaMetrics (remote write at `/api/v1/write`).
pub fn start_victoria_metrics() -> Option<Peer> {
    let bin = peer::victoria_metrics()?;
    Some(Peer::spawn("victoria-metrics", bin, |dir, addr| {
        vec![
            format!("-storageDataPath={}", dir.path().join("data").display()),
            format!("-httpListenAddr={addr}"),
            "-search.latencyOffset=0s".to_owned(),
        ]
    }))
}

/// One HTTP/1.0 request (so Go answers without chunked encoding); returns status and body.
pub fn http10(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read response");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad response {text:?}"));
    (status, body.to_owned())
}

/// Percent-encodes a query parameter value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
