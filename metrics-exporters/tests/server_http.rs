//! HTTP-level behaviour of the metrics endpoint, through real sockets on 127.0.0.1.
//!
//! The server runs on its background thread (these tests call `bind` outside any
//! runtime) and a plain `TcpStream` client sends exactly the bytes a scraper would.

#![cfg(feature = "server")]

mod server_support;

use server_support::{get, gunzip, request};
use tachometer_core::{Buckets, Opts, Registry};
use tachometer_exporters::prometheus::{encode, Format};
use tachometer_exporters::server::{serve, Auth, ServeError, Server};

/// Prometheus 3's default `Accept` (protocols.md §2.8).
const PROMETHEUS_3_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
/// Prometheus 2.x's default `Accept`.
const PROMETHEUS_2_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

fn registry() -> Registry {
    let r = Registry::new();
    r.counter(Opts::new("http_test_jobs_total", "Jobs run."))
        .unwrap()
        .increment(7);
    let h = r
        .histogram(
            Opts::new("http_test_latency_seconds", "Latency."),
            Buckets::new(&[0.1, 1.0]).unwrap(),
        )
        .unwrap();
    h.record(0.05);
    h.record(0.5);
    r
}

fn start(r: &Registry) -> Server {
    Server::builder()
        .registry(r.clone())
        .bind("127.0.0.1:0")
        .unwrap()
}

#[test]
fn port_zero_binds_a_real_port() {
    let server = start(&registry());
    assert!(server.local_addr().ip().is_loopback());
    assert_ne!(server.local_addr().port(), 0);
    server.shutdown_blocking().unwrap();
}

#[test]
fn no_accept_header_gets_text_0_0_4_identical_to_the_encoder() {
    let r = registry();
    let server = start(&r);
    let reply = get(server.local_addr(), "/metrics", &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(reply.header("vary"), Some("Accept, Accept-Encoding"));
    assert_eq!(reply.header("content-encoding"), None);
    let mut expected = String::new();
    encode(&r, Format::Text004, &mut expected);
    assert_eq!(reply.text(), expected);
    assert!(reply.text().contains("\nhttp_test_jobs_total 7\n"));
    server.shutdown_blocking().unwrap();
}

#[test]
fn prometheus_accept_headers_get_openmetrics_1_0() {
    let r = registry();
    let server = start(&r);
    for accept in [PROMETHEUS_3_ACCEPT, PROMETHEUS_2_ACCEPT] {
        let reply = get(server.local_addr(), "/metrics", &[("Accept", accept)]);
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("content-type"),
            Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            "for Accept: {accept}"
        );
        let body = reply.text();
        assert!(body.ends_with("# EOF\n"), "{body}");
        assert_eq!(body.matches("# EOF").count(), 1);
        assert!(body.contains("# TYPE http_test_jobs counter\n"), "{body}");
        assert!(body.contains("\nhttp_test_jobs_total 7\n"), "{body}");
        assert!(
            body.contains("http_test_latency_seconds_bucket{le=\"1.0\"} 2\n"),
            "{body}"
        );
    }
    server.shutdown_blocking().unwrap();
}

