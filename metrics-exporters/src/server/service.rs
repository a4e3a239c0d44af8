//! [`MetricsService`]: the request handler, as a tower `Service` and as what the
//! built-in server runs.
//!
//! One handler serves both the stand-alone server and an existing axum/tower stack, so
//! negotiation, compression, auth and headers behave identically wherever it is
//! mounted.
//!
//! Rendering never runs on the I/O threads: the tower `Service` (and the built-in
//! server) hands it to tokio's blocking pool, so a slow registry walk (a callback gauge
//! that takes its time, a huge registry) delays only the scrapes that wait for it, not
//! a 404, a `/metrics.json` of another render, or the rest of an axum app. Renders are
//! bounded (`max_concurrent_renders`, default 2; further scrapes wait their turn
//! without holding a thread) and shared: scrapes that want the same document (format,
//! compression) while one is queued or being rendered get that one's bytes. Callback
//! gauges run under the registry's time budget (see
//! `RegistryBuilder::callback_timeout`), so one stuck callback cannot hold a render.
//! [`MetricsService::respond`] is the synchronous path: it renders on the calling thread.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http::header::{
    HeaderMap, HeaderValue, ACCEPT, ACCEPT_ENCODING, ALLOW, AUTHORIZATION, CACHE_CONTROL,
};
use http::header::{
    CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, VARY,
    WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use tachometer_core::Registry;
use tokio::sync::{watch, Semaphore};

use super::Auth;
use crate::json::JsonOptions;
use crate::negotiate::{
    try_accepts_gzip, try_negotiate, try_negotiate_format, Exposition, NegotiationError,
    MAX_HEADER_BYTES,
};

/// The response type of [`MetricsService`].
pub type MetricsResponse = Response<Full<Bytes>>;

/// Answers `GET /metrics` (Prometheus text 0.0.4, OpenMetrics or the protobuf
/// exposition, as negotiated from `Accept`, gzip when `Accept-Encoding` allows), `GET /metrics.json` (Dropwizard
/// metrics-json shape; `?pretty=true` indents) and, unless turned off with
/// `MetricsServiceBuilder::ui(false)`, the live page `GET /metrics/ui` and its data
/// `GET /metrics/ui.json` (see [`ui`](super::ui)). Other paths get 404, other methods 405
/// (`HEAD` is answered like `GET`, without a body).
///
/// Cheap to clone (an `Arc`). In an axum router, mount it per path:
/// `Router::new().route_service("/metrics", svc.clone()).route_service("/metrics.json", svc)`
/// (axum passes the full path through `route_service`, so the default paths match;
/// mount `/metrics/ui` and `/metrics/ui.json` the same way for the page).
/// A `prometheus` crate registry added with `MetricsServiceBuilder::prometheus_registry`
/// (feature `prometheus-interop`) appears on the text endpoint only; the JSON document covers our registry.
///
/// ```
/// use tachometer::exporters::server::MetricsService;
/// let registry = tachometer::Registry::new();
/// let svc = MetricsService::new(registry);
/// let req = http::Request::get("/metrics")
///     .header("accept", "application/openmetrics-text; version=1.0.0")
///     .body(())
///     .unwrap();
/// let res = svc.respond(&req);
/// assert_eq!(res.status(), 200);
/// assert_eq!(
///     res.headers()["content-type"],
///     "application/openmetrics-text; version=1.0.0; charset=utf-8"
/// );
/// ```
#[derive(Clone, Debug)]
pub struct MetricsService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    auth: Option<Auth>,
    json: JsonOptions,
    metrics_path: Box<str>,
    json_path: Box<str>,
    /// The page's path and its data path (`<page>.json`); `None` when turned off.
    ui: Option<(Box<str>, Box<str>)>,
    #[cfg(feature = "prometheus-interop")]
    interop: Option<::prometheus::Registry>,
    /// Size of the last rendered body, so the next one starts with enough capacity.
    text_hint: AtomicUsize,
    json_hint: AtomicUsize,
    ui_hint: AtomicUsize,
    /// Renders running or queued, by what they produce; see [`MetricsService::serve`].
    flights: Mutex<HashMap<RenderKey, watch::Receiver<Option<Flight>>>>,
    render_slots: Arc<Semaphore>,
}

/// What a scrape asks to be rendered; scrapes with equal keys can share one render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct RenderKey {
    target: Target,
    gzip: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Text(crate::prometheus::Format),
    /// The protobuf exposition (`io.prometheus.client.MetricFamily`, delimited).
    Protobuf,
    Json {
        pretty: bool,
    },
    /// The live page's data (`/metrics/ui.json`).
    UiData,
}

