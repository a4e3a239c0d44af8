//! Faults a real daemon cannot produce on demand, injected on 127.0.0.1: a TCP daemon
//! that accepts and stops reading (so writes time out midway through a payload), a UDP
//! port nobody listens on, and sample rates the protocol cannot express. In every case
//! each event is delivered exactly once or counted as dropped, never both.
#![cfg(feature = "statsd")]

mod statsd_support;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use statsd_support::{lines, UdpCapture};
use tachometer_core::{Opts, Registry};
use tachometer_exporters::statsd::{Dialect, Event, StatsdClient, StatsdReporter, Target};

/// A TCP "daemon" that accepts every connection but reads nothing until released, then
/// reads each connection to its end. Its kernel buffers fill, so the exporter's writes
/// time out partway through a payload: the fault behind double counting.
struct StalledDaemon {
    addr: SocketAddr,
    release: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<Vec<u8>>>>>,
}

impl StalledDaemon {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let release = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (r, s, c) = (release.clone(), stop.clone(), conns.clone());
        let accept = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        conn.set_read_timeout(Some(Duration::from_secs(20)))
                            .unwrap();
                        let r = r.clone();
                        c.lock().unwrap().push(std::thread::spawn(move || {
                            while !r.load(Ordering::Relaxed) {
                                std::thread::sleep(Duration::from_millis(5));
                            }
                            let mut got = Vec::new();
                            // Ends at EOF (the exporter closed) or the read timeout.
                            let _ = conn.read_to_end(&mut got);
                            got
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            addr,
            release,
            stop,
            accept: Some(accept),
            conns,
        }
    }

    fn release(&self) {
        self.release.store(true, Ordering::Relaxed);
    }

    /// Complete lines received, after every connection was closed by the exporter.
    /// Panics on a truncated line: a partial line is what a daemon misparses.
    fn lines(mut self) -> Vec<String> {
        self.release();
        self.stop.store(true, Ordering::Relaxed);
        self.accept.take().unwrap().join().unwrap();
        let mut out = Vec::new();
        for conn in self.conns.lock().unwrap().drain(..) {
            let bytes = conn.join().unwrap();
            let text = String::from_utf8(bytes).unwrap();
            let mut parts: Vec<&str> = text.split('\n').collect();
            let tail = parts.pop().unwrap();
            assert!(
                tail.is_empty(),
                "a truncated line reached the daemon: {tail:?}"
            );
            out.extend(parts.into_iter().map(str::to_string));
        }
        out
    }
}

/// Waits up to 30 s for `cond`.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn tcp_stall_direct_client_delivers_or_drops_each_line_exactly_once() {
    let daemon = StalledDaemon::start();
    let c = StatsdClient::builder(Target::tcp(daemon.addr.to_string()))
        .build()
        .unwrap();
    // Produce unique lines until two writes have timed out against the full buffers
    // (the second one with a unit cut in half pending), then a few more.
    let mut produced = 0u64;
    let mut send_batch = |c: &StatsdClient| {
        for _ in 0..1000 {
            c.count(&format!("line{produced:08}"), 1);
            produced += 1;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.stats().send_errors < 2 {
        assert!(
            Instant::now() < deadline,
            "the daemon never stalled the writer"
        );
        send_batch(&c);
    }
    daemon.release();
    send_batch(&c);
    c.flush().unwrap();
    let stats = c.stats();
    drop(c);
    let got = daemon.lines();
    let mut seen = HashSet::new();
    for l in &got {
        assert!(
            l.starts_with("line") && l.ends_with(":1|c"),
            "malformed line {l:?}"
        );
        assert!(seen.insert(l.as_str()), "{l} delivered twice");
    }
    let delivered = got.len() as u64;
    eprintln!("{produced} produced: {delivered} delivered, {stats:?}");
    assert!(stats.send_errors >= 2 && delivered > 0);
    assert_eq!(
        delivered + stats.dropped,
        produced,
        "delivered + dropped must equal produced ({stats:?})"
    );
}

#[test]
fn tcp_stall_reporter_never_counts_a_delta_twice() {
    let daemon = StalledDaemon::start();
    let registry = Registry::new();
    let family = registry
        .counter_family(Opts::new("c_total", "Work.").labels(&["k"]))
        .unwrap();
    // Long label values make long lines, so the buffers fill after a few pushes.
    let pad = "x".repeat(200);
    let keys: Vec<String> = (0..50).map(|i| format!("k{i:02}{pad}")).collect();
    let counters: Vec<_> = keys
        .iter()
        .map(|k| family.with_labels(&[k.as_str()]).unwrap().clone())
        .collect();
    let r = StatsdReporter::builder(Target::tcp(daemon.addr.to_string()))
        .interval(Duration::from_millis(1))
        .start(&registry)
        .unwrap();
    let mut round = 0u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while r.stats().send_errors < 2 {
        assert!(
            Instant::now() < deadline,
            "the daemon never stalled the reporter"
        );
        round += 1;
        for (i, c) in counters.iter().enumerate() {
            c.increment(1 + (round + i as u64) % 7);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    daemon.release();
    for c in &counters {
        c.increment(1);
    }
    r.flush().unwrap();
    let stats = r.stats();
    drop(r);
    let mut sums: HashMap<String, u64> = HashMap::new();
    for l in daemon.lines() {
        let (key, rest) = l.split_once(':').expect("name:value|c");
        let v: u64 = rest.strip_suffix("|c").expect("|c").parse().unwrap();
        *sums.entry(key.to_string()).or_default() += v;
    }
    eprintln!("{round} rounds, {stats:?}");
    assert!(stats.send_errors >= 2 && stats.dropped > 0, "{stats:?}");
    for (k, c) in keys.iter().zip(&counters) {
        let got = sums.get(&format!("c_total.{k}")).copied().unwrap_or(0);
        assert_eq!(got, c.get(), "daemon total for {k} vs the true value");
    }
}

fn closed_udp_port() -> String {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().to_string()
}

#[test]
fn udp_to_a_closed_port_counts_every_refused_line() {
    let c = StatsdClient::builder(Target::udp(closed_udp_port()))
        .build()
        .unwrap();
    // One datagram per line, slower than the kernel's ICMP rate limit (1,000/s, bursts
    // of 50), so every datagram draws its port-unreachable.
    const N: u64 = 40;
    for i in 0..N {
        c.count("refused", i as i64);
        c.flush().unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    // The last datagram's error may land after its send: later flushes collect it.
    wait_until("the last refusal", || {
        c.flush().unwrap();
        c.dropped() >= N
    });
    let stats = c.stats();
    assert_eq!(stats.dropped, N, "{stats:?}");
    assert_eq!(stats.send_errors, N, "{stats:?}");
}

#[test]
fn udp_reporter_to_a_closed_port_counts_the_refused_lines() {
    let registry = Registry::new();
    for i in 0..5 {
        registry
            .counter(Opts::new(format!("jobs{i}_total"), "Jobs."))
            .unwrap()
            .increment(1);
    }
    let r = StatsdReporter::builder(Target::udp(closed_udp_port()))
        .interval(Duration::from_secs(3600))
        .start(&registry)
        .unwrap();
    wait_until("the refusal", || {
        r.flush().unwrap();
        r.dropped() >= 5
    });
    assert_eq!(r.dropped(), 5, "{:?}", r.stats());
}

#[test]
fn sample_rates_outside_0_1_are_dropped_and_counted_never_sent_as_1() {
    let cap = UdpCapture::new();
    let c = StatsdClient::builder(Target::udp(cap.addr()))
        .dialect(Dialect::dogstatsd())
        .build()
        .unwrap();
    let bad = [
        1.5,
        2.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -1.0,
        0.0,
    ];
    for rate in bad {
        c.send(Event::count("bad", 1).rate(rate));
        c.send(Event::timing("bad.t", Duration::from_millis(1)).rate(rate));
        c.send(Event::gauge("bad.g", 1.0).rate(rate));
    }
    c.send(Event::count("ok", 1).rate(1.0));
    c.flush().unwrap();
    assert_eq!(lines(&cap.drain()), ["ok:1|c"]);
    assert_eq!(c.dropped(), 3 * bad.len() as u64);
}
