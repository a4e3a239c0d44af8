//! Remote write against a fault-injecting receiver (failures a real store cannot be
//! made to produce on demand) and the encoding, decoded field by field.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize};

use tachometer_core::Buckets;

use super::*;
use crate::pbwire::reader::{fields, Value as Field};

/// One decoded sample: sorted `name=value` labels, timestamp, value.
#[derive(Debug, Clone, PartialEq)]
struct Got {
    labels: Vec<(String, String)>,
    ts: i64,
    value: f64,
}

fn decode_request(proto: &[u8]) -> Vec<Got> {
    let mut out = Vec::new();
    for (f, v) in fields(proto).expect("WriteRequest decodes") {
        assert_eq!(f, 1, "only timeseries (field 1)");
        let Field::Len(ts_bytes) = v else {
            panic!("timeseries is not LEN")
        };
        let mut got = Got {
            labels: Vec::new(),
            ts: 0,
            value: 0.0,
        };
        let mut samples = 0;
        for (f, v) in fields(ts_bytes).expect("TimeSeries decodes") {
            let Field::Len(b) = v else {
                panic!("LEN expected")
            };
            match f {
                1 => {
                    let mut name = String::new();
                    let mut value = String::new();
                    for (f, v) in fields(b).unwrap() {
                        let Field::Len(s) = v else { panic!() };
                        let s = String::from_utf8(s.to_vec()).unwrap();
                        match f {
                            1 => name = s,
                            2 => value = s,
                            _ => panic!("label field {f}"),
                        }
                    }
                    got.labels.push((name, value));
                }
                2 => {
                    samples += 1;
                    for (f, v) in fields(b).unwrap() {
                        match (f, v) {
                            (1, Field::I64(bits)) => got.value = f64::from_bits(bits),
                            (2, Field::Varint(t)) => got.ts = t as i64,
                            other => panic!("sample field {other:?}"),
                        }
                    }
                }
                _ => panic!("timeseries field {f}"),
            }
        }
        assert_eq!(samples, 1);
        out.push(got);
    }
    out
}

fn name_of(g: &Got) -> &str {
    &g.labels.iter().find(|(n, _)| n == "__name__").unwrap().1
}

#[test]
fn encoding_sorts_labels_and_merges_external_ones() {
    let r = Registry::new();
    let fam = r
        .counter_family(Opts::new("req_total", "").labels(&["zone", "Method", "empty"]))
        .unwrap();
    fam.with_labels(&["eu", "GET", ""]).unwrap().increment(7);
    r.histogram(Opts::new("lat", ""), Buckets::new(&[1.0]).unwrap())
        .unwrap()
        .record(0.5);
    let mut enc = RemoteWriteEncoder::new();
    enc.external_label("zone", "ignored-series-has-it").unwrap();
    enc.external_label("instance", "host:1").unwrap();
    assert!(enc.external_label("instance", "again").is_err());
    assert!(enc.external_label("__x", "v").is_err());
    assert!(enc.external_label("x", "").is_err());
    let req = enc.encode(&r, 1_700_000_000_000);
    assert_eq!(req.samples, 5);
    let mut dec = snap::raw::Decoder::new();
    assert_eq!(dec.decompress_vec(req.snappy).unwrap(), req.protobuf);
    let got = decode_request(req.protobuf);
    let s = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    // Byte-wise order: `Method` < `__name__` < `instance` < `zone`; `empty` is absent.
    let req_total = got.iter().find(|g| name_of(g) == "req_total").unwrap();
    assert_eq!(
        *req_total,
        Got {
            labels: s(&[
                ("Method", "GET"),
                ("__name__", "req_total"),
                ("instance", "host:1"),
                ("zone", "eu")
            ]),
            ts: 1_700_000_000_000,
            value: 7.0
        }
    );
    let names: Vec<&str> = got.iter().map(name_of).collect();
    assert_eq!(
        names,
        [
            "lat_bucket",
            "lat_bucket",
            "lat_sum",
            "lat_count",
            "req_total"
        ]
    );
    let bucket: Vec<&Got> = got.iter().filter(|g| name_of(g) == "lat_bucket").collect();
    assert_eq!(bucket.len(), 2);
    assert!(bucket[0].labels.contains(&("le".into(), "1.0".into())));
    assert!(bucket[1].labels.contains(&("le".into(), "+Inf".into())));
    assert_eq!(bucket[1].value, 1.0);
    let count = got.iter().find(|g| name_of(g) == "lat_count").unwrap();
    assert_eq!(count.value, 1.0);
    assert_eq!(count.labels[0].0, "__name__");
    // `zone` is not a label of these series, so the external one applies.
    assert!(count
        .labels
        .contains(&("zone".into(), "ignored-series-has-it".into())));
}