/// A finished render: the body, or `None` if rendering panicked.
type Flight = Option<Bytes>;

/// Default for [`MetricsServiceBuilder::max_concurrent_renders`].
pub const DEFAULT_MAX_CONCURRENT_RENDERS: usize = 2;

/// Configures a [`MetricsService`]; start with [`MetricsService::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct MetricsServiceBuilder {
    registry: Registry,
    auth: Option<Auth>,
    json: JsonOptions,
    metrics_path: String,
    json_path: String,
    ui_path: Option<String>,
    max_concurrent_renders: usize,
    #[cfg(feature = "prometheus-interop")]
    interop: Option<::prometheus::Registry>,
}

impl MetricsServiceBuilder {
    /// At most `n` renders run at once, each on a thread of tokio's blocking pool
    /// (default 2; `0` counts as 1). Scrapes beyond wait without holding a thread, and
    /// scrapes for the same document share one render.
    pub fn max_concurrent_renders(mut self, n: usize) -> Self {
        self.max_concurrent_renders = n.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// Requires these credentials on every request (401 otherwise).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// How `/metrics.json` renders (default: durations in seconds, compact; a request's
    /// `?pretty=true` indents regardless).
    pub fn json_options(mut self, options: JsonOptions) -> Self {
        self.json = options;
        self
    }

    /// The path of the Prometheus/OpenMetrics endpoint (default `/metrics`).
    pub fn metrics_path(mut self, path: impl Into<String>) -> Self {
        self.metrics_path = path.into();
        self
    }

    /// The path of the JSON endpoint (default `/metrics.json`).
    pub fn json_path(mut self, path: impl Into<String>) -> Self {
        self.json_path = path.into();
        self
    }

    /// Whether to serve the live metrics page and its data (default on): the page at
    /// [`ui_path`](Self::ui_path) and its JSON at the same path plus `.json`, both
    /// behind the same auth as `/metrics`. See [`ui`](super::ui).
    pub fn ui(mut self, enabled: bool) -> Self {
        self.ui_path = enabled.then(|| {
            self.ui_path
                .take()
                .unwrap_or_else(|| DEFAULT_UI_PATH.to_owned())
        });
        self
    }

    /// The path of the live metrics page (default `/metrics/ui`; its data is served at
    /// this path plus `.json`). Turns the page on.
    pub fn ui_path(mut self, path: impl Into<String>) -> Self {
        self.ui_path = Some(path.into());
        self
    }

    /// Also serves the families of a `prometheus` crate registry on the text endpoint,
    /// after ours (see [`interop`](crate::interop)).
    #[cfg(feature = "prometheus-interop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus-interop")))]
    pub fn prometheus_registry(mut self, registry: ::prometheus::Registry) -> Self {
        self.interop = Some(registry);
        self
    }

    /// Builds the service.
    #[must_use]
    pub fn build(self) -> MetricsService {
        MetricsService {
            inner: Arc::new(Inner {
                registry: self.registry,
                auth: self.auth,
                json: self.json,
                metrics_path: self.metrics_path.into(),
                json_path: self.json_path.into(),
                ui: self.ui_path.map(|page| {
                    let data = format!("{page}.json").into_boxed_str();
                    (page.into_boxed_str(), data)
                }),
                #[cfg(feature = "prometheus-interop")]
                interop: self.interop,
                text_hint: AtomicUsize::new(4096),
                json_hint: AtomicUsize::new(4096),
                ui_hint: AtomicUsize::new(4096),
                flights: Mutex::default(),
                render_slots: Arc::new(Semaphore::new(self.max_concurrent_renders)),
            }),
        }
    }
}

impl MetricsService {
    /// Serves `registry` with default settings.
    #[must_use]
    pub fn new(registry: Registry) -> Self {
        Self::builder(registry).build()
    }

    /// Serves the process-wide [`global`](tachometer_core::global) registry.
    #[must_use]
    pub fn global() -> Self {
        Self::new(tachometer_core::global().clone())
    }

    /// Configures a service for `registry`.
    pub fn builder(registry: Registry) -> MetricsServiceBuilder {
        MetricsServiceBuilder {
            registry,
            auth: None,
            json: JsonOptions::default(),
            metrics_path: "/metrics".to_owned(),
            json_path: "/metrics.json".to_owned(),
            ui_path: Some(DEFAULT_UI_PATH.to_owned()),
            max_concurrent_renders: DEFAULT_MAX_CONCURRENT_RENDERS,
            #[cfg(feature = "prometheus-interop")]
            interop: None,
        }
    }

