//! Tower middleware that times every HTTP request. Use it as `tachometer::tower` (the
//! facade's `tower` feature, on by default; `axum` adds route templates).
//!
//! [`MetricsLayer`] wraps any `tower::Service<http::Request<B>>` that answers with an
//! `http::Response<_>` — an axum router, a hyper service, a tonic server — and records:
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `http_server_request_duration_seconds` | histogram, classic + native | `http_request_method`, `http_route`, `http_response_status_code` |
//! | `http_server_active_requests` | gauge | `http_request_method` |
//! | `rpc_server_duration_seconds` | histogram, classic + native (gRPC only) | `rpc_method`, `rpc_grpc_status_code` |
//!
//! The durations are [`NativeHistogram`](tachometer_core::NativeHistogram)s with
//! classic buckets ([`default_buckets`], or [`MetricsLayerBuilder::buckets`]): a
//! Prometheus scraping with native histograms enabled gets exponential buckets 9 % wide
//! (`histogram_quantile` precise to that, and aggregatable over replicas), text scrapers
//! get the classic buckets.
//!
//! # Why these names
//!
//! They are the OpenTelemetry semantic conventions (`http.server.request.duration`,
//! `http.server.active_requests`, `rpc.server.duration`) mapped to Prometheus the way
//! the OpenTelemetry Prometheus exporter maps them (dots to underscores, unit suffix in
//! base units), so dashboards written for OpenTelemetry-instrumented services in other
//! languages work unchanged. The in-flight gauge is labeled by method only, as the
//! convention says: the route is often unknown when a request starts (outside axum), and
//! a per-route gauge would multiply series for a number that is read in aggregate.
//! gRPC calls get their own family because their outcome is the `grpc-status` trailer,
//! not the HTTP status (always 200); they are counted in the HTTP family too.
//!
//! # What is timed
//!
//! From the call into the service until the response **body** ends — its last frame,
//! its trailers, an error, or its drop — so a streamed response is timed for as long as
//! it streams, not just until its headers. The measurement travels with the response
//! and is recorded exactly once, by whichever stage drops it.
//!
//! # With axum
//!
//! Add the layer with `Router::layer`, after the routes it should time. axum runs such
//! layers after routing, so the matched template is in the request's extensions, and
//! it wraps the fallback too, so 404s are counted (as `unmatched`). `route_layer`
//! would skip the 404s; layering the whole router from outside (`ServiceBuilder`
//! around the `Router`) runs before routing, so every request would be `unmatched`.
//! The `axum` feature reads axum 0.8's `MatchedPath`; another axum major version has
//! another type, which this crate cannot see.
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{routing::get, Router};
//! use tachometer::tower::MetricsLayer;
//!
//! let layer = MetricsLayer::builder().registry(&tachometer::Registry::new()).build().unwrap();
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "a user" }))
//!     .layer(layer) // times /users/{id} and the 404 fallback
//!     .route("/health", get(|| async { "ok" })); // added after: not timed
//! # let _ = app;
//! # }
//! ```
//!
//! # Label values and cardinality
//!
//! * Route: the route *template* — axum's `MatchedPath` (feature `axum`, with the layer
//!   added by `Router::layer` so that routing has run), e.g. `/users/{id}`; never the
//!   raw path. Requests that matched nothing share [`UNMATCHED_ROUTE`]. Other stacks
//!   pass a [`Classifier`] (a closure will do).
//! * Method: the nine standard methods by name; anything else is [`OTHER_METHOD`].
//! * Status: the three-digit code; [`ERROR_STATUS`] when the service returned an error
//!   or the body failed mid-stream; [`CANCELLED_STATUS`] when the request was dropped
//!   before the service answered.
//! * gRPC (request or response `content-type: application/grpc…`): `grpc-status` from
//!   the response headers or trailers, `"0"`–`"16"`; [`GRPC_STATUS_MISSING`] if none came.
//!
//! # Cost
//!
//! No allocation per request once a label set has been seen: method and status labels
//! are `&'static str` from tables, the route is borrowed or reference-counted, and the
//! families are resolved with the registry's allocation-free lookup.
//!
//! ```
//! use std::convert::Infallible;
//! use http_body_util::{BodyExt, Full};
//! use tachometer::tower::{MetricsLayer, RequestView, Route};
//! use tachometer::Registry;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! let registry = Registry::new();
//! let layer = MetricsLayer::builder()
//!     .registry(&registry)
//!     // Outside axum, say what the route is (here: one route for everything).
//!     .classifier(|_: &RequestView<'_>| Route::from_static("/hello"))
//!     .build()?;
//! let service = ServiceBuilder::new().layer(layer.clone()).service(service_fn(|_req: http::Request<()>| async {
//!     Ok::<_, Infallible>(http::Response::new(Full::new(bytes::Bytes::from("hello"))))
//! }));
//! let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! runtime.block_on(async {
//!     let response = service.oneshot(http::Request::new(())).await.unwrap();
//!     response.into_body().collect().await.unwrap(); // the request is recorded when its body ends
//! });
//! let series = layer.request_duration().with_labels(&["GET", "/hello", "200"])?;
//! assert_eq!(series.snapshot().count, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod classify;
mod future;
mod labels;
mod layer;
mod record;

pub use body::MetricsBody;
pub use classify::{Classifier, DefaultClassifier, RequestView};
pub use future::ResponseFuture;
pub use labels::{
    grpc_status_label, method_label, status_label, Route, CANCELLED_STATUS, ERROR_STATUS,
    GRPC_STATUS_MISSING, GRPC_STATUS_OTHER, OTHER_METHOD, UNMATCHED_ROUTE,
};
pub use layer::{default_buckets, HttpMetrics, MetricsLayer, MetricsLayerBuilder};

/// Name of the request-duration histogram family.
pub const REQUEST_DURATION: &str = "http_server_request_duration_seconds";
/// Name of the in-flight requests gauge family.
pub const ACTIVE_REQUESTS: &str = "http_server_active_requests";
/// Name of the gRPC call-duration histogram family.
pub const GRPC_DURATION: &str = "rpc_server_duration_seconds";
