//! gRPC through the tower middleware: a hand-made service shaped like tonic's
//! (`content-type: application/grpc`, status in trailers or in headers) records its
//! `grpc-status` in `rpc_server_duration_seconds`.

mod tower_common;

use std::convert::Infallible;

use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::BodyExt;
use tachometer::tower::{MetricsLayer, RequestView, Route};
use tachometer::Registry;
use tower::{service_fn, Layer, Service, ServiceExt};
use tower_common::{find, in_flight, series, Frames};

const GRPC: &str = "rpc_server_duration_seconds";
const HTTP: &str = "http_server_request_duration_seconds";

/// Routes gRPC methods to templates the way a tonic user would: a fixed list.
fn grpc_route(req: &RequestView<'_>) -> Route {
    match req.uri().path() {
        "/shop.Orders/Get" => Route::from_static("/shop.Orders/Get"),
        "/shop.Orders/Watch" => Route::from_static("/shop.Orders/Watch"),
        _ => Route::UNMATCHED,
    }
}

fn grpc_response(frames: Frames, header_status: Option<&'static str>) -> Response<Frames> {
    let mut r = Response::new(frames);
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/grpc"));
    if let Some(code) = header_status {
        r.headers_mut()
            .insert("grpc-status", HeaderValue::from_static(code));
    }
    r
}

fn trailers(code: &'static str) -> HeaderMap {
    let mut t = HeaderMap::new();
    t.insert("grpc-status", HeaderValue::from_static(code));
    t.insert("grpc-message", HeaderValue::from_static("see%20status"));
    t
}

/// A gRPC-shaped server: `Get` answers NOT_FOUND (5) in trailers after a message,
/// `Watch` answers OK (0) in trailers, unknown methods answer UNIMPLEMENTED (12) as a
/// trailers-only response (status in the headers, empty body), and `Broken` ends its
/// stream without trailers.
async fn server(req: Request<()>) -> Result<Response<Frames>, Infallible> {
    Ok(match req.uri().path() {
        "/shop.Orders/Get" => grpc_response(
            Frames::default()
                .data(b"\0\0\0\0\0")
                .trailers(trailers("5")),
            None,
        ),
        "/shop.Orders/Watch" => grpc_response(
            Frames::default()
                .data(b"\0\0\0\0\0")
                .data(b"\0\0\0\0\0")
                .trailers(trailers("0")),
            None,
        ),
        "/shop.Orders/Broken" => grpc_response(Frames::default().data(b"\0\0\0\0\0"), None),
        _ => grpc_response(Frames::default(), Some("12")),
    })
}

fn grpc_request(path: &str) -> Request<()> {
    Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

#[tokio::test]
async fn grpc_status_is_read_from_trailers_and_headers() {
    let registry = Registry::new();
    let layer = MetricsLayer::builder()
        .registry(&registry)
        .classifier(grpc_route)
        .build()
        .unwrap();
    let mut svc = layer.layer(service_fn(server));
    for path in [
        "/shop.Orders/Get",
        "/shop.Orders/Get",
        "/shop.Orders/Watch",
        "/shop.Orders/Nope",
        "/shop.Orders/Broken",
    ] {
        let response = svc
            .ready()
            .await
            .unwrap()
            .call(grpc_request(path))
            .await
            .unwrap();
        let collected = response.into_body().collect().await.unwrap();
        if path.ends_with("Get") {
            assert_eq!(
                collected.trailers().unwrap()["grpc-status"],
                "5",
                "trailers pass through"
            );
        }
    }
    let get = find(
        &registry,
        GRPC,
        &[
            ("rpc_method", "/shop.Orders/Get"),
            ("rpc_grpc_status_code", "5"),
        ],
    );
    assert_eq!(get.count, 2);
    let watch = find(
        &registry,
        GRPC,
        &[
            ("rpc_method", "/shop.Orders/Watch"),
            ("rpc_grpc_status_code", "0"),
        ],
    );
    assert_eq!(watch.count, 1);
    let nope = find(
        &registry,
        GRPC,
        &[("rpc_method", "unmatched"), ("rpc_grpc_status_code", "12")],
    );
    let broken = find(
        &registry,
        GRPC,
        &[
            ("rpc_method", "unmatched"),
            ("rpc_grpc_status_code", "missing"),
        ],
    );
    assert_eq!((nope.count, broken.count), (1, 1));
    assert_eq!(series(&registry, GRPC).len(), 4);

    // The HTTP family sees the same calls: all 200 over POST.
    let http_total: u64 = series(&registry, HTTP).iter().map(|s| s.count).sum();
    assert_eq!(http_total, 5);
    for s in series(&registry, HTTP) {
        assert_eq!(s.label("http_response_status_code"), "200");
        assert_eq!(s.label("http_request_method"), "POST");
    }
    assert_eq!(in_flight(&registry), 0);
}

#[tokio::test]
async fn plain_http_records_nothing_in_the_grpc_family() {
    let registry = Registry::new();
    let svc = MetricsLayer::builder()
        .registry(&registry)
        .build()
        .unwrap()
        .layer(service_fn(|_req: Request<()>| async {
            let mut r = Response::new(Frames::default().data(b"{}").trailers(trailers("0")));
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            Ok::<_, Infallible>(r)
        }));
    svc.oneshot(Request::new(()))
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap();
    assert!(
        series(&registry, GRPC).is_empty(),
        "a grpc-status on a non-gRPC response is ignored"
    );
    assert_eq!(series(&registry, HTTP).len(), 1);
}
