//! StatsD direct mode: what an event costs the calling thread, and how many events per
//! second reach the socket, for Tachometer's `StatsdClient` next to cadence's
//! `QueuingMetricSink` in the same run.
//!
//! * `statsd_per_event`: time on the caller only. Events are enqueued in batches smaller
//!   than the queue, and the queue is drained between batches outside the timed region,
//!   so every measured call takes the real enqueue path (never the cheaper "queue full"
//!   drop).
//! * `statsd_end_to_end`: enqueue a batch and wait until the background thread has
//!   handed all of it to the socket; time per event. Tachometer packs lines into
//!   1432-byte datagrams; cadence's `UdpMetricSink` sends one datagram per event, its
//!   `BufferedUdpMetricSink` packs like we do.
//!
//! Both send `bench.requests:1|c` to a bound, unread loopback UDP socket.

use std::hint::black_box;
use std::io;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cadence::prelude::*;
use cadence::{BufferedUdpMetricSink, MetricSink, QueuingMetricSink, UdpMetricSink};
use criterion::{criterion_group, criterion_main, Criterion};
use tachometer::exporters::statsd::{StatsdClient, Target};

const BATCH: u64 = 8_192;
const QUEUE: usize = 65_536;

/// Lets the bench keep a handle on the queuing sink to wait for it to drain.
struct SharedSink(Arc<QueuingMetricSink>);

impl MetricSink for SharedSink {
    fn emit(&self, metric: &str) -> io::Result<usize> {
        self.0.emit(metric)
    }
    fn flush(&self) -> io::Result<()> {
        self.0.flush()
    }
}

fn wait_drained(sink: &QueuingMetricSink) {
    while sink.drained() < sink.submitted() {
        std::thread::yield_now();
    }
}

fn ours(addr: &str) -> StatsdClient {
    StatsdClient::builder(Target::udp(addr))
        .queue_capacity(QUEUE)
        .build()
        .expect("client")
}

fn cadence_client(addr: &str, buffered: bool) -> (cadence::StatsdClient, Arc<QueuingMetricSink>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let queuing = if buffered {
        QueuingMetricSink::with_capacity(BufferedUdpMetricSink::from(addr, socket).unwrap(), QUEUE)
    } else {
        QueuingMetricSink::with_capacity(UdpMetricSink::from(addr, socket).unwrap(), QUEUE)
    };
    let queuing = Arc::new(queuing);
    (
        cadence::StatsdClient::from_sink("bench", SharedSink(queuing.clone())),
        queuing,
    )
}

/// Runs `op` `iters` times in batches, timing only the calls; `settle` runs untimed
/// after each batch.
fn batched(iters: u64, mut op: impl FnMut(), mut settle: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        let start = Instant::now();
        for _ in 0..n {
            op();
        }
        total += start.elapsed();
        settle();
        left -= n;
    }
    total
}

fn per_event(c: &mut Criterion) {
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sink.local_addr().unwrap().to_string();
    let mut g = c.benchmark_group("statsd_per_event");

    let client = ours(&addr);
    g.bench_function("tachometer_direct", |b| {
        b.iter_custom(|iters| {
            batched(
                iters,
                || client.count(black_box("bench.requests"), 1),
                || {
                    client.flush().unwrap();
                },
            )
        });
    });
    assert_eq!(
        client.dropped(),
        0,
        "the queue filled: the bench measured drops"
    );

    let (cad, queuing) = cadence_client(&addr, false);
    g.bench_function("cadence_queuing_udp", |b| {
        b.iter_custom(|iters| {
            batched(
                iters,
                || drop(black_box(cad.count(black_box("requests"), 1))),
                || wait_drained(&queuing),
            )
        });
    });
    g.finish();
}

fn end_to_end(c: &mut Criterion) {
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sink.local_addr().unwrap().to_string();
    let mut g = c.benchmark_group("statsd_end_to_end");
    g.throughput(criterion::Throughput::Elements(1));

    let client = ours(&addr);
    g.bench_function("tachometer_direct", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            batched(
                iters,
                || client.count("bench.requests", 1),
                || {
                    client.flush().unwrap();
                },
            );
            start.elapsed()
        });
    });

    for (name, buffered) in [
        ("cadence_queuing_udp", false),
        ("cadence_queuing_buffered_udp", true),
    ] {
        let (cad, queuing) = cadence_client(&addr, buffered);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                batched(
                    iters,
                    || drop(cad.count("requests", 1)),
                    || wait_drained(&queuing),
                );
                let _ = cad.flush();
                start.elapsed()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, per_event, end_to_end);
criterion_main!(benches);
