//! Byte-exact datagrams on plain sockets: tags, sample rates, MTU packing, the negative
//! gauge pair, TCP framing, and behaviour while the daemon is down.
#![cfg(feature = "statsd")]

mod statsd_support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use statsd_support::{lines, TcpCapture, UdpCapture};
use tachometer_core::{Opts, Registry, Value, Visitor};
use tachometer_exporters::statsd::{
    Dialect, Event, LabelStyle, StatsdClient, StatsdReporter, Target, DROPPED_METRIC_NAME,
};

fn client(cap: &UdpCapture, dialect: Dialect) -> StatsdClient {
    StatsdClient::builder(Target::udp(cap.addr()))
        .dialect(dialect)
        .build()
        .unwrap()
}

#[test]
fn dogstatsd_tags_and_sample_rate_are_byte_exact() {
    let cap = UdpCapture::new();
    let c = client(&cap, Dialect::dogstatsd());
    let tags = [("env", "prod"), ("service", "web")];
    for _ in 0..200 {
        c.send(Event::count("page.views", 1).rate(0.5).tags(&tags));
    }
    c.send(Event::histogram("song.length", 240.0).tags(&[("k", "a,b|c#d")]));
    c.send(Event::distribution("page.load", 1.5));
    c.send(Event::gauge("fuel.level", -0.5));
    c.send(Event::timing("db.query", Duration::from_micros(320_500)));
    c.flush().unwrap();
    let got = lines(&cap.drain());
    let sampled = got.iter().filter(|l| l.starts_with("page.views")).count();
    // Client-side sampling at 0.5 over 200 events: far from 0 and from 200.
    assert!((40..=160).contains(&sampled), "{sampled}");
    assert!(
        got[..sampled]
            .iter()
            .all(|l| l == "page.views:1|c|@0.5|#env:prod,service:web"),
        "{got:?}"
    );
    assert_eq!(
        &got[sampled..],
        [
            "song.length:240|h|#k:a_b_c_d",
            "page.load:1.5|d",
            "fuel.level:-0.5|g",
            "db.query:320.5|ms"
        ]
    );
    assert_eq!(c.dropped(), 0);
}

#[test]
fn etsy_folds_tags_into_the_name_and_sends_histograms_as_ms() {
    let cap = UdpCapture::new();
    let c = client(&cap, Dialect::etsy());
    c.send(Event::count("hits", 2).tags(&[("route", "/a.b"), ("code", "200")]));
    c.send(Event::histogram("size", 3.0).rate(0.999_999_999_9));
    c.flush().unwrap();
    let graphite = client(&cap, Dialect::Etsy(LabelStyle::GraphiteTags));
    graphite.send(Event::count("hits", 2).tags(&[("route", "/a.b"), ("empty", "")]));
    graphite.flush().unwrap();
    let got = lines(&cap.drain());
    let sized = got.iter().filter(|l| l.starts_with("size")).count();
    let expected_size_lines: Vec<&str> = if sized == 1 {
        vec!["size:3|ms|@0.9999999999"]
    } else {
        vec![]
    };
    let mut want = vec!["hits.-a_b.200:2|c"];
    want.extend(expected_size_lines);
    want.push("hits;route=-a.b:2|c");
    assert_eq!(got, want);
}

#[test]
fn negative_gauge_pair_shares_one_datagram() {
    let cap = UdpCapture::new();
    // Fill most of a datagram first, so a split would be likely if the packer allowed it.
    let c = StatsdClient::builder(Target::udp(cap.addr()))
        .max_payload(64)
        .queue_capacity(64)
        .build()
        .unwrap();
    for _ in 0..20 {
        c.count("filler.x", 1);
        c.gauge("temp", -5.0);
    }
    c.flush().unwrap();
    let datagrams = cap.drain();
    let mut pairs = 0;
    for d in &datagrams {
        assert!(d.len() <= 64, "{}", d.len());
        let text = String::from_utf8(d.clone()).unwrap();
        let ls: Vec<&str> = text.split('\n').collect();
        for (i, l) in ls.iter().enumerate() {
            if *l == "temp:-5|g" {
                assert!(i > 0 && ls[i - 1] == "temp:0|g", "pair split in {text:?}");
                pairs += 1;
            }
        }
        assert_ne!(
            ls.last(),
            Some(&"temp:0|g"),
            "reset line without its value in {text:?}"
        );
    }
    assert_eq!(pairs, 20);

    // The reporter sends the same pair; DogStatsD sends the value alone.
    let registry = Registry::new();
    registry
        .gauge(Opts::new("level", "Level."))
        .unwrap()
        .set(-7);
    for (dialect, want) in [
        (Dialect::etsy(), "level:0|g\nlevel:-7|g"),
        (Dialect::dogstatsd(), "level:-7|g"),
    ] {
        let r = StatsdReporter::builder(Target::udp(cap.addr()))
            .dialect(dialect)
            .interval(Duration::from_secs(3600))
            .start(&registry)
            .unwrap();
        r.flush().unwrap();
        drop(r); // pushes once more
        assert_eq!(cap.drain(), vec![want.as_bytes().to_vec(); 2]);
    }
}

