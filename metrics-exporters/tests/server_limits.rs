//! Resource limits of the metrics endpoint: connection cap, header-read timeout
//! (slowloris) and graceful, bounded shutdown. Real sockets on 127.0.0.1; timeouts
//! are about a second so the suite stays quick, and every wait is bounded.

#![cfg(feature = "server")]

mod server_support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use server_support::{connect, get, read_reply};
use tachometer_core::{Opts, Registry};
use tachometer_exporters::server::{Server, ShutdownError};

fn registry() -> Registry {
    let r = Registry::new();
    r.counter(Opts::new("limits_jobs_total", "Jobs."))
        .unwrap()
        .increment(1);
    r
}

/// Whether a read on `stream` sees nothing at all for `wait` (no bytes, no close).
fn silent_for(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut byte = [0u8; 1];
    let silent = matches!(stream.read(&mut byte), Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
    stream
        .set_read_timeout(Some(server_support::IO_TIMEOUT))
        .unwrap();
    silent
}

const KEEP_ALIVE_GET: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";

#[test]
fn an_idle_keep_alive_connection_makes_room_for_a_new_client() {
    let server = Server::builder()
        .registry(registry())
        .max_connections(1)
        .idle_timeout(Duration::from_secs(60))
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();

    // A takes the only slot and keeps it (keep-alive, idle after one request).
    let mut a = connect(addr);
    a.write_all(KEEP_ALIVE_GET).unwrap();
    assert_eq!(read_reply(&mut a).unwrap().status, 200);

    // B is served at once: A, idle, is closed to make room (before issue 11, B waited
    // for A's idle timeout).
    let mut b = connect(addr);
    b.write_all(KEEP_ALIVE_GET).unwrap();
    let reply = read_reply(&mut b).expect("B served while A was idle");
    assert_eq!(reply.status, 200);
    assert!(String::from_utf8_lossy(&reply.body).contains("limits_jobs_total 1"));
    let mut rest = Vec::new();
    let closed = a.read_to_end(&mut rest);
    assert!(
        closed.is_ok() || matches!(closed, Err(ref e) if e.kind() == ErrorKind::ConnectionReset),
        "A was not closed: {closed:?}"
    );
    drop(b);
    server.shutdown_blocking().unwrap();
}

#[test]
fn a_connection_being_answered_keeps_its_slot_and_the_new_client_waits() {
    let (r, started, release) = held_registry();
    let server = Server::builder()
        .registry(r)
        .max_connections(1)
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    let mut a = connect(addr);
    a.write_all(KEEP_ALIVE_GET).unwrap();
    started
        .recv_timeout(Duration::from_secs(5))
        .expect("A's render started");

    let mut b = connect(addr);
    b.write_all(KEEP_ALIVE_GET).unwrap();
    assert!(
        silent_for(&mut b, Duration::from_millis(500)),
        "B was served past the cap while A was being answered"
    );
    release.send(()).unwrap();
    assert_eq!(read_reply(&mut a).unwrap().status, 200);
    // A is idle now, so B gets its slot; B's render needs the callback once more.
    started
        .recv_timeout(Duration::from_secs(5))
        .expect("B's render started");
    release.send(()).unwrap();
    assert_eq!(read_reply(&mut b).expect("B served").status, 200);
    server.shutdown_blocking().unwrap();
}

/// A registry whose scrape blocks in a callback gauge (run inline: no time budget)
/// until the test sends on `release`; `started` reports each call.
fn held_registry() -> (Registry, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let r = Registry::builder().callback_timeout(None).build();
    r.counter(Opts::new("limits_jobs_total", "Jobs."))
        .unwrap()
        .increment(1);
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let calls = std::sync::Mutex::new((started_tx, release_rx));
    r.callback_gauge(Opts::new("limits_held_gauge", "Held."), move || {
        let calls = calls.lock().unwrap();
        let _ = calls.0.send(());
        let _ = calls.1.recv_timeout(Duration::from_secs(10));
        1.0
    })
    .unwrap();
    (r, started_rx, release_tx)
}

/// Whether the server closed `stream` (EOF or reset) after reading what it sent.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
    }
}

/// Clients that trickle header bytes forever, one slot each.
fn slowloris(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nX-Slow: a")
                .unwrap();
            s
        })
        .collect()
}

#[test]
fn a_cap_full_of_slowloris_clients_does_not_keep_a_scraper_out() {
    let server = Server::builder()
        .registry(registry())
        .max_connections(8)
        // Far beyond the client's 10 s read timeout: only eviction can serve it.
        .header_read_timeout(Duration::from_secs(60))
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    let mut bad = slowloris(addr, 8);
    std::thread::sleep(Duration::from_millis(200));
    for round in 0..5 {
        for s in &mut bad {
            let _ = s.write_all(b"a");
        }
        let reply = get(addr, "/metrics", &[]);
        assert_eq!(reply.status, 200, "round {round}");
        // The evicted slowloris are replaced, so the cap stays full of them.
        bad.retain_mut(|s| s.write_all(b"a").is_ok());
        bad.extend(slowloris(addr, 8 - bad.len()));
    }
    server.shutdown_blocking().unwrap();
}

