//! Turning a request and its response into label values.
//!
//! The defaults follow the OpenTelemetry HTTP conventions and axum's routing; a
//! [`Classifier`] replaces them for stacks where the route lives elsewhere (a plain
//! hyper service, a hand-written router, tonic). Classifiers see a [`RequestView`]
//! rather than the request itself so that one non-generic signature serves every body
//! type, which is also what lets a plain closure be a classifier.

use http::{Extensions, HeaderMap, Method, Request, StatusCode, Uri};

use super::labels::{method_label, status_label, Route};

/// Borrowed parts of a request, as a [`Classifier`] sees them.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    extensions: &'a Extensions,
}

impl<'a> RequestView<'a> {
    /// A view of `request`.
    #[must_use]
    pub fn new<B>(request: &'a Request<B>) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: request.extensions(),
        }
    }

    /// The method.
    #[must_use]
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The URI. Its path is attacker-controlled: map it to a bounded set of templates
    /// before using it as a route.
    #[must_use]
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The headers.
    #[must_use]
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The extensions (where routers such as axum leave the matched route).
    #[must_use]
    pub fn extensions(&self) -> &'a Extensions {
        self.extensions
    }
}

/// Chooses the label values of a request. Every value must come from a small, fixed
/// set: each distinct combination is a time series kept for the life of the process.
///
/// Only [`Classifier::route`] is required; a closure
/// `Fn(&RequestView<'_>) -> Route` is a classifier that replaces the route alone.
///
/// ```
/// use tachometer::tower::{Classifier, MetricsLayer, RequestView, Route};
/// // A plain tower stack that knows its own routes.
/// let classify = |req: &RequestView<'_>| match req.uri().path() {
///     "/health" => Route::from_static("/health"),
///     p if p.starts_with("/users/") => Route::from_static("/users/{id}"),
///     _ => Route::UNMATCHED,
/// };
/// let layer = MetricsLayer::builder()
///     .registry(&tachometer::Registry::new())
///     .classifier(classify)
///     .build()
///     .unwrap();
/// # let _ = layer;
/// ```
pub trait Classifier: Send + Sync + 'static {
    /// The `http_request_method` value (default: [`method_label`]).
    fn method(&self, request: &RequestView<'_>) -> &'static str {
        method_label(request.method())
    }

    /// The `http_route` value: a template, never the raw path.
    fn route(&self, request: &RequestView<'_>) -> Route;

    /// The `http_response_status_code` value (default: [`status_label`]).
    fn status(&self, status: StatusCode) -> &'static str {
        status_label(status)
    }
}

impl<F> Classifier for F
where
    F: Fn(&RequestView<'_>) -> Route + Send + Sync + 'static,
{
    fn route(&self, request: &RequestView<'_>) -> Route {
        self(request)
    }
}

/// The default classifier: OpenTelemetry method and status values, and the route axum
/// matched (its `MatchedPath` extension, with feature `axum`), else
/// [`Route::UNMATCHED`].
///
/// Without feature `axum`, or outside an axum router, every request is `unmatched`:
/// give such stacks a [`Classifier`] of their own.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultClassifier;

impl Classifier for DefaultClassifier {
    #[cfg_attr(not(feature = "axum"), allow(unused_variables))]
    fn route(&self, request: &RequestView<'_>) -> Route {
        #[cfg(feature = "axum")]
        if let Some(path) = request.extensions().get::<axum::extract::MatchedPath>() {
            return Route::from_matched_path(path);
        }
        Route::UNMATCHED
    }
}