#[test]
fn other_accept_headers() {
    let server = start(&registry());
    let ct = |accept: &str| {
        get(server.local_addr(), "/metrics", &[("Accept", accept)])
            .header("content-type")
            .map(str::to_owned)
    };
    let om001 = "application/openmetrics-text; version=0.0.1; charset=utf-8";
    let text = "text/plain; version=0.0.4; charset=utf-8";
    assert_eq!(ct("application/openmetrics-text").as_deref(), Some(om001));
    assert_eq!(ct("*/*").as_deref(), Some(text));
    assert_eq!(
        ct("text/plain;version=0.0.4;q=0.9,*/*;q=0.1").as_deref(),
        Some(text)
    );
    let protobuf = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
    assert_eq!(ct("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited").as_deref(), Some(protobuf));
    // Protobuf of another message or encoding is not offered.
    assert_eq!(
        ct("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text")
            .as_deref(),
        Some(text)
    );
    // Gzip applies to protobuf as to text.
    let reply = get(
        server.local_addr(),
        "/metrics",
        &[("Accept", protobuf), ("Accept-Encoding", "gzip")],
    );
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
    assert_eq!(reply.body[..2], [0x1f, 0x8b]);
    // Two Accept header lines count as one list.
    let reply = request(
        server.local_addr(),
        "GET",
        "/metrics",
        &[
            ("Accept", "text/plain;q=0.2"),
            ("Accept", "application/openmetrics-text;version=1.0.0;q=0.9"),
        ],
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    server.shutdown_blocking().unwrap();
}

#[test]
fn gzip_round_trips_when_accepted_and_only_then() {
    let r = registry();
    let server = start(&r);
    let addr = server.local_addr();
    for accept in ["", PROMETHEUS_3_ACCEPT] {
        let mut headers = vec![];
        if !accept.is_empty() {
            headers.push(("Accept", accept));
        }
        let plain = get(addr, "/metrics", &headers);
        headers.push(("Accept-Encoding", "gzip"));
        let zipped = get(addr, "/metrics", &headers);
        assert_eq!(zipped.status, 200);
        assert_eq!(zipped.header("content-encoding"), Some("gzip"));
        assert_eq!(zipped.header("vary"), Some("Accept, Accept-Encoding"));
        assert_eq!(zipped.header("content-type"), plain.header("content-type"));
        assert_eq!(
            zipped.header("content-length"),
            Some(zipped.body.len().to_string().as_str())
        );
        assert_eq!(&zipped.body[..2], &[0x1f, 0x8b], "gzip magic");
        assert_eq!(gunzip(&zipped.body), plain.text());
    }
    for refused in ["gzip;q=0", "identity", "br, deflate", "*;q=0"] {
        let reply = get(addr, "/metrics", &[("Accept-Encoding", refused)]);
        assert_eq!(reply.header("content-encoding"), None, "for {refused}");
        assert!(reply.text().contains("http_test_jobs_total 7"));
    }
    server.shutdown_blocking().unwrap();
}

#[test]
fn unknown_paths_are_404() {
    let server = start(&registry());
    for path in [
        "/",
        "/metric",
        "/metrics/",
        "/metrics.jsonx",
        "/favicon.ico",
    ] {
        assert_eq!(get(server.local_addr(), path, &[]).status, 404, "{path}");
    }
    // A query string does not change the path.
    assert_eq!(get(server.local_addr(), "/metrics?x=1", &[]).status, 200);
    server.shutdown_blocking().unwrap();
}

#[test]
fn methods_other_than_get_and_head_are_405() {
    let server = start(&registry());
    let addr = server.local_addr();
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        for path in ["/metrics", "/metrics.json"] {
            let reply = request(addr, method, path, &[("Content-Length", "0")]);
            assert_eq!(reply.status, 405, "{method} {path}");
            assert_eq!(reply.header("allow"), Some("GET, HEAD"));
        }
    }
    let head = request(addr, "HEAD", "/metrics", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let full = get(addr, "/metrics", &[]);
    assert_eq!(
        head.header("content-length"),
        Some(full.body.len().to_string().as_str())
    );
    server.shutdown_blocking().unwrap();
}

#[test]
fn json_endpoint_headers_and_pretty_printing() {
    let r = registry();
    let server = start(&r);
    let addr = server.local_addr();
    let compact = get(addr, "/metrics.json", &[]);
    assert_eq!(compact.status, 200);
    assert_eq!(compact.header("content-type"), Some("application/json"));
    assert_eq!(compact.header("vary"), Some("Accept-Encoding"));
    assert_eq!(
        compact.header("cache-control"),
        Some("must-revalidate,no-cache,no-store")
    );
    let value: serde_json::Value = serde_json::from_slice(&compact.body).expect("valid JSON");
    assert_eq!(
        value["counters"]["http_test_jobs_total"]["count"], 7,
        "{value}"
    );
    assert_eq!(
        compact.text().trim_end().lines().count(),
        1,
        "compact by default"
    );

    let pretty = get(addr, "/metrics.json?pretty=true", &[]);
    assert_eq!(pretty.status, 200);
    assert!(
        pretty.text().trim_end().lines().count() > 3,
        "{}",
        pretty.text()
    );
    let pretty_value: serde_json::Value = serde_json::from_slice(&pretty.body).unwrap();
    assert_eq!(pretty_value.get("counters"), value.get("counters"));

    let zipped = get(addr, "/metrics.json", &[("Accept-Encoding", "gzip")]);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    let unzipped: serde_json::Value = serde_json::from_str(&gunzip(&zipped.body)).unwrap();
    assert_eq!(unzipped.get("counters"), value.get("counters"));
    server.shutdown_blocking().unwrap();
}

#[test]
fn bearer_auth_401_then_200() {
    let server = Server::builder()
        .registry(registry())
        .auth(Auth::bearer("t0ken-42").unwrap())
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    for path in ["/metrics", "/metrics.json"] {
        for bad in [
            None,
            Some("Bearer wrong"),
            Some("Bearer t0ken-4"),
            Some("Basic dDA6a2VuLTQy"),
            Some("t0ken-42"),
        ] {
            let headers: Vec<(&str, &str)> = bad.iter().map(|v| ("Authorization", *v)).collect();
            let reply = get(addr, path, &headers);
            assert_eq!(reply.status, 401, "{path} with {bad:?}");
            assert_eq!(
                reply.header("www-authenticate"),
                Some("Bearer realm=\"metrics\"")
            );
            assert!(!reply.text().contains("http_test_jobs_total"));
        }
        let ok = get(addr, path, &[("Authorization", "Bearer t0ken-42")]);
        assert_eq!(ok.status, 200, "{path}");
        assert!(ok.text().contains("http_test_jobs_total"));
    }
    server.shutdown_blocking().unwrap();
}

#[test]
fn basic_auth_401_then_200() {
    let server = Server::builder()
        .registry(registry())
        .auth(Auth::basic("prometheus", "s3cret").unwrap())
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    let denied = get(
        addr,
        "/metrics",
        &[("Authorization", "Basic cHJvbWV0aGV1czp3cm9uZw==")],
    );
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.header("www-authenticate"),
        Some("Basic realm=\"metrics\", charset=\"UTF-8\"")
    );
    // base64("prometheus:s3cret")
    let ok = get(
        addr,
        "/metrics",
        &[("Authorization", "Basic cHJvbWV0aGV1czpzM2NyZXQ=")],
    );
    assert_eq!(ok.status, 200);
    server.shutdown_blocking().unwrap();
}

