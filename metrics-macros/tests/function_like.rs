//! `counter!`, `gauge!`, `histogram!`, `meter!` and `timer!`: per-call-site caching,
//! literal and run-time label values, and values read back from the global registry.

mod common;

use std::time::Duration;

use common::{series, Reading};
use tachometer::{counter, gauge, histogram, meter, timer};

fn bump() -> &'static tachometer::Counter {
    let c = counter!("fl_bumps_total", help = "Bumps.");
    c.increment(1);
    c
}

#[test]
fn literal_counter_is_resolved_once_per_call_site() {
    let first = bump();
    for _ in 0..9 {
        assert!(
            std::ptr::eq(first, bump()),
            "the call site must hand out the same handle"
        );
    }
    assert_eq!(series("fl_bumps_total", &[]), Some(Reading::Counter(10)));
    // Another call site with the same definition shares the family and series.
    counter!("fl_bumps_total", help = "Bumps.").increment(5);
    assert_eq!(first.get(), 15);
}

fn request(method: &str, code: u16) {
    counter!("fl_requests_total", "method" => method, "code" => code.to_string(), "app" => "demo")
        .increment(1);
}

#[test]
fn runtime_label_values_pick_their_series() {
    for _ in 0..3 {
        request("GET", 200);
    }
    request("POST", 500);
    let get = series(
        "fl_requests_total",
        &[("method", "GET"), ("code", "200"), ("app", "demo")],
    );
    assert_eq!(get, Some(Reading::Counter(3)));
    let post = series("fl_requests_total", &[("method", "POST"), ("code", "500")]);
    assert_eq!(post, Some(Reading::Counter(1)));
}

#[test]
fn gauge_histogram_meter_and_timer() {
    gauge!("fl_queue_depth", "queue" => "mail").set(7);
    gauge!("fl_queue_depth", "queue" => "mail").decrement(2);
    assert_eq!(
        series("fl_queue_depth", &[("queue", "mail")]),
        Some(Reading::Gauge(5))
    );

    let sizes = [0.004, 0.3, 12.0];
    for s in sizes {
        histogram!("fl_payload_seconds").record(s);
    }
    let Some(Reading::Histogram { count, sum }) = series("fl_payload_seconds", &[]) else {
        panic!("no histogram")
    };
    assert_eq!(count, 3);
    assert!((sum - sizes.iter().sum::<f64>()).abs() < 1e-9);
    let bounds = histogram!("fl_payload_seconds").bounds().to_vec();
    assert_eq!(bounds, tachometer::Buckets::default().bounds());

    let kind = String::from("click");
    for _ in 0..4 {
        meter!("fl_events", "kind" => kind.as_str()).mark(1);
    }
    assert_eq!(
        series("fl_events", &[("kind", "click")]),
        Some(Reading::Meter { count: 4 })
    );

    timer!("fl_flush_seconds").record(Duration::from_millis(20));
    let Some(Reading::Timer { count, sum, .. }) = series("fl_flush_seconds", &[]) else {
        panic!("no timer")
    };
    assert_eq!((count, sum), (1, 20_000_000));
}

#[test]
fn a_conflicting_definition_falls_back_to_a_detached_metric() {
    gauge!("fl_taken").set(1);
    // Same name as a gauge: the counter cannot be registered, yet works.
    let c = counter!("fl_taken");
    c.increment(3);
    assert_eq!(c.get(), 3);
    assert_eq!(series("fl_taken", &[]), Some(Reading::Gauge(1)));
}