#[test]
fn a_cap_full_of_clients_that_never_read_does_not_keep_a_scraper_out() {
    let server = Server::builder()
        .registry(registry())
        .max_connections(4)
        .idle_timeout(Duration::from_secs(60))
        .write_timeout(Duration::from_secs(60))
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    // Each pipelines requests and never reads a response.
    let bad: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(&KEEP_ALIVE_GET.repeat(200)).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for round in 0..3 {
        assert_eq!(get(addr, "/metrics", &[]).status, 200, "round {round}");
    }
    drop(bad);
    server.shutdown_blocking().unwrap();
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = Server::builder()
        .registry(registry())
        .idle_timeout(Duration::from_millis(500))
        .bind("127.0.0.1:0")
        .unwrap();
    let mut s = connect(server.local_addr());
    s.write_all(KEEP_ALIVE_GET).unwrap();
    assert_eq!(read_reply(&mut s).unwrap().status, 200);
    let idle_since = Instant::now();
    assert!(closed_by_server(&mut s));
    assert!(idle_since.elapsed() >= Duration::from_millis(400));
    server.shutdown_blocking().unwrap();
}

#[test]
fn a_response_nobody_reads_is_cut_off_by_the_write_timeout() {
    // A body of about 1 MB, so a few unread responses fill the socket buffers.
    let r = registry();
    let big = r
        .counter_family(Opts::new("limits_big_total", "Many series.").labels(&["id"]))
        .unwrap();
    for i in 0..20_000 {
        big.with_labels(&[&format!("series-{i:08}")])
            .unwrap()
            .increment(1);
    }
    let server = Server::builder()
        .registry(r)
        .write_timeout(Duration::from_millis(500))
        .bind("127.0.0.1:0")
        .unwrap();
    let mut s = connect(server.local_addr());
    let asked = 40;
    s.write_all(&KEEP_ALIVE_GET.repeat(asked)).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    // Now read: the server gave up on this client (mid-response), so fewer answers
    // than requests arrive, then the connection ends.
    let mut all = Vec::new();
    let outcome = s.read_to_end(&mut all);
    assert!(
        outcome.is_ok() || matches!(outcome, Err(ref e) if e.kind() == ErrorKind::ConnectionReset),
        "{outcome:?}"
    );
    let answered = all.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count();
    assert!(answered >= 1);
    assert!(answered < asked, "all {asked} answered: no write timeout");
    server.shutdown_blocking().unwrap();
}

#[test]
fn the_request_cap_closes_the_connection_after_the_last_answer() {
    let server = Server::builder()
        .registry(registry())
        .max_requests_per_connection(3)
        .bind("127.0.0.1:0")
        .unwrap();
    let mut s = connect(server.local_addr());
    for i in 1..=3 {
        s.write_all(KEEP_ALIVE_GET).unwrap();
        let reply = read_reply(&mut s).unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("connection") == Some("close"),
            i == 3,
            "request {i}"
        );
    }
    assert!(closed_by_server(&mut s));
    server.shutdown_blocking().unwrap();
}