#[test]
fn zero_values_are_omitted_and_nan_is_never_the_stale_marker() {
    let r = Registry::new();
    r.counter(Opts::new("zero_total", "")).unwrap();
    r.hdr_histogram(
        Opts::new("empty", ""),
        tachometer_core::HdrConfig::default(),
    )
    .unwrap(); // quantiles NaN
    let mut enc = RemoteWriteEncoder::new();
    let req = enc.encode(&r, 5);
    let got = decode_request(req.protobuf);
    let zero = got.iter().find(|g| name_of(g) == "zero_total").unwrap();
    assert_eq!(zero.value.to_bits(), 0);
    let q = got
        .iter()
        .find(|g| g.labels.iter().any(|(n, _)| n == "quantile"))
        .unwrap();
    assert!(q.value.is_nan());
    assert_ne!(q.value.to_bits(), 0x7ff0_0000_0000_0002);
}

#[test]
fn queue_bounds_drop_the_oldest_and_batches_span_chunks() {
    let mut q = Queue::default();
    let chunk = |q: &mut Queue, tag: u8, n: usize| {
        let mut c = q.spare_chunk();
        for i in 0..n {
            c.buf.extend_from_slice(&[tag, i as u8]);
            c.ends.push(c.buf.len());
        }
        c
    };
    let c = chunk(&mut q, 1, 3);
    assert_eq!(q.push(c, 5), 0);
    let c = chunk(&mut q, 2, 3);
    assert_eq!(q.push(c, 5), 1); // 6 > 5: the oldest entry goes
    assert_eq!(q.pending, 5);
    let mut body = Vec::new();
    assert_eq!(q.front_batch(4, &mut body), 4);
    assert_eq!(body, [1, 1, 1, 2, 2, 0, 2, 1]);
    q.pop(4);
    assert_eq!(q.front_batch(10, &mut body), 1);
    assert_eq!(body, [2, 2]);
    assert_eq!((q.added, q.removed), (6, 5));
}

/// A receiver that answers each request with `plan(request number)` and records the
/// samples of the requests it answered 2xx.
struct Receiver {
    addr: SocketAddr,
    accepted: Arc<Mutex<Vec<Got>>>,
    requests: Arc<AtomicUsize>,
    headers: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(plan: impl Fn(usize) -> (u16, &'static str) + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let headers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (acc, reqs, hdrs, st) = (
            accepted.clone(),
            requests.clone(),
            headers.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let Some((head, body)) = read_request(&mut s) else {
                    continue;
                };
                let n = reqs.fetch_add(1, Ordering::SeqCst);
                let (status, text) = plan(n);
                if (200..300).contains(&status) {
                    let proto = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                    acc.lock().extend(decode_request(&proto));
                }
                hdrs.lock().push(head);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = s.write_all(reply.as_bytes());
            }
        });
        Self {
            addr,
            accepted,
            requests,
            headers,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_request(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            let mut body = buf[i + 4..].to_vec();
            while body.len() < len {
                let n = s.read(&mut chunk).ok()?;
                if n == 0 {
                    return None;
                }
                body.extend_from_slice(&chunk[..n]);
            }
            return Some((head, body));
        }
    }
}

fn registry_with_counters(n: usize) -> (Registry, Vec<Counter>) {
    let r = Registry::new();
    let fam = r
        .counter_family(Opts::new("work_total", "").labels(&["i"]))
        .unwrap();
    let cs = (0..n)
        .map(|i| {
            let c = fam.with_labels(&[&i.to_string()]).unwrap().clone();
            c.increment(i as u64 + 1);
            c
        })
        .collect();
    (r, cs)
}

/// Samples keyed by (labels, timestamp): every key must appear exactly once.
fn assert_exactly_once(got: &[Got]) -> HashMap<(Vec<(String, String)>, i64), f64> {
    let mut seen = HashMap::new();
    for g in got {
        let prev = seen.insert((g.labels.clone(), g.ts), g.value);
        assert!(prev.is_none(), "duplicate sample {g:?}");
    }
    seen
}

