//! Push against the real consumers: a Pushgateway scraped by a real Prometheus
//! (`honor_labels: true`), and remote write into a real Prometheus 2.42 receiver and a
//! real VictoriaMetrics; each store's query API must return the exact values.
#![cfg(all(feature = "pushgateway", feature = "remote-write"))]

mod push_support;

use std::time::{Duration, Instant};

use push_support::{http10, Peer, PEER_DEADLINE};
use tachometer_core::{Buckets, Opts, Registry};
use tachometer_exporters::push::{PushError, PushMethod, Pushgateway, RemoteWriter};

/// A registry like a batch job's: labeled counters, a histogram, a gauge.
fn job_registry() -> Registry {
    let r = Registry::new();
    let items = r
        .counter_family(Opts::new("batch_items_total", "Items by outcome.").labels(&["outcome"]))
        .unwrap();
    items.with_labels(&["ok"]).unwrap().increment(857);
    items.with_labels(&["failed"]).unwrap().increment(3);
    let h = r
        .histogram(
            Opts::new("batch_item_seconds", "Time per item."),
            Buckets::new(&[0.1, 1.0]).unwrap(),
        )
        .unwrap();
    for v in [0.05, 0.5, 7.0] {
        h.record(v);
    }
    r.gauge(Opts::new("batch_last_rows", "Rows in the last file."))
        .unwrap()
        .set(-12);
    r
}

fn gateway_metrics(gw: &Peer) -> String {
    http10(gw.addr, "GET", "/metrics", &[], b"").1
}

