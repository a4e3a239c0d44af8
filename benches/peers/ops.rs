//! The hot-path operations, one function per operation, each registering the metric in
//! Tachometer and in every peer that has the operation and handing one closure per
//! library to an [`OpSink`]. The criterion benches (1 thread and 2 threads) and the
//! allocation report are sinks, so all three exercise identical code.
//!
//! A closure gets the iteration index and uses it only to pick a histogram input.
//! Libraries named `floor_*` are the bounds an operation is judged against (a raw
//! atomic, an unsynchronised `hdrhistogram`), not peers.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::hint::black_box;

use super::{
    bounds, latency_inputs, latency_nanos, metrics_handle, runtime_labels, ClientHttp,
    MeasuredHttp, LABEL_NAMES,
};
use tachometer::{Buckets, HdrConfig, NativeConfig, Opts, Registry};

/// Receives one closure per library for an operation.
pub trait OpSink {
    /// An operation that may be shared between threads.
    fn op<F: Fn(u64) + Send + Sync + 'static>(&mut self, library: &str, f: F);
    /// An operation on an unsynchronised value (`&mut self`), single-threaded only:
    /// the floor a shared structure is judged against.
    fn op_local<F: FnMut(u64) + 'static>(&mut self, library: &str, f: F);
}

/// `metrics-exporter-prometheus` appends histogram samples to a lock-free bucket list and
/// folds them into the histogram at upkeep. Upkeep runs every 2^16 records inside the
/// timed loop, so the deferred work is counted and memory stays bounded.
const METRICS_UPKEEP_MASK: u64 = (1 << 16) - 1;

fn metrics_record(h: &metrics::Histogram, v: f64, i: u64) {
    h.record(v);
    if i & METRICS_UPKEEP_MASK == 0 {
        metrics_handle().run_upkeep();
    }
}

/// Resolved counter handle, +1.
pub fn counter_increment<S: OpSink>(s: &mut S) {
    let r = Registry::new();
    let c = r.counter(Opts::new("bench_total", "")).unwrap();
    s.op("tachometer", move |_| c.increment(black_box(1)));

    // The floor, through the same closure call as every library.
    let a = AtomicU64::new(0);
    s.op("floor_atomic_fetch_add", move |_| {
        a.fetch_add(black_box(1), Relaxed);
    });

    let c = prometheus::IntCounter::new("bench_total", "h").unwrap();
    s.op("prometheus", move |_| c.inc_by(black_box(1)));

    let c = prometheus_client::metrics::counter::Counter::<u64>::default();
    s.op("prometheus-client", move |_| {
        c.inc_by(black_box(1));
    });

    metrics_handle();
    let c = metrics::counter!("bench_total");
    s.op("metrics", move |_| c.increment(black_box(1)));

    let c = measured::Counter::new();
    s.op("measured", move |_| c.get_metric().inc_by(black_box(1)));
}

/// Labeled lookup with three runtime `String` values, then +1.
pub fn labeled_lookup_increment<S: OpSink>(s: &mut S) {
    let r = Registry::new();
    let f = r
        .counter_family(Opts::new("bench_labeled_total", "").labels(&LABEL_NAMES))
        .unwrap();
    let l = runtime_labels();
    s.op("tachometer", move |_| {
        f.with_labels(black_box(&l)).unwrap().increment(1)
    });

    let v = prometheus::IntCounterVec::new(
        prometheus::Opts::new("bench_labeled_total", "h"),
        &LABEL_NAMES,
    )
    .unwrap();
    let l = runtime_labels();
    s.op("prometheus", move |_| {
        v.with_label_values(black_box(&l)).inc()
    });

    let f = prometheus_client::metrics::family::Family::<
        ClientHttp,
        prometheus_client::metrics::counter::Counter,
    >::default();
    let key = ClientHttp::new(&runtime_labels());
    s.op("prometheus-client", move |_| {
        f.get_or_create(black_box(&key)).inc();
    });

    metrics_handle();
    let l = runtime_labels();
    // Runtime strings must be owned by the `metrics` key, hence the clones: that is the
    // cost a caller with runtime values pays.
    s.op("metrics", move |_| {
        let l = black_box(&l);
        metrics::counter!("bench_labeled_total", "method" => l[0].clone(), "route" => l[1].clone(), "status" => l[2].clone())
            .increment(1);
    });

    let v = measured::CounterVec::with_label_set(super::measured_http_set());
    let l = runtime_labels();
    s.op("measured", move |_| {
        let l = black_box(&l);
        v.inc(MeasuredHttp {
            method: &l[0],
            route: &l[1],
            status: &l[2],
        });
    });
}