#[test]
fn a_receiver_failing_with_500_then_recovering_gets_every_sample_exactly_once() {
    // The first 4 requests fail, then everything is accepted.
    let rx = Receiver::start(|n| if n < 4 { (500, "boom") } else { (204, "") });
    let (registry, counters) = registry_with_counters(30);
    let writer = RemoteWriter::builder(rx.url())
        .interval(Duration::from_millis(20))
        .max_batch_samples(7)
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
        .external_label("job", "t")
        .bearer_token("rw-token")
        .start(&registry)
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    counters[0].increment(100);
    let stats = writer.shutdown(Duration::from_secs(10)).unwrap();
    assert!(rx.requests.load(Ordering::SeqCst) > 4);
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert_eq!(stats.pending, 0);
    assert_eq!(stats.sent, stats.produced);
    assert!(stats.retried > 0, "{stats:?}");
    let got = rx.accepted.lock().clone();
    assert_eq!(got.len() as u64, stats.sent);
    let seen = assert_exactly_once(&got);
    // Every walk produced all 30 series; the last one includes the extra 100.
    let walks = stats.produced / 30;
    assert_eq!(stats.produced % 30, 0);
    assert_eq!(seen.len() as u64, walks * 30);
    let last_ts = got.iter().map(|g| g.ts).max().unwrap();
    let last0 = got
        .iter()
        .find(|g| g.ts == last_ts && g.labels.contains(&("i".into(), "0".into())))
        .unwrap();
    assert_eq!(last0.value, 101.0);
    // Per series, timestamps strictly increase in arrival order.
    let mut last: HashMap<&Vec<(String, String)>, i64> = HashMap::new();
    for g in &got {
        if let Some(prev) = last.insert(&g.labels, g.ts) {
            assert!(g.ts > prev, "out of order: {g:?} after {prev}");
        }
    }
    let heads = rx.headers.lock().clone();
    for h in &heads {
        let h = h.to_ascii_lowercase();
        assert!(h.starts_with("post /api/v1/write http/1.1"), "{h}");
        assert!(h.contains("\r\ncontent-encoding: snappy"), "{h}");
        assert!(
            h.contains("\r\ncontent-type: application/x-protobuf"),
            "{h}"
        );
        assert!(
            h.contains("\r\nx-prometheus-remote-write-version: 0.1.0"),
            "{h}"
        );
        assert!(h.contains("\r\nuser-agent: tachometer/"), "{h}");
        assert!(h.contains("\r\nauthorization: bearer rw-token"), "{h}");
    }
}

#[test]
fn a_400_is_not_retried_and_says_why() {
    let rx = Receiver::start(|_| (400, "out of order sample"));
    let (registry, _c) = registry_with_counters(5);
    let writer = RemoteWriter::builder(rx.url())
        .interval(Duration::from_secs(3600))
        .start(&registry)
        .unwrap();
    let stats = writer.flush().unwrap();
    assert_eq!(rx.requests.load(Ordering::SeqCst), 1);
    assert_eq!(
        (stats.produced, stats.sent, stats.dropped, stats.retried),
        (5, 0, 5, 0)
    );
    let err = writer.last_error().unwrap().to_string();
    assert!(
        err.contains("400") && err.contains("out of order sample"),
        "{err}"
    );
    let stats = writer.shutdown(Duration::from_secs(5)).unwrap();
    // The final walk is rejected too: one more request, no retries.
    assert_eq!(rx.requests.load(Ordering::SeqCst), 2);
    assert_eq!((stats.sent, stats.dropped, stats.retried), (0, 10, 0));
}

#[test]
fn retries_stop_after_max_attempts() {
    let rx = Receiver::start(|_| (503, "unavailable"));
    let (registry, _c) = registry_with_counters(3);
    let writer = RemoteWriter::builder(rx.url())
        .interval(Duration::from_secs(3600))
        .max_attempts(4)
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .start(&registry)
        .unwrap();
    let stats = writer.flush().unwrap();
    assert_eq!(rx.requests.load(Ordering::SeqCst), 4);
    assert_eq!((stats.sent, stats.dropped, stats.retried), (0, 3, 9));
    assert!(writer.last_error().unwrap().to_string().contains("503"));
    drop(writer);
}

