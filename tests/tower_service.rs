//! The tower middleware around plain tower services (no axum): failures, cancellation,
//! bodies that end early, exactly-once recording, classifiers and configuration.

mod tower_common;

use std::convert::Infallible;
use std::future::Future;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use http_body_util::BodyExt;
use tachometer::tower::{MetricsLayer, RequestView, Route};
use tachometer::{Buckets, Opts, Registry};
use tower::{service_fn, Layer, ServiceExt};
use tower_common::{find, in_flight, series, Frames};

const DURATION: &str = "http_server_request_duration_seconds";

fn labels<'a>(method: &'a str, route: &'a str, status: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("http_request_method", method),
        ("http_route", route),
        ("http_response_status_code", status),
    ]
}

fn layer(registry: &Registry) -> MetricsLayer {
    MetricsLayer::builder().registry(registry).build().unwrap()
}

/// A waker that does nothing, for polling by hand.
fn noop_cx<R>(f: impl FnOnce(&mut Context<'_>) -> R) -> R {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
    f(&mut Context::from_waker(&waker))
}

#[tokio::test]
async fn inner_service_error_is_recorded_as_error() {
    let registry = Registry::new();
    let svc = layer(&registry).layer(service_fn(|_req: Request<()>| async {
        Err::<Response<Frames>, _>(std::io::Error::other("backend down"))
    }));
    let err = svc.oneshot(Request::new(())).await.unwrap_err();
    assert_eq!(err.to_string(), "backend down");
    let s = find(&registry, DURATION, &labels("GET", "unmatched", "error"));
    assert_eq!(s.count, 1);
    assert_eq!(in_flight(&registry), 0);
}

#[tokio::test]
async fn body_error_mid_stream_is_recorded_as_error() {
    let registry = Registry::new();
    let svc = layer(&registry).layer(service_fn(|_req: Request<()>| async {
        Ok::<_, Infallible>(Response::new(
            Frames::default().data(b"part").error().data(b"never"),
        ))
    }));
    let response = svc.oneshot(Request::new(())).await.unwrap();
    assert_eq!(in_flight(&registry), 1, "in flight until the body ends");
    let mut body = response.into_body();
    assert!(body.frame().await.unwrap().is_ok());
    assert!(body.frame().await.unwrap().is_err());
    assert_eq!(
        find(&registry, DURATION, &labels("GET", "unmatched", "error")).count,
        1
    );
    assert_eq!(in_flight(&registry), 0);
    drop(body);
    assert_eq!(
        series(&registry, DURATION).len(),
        1,
        "recorded once, not again on drop"
    );
}

#[tokio::test]
async fn dropped_future_is_recorded_as_cancelled() {
    let registry = Registry::new();
    let svc = layer(&registry).layer(service_fn(|_req: Request<()>| {
        std::future::pending::<Result<Response<Frames>, Infallible>>()
    }));
    let mut future = Box::pin(svc.oneshot(Request::new(())));
    assert!(noop_cx(|cx| future.as_mut().poll(cx)).is_pending());
    assert_eq!(in_flight(&registry), 1);
    drop(future);
    assert_eq!(
        find(
            &registry,
            DURATION,
            &labels("GET", "unmatched", "cancelled")
        )
        .count,
        1
    );
    assert_eq!(in_flight(&registry), 0);
}

#[tokio::test]
async fn body_dropped_unfinished_keeps_the_sent_status_and_records_once() {
    let registry = Registry::new();
    let svc = layer(&registry).layer(service_fn(|_req: Request<()>| async {
        let mut r = Response::new(Frames::default().data(b"a").data(b"b").data(b"c"));
        *r.status_mut() = http::StatusCode::PARTIAL_CONTENT;
        Ok::<_, Infallible>(r)
    }));
    let mut body = svc.oneshot(Request::new(())).await.unwrap().into_body();
    body.frame().await.unwrap().unwrap();
    assert!(
        series(&registry, DURATION).is_empty(),
        "not recorded while streaming"
    );
    drop(body);
    assert_eq!(
        find(&registry, DURATION, &labels("GET", "unmatched", "206")).count,
        1
    );
    assert_eq!(in_flight(&registry), 0);
}

#[tokio::test]
async fn last_data_frame_ends_the_request_without_waiting_for_drop() {
    let registry = Registry::new();
    let svc = layer(&registry).layer(service_fn(|_req: Request<()>| async {
        Ok::<_, Infallible>(Response::new(Frames::default().data(b"only")))
    }));
    let mut body = svc.oneshot(Request::new(())).await.unwrap().into_body();
    body.frame().await.unwrap().unwrap();
    assert!(body.is_end_stream());
    // Servers stop polling here; the request must already be recorded.
    assert_eq!(
        find(&registry, DURATION, &labels("GET", "unmatched", "200")).count,
        1
    );
    assert!(body.frame().await.is_none());
    drop(body);
    assert_eq!(
        find(&registry, DURATION, &labels("GET", "unmatched", "200")).count,
        1
    );
}

#[tokio::test]
async fn closure_classifier_replaces_the_route() {
    let registry = Registry::new();
    let layer = MetricsLayer::builder()
        .registry(&registry)
        .classifier(|req: &RequestView<'_>| {
            if req.uri().path().starts_with("/items/") {
                Route::from_static("/items/:id")
            } else {
                Route::UNMATCHED
            }
        })
        .build()
        .unwrap();
    let svc = layer.layer(service_fn(|_req: Request<()>| async {
        Ok::<_, Infallible>(Response::new(Frames::default()))
    }));
    for uri in ["/items/1", "/items/2", "/elsewhere"] {
        let req = Request::builder().uri(uri).method("POST").body(()).unwrap();
        svc.clone()
            .oneshot(req)
            .await
            .unwrap()
            .into_body()
            .collect()
            .await
            .unwrap();
    }
    assert_eq!(
        find(&registry, DURATION, &labels("POST", "/items/:id", "200")).count,
        2
    );
    assert_eq!(
        find(&registry, DURATION, &labels("POST", "unmatched", "200")).count,
        1
    );
}

