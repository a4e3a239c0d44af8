//! A steady-state scrape through an `Encoder` allocates nothing per series: the
//! allocation count of a render does not grow with the number of series (counters,
//! gauges, histograms, meters, timers and HDR histograms).
#![cfg(feature = "prometheus")]

use std::sync::Arc;

use tachometer_core::{Buckets, ManualClock, Opts, Registry};
use tachometer_exporters::prometheus::{Encoder, Format};
use tachometer_testkit::{allocations_during, CountingAllocator};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

fn registry(series: usize) -> Registry {
    // A still clock keeps meter rates, hence the output length, identical between renders.
    let r = Registry::builder()
        .clock(Arc::new(ManualClock::new()))
        .build();
    let c = r
        .counter_family(
            Opts::new("http_requests_total", "Requests.").labels(&["method", "route", "status"]),
        )
        .unwrap();
    let g = r
        .float_gauge_family(Opts::new("temperature", "T.").labels(&["sensor"]))
        .unwrap();
    let h = r
        .histogram_family(
            Opts::new("latency_seconds", "L.").labels(&["route"]),
            Buckets::default_latency(),
        )
        .unwrap();
    let m = r
        .meter_family(Opts::new("events_total", "E.").labels(&["kind"]))
        .unwrap();
    // Timers and HDR histograms render from one reused snapshot buffer.
    let t = r
        .timer_family(Opts::new("rpc_duration_seconds", "R.").labels(&["route"]))
        .unwrap();
    let hdr = r
        .hdr_histogram_family(
            Opts::new("payload_bytes", "P.").labels(&["route"]),
            tachometer_core::HdrConfig::default(),
        )
        .unwrap();
    for i in 0..series {
        let route = format!("/route/{i}/\"quoted\"\\");
        c.with_labels(&["GET", route.as_str(), "200"])
            .unwrap()
            .increment(i as u64);
        g.with_labels(&[route.as_str()])
            .unwrap()
            .set(i as f64 * 0.1);
        h.with_labels(&[route.as_str()])
            .unwrap()
            .record(i as f64 * 1e-3);
        m.with_labels(&[route.as_str()]).unwrap().mark(1);
        for k in 0..20u64 {
            t.with_labels(&[route.as_str()])
                .unwrap()
                .record_nanos((1 + i as u64) * 1_000_000 + k * 7_919_000);
            hdr.with_labels(&[route.as_str()])
                .unwrap()
                .record(k * 1_000 + i as u64);
        }
    }
    r
}

fn steady_state_allocations(series: usize, format: Format) -> u64 {
    let r = registry(series);
    let mut e = Encoder::new();
    // The first render grows the buffers; the second must reuse them.
    let first_len = e.encode(&r, format).len();
    let (len, allocs) = allocations_during(|| e.encode(&r, format).len());
    assert_eq!(len, first_len);
    allocs
}

#[test]
fn render_allocations_do_not_grow_with_series() {
    for format in [Format::Text004, Format::OpenMetrics100] {
        let small = steady_state_allocations(10, format);
        let large = steady_state_allocations(1_000, format);
        // What remains is per walk (the registry copies its family list, the meter's
        // snapshot path), never per series.
        assert_eq!(
            small, large,
            "{format:?}: {small} allocations for 10 series, {large} for 1000"
        );
        assert!(large <= 16, "{format:?}: {large} allocations per render");
    }
}