#[test]
fn mtu_packing_reference_vector_46_lines() {
    // protocols.md §3.4 #12: 100 lines of 30 bytes under 1432 → 46 + 46 + 8 lines.
    let cap = UdpCapture::new();
    let registry = Registry::new();
    for i in 0..100 {
        registry
            .counter(Opts::new(format!("c{i:0>25}"), "x"))
            .unwrap()
            .increment(1);
    }
    let r = StatsdReporter::builder(Target::udp(cap.addr()))
        .interval(Duration::from_secs(3600))
        .start(&registry)
        .unwrap();
    r.flush().unwrap();
    let datagrams = cap.drain();
    let sizes: Vec<usize> = datagrams.iter().map(Vec::len).collect();
    assert_eq!(sizes, [1425, 1425, 8 * 31 - 1]);
    let ls = lines(&datagrams);
    assert_eq!(ls.len(), 100);
    assert!(
        ls.iter().all(|l| l.len() == 30 && l.ends_with(":1|c")),
        "{ls:?}"
    );
}

#[test]
fn direct_packing_never_exceeds_the_limit_nor_splits_a_line() {
    let cap = UdpCapture::new();
    for max in [64usize, 512, 1432, 8932] {
        let c = StatsdClient::builder(Target::udp(cap.addr()))
            .max_payload(max)
            .queue_capacity(4096)
            .build()
            .unwrap();
        // 200 lines: at a 64-byte limit that is ~150 datagrams, which the capture
        // socket's receive buffer holds even if its reader thread lags.
        let names: Vec<String> = (0..200)
            .map(|i| format!("n{}", "x".repeat(i % 40)))
            .collect();
        for (i, n) in names.iter().enumerate() {
            c.count(n, i as i64);
        }
        // A line longer than the limit is refused and counted, never sent in pieces.
        c.count(&"y".repeat(max), 1);
        c.flush().unwrap();
        let datagrams = cap.drain();
        assert!(datagrams.iter().all(|d| d.len() <= max), "max {max}");
        let got = lines(&datagrams);
        let want: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{n}:{i}|c"))
            .collect();
        assert!(
            got == want,
            "max {max}: {} of {} lines, first difference at {:?}",
            got.len(),
            want.len(),
            got.iter().zip(&want).position(|(a, b)| a != b)
        );
        assert_eq!(c.dropped(), 1);
    }
}

#[test]
fn tcp_lines_are_newline_framed() {
    let cap = TcpCapture::bind("127.0.0.1:0");
    let c = StatsdClient::builder(Target::tcp(cap.addr.to_string()))
        .build()
        .unwrap();
    c.count("a", 1);
    c.count("b", 2);
    c.flush().unwrap();
    c.gauge("c", -3.0);
    c.flush().unwrap();
    let want = b"a:1|c\nb:2|c\nc:0|g\nc:-3|g\n";
    let got = cap.wait(|d| d.len() >= want.len());
    // The first flush may have sent `a` and `b` together or apart; either way every
    // line ends in `\n`, so the byte stream is the same.
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

#[test]
fn udp_daemon_down_never_blocks_and_resumes() {
    let port = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    }; // closed: sends draw ICMP port-unreachable → ECONNREFUSED
    let c = StatsdClient::builder(Target::udp(format!("127.0.0.1:{port}")))
        .build()
        .unwrap();
    let started = Instant::now();
    for _ in 0..10 {
        for _ in 0..100 {
            c.count("down", 1);
        }
        c.flush().unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    let listener = UdpSocket::bind(format!("127.0.0.1:{port}")).unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    c.count("up", 1);
    c.flush().unwrap();
    let mut buf = [0u8; 2048];
    let n = listener
        .recv(&mut buf)
        .expect("traffic resumes once the port is open");
    assert_eq!(&buf[..n], b"up:1|c");
}

#[test]
fn tcp_daemon_down_counts_drops_then_reconnects() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = StatsdClient::builder(Target::tcp(format!("127.0.0.1:{port}")))
        .build()
        .unwrap();
    let started = Instant::now();
    c.count("lost", 1);
    c.flush().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(c.dropped(), 1, "{:?}", c.stats());
    assert!(c.stats().send_errors >= 1);
    let cap = TcpCapture::bind(&format!("127.0.0.1:{port}"));
    // Sends during the reconnect backoff are dropped (and counted); keep sending until
    // one gets through.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cap.data().is_empty() && Instant::now() < deadline {
        c.count("back", 1);
        c.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = String::from_utf8(cap.data()).unwrap();
    assert!(got.starts_with("back:1|c\n"), "{got:?}");
}

