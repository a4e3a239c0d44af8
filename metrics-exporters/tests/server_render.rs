//! Rendering off the I/O threads (issue 11): a blocking callback gauge holds neither a
//! 404 nor another document, concurrent scrapes share one render, and renders are
//! bounded. Real sockets on 127.0.0.1; the callbacks block on channels the tests
//! release, so "answered while the callback is still blocked" is an ordering fact,
//! not a timing guess.

#![cfg(feature = "server")]

mod server_support;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use server_support::{connect, get, read_reply};
use tachometer_core::{Opts, Registry, CALLBACK_TIMEOUT_METRIC_NAME};
use tachometer_exporters::server::Server;

/// A callback gauge that reports each call on `started`, then blocks until released
/// (or 10 s pass); `returned` turns true when a call comes back.
struct Held {
    started: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
    calls: Arc<AtomicUsize>,
    returned: Arc<AtomicBool>,
}

fn held_gauge(r: &Registry, name: &str) -> Held {
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let calls = Arc::new(AtomicUsize::new(0));
    let returned = Arc::new(AtomicBool::new(false));
    let chans = Mutex::new((started_tx, release_rx));
    let (c, ret) = (Arc::clone(&calls), Arc::clone(&returned));
    r.callback_gauge(Opts::new(name, "Blocks until released."), move || {
        c.fetch_add(1, Ordering::SeqCst);
        let chans = chans.lock().unwrap();
        let _ = chans.0.send(());
        let _ = chans.1.recv_timeout(Duration::from_secs(10));
        ret.store(true, Ordering::SeqCst);
        7.0
    })
    .unwrap();
    Held {
        started,
        release,
        calls,
        returned,
    }
}

fn base(r: &Registry) {
    r.counter(Opts::new("render_jobs_total", "Jobs."))
        .unwrap()
        .increment(3);
}

#[test]
fn a_blocking_callback_holds_neither_a_404_nor_any_scrape() {
    // The default registry: callbacks run under the 25 ms budget.
    let r = Registry::new();
    base(&r);
    let held = held_gauge(&r, "render_blocked_gauge");
    let server = Server::builder().registry(r).bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr();

    let first = get(addr, "/metrics", &[]);
    held.started
        .recv_timeout(Duration::from_secs(5))
        .expect("the callback ran");
    let not_found = get(addr, "/nope", &[]);
    let json = get(addr, "/metrics.json", &[]);
    let second = get(addr, "/metrics", &[]);
    // All of that was answered while the callback is still blocked.
    assert!(!held.returned.load(Ordering::SeqCst));
    assert_eq!(not_found.status, 404);
    assert_eq!(first.status, 200);
    assert_eq!(json.status, 200);
    assert_eq!(second.status, 200);
    // The other families are all there; the stuck gauge reads NaN / null, and the
    // misses are counted.
    for text in [first.text(), second.text()] {
        assert!(text.contains("render_jobs_total 3"), "{text}");
        assert!(text.contains("render_blocked_gauge NaN"), "{text}");
    }
    assert!(
        json.text()
            .contains("\"render_blocked_gauge\":{\"value\":null}"),
        "{}",
        json.text()
    );
    // Three reads missed: the first scrape, the JSON one, the second scrape.
    let misses = format!("{CALLBACK_TIMEOUT_METRIC_NAME}{{metric=\"render_blocked_gauge\"}} 3");
    assert!(second.text().contains(&misses), "{}", second.text());
    assert_eq!(
        held.calls.load(Ordering::SeqCst),
        1,
        "a stuck callback is not called again"
    );

    // Once it returns, its value is exported again.
    held.release.send(()).unwrap();
    let mut seen = String::new();
    for _ in 0..50 {
        held.release.send(()).unwrap();
        seen = get(addr, "/metrics", &[]).text();
        if seen.contains("render_blocked_gauge 7") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(seen.contains("render_blocked_gauge 7"), "{seen}");
    server.shutdown_blocking().unwrap();
}

/// Sends `GET path` on a fresh keep-alive connection and returns the stream.
fn send(addr: std::net::SocketAddr, path: &str) -> std::net::TcpStream {
    let mut s = connect(addr);
    write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    s
}

#[test]
fn scrapes_that_arrive_together_share_one_render() {
    let r = Registry::builder().callback_timeout(None).build();
    base(&r);
    let held = held_gauge(&r, "render_shared_gauge");
    let server = Server::builder().registry(r).bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr();

    let mut first = send(addr, "/metrics");
    held.started.recv_timeout(Duration::from_secs(5)).unwrap();
    let mut others: Vec<_> = (0..4).map(|_| send(addr, "/metrics")).collect();
    // Give the server time to read the other heads and join them to the render.
    std::thread::sleep(Duration::from_millis(300));
    held.release.send(()).unwrap();
    let body = read_reply(&mut first).unwrap().body;
    for s in &mut others {
        let reply = read_reply(s).unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, body);
    }
    assert_eq!(
        held.calls.load(Ordering::SeqCst),
        1,
        "five scrapes, one render"
    );
    server.shutdown_blocking().unwrap();
}

#[test]
fn concurrent_renders_are_bounded() {
    let r = Registry::builder().callback_timeout(None).build();
    base(&r);
    let held = held_gauge(&r, "render_bounded_gauge");
    let server = Server::builder()
        .registry(r)
        .max_concurrent_renders(1)
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();

    let mut text = send(addr, "/metrics");
    held.started.recv_timeout(Duration::from_secs(5)).unwrap();
    // Another document: it cannot share the text render, and must wait for its slot.
    let mut json = send(addr, "/metrics.json");
    assert!(
        held.started
            .recv_timeout(Duration::from_millis(500))
            .is_err(),
        "a second render started past max_concurrent_renders(1)"
    );
    // A 404 needs no render slot.
    assert_eq!(get(addr, "/nope", &[]).status, 404);
    held.release.send(()).unwrap();
    assert_eq!(read_reply(&mut text).unwrap().status, 200);
    held.started
        .recv_timeout(Duration::from_secs(5))
        .expect("the JSON render ran next");
    held.release.send(()).unwrap();
    assert_eq!(read_reply(&mut json).unwrap().status, 200);
    assert_eq!(held.calls.load(Ordering::SeqCst), 2);
    server.shutdown_blocking().unwrap();
}