/// Gauge set to a constant.
pub fn gauge_set<S: OpSink>(s: &mut S) {
    let r = Registry::new();
    let g = r.gauge(Opts::new("bench_gauge", "")).unwrap();
    s.op("tachometer", move |_| g.set(black_box(42)));
    let g = r.float_gauge(Opts::new("bench_fgauge", "")).unwrap();
    s.op("tachometer_f64", move |_| g.set(black_box(4.2)));

    let g = prometheus::IntGauge::new("bench_gauge", "h").unwrap();
    s.op("prometheus", move |_| g.set(black_box(42)));

    let g = prometheus_client::metrics::gauge::Gauge::<i64>::default();
    s.op("prometheus-client", move |_| {
        g.set(black_box(42));
    });

    metrics_handle();
    let g = metrics::gauge!("bench_gauge");
    s.op("metrics", move |_| g.set(black_box(4.2)));

    let g = measured::Gauge::new();
    s.op("measured", move |_| g.get_metric().set(black_box(42)));
}

/// Explicit-bucket histogram, one of [`latency_inputs`] per record.
pub fn histogram_record<S: OpSink>(s: &mut S) {
    let inputs: Arc<[f64]> = latency_inputs().into();
    let r = Registry::new();
    let h = r
        .histogram(Opts::new("bench_seconds", ""), Buckets::default_latency())
        .unwrap();
    let inp = inputs.clone();
    s.op("tachometer", move |i| h.record(inp[(i & 1023) as usize]));

    let h = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("bench_seconds", "h").buckets(bounds()),
    )
    .unwrap();
    let inp = inputs.clone();
    s.op("prometheus", move |i| h.observe(inp[(i & 1023) as usize]));

    let h = prometheus_client::metrics::histogram::Histogram::new(bounds());
    let inp = inputs.clone();
    s.op("prometheus-client", move |i| {
        h.observe(inp[(i & 1023) as usize])
    });

    metrics_handle();
    let h = metrics::histogram!("bench_seconds");
    let inp = inputs.clone();
    s.op("metrics", move |i| {
        metrics_record(&h, inp[(i & 1023) as usize], i)
    });

    let b: [f64; 11] = bounds().try_into().expect("11 default latency bounds");
    let h = measured::Histogram::with_metadata(
        measured::metric::histogram::Thresholds::with_buckets(b),
    );
    let inp = inputs;
    s.op("measured", move |i| {
        h.get_metric().observe(inp[(i & 1023) as usize])
    });
}

/// Native (sparse exponential) histogram at schema 3, one of [`latency_inputs`] per
/// record; Tachometer's explicit histogram is in the group as the cost it is judged
/// against (≤ 1.3×), and prometheus-client 0.26 is the one peer with native histograms.
pub fn native_histogram_record<S: OpSink>(s: &mut S) {
    let inputs: Arc<[f64]> = latency_inputs().into();
    let r = Registry::new();
    let h = r
        .native_histogram(Opts::new("bench_native_seconds", ""), NativeConfig::new())
        .unwrap();
    let inp = inputs.clone();
    s.op("tachometer", move |i| h.record(inp[(i & 1023) as usize]));

    let h = r
        .native_histogram(
            Opts::new("bench_hybrid_seconds", ""),
            NativeConfig::latency(),
        )
        .unwrap();
    let inp = inputs.clone();
    s.op("tachometer_classic_native", move |i| {
        h.record(inp[(i & 1023) as usize])
    });

    let h = r
        .histogram(
            Opts::new("bench_explicit_seconds", ""),
            Buckets::default_latency(),
        )
        .unwrap();
    let inp = inputs.clone();
    s.op("tachometer_explicit", move |i| {
        h.record(inp[(i & 1023) as usize])
    });

    use prometheus_client::metrics::histogram::{Histogram, NativeHistogramConfig};
    let h = Histogram::new_native(NativeHistogramConfig::with_schema(3).max_buckets(160));
    let inp = inputs.clone();
    s.op("prometheus-client", move |i| {
        h.observe(inp[(i & 1023) as usize])
    });

    let h = Histogram::new_classic_and_native(
        bounds(),
        NativeHistogramConfig::with_schema(3).max_buckets(160),
    );
    let inp = inputs;
    s.op("prometheus-client_classic_native", move |i| {
        h.observe(inp[(i & 1023) as usize])
    });
}