    /// Answers one request on the calling thread (rendering included). The body of the
    /// request is never read. The tower `Service` implementation renders off the
    /// calling thread instead; prefer it in async code.
    #[must_use]
    pub fn respond<B>(&self, req: &Request<B>) -> MetricsResponse {
        match self.prepare(req) {
            Ok(key) => self.finish(key, self.render(key)),
            Err(res) => res,
        }
    }

    /// Answers one request, rendering on tokio's blocking pool and sharing the render
    /// with concurrent scrapes of the same document. Must run inside a tokio runtime.
    pub(crate) fn serve<B>(
        &self,
        req: &Request<B>,
    ) -> impl Future<Output = MetricsResponse> + Send + 'static {
        let prepared = self.prepare(req);
        let this = self.clone();
        async move {
            match prepared {
                Ok(key) => match this.shared_render(key).await {
                    Some(body) => this.finish(key, body),
                    None => plain(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "rendering the metrics failed; see the server's log\n",
                    ),
                },
                Err(res) => res,
            }
        }
    }

    /// Waits for a render of `key`: joins one queued or running, or starts one.
    async fn shared_render(&self, key: RenderKey) -> Option<Bytes> {
        let mut done = {
            let mut flights = self
                .inner
                .flights
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(running) = flights.get(&key) {
                running.clone()
            } else {
                let (tx, rx) = watch::channel(None);
                flights.insert(key, rx.clone());
                // The flight runs on its own task, so it completes (and leaves the
                // table) even if the scrape that started it goes away.
                let this = self.clone();
                tokio::spawn(async move {
                    let slot = Arc::clone(&this.inner.render_slots).acquire_owned().await;
                    let worker = this.clone();
                    let body = tokio::task::spawn_blocking(move || worker.render(key))
                        .await
                        .ok();
                    drop(slot);
                    this.inner
                        .flights
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&key);
                    let _ = tx.send(Some(body));
                });
                rx
            }
        };
        let finished = done.wait_for(Option::is_some).await.ok()?.clone();
        finished.flatten()
    }

    /// Everything but the render: routing, auth, method, negotiation. `Err` is the
    /// final answer (404, 401, 405, 431); `Ok` says what to render.
    #[allow(clippy::result_large_err)] // private; the response is moved once per request
    fn prepare<B>(&self, req: &Request<B>) -> Result<RenderKey, MetricsResponse> {
        let inner = &*self.inner;
        let path = req.uri().path();
        let endpoint = if path == &*inner.metrics_path {
            Endpoint::Text
        } else if path == &*inner.json_path {
            Endpoint::Json
        } else {
            match &inner.ui {
                Some((page, _)) if path == &**page => Endpoint::Page,
                Some((_, data)) if path == &**data => Endpoint::UiData,
                _ => return Err(plain(StatusCode::NOT_FOUND, "not found\n")),
            }
        };
        if let Some(auth) = &inner.auth {
            let header = req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes);
            if !auth.check(header) {
                let mut res = plain(StatusCode::UNAUTHORIZED, "unauthorized\n");
                res.headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static(auth.challenge()));
                return Err(res);
            }
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut res = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed; use GET\n",
            );
            res.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Err(res);
        }
        let negotiated = joined(req.headers(), ACCEPT_ENCODING, "Accept-Encoding")
            .and_then(|h| try_accepts_gzip(h.as_deref()))
            .and_then(|gzip| {
                let target = match endpoint {
                    Endpoint::Page => return Ok(Err(page_response(gzip))),
                    Endpoint::UiData => Target::UiData,
                    Endpoint::Json => Target::Json {
                        pretty: query_flag(req.uri().query(), "pretty") || inner.json.pretty,
                    },
                    Endpoint::Text => {
                        let accept = joined(req.headers(), ACCEPT, "Accept")?;
                        if self.offers_protobuf() {
                            match try_negotiate(accept.as_deref())? {
                                Exposition::Text(format) => Target::Text(format),
                                Exposition::Protobuf => Target::Protobuf,
                            }
                        } else {
                            Target::Text(try_negotiate_format(accept.as_deref())?)
                        }
                    }
                };
                Ok(Ok(RenderKey { target, gzip }))
            });
        negotiated.unwrap_or_else(|e| Err(header_too_large(&e)))
    }

    /// The body for `key`, compressed if asked.
    fn render(&self, key: RenderKey) -> Bytes {
        let body = match key.target {
            Target::Text(format) => self.render_text(format).into_bytes(),
            Target::Protobuf => self.render_protobuf(),
            Target::Json { pretty } => self.render_json(pretty).into_bytes(),
            Target::UiData => self.render_ui_data().into_bytes(),
        };
        if key.gzip {
            gzip_bytes(&body)
        } else {
            Bytes::from(body)
        }
    }

    /// Protobuf is not offered when a `prometheus` crate registry is appended (its
    /// families exist only as text).
    fn offers_protobuf(&self) -> bool {
        #[cfg(feature = "prometheus-interop")]
        if self.inner.interop.is_some() {
            return false;
        }
        true
    }

    fn render_protobuf(&self) -> Vec<u8> {
        let inner = &*self.inner;
        let mut out = Vec::with_capacity(inner.text_hint.load(Ordering::Relaxed));
        crate::prometheus::protobuf::encode(&inner.registry, &mut out);
        out
    }

    /// The response around a rendered body.
    fn finish(&self, key: RenderKey, body: Bytes) -> MetricsResponse {
        let (content_type, json) = match key.target {
            Target::Text(format) => (format.content_type(), false),
            Target::Protobuf => (crate::prometheus::protobuf::CONTENT_TYPE, false),
            Target::Json { .. } | Target::UiData => ("application/json", true),
        };
        let mut res = Response::new(Full::new(body));
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        // The text body depends on Accept as well as Accept-Encoding; caches must know.
        let vary = if json {
            "Accept-Encoding"
        } else {
            "Accept, Accept-Encoding"
        };
        headers.insert(VARY, HeaderValue::from_static(vary));
        if json {
            headers.insert(
                CACHE_CONTROL,
                HeaderValue::from_static("must-revalidate,no-cache,no-store"),
            );
        }
        if key.target == Target::UiData {
            headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        }
        if key.gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        res
    }

    /// Renders the text endpoint's body: our registry, then any `prometheus` registry.
    fn render_text(&self, format: crate::prometheus::Format) -> String {
        let inner = &*self.inner;
        let mut out = String::with_capacity(inner.text_hint.load(Ordering::Relaxed));
        #[cfg(feature = "prometheus-interop")]
        if let Some(theirs) = &inner.interop {
            crate::interop::encode_with(&inner.registry, theirs, format, &mut out);
            inner
                .text_hint
                .store(out.len() + out.len() / 8, Ordering::Relaxed);
            return out;
        }
        crate::prometheus::encode(&inner.registry, format, &mut out);
        inner
            .text_hint
            .store(out.len() + out.len() / 8, Ordering::Relaxed);
        out
    }

    /// The live page's data: compact JSON (never cached; see [`finish`](Self::finish)).
    fn render_ui_data(&self) -> String {
        let inner = &*self.inner;
        let mut body = String::with_capacity(inner.ui_hint.load(Ordering::Relaxed));
        super::ui::encode(&inner.registry, super::ui::DEFAULT_UI_MAX_SERIES, &mut body);
        inner
            .ui_hint
            .store(body.len() + body.len() / 8, Ordering::Relaxed);
        body
    }

    fn render_json(&self, pretty: bool) -> String {
        let inner = &*self.inner;
        let mut out = String::with_capacity(inner.json_hint.load(Ordering::Relaxed));
        let options = inner.json.clone().pretty(pretty);
        crate::json::encode(&inner.registry, &options, &mut out);
        inner
            .json_hint
            .store(out.len() + out.len() / 8, Ordering::Relaxed);
        out
    }
}