#[test]
fn every_event_is_either_delivered_or_counted() {
    // A 1-slot queue and a burst: many events find it full. TCP is lossless, so the
    // bytes received plus the dropped counter must account for every event exactly.
    let cap = TcpCapture::bind("127.0.0.1:0");
    let registry = Registry::new();
    let c = StatsdClient::builder(Target::tcp(cap.addr.to_string()))
        .queue_capacity(1)
        .self_metrics(&registry)
        .build()
        .unwrap();
    const N: u64 = 50_000;
    for _ in 0..N {
        c.count("e", 1);
    }
    c.flush().unwrap();
    let dropped = c.dropped();
    let want_lines = N - dropped;
    let got = cap.wait(|d| d.iter().filter(|b| **b == b'\n').count() as u64 >= want_lines);
    let received = got.iter().filter(|b| **b == b'\n').count() as u64;
    assert_eq!(
        received + dropped,
        N,
        "received {received}, dropped {dropped}"
    );
    eprintln!("queue of 1: {dropped} of {N} events dropped and counted");

    struct Find(Option<u64>);
    impl Visitor for Find {
        fn series(
            &mut self,
            f: &tachometer_core::Descriptor,
            _: tachometer_core::Labels<'_>,
            v: Value<'_>,
        ) {
            if let (DROPPED_METRIC_NAME, Value::Counter(n)) = (f.name(), v) {
                self.0 = Some(n);
            }
        }
    }
    let mut find = Find(None);
    registry.visit(&mut find);
    assert_eq!(find.0, Some(dropped));
}

#[test]
fn invalid_values_are_refused_and_counted() {
    let cap = UdpCapture::new();
    let c = client(&cap, Dialect::etsy());
    c.gauge("nan", f64::NAN);
    c.histogram("neg", -1.0); // Etsy `ms` cannot be negative
    c.send(Event::count("zero.rate", 1).rate(0.0));
    c.count("ok", 1);
    c.flush().unwrap();
    assert_eq!(lines(&cap.drain()), ["ok:1|c"]);
    assert_eq!(c.dropped(), 3);
}

#[test]
fn dropping_the_last_clone_flushes() {
    let cap = UdpCapture::new();
    let c = client(&cap, Dialect::etsy());
    let c2 = c.clone();
    for i in 0..500 {
        c2.count("bye", i);
    }
    drop(c2);
    drop(c);
    assert_eq!(lines(&cap.drain()).len(), 500);
}

#[cfg(unix)]
#[test]
fn unix_datagram_socket_transport() {
    let dir = tachometer_testkit::TempDir::new("statsd-uds");
    let path = dir.path().join("dsd.sock");
    let server = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let c = StatsdClient::builder(Target::unix(&path))
        .dialect(Dialect::dogstatsd())
        .build()
        .unwrap();
    c.send(Event::count("uds", 3).tags(&[("a", "b")]));
    c.flush().unwrap();
    let mut buf = [0u8; 512];
    let n = server.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"uds:3|c|#a:b");
}

#[test]
fn reporter_with_the_daemon_down_counts_and_recovers() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let registry = Registry::new();
    let jobs = registry.counter(Opts::new("jobs_total", "Jobs.")).unwrap();
    jobs.increment(2);
    let r = StatsdReporter::builder(Target::tcp(format!("127.0.0.1:{port}")))
        .interval(Duration::from_millis(20))
        .start(&registry)
        .unwrap();
    let started = Instant::now();
    r.flush().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(r.dropped() >= 1, "{:?}", r.stats());
    // The daemon comes up: the delta refused while it was down is sent again along
    // with the new one.
    let cap = TcpCapture::bind(&format!("127.0.0.1:{port}"));
    jobs.increment(3);
    let got = cap.wait(|d| d.ends_with(b"\n"));
    assert_eq!(
        String::from_utf8(got).unwrap(),
        "jobs_total:5|c\n",
        "{:?} {:?}",
        r.stats(),
        r.flush()
    );
}

#[test]
fn dogstatsd_reporter_sends_labels_as_tags() {
    let cap = UdpCapture::new();
    let registry = Registry::new();
    let hits = registry
        .counter_family(Opts::new("hits_total", "Hits.").labels(&["route", "code"]))
        .unwrap();
    hits.with_labels(&["/a/{id}", "200"]).unwrap().increment(4);
    let r = StatsdReporter::builder(Target::udp(cap.addr()))
        .dialect(Dialect::dogstatsd())
        .prefix("web")
        .interval(Duration::from_secs(3600))
        .start(&registry)
        .unwrap();
    r.flush().unwrap();
    hits.with_labels(&["/a/{id}", "200"]).unwrap().increment(1);
    drop(r);
    assert_eq!(
        lines(&cap.drain()),
        [
            "web.hits_total:4|c|#route:/a/_id_,code:200",
            "web.hits_total:1|c|#route:/a/_id_,code:200"
        ]
    );
}
