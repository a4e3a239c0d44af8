//! End to end, with the real tools: the quickstart serves traffic, a real Prometheus
//! scrapes it and evaluates the generated rules (every window divided by 100, so "1h &
//! 5m" is 36 s & 3 s), a real Alertmanager routes what fires to a webhook receiver in
//! this test. Driving `/fail` makes `HttpErrorBudgetBurnFast` arrive firing at the
//! `page` receiver (and `FunctionErrorRatioHigh` for its `#[timed]` handler at the
//! `ticket` receiver); stopping it makes the page arrive resolved. Every PromQL expression
//! of the shipped Grafana dashboard is then run through Prometheus' query API.
//!
//! Prometheus and Alertmanager run from the shipped `prometheus.yml` and
//! `alertmanager.yml`, with only addresses, intervals and the rules file swapped in, so
//! the shipped routing (pages to `/page`) is what is tested. Every wait has a deadline;
//! peers are killed by PID and their directory removed on drop, pass or fail.

#![cfg(all(feature = "rules", feature = "server"))]

#[allow(dead_code)] // `main` is the example's entry point, unused here
#[path = "../examples/quickstart.rs"]
mod quickstart;

#[allow(dead_code)]
#[path = "../examples/rules.rs"]
mod rules_example;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tachometer::rules::Objectives;
use tachometer_testkit::{free_port, peer, wait_for_tcp, ChildGuard, TempDir};

/// Windows and `for` durations are divided by this (1h -> 36 s, 5m -> 3 s, 30m -> 18 s).
const TIME_SCALE: u32 = 100;
/// The longest any single wait may take.
const DEADLINE: Duration = Duration::from_secs(40);

fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/monitoring")
}

/// `text` with `from` replaced by `to`; panics if `from` is absent, so that a change to
/// a shipped file cannot silently leave this test running something else.
fn swap(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "expected {from:?} in the shipped file");
    text.replace(from, to)
}

/// One notification Alertmanager posted: the path (the receiver) and the JSON body.
#[derive(Debug)]
struct Notification {
    path: String,
    body: Value,
}

/// A webhook receiver on 127.0.0.1: answers 200 to every POST and hands the bodies over.
struct Webhook {
    addr: SocketAddr,
    received: mpsc::Receiver<Notification>,
    seen: Vec<Notification>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Webhook {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, received) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Some(n) = Self::serve(stream) {
                            let _ = tx.send(n);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Webhook {
            addr,
            received,
            seen: Vec::new(),
            stop,
            thread: Some(thread),
        }
    }

