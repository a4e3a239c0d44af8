//! The live metrics page in a real browser: the quickstart runs in-process (its source
//! is compiled in as a module, as in `quickstart_once.rs`), headless Chromium loads the
//! `/metrics/ui` URL the quickstart prints, lets the page poll a few times
//! (`--virtual-time-budget`), and the test reads the rendered DOM (`--dump-dom`).
//! A screenshot is saved as a test artifact.
//!
//! SKIPs when Chromium is missing; fails then with `TACHOMETER_REQUIRE_PEERS=1`.

#[allow(dead_code)] // `main` and `run` are the example's entry points, unused here
#[path = "../examples/quickstart.rs"]
mod quickstart;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use quickstart::{run_until, Options};
use tachometer::exporters::server::Server;
use tachometer::{Buckets, Opts, Registry};
use tachometer_testkit::{peer, pids_mentioning, ChildGuard, TempDir};

/// A label value that is markup: it must show up as text, never as elements.
const HOSTILE: &str =
    r#"<script>document.title='pwned'</script><img src=x onerror="document.title='pwned'">"#;

/// What the quickstart prints, readable while it runs.
#[derive(Clone, Default)]
struct SharedOut(Arc<Mutex<Vec<u8>>>);

impl Write for SharedOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedOut {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Runs headless Chromium on `url` with `extra` flags (e.g. `--dump-dom`), at most
/// 25 s; returns its stdout. Fails if it does not exit, or if any process it started
/// is still running afterwards.
fn chromium(chromium: &Path, url: &str, extra: &[String]) -> String {
    let profile = TempDir::new("chromium");
    let out_file = profile.path().join("stdout.html");
    let stdout = std::fs::File::create(&out_file).expect("create chromium's stdout file");
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1280,2000",
        "--virtual-time-budget=3500",
    ])
    .arg(format!(
        "--user-data-dir={}",
        profile.path().join("profile").display()
    ))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(stdout)
    .stderr(Stdio::null());
    let mut child = ChildGuard::spawn(&mut cmd).expect("start chromium");
    let status = child.wait_timeout(Duration::from_secs(25));
    drop(child);
    // Chromium forks a zygote, renderers and utilities; they exit with the browser.
    // Give them a moment, then kill (by PID) and fail on any that are left.
    let needle = profile.path().to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut left = pids_mentioning(&needle);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left = pids_mentioning(&needle);
    }
    for pid in &left {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
    assert!(left.is_empty(), "chromium left processes running: {left:?}");
    let status = status.expect("chromium did not exit within 25 s");
    assert!(status.success(), "chromium failed: {status}");
    std::fs::read_to_string(&out_file).expect("read chromium's output")
}

/// Where test artifacts go: `<target>/<profile>/artifacts/`.
fn artifact_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // <target>/<profile>/deps/<test binary>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map_or_else(std::env::temp_dir, Path::to_path_buf)
        .join("artifacts");
    std::fs::create_dir_all(&dir).expect("create the artifacts dir");
    dir
}

async fn get(url: &str) -> String {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let res = client.get(url.parse().unwrap()).await.expect("GET");
    assert!(res.status().is_success(), "GET {url}: {}", res.status());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// The `<tr>…</tr>` of the routes or functions table whose name cell ends with `name`.
fn table_row<'a>(dom: &'a str, name: &str) -> &'a str {
    let marker = format!(">{name}</div>");
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no table row for {name:?} in the page\n{dom}"));
    let start = dom[..at].rfind("<tr").expect("row start");
    let end = at + dom[at..].find("</tr>").expect("row end");
    &dom[start..end]
}

/// The text of the first element in `html` opened by `open` (up to the next `<`).
fn text_after<'a>(html: &'a str, open: &str) -> &'a str {
    let at = html
        .find(open)
        .unwrap_or_else(|| panic!("no {open:?} in {html}"))
        + open.len();
    let end = at + html[at..].find('<').unwrap_or(0);
    &html[at..end]
}

