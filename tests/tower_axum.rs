//! The tower middleware in an axum app: route templates, the unmatched value, folded
//! methods, failing handlers, streaming bodies timed to their end, the in-flight gauge,
//! and exact counts under 1,000 concurrent requests. Each test has its own registry.

mod tower_common;

use std::future::IntoFuture;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{Method, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use tachometer::tower::MetricsLayer;
use tachometer::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;
use tower_common::{eventually, find, in_flight, series, SlowBody};

const DURATION: &str = "http_server_request_duration_seconds";
const CHUNKS: usize = 3;
const CHUNK_DELAY: Duration = Duration::from_millis(100);

fn app(registry: &Registry) -> Router {
    let layer = MetricsLayer::builder()
        .registry(registry)
        .build()
        .expect("fresh registry");
    Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move { format!("user {id}") }),
        )
        .route(
            "/stream",
            get(|| async { Body::new(SlowBody::new(CHUNKS, CHUNK_DELAY)) }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .layer(layer)
}

async fn send(app: &Router, method: Method, uri: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    response.into_body().collect().await.unwrap();
    status
}

#[tokio::test]
async fn a_hundred_user_ids_make_one_series_with_the_route_template() {
    let registry = Registry::new();
    let app = app(&registry);
    for id in 1..=100 {
        assert_eq!(
            send(&app, Method::GET, &format!("/users/{id}")).await,
            StatusCode::OK
        );
    }
    let all = series(&registry, DURATION);
    assert_eq!(all.len(), 1, "{all:?}");
    let s = find(
        &registry,
        DURATION,
        &[
            ("http_request_method", "GET"),
            ("http_route", "/users/{id}"),
            ("http_response_status_code", "200"),
        ],
    );
    assert_eq!(s.count, 100);
    assert!(s.sum > 0.0);
    assert_eq!(in_flight(&registry), 0);
}

#[tokio::test]
async fn not_found_shares_the_unmatched_route_and_odd_methods_fold() {
    let registry = Registry::new();
    let app = app(&registry);
    for uri in ["/nope", "/nope/1", "/users", "/users/1/extra", "/.env"] {
        assert_eq!(
            send(&app, Method::GET, uri).await,
            StatusCode::NOT_FOUND,
            "{uri}"
        );
    }
    let propfind = Method::from_bytes(b"PROPFIND").unwrap();
    assert_eq!(
        send(&app, propfind, "/users/7").await,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        send(&app, Method::GET, "/fail").await,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    let unmatched = find(
        &registry,
        DURATION,
        &[
            ("http_request_method", "GET"),
            ("http_route", "unmatched"),
            ("http_response_status_code", "404"),
        ],
    );
    assert_eq!(unmatched.count, 5);
    let other = find(
        &registry,
        DURATION,
        &[
            ("http_request_method", "_OTHER"),
            ("http_route", "/users/{id}"),
            ("http_response_status_code", "405"),
        ],
    );
    assert_eq!(other.count, 1);
    let failed = find(
        &registry,
        DURATION,
        &[
            ("http_request_method", "GET"),
            ("http_route", "/fail"),
            ("http_response_status_code", "500"),
        ],
    );
    assert_eq!(failed.count, 1);
    assert_eq!(
        series(&registry, DURATION).len(),
        3,
        "raw paths must never become routes"
    );
    for s in series(&registry, "http_server_active_requests") {
        assert!(
            ["GET", "_OTHER"].contains(&s.label("http_request_method")),
            "{s:?}"
        );
        assert_eq!(s.gauge, 0);
    }
}

#[tokio::test]
async fn thousand_concurrent_requests_give_exact_counts() {
    let registry = Registry::new();
    let app = app(&registry);
    let runtime_tasks: Vec<_> = (0..1000)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let uri = if i % 10 == 0 {
                    format!("/missing/{i}")
                } else {
                    format!("/users/{i}")
                };
                send(&app, Method::GET, &uri).await
            })
        })
        .collect();
    for t in runtime_tasks {
        t.await.unwrap();
    }
    let users = find(
        &registry,
        DURATION,
        &[
            ("http_request_method", "GET"),
            ("http_route", "/users/{id}"),
            ("http_response_status_code", "200"),
        ],
    );
    let missing = find(
        &registry,
        DURATION,
        &[
            ("http_request_method", "GET"),
            ("http_route", "unmatched"),
            ("http_response_status_code", "404"),
        ],
    );
    assert_eq!((users.count, missing.count), (900, 100));
    assert_eq!(in_flight(&registry), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_concurrent_requests_on_many_threads_give_exact_counts() {
    let registry = Registry::new();
    let app = app(&registry);
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { send(&app, Method::GET, &format!("/users/{i}")).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let s = find(
        &registry,
        DURATION,
        &[
            ("http_request_method", "GET"),
            ("http_route", "/users/{id}"),
            ("http_response_status_code", "200"),
        ],
    );
    assert_eq!(s.count, 1000);
    assert_eq!(in_flight(&registry), 0);
}

/// Over a real socket: the duration covers the whole streamed body, and the request is
/// in flight while the body streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_response_is_timed_until_its_last_chunk() {
    let registry = Registry::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, app(&registry)).into_future());

    let mut stream =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .unwrap();
    stream
        .write_all(b"GET /stream HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut first))
        .await
        .expect("no response headers")
        .unwrap();
    assert!(
        first[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first[..n])
    );
    // Headers are out but the body is still streaming: in flight, not yet recorded.
    assert_eq!(in_flight(&registry), 1);
    assert!(series(&registry, DURATION).is_empty());

    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
        .await
        .expect("body did not finish")
        .unwrap();
    let body = [&first[..n], &rest[..]].concat();
    assert_eq!(
        String::from_utf8_lossy(&body).matches("chunk\n").count(),
        CHUNKS
    );

    let recorded = eventually(|| !series(&registry, DURATION).is_empty()).await;
    assert!(recorded, "the streamed request was never recorded");
    let s = find(
        &registry,
        DURATION,
        &[
            ("http_request_method", "GET"),
            ("http_route", "/stream"),
            ("http_response_status_code", "200"),
        ],
    );
    assert_eq!(s.count, 1);
    let whole_body = CHUNK_DELAY.as_secs_f64() * CHUNKS as f64;
    assert!(
        s.sum >= whole_body,
        "recorded {}s, but the body took at least {whole_body}s",
        s.sum
    );
    assert!(eventually(|| in_flight(&registry) == 0).await);
    server.abort();
}
