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
fn excess_connections_wait_for_a_free_slot() {
    let server = Server::builder()
        .registry(registry())
        .max_connections(1)
        .header_read_timeout(Duration::from_secs(30))
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();

    // A takes the only slot and keeps it (keep-alive, idle after one request).
    let mut a = connect(addr);
    a.write_all(KEEP_ALIVE_GET).unwrap();
    assert_eq!(read_reply(&mut a).unwrap().status, 200);

    // B's request is not answered while A holds the slot...
    let mut b = connect(addr);
    b.write_all(KEEP_ALIVE_GET).unwrap();
    assert!(
        silent_for(&mut b, Duration::from_millis(700)),
        "B was served past the cap"
    );

    // ...and is answered once A goes away.
    drop(a);
    let reply = read_reply(&mut b).expect("B served after A closed");
    assert_eq!(reply.status, 200);
    assert!(String::from_utf8_lossy(&reply.body).contains("limits_jobs_total 1"));
    drop(b);
    server.shutdown_blocking().unwrap();
}

#[test]
fn slowloris_is_disconnected_after_the_header_read_timeout_and_frees_its_slot() {
    let timeout = Duration::from_secs(1);
    let server = Server::builder()
        .registry(registry())
        .max_connections(1)
        .header_read_timeout(timeout)
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();

    let mut slow = connect(addr);
    let started = Instant::now();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaa")
        .unwrap();
    // Keep trickling bytes for a while, as a slowloris does; the deadline is for the
    // whole head, so trickling must not extend it.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(200));
        if slow.write_all(b"a").is_err() {
            break;
        }
    }
    // The server closes the connection: EOF (or a reset), never a 200.
    let mut rest = Vec::new();
    let outcome = slow.read_to_end(&mut rest);
    let elapsed = started.elapsed();
    assert!(
        outcome.is_ok() || matches!(outcome, Err(ref e) if e.kind() == ErrorKind::ConnectionReset),
        "expected the server to close the connection, got {outcome:?} after {elapsed:?}"
    );
    assert!(
        !String::from_utf8_lossy(&rest).contains(" 200 "),
        "{rest:?}"
    );
    assert!(
        elapsed >= timeout - Duration::from_millis(100),
        "closed before the timeout: {elapsed:?}"
    );

    // The slot is free again: a well-behaved client is served.
    assert_eq!(get(addr, "/metrics", &[]).status, 200);
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
    let r = registry();
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
