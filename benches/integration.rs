//! Costs of the integration layers, each next to what it replaces:
//!
//! * `counter_macro`: a call-site-cached `tachometer::counter!` with literal labels vs a
//!   resolved handle vs `metrics::counter!` with the same literals.
//! * `timed_call`: a `#[tachometer::timed]` function vs the bare function vs hand-written
//!   `metrics` timing (`Instant` + `metrics::histogram!`); the `floor_*` entries are its
//!   parts (one clock read, one timer record) so the overhead bound is checked in one run.
//! * `middleware_request`: one request through an axum router, bare vs Tachometer's
//!   `MetricsLayer` vs `axum-prometheus`, via tower `oneshot` with the body collected
//!   (Tachometer records when the body ends).

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::BodyExt;
use tachometer::tower::MetricsLayer;
use tachometer::{Opts, Registry};
use tower::ServiceExt;

#[path = "peers/mod.rs"]
mod peers;

use peers::metrics_handle;

/// As in `peers/ops.rs`: metrics-exporter-prometheus folds histogram samples in at
/// upkeep, which runs inside the timed loop every 2^16 records.
const METRICS_UPKEEP_MASK: u64 = (1 << 16) - 1;

fn counter_macro(c: &mut Criterion) {
    metrics_handle();
    let mut g = c.benchmark_group("counter_macro");
    g.bench_function("tachometer_counter_macro", |b| {
        b.iter(|| {
            tachometer::counter!("bench_macro_total", "method" => "GET", "status" => "200")
                .increment(black_box(1))
        })
    });
    let handle = Registry::new()
        .counter(Opts::new("bench_macro_total", ""))
        .unwrap();
    g.bench_function("tachometer_resolved_handle", |b| {
        b.iter(|| handle.increment(black_box(1)))
    });
    g.bench_function("metrics_counter_macro", |b| {
        b.iter(|| {
            metrics::counter!("bench_macro_total", "method" => "GET", "status" => "200")
                .increment(black_box(1))
        })
    });
    g.finish();
}

/// The work being timed: small, opaque, never inlined, identical in every variant.
#[inline(never)]
fn work(x: u64) -> u64 {
    black_box(x)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17)
}

#[tachometer::timed]
#[inline(never)]
fn work_timed(x: u64) -> u64 {
    black_box(x)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17)
}

#[inline(never)]
fn work_metrics_timed(x: u64) -> u64 {
    let start = Instant::now();
    let r = work(x);
    metrics::histogram!("bench_manual_duration_seconds").record(start.elapsed());
    if x & METRICS_UPKEEP_MASK == 0 {
        metrics_handle().run_upkeep();
    }
    r
}

fn timed_call(c: &mut Criterion) {
    metrics_handle();
    let mut g = c.benchmark_group("timed_call");
    let mut i = 0u64;
    g.bench_function("bare_fn", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            work(i)
        })
    });
    g.bench_function("tachometer_timed", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            work_timed(i)
        })
    });
    g.bench_function("metrics_instant_histogram", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            work_metrics_timed(i)
        })
    });
    let timer = Registry::new()
        .timer(Opts::new("bench_parts_seconds", ""))
        .unwrap();
    g.bench_function("floor_timer_clock_read", |b| b.iter(|| timer.now()));
    g.bench_function("floor_timer_record", |b| {
        b.iter(|| timer.record_nanos(black_box(1_250)))
    });
    g.finish();
}

async fn hello() -> &'static str {
    "hello"
}

fn router() -> Router {
    Router::new().route("/users/{id}", get(hello))
}

/// Sends `iters` requests through `app` on `rt`, each body collected; returns the time.
fn drive(rt: &tokio::runtime::Runtime, app: &Router, iters: u64, upkeep: bool) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            let request = http::Request::get("/users/42").body(Body::empty()).unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            black_box(response.into_body().collect().await.unwrap());
            if upkeep && i & METRICS_UPKEEP_MASK == 0 {
                metrics_handle().run_upkeep();
            }
        }
        start.elapsed()
    })
}

fn middleware_request(c: &mut Criterion) {
    metrics_handle();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("middleware_request");
    let bare = router();
    g.bench_function("bare_router", |b| {
        b.iter_custom(|iters| drive(&rt, &bare, iters, false))
    });
    let registry = Registry::new();
    let layer = MetricsLayer::builder().registry(&registry).build().unwrap();
    let tach = router().layer(layer);
    g.bench_function("tachometer_layer", |b| {
        b.iter_custom(|iters| drive(&rt, &tach, iters, false))
    });
    let prom = router().layer(axum_prometheus::PrometheusMetricLayer::new());
    g.bench_function("axum-prometheus", |b| {
        b.iter_custom(|iters| drive(&rt, &prom, iters, true))
    });
    g.finish();
}

criterion_group!(benches, counter_macro, timed_call, middleware_request);
criterion_main!(benches);