#[test]
fn serve_one_liner_serves_the_global_registry() {
    let server = serve("127.0.0.1:0").unwrap();
    tachometer_core::global()
        .counter(Opts::new(
            "http_test_global_oneliner_total",
            "Set by the one-liner test.",
        ))
        .unwrap()
        .increment(5);
    let reply = get(server.local_addr(), "/metrics", &[]);
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .text()
            .contains("\nhttp_test_global_oneliner_total 5\n"),
        "{}",
        reply.text()
    );
    server.shutdown_blocking().unwrap();
}

#[test]
fn bind_errors_are_typed_and_say_what_to_change() {
    let first = start(&registry());
    let taken = first.local_addr().to_string();
    let err = Server::builder().bind(taken.as_str()).unwrap_err();
    assert!(matches!(err, ServeError::Bind { .. }), "{err:?}");
    assert!(err.to_string().contains("choose a free port"), "{err}");

    let err = Server::builder()
        .max_connections(0)
        .bind("127.0.0.1:0")
        .unwrap_err();
    assert!(matches!(err, ServeError::InvalidMaxConnections(0)));
    assert!(err.to_string().contains("at least 1"), "{err}");

    let err = Server::builder().bind("not an address").unwrap_err();
    assert!(
        matches!(err, ServeError::Bind { .. } | ServeError::NoAddress { .. }),
        "{err:?}"
    );
    first.shutdown_blocking().unwrap();
}
