//! The live page (`/metrics/ui`) and its data (`/metrics/ui.json`) over real sockets:
//! headers, auth, turning it off, and the data format as a JSON parser reads it.
//! (The page itself runs in a real browser in the root crate's `ui_browser` test.)

#![cfg(feature = "server")]

mod server_support;

use std::time::Duration;

use serde_json::Value as Json;
use server_support::{get, gunzip, request};
use tachometer_core::{Buckets, HdrConfig, Opts, Registry, Unit};
use tachometer_exporters::server::{ui, Auth, MetricsService, Server};

fn registry() -> Registry {
    let r = Registry::new();
    r.counter_family(Opts::new("ui_jobs_total", "Jobs run.").labels(&["queue"]))
        .unwrap()
        .with_labels(&["</script><b>x"])
        .unwrap()
        .increment(7);
    r.float_gauge(Opts::new("ui_temperature", "Degrees."))
        .unwrap()
        .set(21.5);
    r.gauge(Opts::new("ui_nan", "Not a number."))
        .unwrap()
        .set(-3);
    let h = r
        .histogram_family(
            Opts::new("ui_latency_seconds", "Latency.")
                .unit(Unit::Seconds)
                .labels(&["route"]),
            Buckets::new(&[0.1, 1.0]).unwrap(),
        )
        .unwrap();
    h.with_labels(&["/a"]).unwrap().record(0.05);
    h.with_labels(&["/a"]).unwrap().record(0.5);
    h.with_labels(&["/b"]).unwrap().record(5.0);
    r.hdr_histogram(Opts::new("ui_sizes", "Sizes."), HdrConfig::default())
        .unwrap()
        .record(100);
    r.meter(Opts::new("ui_events", "Events.")).unwrap().mark(4);
    r.timer(Opts::new("ui_render_duration_seconds", "Render time."))
        .unwrap()
        .record(Duration::from_millis(20));
    r
}

fn data(r: &Registry, max: usize) -> Json {
    let mut out = String::new();
    ui::encode(r, max, &mut out);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn family<'a>(doc: &'a Json, name: &str) -> &'a Json {
    doc["families"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no family {name} in {doc}"))
}

#[test]
fn data_carries_every_kind_in_the_documented_shape() {
    let doc = data(&registry(), 1000);
    assert_eq!(doc["v"], 1);
    assert_eq!(doc["omitted"], 0);
    assert!(
        doc["t"].as_f64().unwrap() > 1.7e9,
        "server time in Unix seconds"
    );

    let jobs = family(&doc, "ui_jobs_total");
    assert_eq!(jobs["kind"], "counter");
    assert_eq!(jobs["help"], "Jobs run.");
    assert_eq!(jobs["labels"], serde_json::json!(["queue"]));
    assert_eq!(jobs["series"][0]["l"][0], "</script><b>x");
    assert_eq!(jobs["series"][0]["v"], 7);

    assert_eq!(family(&doc, "ui_temperature")["series"][0]["v"], 21.5);
    assert_eq!(family(&doc, "ui_nan")["series"][0]["v"], -3);

    let lat = family(&doc, "ui_latency_seconds");
    assert_eq!(lat["kind"], "histogram");
    assert_eq!(lat["unit"], "seconds");
    assert_eq!(lat["bounds"].to_string(), "[0.1,1]");
    let a = &lat["series"][0];
    assert_eq!(a["l"][0], "/a");
    assert_eq!(a["n"], 2);
    assert_eq!(a["s"], 0.55);
    assert_eq!(
        a["b"],
        serde_json::json!([1, 1, 0]),
        "per bucket, +Inf last"
    );
    assert!(a.get("bounds").is_none(), "bounds once per family");
    assert_eq!(lat["series"][1]["b"], serde_json::json!([0, 0, 1]));

    let sizes = family(&doc, "ui_sizes");
    assert_eq!(sizes["kind"], "hdr");
    assert_eq!(sizes["series"][0]["n"], 1);
    assert_eq!(sizes["series"][0]["w"], 1);
    let q = sizes["series"][0]["q"].as_array().unwrap();
    assert_eq!(q.len(), 5);
    assert!((q[0].as_f64().unwrap() - 100.0).abs() < 1.0, "{q:?}");

    let timer = &family(&doc, "ui_render_duration_seconds")["series"][0];
    assert_eq!(timer["n"], 1);
    let p50 = timer["q"][0].as_f64().unwrap();
    assert!(
        (p50 - 0.020).abs() < 0.0002,
        "timer quantiles in seconds: {p50}"
    );
    assert_eq!(timer["r"].as_array().unwrap().len(), 4);

    let events = &family(&doc, "ui_events")["series"][0];
    assert_eq!(events["n"], 4);
    assert_eq!(events["r"].as_array().unwrap().len(), 4);
}

#[test]
fn empty_windows_are_null_not_zero() {
    let r = Registry::new();
    r.timer(Opts::new("ui_idle_duration_seconds", "Idle."))
        .unwrap();
    let doc = data(&r, 10);
    let q = &family(&doc, "ui_idle_duration_seconds")["series"][0]["q"];
    assert!(q.as_array().unwrap().iter().all(Json::is_null), "{q}");
}