#[test]
fn pushgateway_push_is_scraped_by_prometheus_with_exact_totals() {
    let Some(gw) = push_support::start_pushgateway() else {
        return;
    };
    let registry = job_registry();
    let mut pusher = Pushgateway::builder(gw.url(), "push_test")
        .grouping_label("shard", "eu/1")
        .grouping_label("attempt", "")
        .gzip(true)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    assert!(
        pusher
            .url()
            .ends_with("/metrics/job/push_test/shard@base64/ZXUvMQ/attempt@base64/="),
        "{}",
        pusher.url()
    );
    // 2 counters + 3 buckets + sum + count + gauge.
    assert_eq!(pusher.push(&registry).unwrap(), 8);

    let Some(prom) = push_support::start_prometheus_scraping_gateway(gw.addr) else {
        return;
    };
    let key = r#"job="push_test",shard="eu/1""#;
    prom.wait_for_value(
        &format!(r#"batch_items_total{{{key},outcome="ok"}}"#),
        "857",
    );
    prom.wait_for_value(
        &format!(r#"batch_items_total{{{key},outcome="failed"}}"#),
        "3",
    );
    prom.wait_for_value(&format!(r#"batch_item_seconds_count{{{key}}}"#), "3");
    prom.wait_for_value(
        &format!(r#"batch_item_seconds_bucket{{{key},le="+Inf"}}"#),
        "3",
    );
    prom.wait_for_value(&format!(r#"batch_item_seconds_sum{{{key}}}"#), "7.55");
    prom.wait_for_value(&format!(r#"batch_last_rows{{{key}}}"#), "-12");
    // honor_labels kept the pushed job; the gateway's own instance="" stopped Prometheus
    // from adding the target's.
    let rows = prom
        .query(&format!(r#"batch_items_total{{{key},outcome="ok"}}"#))
        .unwrap();
    assert_eq!(
        rows[0].0,
        r#"{__name__="batch_items_total",job="push_test",outcome="ok",shard="eu/1"}"#
    );

    // POST replaces only same-named families; PUT replaces the group.
    let small = Registry::new();
    small
        .counter(Opts::new("batch_retries_total", ""))
        .unwrap()
        .increment(2);
    pusher.push_with(&small, PushMethod::Post).unwrap();
    let text = gateway_metrics(&gw);
    assert!(text.contains("batch_retries_total{"), "{text}");
    assert!(text.contains("batch_items_total{"), "{text}");
    pusher.push_with(&small, PushMethod::Put).unwrap();
    let text = gateway_metrics(&gw);
    assert!(!text.contains("batch_items_total{"), "{text}");

    // DELETE removes the group (the gateway queues it: 202, applied shortly after).
    pusher.delete().unwrap();
    let deadline = Instant::now() + PEER_DEADLINE;
    while gateway_metrics(&gw).contains("batch_retries_total{") {
        assert!(Instant::now() < deadline, "group not deleted");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn pushgateway_400_is_a_typed_error_with_the_gateways_reason() {
    let Some(gw) = push_support::start_pushgateway() else {
        return;
    };
    let a = Registry::new();
    a.counter(Opts::new("clash", "")).unwrap().increment(1);
    let b = Registry::new();
    b.gauge(Opts::new("clash", "")).unwrap().set(1);
    Pushgateway::builder(gw.url(), "a")
        .build()
        .unwrap()
        .push(&a)
        .unwrap();
    // Same name, other type, other group: the gateway's consistency check refuses it.
    let err = Pushgateway::builder(gw.url(), "b")
        .build()
        .unwrap()
        .push(&b)
        .unwrap_err();
    let PushError::Status { status, body, .. } = &err else {
        panic!("expected a status error, got {err:?}")
    };
    assert_eq!(*status, 400, "{err}");
    assert!(body.contains("clash"), "{body}");
    let shown = err.to_string();
    assert!(shown.contains("400") && shown.contains("clash"), "{shown}");
    assert!(!err.is_retryable());
}

#[test]
fn pushgateway_reporter_pushes_on_interval_and_at_shutdown() {
    let Some(gw) = push_support::start_pushgateway() else {
        return;
    };
    let registry = Registry::new();
    let done = registry.counter(Opts::new("steps_total", "")).unwrap();
    let reporter = Pushgateway::builder(gw.url(), "reporter_test")
        .interval(Duration::from_millis(50))
        .start(&registry)
        .unwrap();
    done.increment(1);
    let stats = reporter.flush().unwrap();
    assert!(stats.sent >= 1 && stats.dropped == 0, "{stats:?}");
    assert!(gateway_metrics(&gw).contains("steps_total{instance=\"\",job=\"reporter_test\"} 1"));
    done.increment(41);
    let stats = reporter.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(stats.produced, stats.sent);
    assert!(gateway_metrics(&gw).contains("steps_total{instance=\"\",job=\"reporter_test\"} 42"));
}

/// A registry pushed by remote write must read back exactly from `store`.
fn remote_write_round_trip(store: &Peer, url: String, job: &str) {
    let registry = job_registry();
    let writer = RemoteWriter::builder(url)
        .external_label("job", job)
        .external_label("instance", "host-1")
        .interval(Duration::from_secs(3600))
        .start(&registry)
        .unwrap();
    let stats = writer.flush().unwrap();
    assert_eq!(stats.dropped, 0, "{stats:?} {:?}", writer.last_error());
    assert_eq!((stats.sent, stats.produced), (8, 8));
    let key = format!(r#"job="{job}",instance="host-1""#);
    store.wait_for_value(
        &format!(r#"batch_items_total{{{key},outcome="ok"}}"#),
        "857",
    );
    store.wait_for_value(
        &format!(r#"batch_items_total{{{key},outcome="failed"}}"#),
        "3",
    );
    store.wait_for_value(&format!(r#"batch_item_seconds_count{{{key}}}"#), "3");
    store.wait_for_value(
        &format!(r#"batch_item_seconds_bucket{{{key},le="+Inf"}}"#),
        "3",
    );
    store.wait_for_value(
        &format!(r#"batch_item_seconds_bucket{{{key},le="1.0"}}"#),
        "2",
    );
    store.wait_for_value(
        &format!(r#"batch_item_seconds_bucket{{{key},le="0.1"}}"#),
        "1",
    );
    store.wait_for_value(&format!(r#"batch_item_seconds_sum{{{key}}}"#), "7.55");
    store.wait_for_value(&format!(r#"batch_last_rows{{{key}}}"#), "-12");
    let rows = store
        .query(&format!(r#"batch_items_total{{{key},outcome="ok"}}"#))
        .unwrap();
    assert_eq!(
        rows[0].0,
        format!(r#"{{__name__="batch_items_total",instance="host-1",job="{job}",outcome="ok"}}"#)
    );
    // A later walk carries the new total (a second sample, later timestamp).
    registry
        .counter_family(Opts::new("batch_items_total", "Items by outcome.").labels(&["outcome"]))
        .unwrap()
        .with_labels(&["ok"])
        .unwrap()
        .increment(143);
    let stats = writer.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!((stats.sent, stats.dropped), (16, 0));
    store.wait_for_value(
        &format!(r#"batch_items_total{{{key},outcome="ok"}}"#),
        "1000",
    );
}

#[test]
fn remote_write_into_prometheus_reads_back_exactly() {
    let Some(prom) = push_support::start_prometheus_receiver() else {
        return;
    };
    let url = format!("{}/api/v1/write", prom.url());
    remote_write_round_trip(&prom, url, "rw_prometheus");
}

#[test]
fn remote_write_into_victoria_metrics_reads_back_exactly() {
    let Some(vm) = push_support::start_victoria_metrics() else {
        return;
    };
    let url = format!("{}/api/v1/write", vm.url());
    remote_write_round_trip(&vm, url, "rw_victoria");
}