#[test]
fn a_connection_past_its_lifetime_is_closed_after_its_answer() {
    let server = Server::builder()
        .registry(registry())
        .max_connection_lifetime(Duration::from_millis(800))
        .bind("127.0.0.1:0")
        .unwrap();
    let mut s = connect(server.local_addr());
    let opened = Instant::now();
    let mut answered = 0;
    loop {
        if s.write_all(KEEP_ALIVE_GET).is_err() {
            break;
        }
        match read_reply(&mut s) {
            Ok(reply) => {
                assert_eq!(reply.status, 200);
                answered += 1;
            }
            Err(_) => break,
        }
        assert!(opened.elapsed() < Duration::from_secs(8), "still open");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(answered >= 3, "{answered}");
    assert!(opened.elapsed() >= Duration::from_millis(700));
    server.shutdown_blocking().unwrap();
}

#[test]
fn a_silent_connection_is_also_cut_off() {
    let server = Server::builder()
        .registry(registry())
        .header_read_timeout(Duration::from_secs(1))
        .bind("127.0.0.1:0")
        .unwrap();
    let mut idle = connect(server.local_addr());
    let mut buf = Vec::new();
    let outcome = idle.read_to_end(&mut buf);
    assert!(
        outcome.is_ok() || matches!(outcome, Err(ref e) if e.kind() == ErrorKind::ConnectionReset),
        "{outcome:?}"
    );
    server.shutdown_blocking().unwrap();
}

/// A registry whose scrape blocks inside a callback gauge until released, so a test
/// can hold a request in flight. The callback reports when it starts.
fn slow_registry(hold: Duration) -> (Registry, mpsc::Receiver<()>) {
    // No callback budget: the callback holds the render, as a long render would.
    let r = Registry::builder().callback_timeout(None).build();
    r.counter(Opts::new("limits_jobs_total", "Jobs."))
        .unwrap()
        .increment(1);
    let (started_tx, started_rx) = mpsc::channel();
    let started_tx = std::sync::Mutex::new(started_tx);
    r.callback_gauge(
        Opts::new("limits_slow_gauge", "Takes a while to read."),
        move || {
            let _ = started_tx.lock().unwrap().send(());
            std::thread::sleep(hold);
            1.0
        },
    )
    .unwrap();
    (r, started_rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests_then_refuses_connections() {
    let (r, started) = slow_registry(Duration::from_millis(600));
    let server = Server::builder().registry(r).bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr();

    // An idle keep-alive connection must not hold shutdown up.
    let idle = tokio::task::spawn_blocking(move || {
        let mut s = connect(addr);
        s.write_all(KEEP_ALIVE_GET).unwrap();
        read_reply(&mut s).unwrap();
        s
    })
    .await
    .unwrap();
    started.recv_timeout(Duration::from_secs(5)).unwrap(); // drain that scrape's signal

    let in_flight = tokio::task::spawn_blocking(move || get(addr, "/metrics", &[]));
    tokio::task::spawn_blocking(move || started.recv_timeout(Duration::from_secs(5)))
        .await
        .unwrap()
        .expect("the scrape started");

    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .expect("shutdown is bounded")
        .expect("in-flight request finished within the shutdown timeout");

    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, 200);
    assert!(
        reply.text().contains("limits_slow_gauge 1"),
        "{}",
        reply.text()
    );

    let refused = tokio::task::spawn_blocking(move || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(2))
    })
    .await
    .unwrap();
    assert!(refused.is_err(), "the listener is closed after shutdown");
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_aborts_requests_that_outlive_the_timeout() {
    let (r, started) = slow_registry(Duration::from_millis(1500));
    let server = Server::builder()
        .registry(r)
        .shutdown_timeout(Duration::from_millis(300))
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    let in_flight = tokio::task::spawn_blocking(move || {
        let mut s = connect(addr);
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let _ = read_reply(&mut s);
    });
    tokio::task::spawn_blocking(move || started.recv_timeout(Duration::from_secs(5)))
        .await
        .unwrap()
        .expect("the scrape started");
    let outcome = tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .expect("shutdown is bounded");
    assert_eq!(
        outcome,
        Err(ShutdownError::TimedOut {
            after: Duration::from_millis(300),
            aborted: 1
        })
    );
    assert!(outcome
        .unwrap_err()
        .to_string()
        .contains("raise shutdown_timeout"));
    // Rendering is synchronous, so the aborted task only stops at its next I/O wait;
    // what matters here is that shutdown returned on time. Reap the client thread.
    let _ = in_flight.await;
}

#[test]
fn shutdown_blocking_inside_a_runtime_is_reported() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt.block_on(async {
        let server = Server::builder()
            .registry(registry())
            .bind("127.0.0.1:0")
            .unwrap();
        server.shutdown_blocking()
    });
    assert_eq!(outcome, Err(ShutdownError::InsideRuntime));
}

/// Issue 11: negotiation was quadratic in the media ranges, so a 256 KiB `Accept` of
/// `*/*` ranges cost seconds of CPU and stalled every other scrape. Such a header is
/// now refused by the bound, with a status that says why.
#[test]
fn a_huge_accept_header_is_refused_by_the_bound() {
    let server = Server::builder()
        .registry(registry())
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    let attack = "*/*,".repeat(64 * 1024);
    // Past the request-head bound: refused by the HTTP layer.
    let reply = get(addr, "/metrics", &[("Accept", &attack)]);
    assert_eq!(reply.status, 431, "{}", reply.text());
    // Within it but past the negotiation bound: refused with a reason.
    let reply = get(addr, "/metrics", &[("Accept", &attack[..8192])]);
    assert_eq!(reply.status, 431, "{}", reply.text());
    assert!(
        reply.text().contains("send at most 4096 bytes"),
        "{}",
        reply.text()
    );
    // Too many ranges in a short header: refused as well.
    let many = "*/*,".repeat(65);
    assert_eq!(get(addr, "/metrics", &[("Accept", &many)]).status, 431);
    let reply = get(addr, "/metrics", &[("Accept-Encoding", &"br,".repeat(65))]);
    assert_eq!(reply.status, 431);
    // A header Prometheus sends is served.
    let prometheus = "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    let reply = get(addr, "/metrics", &[("Accept", prometheus)]);
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text; version=1.0.0"));
    server.shutdown_blocking().unwrap();
}
