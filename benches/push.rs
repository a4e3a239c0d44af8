//! Cost per series of one push, encode + compress, for 10,000 labeled counter series
//! (the registry of `render_peers`): Tachometer's remote-write body (protobuf + snappy)
//! and Pushgateway body (text 0.0.4, plain and gzip), next to the `prometheus` crate.
//!
//! The `prometheus` crate's own push (`push_metrics`, feature `push`) brings reqwest and
//! sends protobuf through it, so a like-for-like network push is not measured here;
//! what is compared is the body each library builds for a Pushgateway: its
//! `TextEncoder` output (after `gather`), plain and through the same gzip.

use std::hint::black_box;
use std::io::Write as _;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tachometer::exporters::prometheus::{Encoder, Format};
use tachometer::exporters::push::RemoteWriteEncoder;
use tachometer::{Opts, Registry};

const SERIES: usize = 10_000;

fn route(i: usize) -> String {
    format!("/items/{i}")
}

fn tachometer_registry() -> Registry {
    let registry = Registry::new();
    let family = registry
        .counter_family(
            Opts::new("requests_total", "Requests served.")
                .labels(&["route", "status"])
                .max_series(SERIES + 1),
        )
        .expect("valid family");
    for i in 0..SERIES {
        family
            .with_labels(&[route(i).as_str(), "200"])
            .expect("labels")
            .increment(i as u64 + 1);
    }
    registry
}

fn prometheus_registry() -> prometheus::Registry {
    let registry = prometheus::Registry::new();
    let vec = prometheus::IntCounterVec::new(
        prometheus::Opts::new("requests_total", "Requests served."),
        &["route", "status"],
    )
    .expect("valid vec");
    registry
        .register(Box::new(vec.clone()))
        .expect("registered once");
    for i in 0..SERIES {
        vec.with_label_values(&[route(i).as_str(), "200"])
            .inc_by(i as u64 + 1);
    }
    registry
}

fn gzip(out: &mut Vec<u8>, data: &[u8]) -> usize {
    out.clear();
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    enc.write_all(data).expect("in memory");
    enc.finish().expect("in memory").len()
}

fn push_10k(c: &mut Criterion) {
    let mut g = c.benchmark_group("push_10k_series");
    g.sample_size(20);
    g.throughput(Throughput::Elements(SERIES as u64));

    let tach = tachometer_registry();
    let mut rw = RemoteWriteEncoder::new();
    rw.external_label("job", "bench").expect("valid label");
    g.bench_function("tachometer_remote_write", |b| {
        b.iter(|| black_box(rw.encode(&tach, 1_700_000_000_000).snappy.len()))
    });
    let mut text = Encoder::new();
    g.bench_function("tachometer_pushgateway_text", |b| {
        b.iter(|| black_box(text.encode(&tach, Format::Text004).len()))
    });
    let mut gz = Vec::new();
    g.bench_function("tachometer_pushgateway_gzip", |b| {
        b.iter(|| {
            let body = text.encode(&tach, Format::Text004);
            black_box(gzip(&mut gz, body.as_bytes()))
        })
    });

    let prom = prometheus_registry();
    let mut buf = Vec::new();
    g.bench_function("prometheus_text", |b| {
        b.iter(|| {
            use prometheus::Encoder as _;
            buf.clear();
            prometheus::TextEncoder::new()
                .encode(&prom.gather(), &mut buf)
                .expect("encodes");
            black_box(buf.len())
        })
    });
    g.bench_function("prometheus_text_gzip", |b| {
        b.iter(|| {
            use prometheus::Encoder as _;
            buf.clear();
            prometheus::TextEncoder::new()
                .encode(&prom.gather(), &mut buf)
                .expect("encodes");
            black_box(gzip(&mut gz, &buf))
        })
    });
    g.finish();

    // Sizes, for the record (not timed).
    let req = rw.encode(&tach, 1_700_000_000_000);
    let (proto, snappy) = (req.protobuf.len(), req.snappy.len());
    let text_len = text.encode(&tach, Format::Text004).len();
    let gz_len = gzip(&mut gz, text.encode(&tach, Format::Text004).as_bytes());
    eprintln!(
        "push_10k_series body bytes: remote write protobuf {proto}, snappy {snappy}; \
         pushgateway text {text_len}, gzip {gz_len}"
    );
}

criterion_group!(benches, push_10k);
criterion_main!(benches);
