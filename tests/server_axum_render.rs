//! `MetricsService` in an axum app (issue 11): rendering runs on tokio's blocking pool,
//! so a render held by a slow callback does not stall the app's own routes, even on
//! a single-threaded runtime.

#![cfg(feature = "server")]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tachometer::{MetricsService, Opts, Registry};

async fn fetch(addr: std::net::SocketAddr, path: &str) -> (u16, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let req = Request::get(format!("http://{addr}{path}"))
        .body(Empty::new())
        .unwrap();
    let res = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .expect("bounded")
        .expect("response");
    let status = res.status().as_u16();
    (status, res.into_body().collect().await.unwrap().to_bytes())
}

#[tokio::test(flavor = "current_thread")]
async fn the_app_keeps_serving_while_a_metrics_render_is_held() {
    // No callback budget: the render itself is held for as long as the callback.
    let registry = Registry::builder().callback_timeout(None).build();
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let chans = Mutex::new((started_tx, release_rx));
    let returned = Arc::new(AtomicBool::new(false));
    let ret = Arc::clone(&returned);
    registry
        .callback_gauge(Opts::new("app_held_gauge", "Held."), move || {
            let chans = chans.lock().unwrap();
            let _ = chans.0.send(());
            let _ = chans.1.recv_timeout(Duration::from_secs(10));
            ret.store(true, Ordering::SeqCst);
            1.0
        })
        .unwrap();
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route_service("/metrics", MetricsService::new(registry));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let scrape = tokio::spawn(fetch(addr, "/metrics"));
    tokio::task::spawn_blocking(move || {
        started.recv_timeout(Duration::from_secs(5)).unwrap();
    })
    .await
    .unwrap();
    // The render is held; the app's route is answered regardless.
    let (status, body) = fetch(addr, "/hello").await;
    assert!(!returned.load(Ordering::SeqCst));
    assert_eq!((status, &body[..]), (200, &b"hello"[..]));
    release.send(()).unwrap();
    let (status, body) = scrape.await.unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("app_held_gauge 1"));
}
