//! What one poll of the live page (`/metrics/ui`) costs the server: rendering 1,000
//! labeled series (counters, gauges and 14-bucket histograms, two labels each) as the
//! page's compact JSON, next to the same registry as `/metrics.json` (Dropwizard
//! shape) and as Prometheus text 0.0.4. The page polls once a second only while open,
//! so this is the whole server-side price of looking at it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tachometer::exporters::json::{self, JsonOptions};
use tachometer::exporters::prometheus::{Encoder, Format};
use tachometer::exporters::server::ui;
use tachometer::{Buckets, Opts, Registry};

const SERIES: u64 = 1_000;

fn registry() -> Registry {
    let r = Registry::new();
    for f in 0..10 {
        let opts = |name: String| Opts::new(name, "Synthetic.").labels(&["method", "shard"]);
        for s in 0..SERIES / 10 {
            let labels = ["GET", &format!("shard-{s}")];
            match f % 3 {
                0 => r
                    .counter_family(opts(format!("load_{f}_total")))
                    .unwrap()
                    .with_labels(&labels)
                    .unwrap()
                    .increment(s),
                1 => r
                    .gauge_family(opts(format!("load_{f}")))
                    .unwrap()
                    .with_labels(&labels)
                    .unwrap()
                    .set(s as i64),
                _ => r
                    .histogram_family(
                        opts(format!("load_{f}_seconds")),
                        Buckets::default_latency(),
                    )
                    .unwrap()
                    .with_labels(&labels)
                    .unwrap()
                    .record(s as f64 / 1e3),
            }
        }
    }
    r
}

fn ui_poll(c: &mut Criterion) {
    let r = registry();
    let mut group = c.benchmark_group("ui_poll_1k_series");
    group.throughput(Throughput::Elements(SERIES));
    let mut out = String::new();
    group.bench_function("ui_json", |b| {
        b.iter(|| {
            out.clear();
            ui::encode(&r, ui::DEFAULT_UI_MAX_SERIES, &mut out);
            black_box(out.len())
        })
    });
    let options = JsonOptions::default();
    group.bench_function("metrics_json", |b| {
        b.iter(|| {
            out.clear();
            json::encode(&r, &options, &mut out);
            black_box(out.len())
        })
    });
    let mut encoder = Encoder::new();
    group.bench_function("text_0.0.4", |b| {
        b.iter(|| black_box(encoder.encode(&r, Format::Text004).len()))
    });
    group.finish();
}

criterion_group!(benches, ui_poll);
criterion_main!(benches);
