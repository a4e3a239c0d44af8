//! What a scrape costs: rendering 10,000 labeled counter series (3 labels each) as
//! Prometheus text 0.0.4 and as OpenMetrics 1.0, into a buffer reused across renders.
//!
//! One criterion group per format (`render_10k_counters/text_0.0.4`, …) and one function
//! per library in it, so ratios come from one process and one data set. To add a
//! library, write a [`Prepare`] function that registers the series in that library
//! (outside the measurement) and returns a closure rendering them once, then list it in
//! [`CONTENDERS`]; return `None` for a format it cannot write. `measured` is here because
//! it is the fastest peer renderer (the target is to take at most 0.9 times its time);
//! `render_peers` has the others.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use measured::text::BufferedTextEncoder;
use measured::{CounterVec, LabelGroup, MetricGroup};
use tachometer::exporters::prometheus::{Encoder, Format};
use tachometer::{Opts, Registry};

/// Number of series every contender renders.
const SERIES: usize = 10_000;

/// One series: three label values and the counter's value.
pub struct Series {
    /// HTTP method.
    pub method: &'static str,
    /// Route, unique per series.
    pub route: String,
    /// Status code.
    pub status: &'static str,
    /// Counter value.
    pub value: u64,
}

/// The data set: 10,000 distinct `(method, route, status)` triples with realistic lengths.
fn series() -> Vec<Series> {
    const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
    const STATUSES: [&str; 5] = ["200", "201", "404", "429", "500"];
    (0..SERIES)
        .map(|i| Series {
            method: METHODS[i % METHODS.len()],
            route: format!("/api/v1/resources/{i}/items"),
            status: STATUSES[i % STATUSES.len()],
            value: (i as u64).wrapping_mul(7919) % 1_000_000,
        })
        .collect()
}

/// The format a contender renders.
#[derive(Debug, Clone, Copy)]
pub enum BenchFormat {
    /// Prometheus text 0.0.4.
    Text004,
    /// OpenMetrics 1.0.
    OpenMetrics,
}

impl BenchFormat {
    fn group(self) -> &'static str {
        match self {
            BenchFormat::Text004 => "render_10k_counters/text_0.0.4",
            BenchFormat::OpenMetrics => "render_10k_counters/openmetrics_1.0",
        }
    }
}

/// Renders the prepared series once and returns the byte length (so it is not optimised out).
pub type Render = Box<dyn FnMut() -> usize>;

/// Registers the series in one library (outside the measurement) and returns its
/// renderer for `format`, or `None` if the library cannot write that format.
pub type Prepare = fn(&[Series], BenchFormat) -> Option<Render>;

/// Every library measured: name and how to prepare it.
const CONTENDERS: &[(&str, Prepare)] = &[("tachometer", tachometer), ("measured", measured)];

fn tachometer(series: &[Series], format: BenchFormat) -> Option<Render> {
    let registry = Registry::new();
    let family = registry
        .counter_family(
            Opts::new("http_requests_total", "HTTP requests.")
                .labels(&["method", "route", "status"]),
        )
        .ok()?;
    for s in series {
        family
            .with_labels(&[s.method, s.route.as_str(), s.status])
            .ok()?
            .increment(s.value);
    }
    let format = match format {
        BenchFormat::Text004 => Format::Text004,
        BenchFormat::OpenMetrics => Format::OpenMetrics100,
    };
    let mut encoder = Encoder::new();
    Some(Box::new(move || encoder.encode(&registry, format).len()))
}

/// measured's labels for runtime strings: every value interned by `ParaCord`, measured's
/// own answer for label values not known at compile time.
#[derive(Clone, Copy, LabelGroup)]
#[label(set = HttpLabelSet)]
struct HttpLabels<'a> {
    #[label(dynamic_with = paracord::ParaCord)]
    method: &'a str,
    #[label(dynamic_with = paracord::ParaCord)]
    route: &'a str,
    #[label(dynamic_with = paracord::ParaCord)]
    status: &'a str,
}

#[derive(MetricGroup)]
struct MeasuredMetrics {
    /// HTTP requests.
    http_requests_total: CounterVec<HttpLabelSet>,
}

/// measured 0.0.25: a `CounterVec` rendered by a reused `BufferedTextEncoder` (0.0.4 only).
fn measured(series: &[Series], format: BenchFormat) -> Option<Render> {
    if !matches!(format, BenchFormat::Text004) {
        return None;
    }
    let metrics = MeasuredMetrics {
        http_requests_total: CounterVec::with_label_set(HttpLabelSet {
            method: paracord::ParaCord::default(),
            route: paracord::ParaCord::default(),
            status: paracord::ParaCord::default(),
        }),
    };
    for s in series {
        let labels = HttpLabels {
            method: s.method,
            route: &s.route,
            status: s.status,
        };
        metrics.http_requests_total.inc_by(labels, s.value);
    }
    let mut encoder = BufferedTextEncoder::new();
    Some(Box::new(move || {
        metrics
            .collect_group_into(&mut encoder)
            .map_or(0, |()| encoder.finish().len())
    }))
}

fn render(c: &mut Criterion) {
    let data = series();
    for format in [BenchFormat::Text004, BenchFormat::OpenMetrics] {
        let mut group = c.benchmark_group(format.group());
        group.throughput(Throughput::Elements(SERIES as u64));
        for (name, prepare) in CONTENDERS {
            let Some(mut render) = prepare(&data, format) else {
                continue;
            };
            // Warm the buffers once: the steady state of a scraped process.
            black_box(render());
            group.bench_function(*name, |b| b.iter(|| black_box(render())));
        }
        group.finish();
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