#[test]
fn retries_stop_at_the_sample_age_bound() {
    let rx = Receiver::start(|_| (500, "err"));
    let (registry, _c) = registry_with_counters(2);
    let writer = RemoteWriter::builder(rx.url())
        .interval(Duration::from_secs(3600))
        .max_attempts(1_000_000)
        .max_sample_age(Duration::from_millis(200))
        .backoff(Duration::from_millis(10), Duration::from_millis(20))
        .start(&registry)
        .unwrap();
    let stats = writer.flush().unwrap();
    assert_eq!((stats.sent, stats.dropped), (0, 2));
    let requests = rx.requests.load(Ordering::SeqCst);
    assert!(requests >= 2, "{requests}");
    assert!(writer
        .last_error()
        .unwrap()
        .to_string()
        .contains("older than max_sample_age"));
}

#[test]
fn an_unreachable_receiver_is_retried_then_dropped_at_shutdown() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (registry, _c) = registry_with_counters(4);
    let writer = RemoteWriter::builder(format!("http://127.0.0.1:{port}/api/v1/write"))
        .interval(Duration::from_millis(10))
        .backoff(Duration::from_millis(5), Duration::from_millis(50))
        .start(&registry)
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let stats = writer.shutdown(Duration::from_millis(300)).unwrap();
    assert_eq!(stats.sent, 0);
    assert_eq!(stats.pending, 0);
    assert_eq!(stats.dropped, stats.produced);
    assert!(stats.produced >= 8, "{stats:?}");
}

#[test]
fn a_full_queue_drops_the_oldest_and_counts_them() {
    let rx = Receiver::start(|n| if n < 1_000_000 { (500, "") } else { (204, "") });
    let (registry, _c) = registry_with_counters(10);
    let self_metrics = Registry::new();
    let writer = RemoteWriter::builder(rx.url())
        .interval(Duration::from_millis(5))
        .max_queue_samples(25)
        .backoff(Duration::from_millis(50), Duration::from_millis(50))
        .self_metrics(&self_metrics)
        .start(&registry)
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let stats = writer.stats();
    assert!(stats.pending <= 25, "{stats:?}");
    assert!(stats.dropped > 0, "{stats:?}");
    let stats = writer.shutdown(Duration::from_millis(100)).unwrap();
    assert_eq!(stats.sent + stats.dropped, stats.produced);
    let text = crate::prometheus::Encoder::new()
        .encode(&self_metrics, crate::prometheus::Format::Text004)
        .to_owned();
    assert!(
        text.contains(&format!(
            "tachometer_remote_write_samples_dropped_total {}",
            stats.dropped
        )),
        "{text}"
    );
    assert!(text.contains(&format!(
        "tachometer_remote_write_samples_retried_total {}",
        stats.retried
    )));
}

#[test]
fn works_inside_a_tokio_runtime() {
    let rx = Receiver::start(|_| (204, ""));
    let (registry, _c) = registry_with_counters(3);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stats = rt.block_on(async {
        let writer = RemoteWriter::builder(rx.url())
            .interval(Duration::from_millis(10))
            .start(&registry)
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        tokio::task::spawn_blocking(move || writer.shutdown(Duration::from_secs(5)))
            .await
            .unwrap()
            .unwrap()
    });
    assert!(stats.sent >= 3);
    assert_eq!(stats.sent, stats.produced);
    assert_eq!(rx.accepted.lock().len() as u64, stats.sent);
}

#[test]
fn configuration_errors_say_what_to_change() {
    let r = Registry::new();
    let cases: Vec<(RemoteWriteBuilder, &str)> = vec![
        (RemoteWriter::builder("https://x/api/v1/write"), "https"),
        (
            RemoteWriter::builder("http://x").max_batch_samples(0),
            "max_batch_samples",
        ),
        (
            RemoteWriter::builder("http://x").interval(Duration::ZERO),
            "interval",
        ),
        (
            RemoteWriter::builder("http://x").external_label("a-b", "v"),
            "a-b",
        ),
        (RemoteWriter::builder("http://x").bearer_token(""), "bearer"),
        (
            RemoteWriter::builder("http://x")
                .backoff(Duration::from_secs(2), Duration::from_secs(1)),
            "backoff",
        ),
    ];
    for (b, says) in cases {
        let err = b.start(&r).unwrap_err().to_string();
        assert!(err.contains(says), "{says}: {err}");
    }
}
