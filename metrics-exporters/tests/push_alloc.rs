//! A steady-state remote-write encode through a reused `RemoteWriteEncoder` allocates
//! nothing per series: the allocation count of an encode does not grow with the number
//! of series.
#![cfg(feature = "remote-write")]

use std::sync::Arc;

use tachometer_core::{Buckets, ManualClock, Opts, Registry};
use tachometer_exporters::push::RemoteWriteEncoder;
use tachometer_testkit::{allocations_during, CountingAllocator};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

fn registry(series: usize) -> Registry {
    // A still clock keeps meter rates, hence the body, identical between encodes.
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
    for i in 0..series {
        let route = format!("/route/{i}");
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
    }
    r
}

fn steady_state_allocations(series: usize) -> u64 {
    let r = registry(series);
    let mut e = RemoteWriteEncoder::new();
    e.external_label("job", "alloc").unwrap();
    // The first encode grows the buffers; the second must reuse them.
    let first = e.encode(&r, 1_700_000_000_000).protobuf.len();
    let (len, allocs) = allocations_during(|| e.encode(&r, 1_700_000_000_001).protobuf.len());
    assert_eq!(len, first);
    allocs
}

#[test]
fn remote_write_encode_allocates_nothing_per_series() {
    let small = steady_state_allocations(10);
    let large = steady_state_allocations(1_000);
    assert_eq!(
        small, large,
        "allocations grow with series: {small} for 10, {large} for 1000"
    );
}