/// HDR histogram, one of [`latency_nanos`] per record.
pub fn hdr_record<S: OpSink>(s: &mut S) {
    let nanos: Arc<[u64]> = latency_nanos().into();
    let r = Registry::new();
    let h = r
        .hdr_histogram(Opts::new("bench_hdr", ""), HdrConfig::default())
        .unwrap();
    let n = nanos.clone();
    s.op("tachometer", move |i| h.record(n[(i & 1023) as usize]));

    let c = HdrConfig::default();
    let new = move || {
        hdrhistogram::Histogram::<u64>::new_with_bounds(c.lowest, c.highest, c.significant_figures)
            .unwrap()
    };
    let mut h = new();
    let n = nanos.clone();
    s.op_local("floor_hdrhistogram_unlocked", move |i| {
        let _ = h.record(n[(i & 1023) as usize]);
    });

    let h = Mutex::new(new());
    let n = nanos;
    s.op("hdrhistogram_mutex", move |i| {
        let _ = h.lock().unwrap().record(n[(i & 1023) as usize]);
    });
}

/// Meter mark (count + EWMA rates); no peer has a meter.
pub fn meter_mark<S: OpSink>(s: &mut S) {
    let r = Registry::new();
    let m = r.meter(Opts::new("bench_meter", "")).unwrap();
    s.op("tachometer", move |_| m.mark(black_box(1)));
}

/// Recording an already-measured duration ([`latency_nanos`]); peers record it into a
/// histogram of seconds, their way of timing.
pub fn timer_record<S: OpSink>(s: &mut S) {
    let durations: Arc<[Duration]> = latency_nanos()
        .into_iter()
        .map(Duration::from_nanos)
        .collect();
    let r = Registry::new();
    let t = r.timer(Opts::new("bench_timer_seconds", "")).unwrap();
    let d = durations.clone();
    s.op("tachometer", move |i| t.record(d[(i & 1023) as usize]));

    let h = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("bench_timer_seconds", "h").buckets(bounds()),
    )
    .unwrap();
    let d = durations.clone();
    s.op("prometheus", move |i| {
        h.observe(d[(i & 1023) as usize].as_secs_f64())
    });

    let h = prometheus_client::metrics::histogram::Histogram::new(bounds());
    let d = durations.clone();
    s.op("prometheus-client", move |i| {
        h.observe(d[(i & 1023) as usize].as_secs_f64())
    });

    metrics_handle();
    let h = metrics::histogram!("bench_timer_seconds");
    let d = durations.clone();
    s.op("metrics", move |i| {
        metrics_record(&h, d[(i & 1023) as usize].as_secs_f64(), i)
    });

    let b: [f64; 11] = bounds().try_into().expect("11 default latency bounds");
    let h = measured::Histogram::with_metadata(
        measured::metric::histogram::Thresholds::with_buckets(b),
    );
    let d = durations;
    s.op("measured", move |i| {
        h.get_metric().observe_duration(d[(i & 1023) as usize])
    });
}

/// A criterion group name and the function that hands its closures to a sink.
pub type Op<S> = (&'static str, fn(&mut S));

/// Every operation, in report order.
pub fn all<S: OpSink>() -> [Op<S>; 8] {
    [
        ("counter_increment", counter_increment::<S>),
        ("labeled_lookup_increment", labeled_lookup_increment::<S>),
        ("gauge_set", gauge_set::<S>),
        ("histogram_record", histogram_record::<S>),
        ("native_histogram_record", native_histogram_record::<S>),
        ("hdr_record", hdr_record::<S>),
        ("meter_mark", meter_mark::<S>),
        ("timer_record", timer_record::<S>),
    ]
}
