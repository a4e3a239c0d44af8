//! The middleware allocates nothing per request once its series exist: measured with
//! a counting global allocator around `oneshot` on a trivial service whose future is
//! `Ready` and whose body is static, so every allocation counted would be the layer's.

use std::convert::Infallible;
use std::future::{ready, Future};
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

use axum::extract::MatchedPath;
use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tachometer::tower::{MetricsLayer, RequestView, Route};
use tachometer::{Descriptor, Labels, Registry, Value, Visitor};
use tachometer_testkit::{allocations_during, CountingAllocator};
use tower::{service_fn, Layer, Service, ServiceExt};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Runs one request through `svc` to the end of its body, by hand, on this thread.
fn run<S>(svc: S, request: Request<()>, cx: &mut Context<'_>)
where
    S: Service<Request<()>, Error = Infallible>,
    S::Response: IntoBody,
{
    let mut future = pin!(svc.oneshot(request));
    let Poll::Ready(Ok(response)) = future.as_mut().poll(cx) else {
        panic!("a Ready inner future makes the response future ready at once");
    };
    response.drain(cx);
}

trait IntoBody {
    fn drain(self, cx: &mut Context<'_>);
}

impl<B: Body + Unpin> IntoBody for Response<B> {
    fn drain(self, cx: &mut Context<'_>) {
        let mut body = self.into_body();
        while let Poll::Ready(Some(frame)) = std::pin::Pin::new(&mut body).poll_frame(cx) {
            assert!(frame.is_ok());
        }
    }
}

fn trivial(_req: Request<()>) -> std::future::Ready<Result<Response<Full<Bytes>>, Infallible>> {
    ready(Ok(Response::new(Full::new(Bytes::from_static(b"ok")))))
}

/// Requests built before measuring: building a request (URI, extensions) allocates,
/// and that cost is the caller's, not the layer's.
fn requests(n: usize, extension: Option<&MatchedPath>) -> Vec<Request<()>> {
    (0..n)
        .map(|i| {
            let mut r = Request::builder()
                .uri(format!("/users/{i}"))
                .body(())
                .unwrap();
            if let Some(p) = extension {
                r.extensions_mut().insert(p.clone());
            }
            r
        })
        .collect()
}

/// Window moves of the native duration histograms in `registry` so far: the one thing
/// that may allocate while recording (a request slow or fast enough to fall outside
/// the bucket window, e.g. under a loaded CI machine).
fn moves(registry: &Registry) -> u64 {
    struct Moves(u64);
    impl Visitor for Moves {
        fn series(&mut self, _: &Descriptor, _: Labels<'_>, value: Value<'_>) {
            if let Value::NativeHistogram(h) = value {
                self.0 += h.moves;
            }
        }
    }
    let mut m = Moves(0);
    registry.visit(&mut m);
    m.0
}

fn assert_no_allocations<S>(svc: S, requests: Vec<Request<()>>, what: &str, registry: &Registry)
where
    S: Service<Request<()>, Error = Infallible> + Clone,
    S::Response: IntoBody,
{
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut requests = requests.into_iter();
    // Warm-up: the first request creates the series.
    run(svc.clone(), requests.next().unwrap(), &mut cx);
    for request in requests {
        let svc = svc.clone();
        let before = moves(registry);
        let ((), allocs) = allocations_during(|| run(svc, request, &mut cx));
        if moves(registry) == before {
            assert_eq!(allocs, 0, "{what}: the layer allocated per request");
        }
    }
}

#[test]
fn baseline_without_the_layer_allocates_nothing() {
    // Proves the harness: if the bare service allocated, the layer tests would be void.
    assert_no_allocations(
        service_fn(trivial),
        requests(100, None),
        "bare service",
        &Registry::new(),
    );
}

#[test]
fn default_classifier_allocates_nothing_per_request() {
    let registry = Registry::new();
    let layer = MetricsLayer::builder().registry(&registry).build().unwrap();
    assert_no_allocations(
        layer.layer(service_fn(trivial)),
        requests(100, None),
        "unmatched route",
        &registry,
    );
    let s = layer
        .request_duration()
        .with_labels(&["GET", "unmatched", "200"])
        .unwrap();
    assert_eq!(s.snapshot().count, 100);
}

#[test]
fn axum_matched_path_allocates_nothing_per_request() {
    let registry = Registry::new();
    let layer = MetricsLayer::builder().registry(&registry).build().unwrap();
    let path = matched_path("/users/{id}");
    assert_no_allocations(
        layer.layer(service_fn(trivial)),
        requests(100, Some(&path)),
        "MatchedPath route",
        &registry,
    );
    let s = layer
        .request_duration()
        .with_labels(&["GET", "/users/{id}", "200"])
        .unwrap();
    assert_eq!(s.snapshot().count, 100);
    assert_eq!(layer.request_duration().len(), 1);
}

#[test]
fn closure_classifier_allocates_nothing_per_request() {
    let registry = Registry::new();
    let layer = MetricsLayer::builder()
        .registry(&registry)
        .classifier(|_: &RequestView<'_>| Route::from_static("/users/{id}"))
        .build()
        .unwrap();
    assert_no_allocations(
        layer.layer(service_fn(trivial)),
        requests(100, None),
        "closure route",
        &registry,
    );
}

/// A real `MatchedPath` (it cannot be built outside axum), captured from a router.
fn matched_path(template: &'static str) -> MatchedPath {
    static SEEN: OnceLock<MatchedPath> = OnceLock::new();
    let app = axum::Router::new().route(
        template,
        axum::routing::get(|p: MatchedPath| async move {
            let _ = SEEN.set(p);
        }),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let req = Request::builder()
            .uri("/users/1")
            .body(axum::body::Body::empty())
            .unwrap();
        app.oneshot(req).await.unwrap();
    });
    let p = SEEN.get().expect("the handler ran").clone();
    assert_eq!(p.as_str(), template);
    p
}
