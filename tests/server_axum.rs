//! `MetricsService` mounted in an existing axum router, served by axum over a real
//! socket: the metrics routes negotiate, compress and authenticate exactly as the
//! stand-alone server does, and the app's own routes are untouched.

#![cfg(feature = "server")]

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tachometer::exporters::server::Auth;
use tachometer::{MetricsService, Opts, Registry};

async fn start(svc: MetricsService) -> std::net::SocketAddr {
    let app = Router::new()
        .route("/", get(|| async { "app home" }))
        .route_service("/metrics", svc.clone())
        .route_service("/metrics.json", svc);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn fetch(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut req = Request::get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        client.request(req.body(Empty::new()).unwrap()),
    )
    .await
    .expect("bounded")
    .expect("response");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body)
}

fn registry() -> Registry {
    let r = Registry::new();
    r.counter(Opts::new("axum_mounted_total", "Counted."))
        .unwrap()
        .increment(4);
    r
}

#[tokio::test]
async fn metrics_routes_in_an_axum_router() {
    let addr = start(MetricsService::new(registry())).await;

    let (status, _, body) = fetch(addr, "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"app home");

    let (status, headers, body) = fetch(addr, "/metrics", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(std::str::from_utf8(&body)
        .unwrap()
        .contains("\naxum_mounted_total 4\n"));

    let accept = (
        "accept",
        "application/openmetrics-text;version=1.0.0;q=0.6,*/*;q=0.2",
    );
    let (_, headers, body) = fetch(addr, "/metrics", &[accept]).await;
    assert_eq!(
        headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = std::str::from_utf8(&body).unwrap();
    assert!(text.ends_with("axum_mounted_total 4\n# EOF\n"), "{text}");

    let (_, headers, body) = fetch(addr, "/metrics", &[accept, ("accept-encoding", "gzip")]).await;
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["vary"], "Accept, Accept-Encoding");
    assert_eq!(&body[..2], &[0x1f, 0x8b], "gzip magic");

    let (status, headers, _) = fetch(addr, "/metrics.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");

    let (status, _, _) = fetch(addr, "/nope", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn auth_applies_to_the_mounted_service() {
    let svc = MetricsService::builder(registry())
        .auth(Auth::bearer("axum-token").unwrap())
        .build();
    let addr = start(svc).await;
    let (status, headers, _) = fetch(addr, "/metrics", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"metrics\"");
    let (status, _, _) = fetch(addr, "/metrics", &[("authorization", "Bearer axum-token")]).await;
    assert_eq!(status, StatusCode::OK);
    // The app's own routes are not behind the metrics auth.
    assert_eq!(fetch(addr, "/", &[]).await.0, StatusCode::OK);
}