#[tokio::test]
async fn trait_classifier_replaces_method_and_status() {
    struct Coarse;
    impl tachometer::tower::Classifier for Coarse {
        fn method(&self, _req: &RequestView<'_>) -> &'static str {
            "ANY"
        }
        fn route(&self, _req: &RequestView<'_>) -> Route {
            Route::from_static("/")
        }
        fn status(&self, status: http::StatusCode) -> &'static str {
            if status.is_success() {
                "2xx"
            } else {
                "other"
            }
        }
    }
    let registry = Registry::new();
    let layer = MetricsLayer::builder()
        .registry(&registry)
        .classifier(Coarse)
        .build()
        .unwrap();
    let svc = layer.layer(service_fn(|_req: Request<()>| async {
        Ok::<_, Infallible>(Response::new(Frames::default()))
    }));
    svc.oneshot(Request::new(()))
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap();
    assert_eq!(
        find(&registry, DURATION, &labels("ANY", "/", "2xx")).count,
        1
    );
    assert_eq!(
        find(
            &registry,
            "http_server_active_requests",
            &[("http_request_method", "ANY")]
        )
        .gauge,
        0
    );
}

#[test]
fn buckets_are_configurable_and_conflicts_are_errors() {
    let registry = Registry::new();
    let buckets = Buckets::new(&[0.1, 1.0]).unwrap();
    let layer = MetricsLayer::builder()
        .registry(&registry)
        .buckets(buckets.clone())
        .build()
        .unwrap();
    assert_eq!(layer.request_duration().descriptor().name(), DURATION);
    // Same definition again: the same families.
    MetricsLayer::builder()
        .registry(&registry)
        .buckets(buckets)
        .build()
        .unwrap();
    // Other buckets under the same names: a conflict, not a panic.
    let err = MetricsLayer::builder()
        .registry(&registry)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains(DURATION), "{err}");

    let taken = Registry::new();
    taken
        .counter(Opts::new("http_server_active_requests", "Something else."))
        .unwrap();
    let err = MetricsLayer::builder()
        .registry(&taken)
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("http_server_active_requests"),
        "{err}"
    );
}

#[test]
fn default_layer_records_into_the_global_registry() {
    let layer = MetricsLayer::new().unwrap();
    let svc = layer.layer(service_fn(|_req: Request<()>| async {
        Ok::<_, Infallible>(Response::new(Frames::default()))
    }));
    let req = Request::builder()
        .uri("/global-only")
        .method("DELETE")
        .body(())
        .unwrap();
    let mut fut = Box::pin(svc.oneshot(req));
    let response = match noop_cx(|cx| fut.as_mut().poll(cx)) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("an async block with no await is ready at once"),
    };
    drop(response);
    let s = find(
        tachometer::global(),
        DURATION,
        &labels("DELETE", "unmatched", "200"),
    );
    assert_eq!(
        s.count, 1,
        "only this test uses the global registry in this binary"
    );
}