/// The `d` of every `<path … class="ln {class}">` in `html`.
fn line_paths<'a>(html: &'a str, class: &str) -> Vec<&'a str> {
    html.split("<path ")
        .skip(1)
        .filter_map(|tag| {
            let tag = &tag[..tag.find('>')?];
            if !tag.contains(&format!("class=\"ln {class}\"")) {
                return None;
            }
            let d = &tag[tag.find("d=\"")? + 3..];
            Some(&d[..d.find('"')?])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_page_shows_routes_counts_charts_and_escaped_labels() {
    let Some(browser) = peer::chromium() else {
        return;
    };
    tachometer::global()
        .counter_family(
            Opts::new("ui_test_payloads_total", "Payloads seen by the UI test.")
                .labels(&["payload"]),
        )
        .unwrap()
        .with_labels(&[HOSTILE])
        .unwrap()
        .increment(3);

    let out = SharedOut::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn({
        let mut out = out.clone();
        async move {
            let opts = Options {
                port: 0,
                once: false,
                traffic: 0,
            };
            run_until(opts, &mut out, async {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| e.to_string())
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let printed = loop {
        let text = out.text();
        if text.contains("serving until Ctrl-C") {
            break text;
        }
        assert!(
            Instant::now() < deadline && !server.is_finished(),
            "the quickstart did not start serving:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The quickstart prints the page's URL next to /metrics.
    let url = printed
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.ends_with("/metrics/ui"))
        .unwrap_or_else(|| panic!("the quickstart did not print the page's URL:\n{printed}"))
        .to_owned();
    let base = url.trim_end_matches("/metrics/ui").to_owned();

    // Steady traffic on `/` while the browser polls (not on /users/{id}, whose count
    // must stay still so the page and /metrics can be compared).
    let traffic = tokio::spawn({
        let base = base.clone();
        async move {
            let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
            loop {
                if let Ok(res) = client.get(format!("{base}/").parse().unwrap()).await {
                    let _ = res.into_body().collect().await;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let dom = {
        let (browser, url) = (browser.clone(), url.clone());
        tokio::task::spawn_blocking(move || chromium(&browser, &url, &["--dump-dom".into()]))
            .await
            .unwrap()
    };
    let shot = artifact_dir().join("metrics-ui.png");
    let _ = std::fs::remove_file(&shot);
    {
        let (browser, url, shot) = (browser.clone(), url.clone(), shot.clone());
        tokio::task::spawn_blocking(move || {
            chromium(
                &browser,
                &url,
                &[
                    format!("--screenshot={}", shot.display()),
                    "--window-size=1280,1100".into(),
                ],
            )
        })
        .await
        .unwrap();
    }
    traffic.abort();
    let metrics = get(&format!("{base}/metrics")).await;
    let _ = stop.send(());
    server.await.unwrap().expect("quickstart failed");

    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
    eprintln!("screenshot: {}", shot.display());

    // At least two polls were drawn.
    let polls: u32 = text_after(&dom, "data-polls=\"")
        .split('"')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(polls >= 2, "the page drew {polls} polls\n{dom}");

    // The route appears, with the request count /metrics reports.
    let row = table_row(&dom, "/users/{id}");
    let shown: u64 = text_after(row, "class=\"num route-count\">")
        .replace(',', "")
        .parse()
        .expect("a request count");
    let expected: u64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("http_server_request_duration_seconds_count{")
                && l.contains(r#"http_route="/users/{id}""#)
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(shown, expected, "requests shown for /users/{{id}}\n{row}");
    assert_eq!(
        expected, 160,
        "the quickstart's burst: 150 found + 10 missing"
    );

    // Its request-rate chart has drawn a line through at least two polls.
    let lines = line_paths(row, "rate");
    assert!(
        lines.iter().any(|d| d.starts_with('M') && d.contains('L')),
        "no drawn rate line for /users/{{id}}: {lines:?}\n{row}"
    );
    // Rates are real: `/` had traffic between polls.
    let root = table_row(&dom, "/");
    let rate = text_after(root, "<div class=\"val\">");
    assert!(
        rate.ends_with("/s") && rate != "0/s",
        "request rate shown for / while it had traffic: {rate:?}"
    );

    // The hostile label value is text, not markup.
    let escaped = HOSTILE
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert!(
        dom.contains(&format!(">{escaped}</span>")),
        "the hostile label value should appear escaped\n{dom}"
    );
    assert!(!dom.contains("<img src=\"x\""), "an <img> was injected");
    assert!(
        !dom.contains("<script>document.title"),
        "a <script> was injected"
    );
    assert!(!dom.contains("pwned</title>"), "injected script ran");
}

/// 1,000 series: the page draws only what is on screen, so the DOM stays small;
/// process metrics get their own tiles; the filter (`?q=`) narrows the families.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_series_render_a_bounded_page_with_process_tiles_and_a_filter() {
    let Some(browser) = peer::chromium() else {
        return;
    };
    let registry = Registry::new();
    for f in 0..10 {
        let labels = &["shard"];
        match f % 3 {
            0 => {
                let c = registry
                    .counter_family(
                        Opts::new(format!("load_{f}_total"), "Synthetic.").labels(labels),
                    )
                    .unwrap();
                for s in 0..100 {
                    c.with_labels(&[&s.to_string()]).unwrap().increment(s);
                }
            }
            1 => {
                let g = registry
                    .gauge_family(Opts::new(format!("load_{f}"), "Synthetic.").labels(labels))
                    .unwrap();
                for s in 0..100 {
                    g.with_labels(&[&s.to_string()]).unwrap().set(s as i64);
                }
            }
            _ => {
                let h = registry
                    .histogram_family(
                        Opts::new(format!("load_{f}_seconds"), "Synthetic.").labels(labels),
                        Buckets::default_latency(),
                    )
                    .unwrap();
                for s in 0..100 {
                    h.with_labels(&[&s.to_string()])
                        .unwrap()
                        .record(s as f64 / 1e3);
                }
            }
        }
    }
    registry
        .float_counter(Opts::new("process_cpu_seconds_total", "CPU time."))
        .unwrap()
        .increment(1.5);
    registry
        .gauge(Opts::new(
            "process_resident_memory_bytes",
            "Resident memory.",
        ))
        .unwrap()
        .set(48 << 20);
    let server = Server::builder()
        .registry(registry)
        .bind("127.0.0.1:0")
        .unwrap();
    let url = format!("http://{}/metrics/ui", server.local_addr());
    let (dom, filtered) = tokio::task::spawn_blocking(move || {
        let dump = ["--dump-dom".to_owned()];
        let short = [
            "--dump-dom".to_owned(),
            "--window-size=1280,1000".to_owned(),
        ];
        (
            chromium(&browser, &url, &short),
            chromium(&browser, &format!("{url}?q=load_2"), &dump),
        )
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();

    let process = &dom[dom
        .find("<section id=\"process\"")
        .expect("process section")..];
    let process = &process[..process.find("</section>").unwrap()];
    assert!(
        !process.starts_with("<section id=\"process\" hidden"),
        "{process}"
    );
    assert!(
        process.contains(">process_resident_memory_bytes<") && process.contains(">48.0 MiB<"),
        "{process}"
    );
    // The families of the test plus the registry's self-metric definitions
    // (series overflow, callback timeouts), counted even while they have no series.
    assert!(
        filtered.contains(">1 of 14 families<"),
        "the filter keeps one family\n{filtered}"
    );
    assert!(filtered.contains(">load_2_seconds<"));

    assert!(
        dom.contains(" 1,002 series "),
        "1,000 + 2 process series\n{dom}"
    );
    let rows = dom.matches("class=\"row\"").count();
    let charts = dom.matches("<svg class=\"chart").count();
    eprintln!("1,000 series: {rows} series rows and {charts} charts in the DOM");
    // Ten series per family card until asked for more; cards below the 1280x1000
    // window (plus a 200 px margin) are never drawn: two rows of two cards, not all
    // ten `load_*` cards.
    assert!(rows <= 60, "{rows} series rows rendered");
    assert!(
        rows >= 10,
        "the first cards on screen show their series ({rows})"
    );
}