/// The tower `Service` renders on tokio's blocking pool (see the module docs), so it
/// must be called inside a tokio runtime, as axum and hyper do.
impl<B> tower_service::Service<Request<B>> for MetricsService {
    type Response = MetricsResponse;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        ResponseFuture {
            inner: Box::pin(self.serve(&req)),
        }
    }
}

/// The future of [`MetricsService`]'s tower `Service::call`: a response that may wait
/// for a render on tokio's blocking pool.
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = MetricsResponse> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Result<MetricsResponse, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx).map(Ok)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// Which endpoint a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Text,
    Json,
    Page,
    UiData,
}

/// The default path of the live metrics page.
pub const DEFAULT_UI_PATH: &str = "/metrics/ui";

/// The live page: static, so its gzip is computed once per process.
fn page_response(gzip: bool) -> MetricsResponse {
    static PAGE_GZ: OnceLock<Bytes> = OnceLock::new();
    let mut res = Response::new(Full::new(Bytes::new()));
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(csp) = HeaderValue::from_str(super::ui::content_security_policy()) {
        headers.insert(CONTENT_SECURITY_POLICY, csp);
    }
    let body = if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        PAGE_GZ
            .get_or_init(|| gzip_at(super::ui::PAGE.as_bytes(), Compression::best()))
            .clone()
    } else {
        Bytes::from_static(super::ui::PAGE.as_bytes())
    };
    *res.body_mut() = Full::new(body);
    res
}