#[test]
fn series_beyond_the_cap_are_counted_not_sent() {
    let r = Registry::new();
    let c = r
        .counter_family(Opts::new("ui_many_total", "Many.").labels(&["i"]))
        .unwrap();
    for i in 0..10 {
        c.with_labels(&[&i.to_string()]).unwrap().increment(1);
    }
    let doc = data(&r, 4);
    assert_eq!(
        family(&doc, "ui_many_total")["series"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(doc["omitted"], 6);
}

#[test]
fn page_and_data_are_served_with_their_headers() {
    let server = Server::builder()
        .registry(registry())
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();

    let page = get(addr, "/metrics/ui", &[]);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.text(), ui::PAGE);
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));

    let zipped = get(addr, "/metrics/ui", &[("Accept-Encoding", "gzip")]);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&zipped.body), ui::PAGE);
    assert!(
        zipped.body.len() < ui::PAGE.len() / 2,
        "{} bytes gzipped",
        zipped.body.len()
    );

    let head = request(addr, "HEAD", "/metrics/ui.json", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    let json = get(addr, "/metrics/ui.json", &[]);
    assert_eq!(json.status, 200);
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(
        json.header("cache-control"),
        Some("must-revalidate,no-cache,no-store")
    );
    let doc: Json = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(family(&doc, "ui_jobs_total")["series"][0]["v"], 7);

    assert_eq!(request(addr, "POST", "/metrics/ui", &[]).status, 405);
    assert_eq!(get(addr, "/metrics/ui/", &[]).status, 404);
    server.shutdown_blocking().unwrap();
}

#[test]
fn page_and_data_need_the_same_auth_as_metrics() {
    let server = Server::builder()
        .registry(registry())
        .auth(Auth::basic("ops", "pw").unwrap())
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    for path in ["/metrics", "/metrics/ui", "/metrics/ui.json"] {
        let denied = get(addr, path, &[]);
        assert_eq!(denied.status, 401, "{path}");
        // The Basic challenge lets a browser ask once and send it with the page's polls.
        assert!(denied
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic"));
        let ok = get(addr, path, &[("Authorization", "Basic b3BzOnB3")]);
        assert_eq!(ok.status, 200, "{path}");
    }
    server.shutdown_blocking().unwrap();
}

#[test]
fn the_page_can_be_turned_off_or_moved() {
    let server = Server::builder()
        .registry(registry())
        .ui(false)
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    assert_eq!(get(addr, "/metrics/ui", &[]).status, 404);
    assert_eq!(get(addr, "/metrics/ui.json", &[]).status, 404);
    assert_eq!(get(addr, "/metrics", &[]).status, 200);
    server.shutdown_blocking().unwrap();

    let svc = MetricsService::builder(registry())
        .ui_path("/admin/dash")
        .build();
    let req = |p: &str| http::Request::get(p).body(()).unwrap();
    assert_eq!(svc.respond(&req("/admin/dash")).status(), 200);
    assert_eq!(svc.respond(&req("/admin/dash.json")).status(), 200);
    assert_eq!(svc.respond(&req("/metrics/ui")).status(), 404);
    let off = MetricsService::builder(registry()).ui(false).build();
    assert_eq!(off.respond(&req("/metrics/ui")).status(), 404);
}

/// The size claim in the `ui` module docs: for 1,000 labeled series (counters, gauges
/// and 14-bucket histograms) the page's data is about a third of `/metrics.json`.
#[test]
fn data_is_compact_next_to_the_dropwizard_document() {
    let r = Registry::new();
    for f in 0..10 {
        let opts = |name: String| Opts::new(name, "Synthetic.").labels(&["method", "shard"]);
        for s in 0..100 {
            let labels = ["GET", &format!("shard-{s}")];
            match f % 3 {
                0 => r
                    .counter_family(opts(format!("size_{f}_total")))
                    .unwrap()
                    .with_labels(&labels)
                    .unwrap()
                    .increment(s),
                1 => r
                    .gauge_family(opts(format!("size_{f}")))
                    .unwrap()
                    .with_labels(&labels)
                    .unwrap()
                    .set(s as i64),
                _ => r
                    .histogram_family(
                        opts(format!("size_{f}_seconds")),
                        Buckets::default_latency(),
                    )
                    .unwrap()
                    .with_labels(&labels)
                    .unwrap()
                    .record(s as f64 / 1e3),
            }
        }
    }
    let mut compact = String::new();
    ui::encode(&r, ui::DEFAULT_UI_MAX_SERIES, &mut compact);
    let mut dropwizard = String::new();
    tachometer_exporters::json::encode(&r, &Default::default(), &mut dropwizard);
    eprintln!(
        "1,000 series: /metrics/ui.json {} bytes, /metrics.json {} bytes",
        compact.len(),
        dropwizard.len()
    );
    assert!(compact.len() * 5 < dropwizard.len() * 2, "more than 40%");
}