    /// Reads one request (headers up to 64 KiB, body up to 1 MiB), answers 200, closes.
    fn serve(mut stream: TcpStream) -> Option<Notification> {
        stream.set_nonblocking(false).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 64 * 1024 {
                return None;
            }
            let n = stream.read(&mut chunk).ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let path = head.split_whitespace().nth(1)?.to_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        if length > 1024 * 1024 {
            return None;
        }
        while buf.len() < head_end + length {
            let n = stream.read(&mut chunk).ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let body = serde_json::from_slice(&buf[head_end..head_end + length]).ok()?;
        Some(Notification { path, body })
    }

    /// Waits until a notification satisfies `accept`, or panics at the deadline with
    /// everything seen so far.
    fn wait_for(&mut self, what: &str, accept: impl Fn(&Notification) -> bool) -> &Notification {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(i) = self.seen.iter().position(&accept) {
                return &self.seen[i];
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .received
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(n) => self.seen.push(n),
                Err(_) if left.is_zero() => panic!(
                    "no notification {what} within {DEADLINE:?}; received: {:#?}",
                    self.seen
                ),
                Err(_) => {}
            }
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether `n` is Alertmanager telling us that `alertname` on `route` has `status`.
fn is(n: &Notification, receiver: &str, alertname: &str, route: &str, status: &str) -> bool {
    n.path == receiver
        && n.body["status"] == status
        && n.body["commonLabels"]["alertname"] == alertname
        && n.body["commonLabels"]["http_route"] == route
}

/// A blocking HTTP/1.0 GET (Prometheus closes the connection after the response).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query: Ok(result array) or Err(the error Prometheus returned).
fn query(prometheus: SocketAddr, promql: &str) -> Result<Vec<Value>, String> {
    let (status, body) = get(
        prometheus,
        &format!("/api/v1/query?query={}", url_encode(promql)),
    );
    let json: Value = serde_json::from_str(&body)
        .map_err(|e| format!("HTTP {status}, not JSON ({e}): {body}"))?;
    if json["status"] != "success" {
        return Err(format!("HTTP {status}: {body}"));
    }
    Ok(json["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// Polls `promql` until it returns at least one series, or panics at the deadline.
fn wait_for_series(prometheus: SocketAddr, promql: &str) -> Vec<Value> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let result = query(prometheus, promql);
        match &result {
            Ok(r) if !r.is_empty() => return r.clone(),
            _ if Instant::now() >= deadline => {
                let (_, targets) = get(prometheus, "/api/v1/targets");
                panic!("{promql} never returned a series within {DEADLINE:?}: {result:?}\ntargets: {targets}");
            }
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Every `expr` string anywhere in the dashboard JSON.
fn dashboard_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => dashboard_exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| dashboard_exprs(v, out)),
        _ => {}
    }
}

/// Starts a peer with its output in `dir/<name>.log`; panics (with the log) if it does
/// not listen on `addr` in time.
fn start_peer(name: &str, dir: &Path, addr: SocketAddr, cmd: &mut Command) -> ChildGuard {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = ChildGuard::spawn(cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log))
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    assert!(
        wait_for_tcp(addr, DEADLINE),
        "{name} did not listen on {addr}; log:\n{}",
        std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
    );
    child
}

#[test]
fn failing_route_pages_through_alertmanager_and_resolves_and_the_dashboard_queries_answer() {
    let Some(prometheus_bin) = peer::prometheus() else {
        return;
    };
    let Some(alertmanager_bin) = peer::alertmanager() else {
        return;
    };
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // The quickstart, in-process, until `stop_quickstart` fires.
    let quickstart_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (stop_quickstart, stopped) = tokio::sync::oneshot::channel::<()>();
    let quickstart = runtime.spawn(async move {
        let mut out = Vec::new();
        let opts = quickstart::Options {
            port: quickstart_addr.port(),
            once: false,
            traffic: 0,
        };
        quickstart::run_until(opts, &mut out, async {
            let _ = stopped.await;
        })
        .await
        .map_err(|e| format!("{e}\n{}", String::from_utf8_lossy(&out)))
    });
    assert!(
        wait_for_tcp(quickstart_addr, DEADLINE),
        "quickstart did not listen on {quickstart_addr}"
    );

    // Traffic: users and /slow all along, /fail while `failing` is set.
    let failing = Arc::new(AtomicBool::new(false));
    let driving = Arc::new(AtomicBool::new(true));
    let driver = {
        let (failing, driving) = (failing.clone(), driving.clone());
        runtime.spawn(async move {
            let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
            let mut n = 0u32;
            while driving.load(Ordering::Relaxed) {
                n += 1;
                let mut paths = vec![format!("/users/{}", n % 1000 + 1)];
                if n % 5 == 0 {
                    paths.push("/slow".into());
                }
                if failing.load(Ordering::Relaxed) {
                    paths.push("/fail".into());
                }
                for path in paths {
                    let uri = format!("http://{quickstart_addr}{path}").parse().unwrap();
                    if let Ok(Ok(response)) =
                        tokio::time::timeout(Duration::from_secs(5), client.get(uri)).await
                    {
                        let _ = response.into_body().collect().await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    };

    let dir = TempDir::new("monitoring-e2e");
    let mut webhook = Webhook::start();

    // Alertmanager from the shipped config: our webhook, tiny grouping delays.
    let alertmanager_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let shipped_am = std::fs::read_to_string(monitoring_dir().join("alertmanager.yml")).unwrap();
    let am_config = swap(
        &swap(
            &swap(
                &shipped_am,
                "http://127.0.0.1:5001",
                &format!("http://{}", webhook.addr),
            ),
            "group_wait: 30s",
            "group_wait: 500ms",
        ),
        "group_interval: 5m",
        "group_interval: 1s",
    );
    std::fs::write(dir.path().join("alertmanager.yml"), am_config).unwrap();
    let _alertmanager = start_peer(
        "alertmanager",
        dir.path(),
        alertmanager_addr,
        Command::new(&alertmanager_bin)
            .arg(format!(
                "--config.file={}",
                dir.path().join("alertmanager.yml").display()
            ))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("am-data").display()
            ))
            .arg(format!("--web.listen-address={alertmanager_addr}"))
            .arg("--cluster.listen-address="),
    );

    // Prometheus from the shipped config: the quickstart, our Alertmanager, the generated
    // rules scaled to seconds, fast scrapes and evaluations.
    let rules = Objectives::default()
        .time_scaled(TIME_SCALE)
        .render()
        .unwrap();
    std::fs::write(dir.path().join("tachometer.rules.yml"), rules).unwrap();
    let shipped_prom = std::fs::read_to_string(monitoring_dir().join("prometheus.yml")).unwrap();
    let prom_config = swap(
        &swap(
            &swap(
                &swap(
                    &shipped_prom,
                    "'127.0.0.1:3000'",
                    &format!("'{quickstart_addr}'"),
                ),
                "'127.0.0.1:9093'",
                &format!("'{alertmanager_addr}'"),
            ),
            "scrape_interval: 15s",
            "scrape_interval: 500ms\n  scrape_timeout: 500ms",
        ),
        "evaluation_interval: 15s",
        "evaluation_interval: 1s",
    );
    std::fs::write(dir.path().join("prometheus.yml"), prom_config).unwrap();
    let prometheus_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let _prometheus = start_peer(
        "prometheus",
        dir.path(),
        prometheus_addr,
        Command::new(&prometheus_bin)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("prom-data").display()
            ))
            .arg(format!("--web.listen-address={prometheus_addr}")),
    );
    wait_for_series(prometheus_addr, r#"up{job="quickstart"} == 1"#);
    // The rules loaded and evaluate (the recording rule has a series once two scrapes
    // of the quickstart are in).
    wait_for_series(
        prometheus_addr,
        "job_http_route:http_server_requests:rate36s",
    );

    // The generator reads the live service's bounds (it has served requests: the rate
    // above has a series) and accepts the default objectives.
    let (live, _) = rules_example::parse([
        "--bounds-from".to_owned(),
        format!("http://{quickstart_addr}/metrics"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(live.histograms, Objectives::default().histograms);
    live.render().unwrap();

    // Fail: the page arrives, for /fail only, at the page receiver.
    failing.store(true, Ordering::Relaxed);
    let fail_started = Instant::now();
    let firing = webhook.wait_for("HttpErrorBudgetBurnFast firing for /fail at /page", |n| {
        is(n, "/page", "HttpErrorBudgetBurnFast", "/fail", "firing")
    });
    assert_eq!(firing.body["commonLabels"]["severity"], "page");
    assert_eq!(firing.body["commonLabels"]["job"], "quickstart");
    let fired_after = fail_started.elapsed();
    // The `#[timed]` handler behind /fail returns `Err`: its error ratio tickets.
    let ticket = webhook.wait_for("FunctionErrorRatioHigh firing for fail at /ticket", |n| {
        n.path == "/ticket"
            && n.body["status"] == "firing"
            && n.body["commonLabels"]["alertname"] == "FunctionErrorRatioHigh"
            && n.body["commonLabels"]["function"] == "fail"
    });
    assert_eq!(ticket.body["commonLabels"]["severity"], "ticket");

    // Every dashboard expression answers, with the variables Grafana would substitute.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(monitoring_dir().join("grafana-dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "{exprs:?}");
    let process_metrics = !query(
        prometheus_addr,
        r#"{__name__=~"process_.+",job="quickstart"}"#,
    )
    .unwrap()
    .is_empty();
    let mut skipped_process = Vec::new();
    for expr in &exprs {
        let promql = expr
            .replace("$__rate_interval", "2s")
            .replace("$__range", "1m")
            .replace("$job", "quickstart");
        assert!(
            !promql.contains('$'),
            "unknown dashboard variable in {expr}"
        );
        if promql.contains("process_") && !process_metrics {
            // Shown "when present": the quickstart exports no process_* metrics yet, so
            // the query must parse and run, and is empty.
            assert_eq!(query(prometheus_addr, &promql), Ok(vec![]), "{promql}");
            skipped_process.push(expr.clone());
            continue;
        }
        let deadline = Instant::now() + DEADLINE;
        loop {
            match query(prometheus_addr, &promql) {
                Err(e) => panic!("dashboard query failed: {promql}\n{e}"),
                Ok(r) if !r.is_empty() => break,
                Ok(_) if Instant::now() >= deadline => {
                    panic!("dashboard query stayed empty for {DEADLINE:?}: {promql}")
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }

    // Stop failing: the resolution arrives.
    failing.store(false, Ordering::Relaxed);
    let stopped_at = Instant::now();
    webhook.wait_for("HttpErrorBudgetBurnFast resolved for /fail at /page", |n| {
        is(n, "/page", "HttpErrorBudgetBurnFast", "/fail", "resolved")
    });
    let resolved_after = stopped_at.elapsed();
    // Healthy routes never paged.
    assert!(
        !webhook
            .seen
            .iter()
            .any(|n| n.path == "/page" && n.body["commonLabels"]["http_route"] != "/fail"),
        "{:#?}",
        webhook.seen
    );

    driving.store(false, Ordering::Relaxed);
    runtime.block_on(driver).unwrap();
    let _ = stop_quickstart.send(());
    runtime
        .block_on(quickstart)
        .unwrap()
        .expect("quickstart ran");
    eprintln!(
        "e2e: page after {fired_after:?} of /fail, resolved {resolved_after:?} after it stopped, \
         {} dashboard queries ({} process_* queries empty: not exported), {:?} in all",
        exprs.len(),
        skipped_process.len(),
        started.elapsed()
    );
}