fn plain(status: StatusCode, body: &'static str) -> MetricsResponse {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// `431 Request Header Fields Too Large`, saying which bound was passed.
fn header_too_large(e: &NegotiationError) -> MetricsResponse {
    let mut res = Response::new(Full::new(Bytes::from(format!("{e}\n"))));
    *res.status_mut() = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// All values of a list-valued header joined with `,` (RFC 9110 §5.3 makes that
/// equivalent); `None` when absent. Values that are not visible ASCII are ignored,
/// as no media type or coding we understand contains anything else. Values longer
/// than [`MAX_HEADER_BYTES`] together are refused before anything is copied.
fn joined<'h>(
    headers: &'h HeaderMap,
    name: http::header::HeaderName,
    display: &'static str,
) -> Result<Option<std::borrow::Cow<'h, str>>, NegotiationError> {
    let all = headers.get_all(name);
    let len = all
        .iter()
        .map(|v| v.len() + 1)
        .sum::<usize>()
        .saturating_sub(1);
    if len > MAX_HEADER_BYTES {
        return Err(NegotiationError::TooLong {
            header: display,
            len,
        });
    }
    let mut values = all.iter().filter_map(|v| v.to_str().ok());
    let Some(first) = values.next() else {
        return Ok(None);
    };
    Ok(Some(match values.next() {
        None => first.into(),
        Some(second) => {
            let mut all = format!("{first},{second}");
            for v in values {
                all.push(',');
                all.push_str(v);
            }
            all.into()
        }
    }))
}

/// Whether the query string sets `key=true` (or `key=1`, or a bare `key`).
fn query_flag(query: Option<&str>, key: &str) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| match pair.split_once('=') {
            Some((k, v)) => k == key && (v.eq_ignore_ascii_case("true") || v == "1"),
            None => pair == key,
        })
    })
}

/// Gzips `data` at the fastest level: scrapes repeat every few seconds, text
/// exposition compresses ~10x even at level 1, and higher levels mostly burn CPU.
fn gzip_bytes(data: &[u8]) -> Bytes {
    gzip_at(data, Compression::fast())
}

fn gzip_at(data: &[u8], level: Compression) -> Bytes {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 6 + 64), level);
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    Bytes::from(enc.finish().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_flags() {
        assert!(query_flag(Some("pretty=true"), "pretty"));
        assert!(query_flag(Some("a=b&pretty=TRUE"), "pretty"));
        assert!(query_flag(Some("pretty"), "pretty"));
        assert!(query_flag(Some("pretty=1"), "pretty"));
        assert!(!query_flag(Some("pretty=false"), "pretty"));
        assert!(!query_flag(Some("prettyx=true"), "pretty"));
        assert!(!query_flag(None, "pretty"));
    }

    #[test]
    fn multiple_header_values_are_joined() {
        let j = |h: &HeaderMap| joined(h, ACCEPT, "Accept").unwrap().map(|c| c.into_owned());
        let mut h = HeaderMap::new();
        assert!(j(&h).is_none());
        h.append(ACCEPT, HeaderValue::from_static("text/plain;q=0.1"));
        assert_eq!(j(&h).as_deref(), Some("text/plain;q=0.1"));
        h.append(
            ACCEPT,
            HeaderValue::from_static("application/openmetrics-text;version=1.0.0"),
        );
        assert_eq!(
            j(&h).as_deref(),
            Some("text/plain;q=0.1,application/openmetrics-text;version=1.0.0")
        );
        // Many values that are short one by one are refused together, uncopied.
        let value = HeaderValue::from_str(&"*/*,".repeat(256)).unwrap();
        for _ in 0..4 {
            h.append(ACCEPT, value.clone());
        }
        assert!(matches!(
            joined(&h, ACCEPT, "Accept"),
            Err(NegotiationError::TooLong {
                header: "Accept",
                ..
            })
        ));
    }
}
