//! The layer, its builder, and the service it wraps around an HTTP service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::body::MetricsBody;
use super::classify::{Classifier, DefaultClassifier, RequestView};
use super::future::ResponseFuture;
use super::record::{is_grpc, Recording};
use super::{ACTIVE_REQUESTS, GRPC_DURATION, REQUEST_DURATION};
use tachometer_core::Error;
use tachometer_core::Family;
use tachometer_core::Gauge;
use tachometer_core::{global, Registry};
use tachometer_core::{Buckets, NativeConfig, NativeHistogram};
use tachometer_core::{Opts, Unit};

/// What every clone of a layer and its services shares.
pub(crate) struct Shared<C> {
    pub(crate) classifier: C,
    pub(crate) duration: Family<NativeHistogram>,
    pub(crate) active: Family<Gauge>,
    pub(crate) grpc_duration: Family<NativeHistogram>,
}

/// OpenTelemetry's recommended bucket bounds for `http.server.request.duration`, in
/// seconds, plus 2: `.005 .01 .025 .05 .075 .1 .25 .5 .75 1 2 2.5 5 7.5 10`.
///
/// Why 2: an Apdex score with target T counts requests within T as satisfied and within
/// 4T as tolerating, and classic buckets can only count "within x" when x is a bound.
/// The usual T = 0.5 s (the default of `tachometer::rules`) needs 0.5 and 2.0;
/// OpenTelemetry's list has 0.5 and 2.5. One more bucket costs one counter per series.
#[must_use]
pub fn default_buckets() -> Buckets {
    Buckets::new(&[
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 2.5, 5.0, 7.5, 10.0,
    ])
    .unwrap_or_else(|_| Buckets::default_latency())
}

/// A tower [`Layer`] that times every HTTP request until its response body ends.
///
/// Cheap to clone (clones share the metric families). See the [module docs](super)
/// for the metrics it records.
///
/// ```
/// use tachometer::tower::MetricsLayer;
/// use tachometer::Registry;
/// let registry = Registry::new();
/// let layer = MetricsLayer::builder().registry(&registry).build().unwrap();
/// // axum: Router::new().route(..).layer(layer)
/// // tower: ServiceBuilder::new().layer(layer).service(svc)
/// # let _ = layer;
/// ```
pub struct MetricsLayer<C = DefaultClassifier> {
    shared: Arc<Shared<C>>,
}

impl MetricsLayer {
    /// A layer recording into the [`global()`] registry with the default buckets and
    /// classifier. Fails only if those metric names are already registered with
    /// another definition.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// Configures a layer.
    pub fn builder() -> MetricsLayerBuilder {
        MetricsLayerBuilder {
            registry: None,
            buckets: None,
            native: NativeConfig::new(),
            classifier: DefaultClassifier,
        }
    }
}

impl<C> MetricsLayer<C> {
    /// The `http_server_request_duration_seconds` family.
    #[must_use]
    pub fn request_duration(&self) -> &Family<NativeHistogram> {
        &self.shared.duration
    }

    /// The `http_server_active_requests` family.
    #[must_use]
    pub fn active_requests(&self) -> &Family<Gauge> {
        &self.shared.active
    }

    /// The `rpc_server_duration_seconds` family (gRPC calls only).
    #[must_use]
    pub fn grpc_duration(&self) -> &Family<NativeHistogram> {
        &self.shared.grpc_duration
    }
}

impl<C> Clone for MetricsLayer<C> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<C> fmt::Debug for MetricsLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsLayer")
            .field("request_duration", &self.shared.duration)
            .finish_non_exhaustive()
    }
}

impl<S, C> Layer<S> for MetricsLayer<C> {
    type Service = HttpMetrics<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// Configures a [`MetricsLayer`]: registry, buckets and classifier.
#[must_use]
pub struct MetricsLayerBuilder<C = DefaultClassifier> {
    registry: Option<Registry>,
    buckets: Option<Buckets>,
    native: NativeConfig,
    classifier: C,
}

impl<C> MetricsLayerBuilder<C> {
    /// The registry to record into (default: [`global()`]).
    pub fn registry(mut self, registry: &Registry) -> Self {
        self.registry = Some(registry.clone());
        self
    }

    /// Classic duration bucket bounds in seconds (default: [`default_buckets`]), what
    /// scrapers of the text formats see.
    pub fn buckets(mut self, buckets: Buckets) -> Self {
        self.buckets = Some(buckets);
        self
    }

    /// The native part of the duration histograms (default [`NativeConfig::new`]:
    /// schema 3, buckets 9 % wide, at most 160 of them); its classic buckets are
    /// replaced by [`buckets`](Self::buckets).
    pub fn native(mut self, config: NativeConfig) -> Self {
        self.native = config;
        self
    }

    /// Replaces the default label extraction (see [`Classifier`]).
    pub fn classifier<C2: Classifier>(self, classifier: C2) -> MetricsLayerBuilder<C2> {
        MetricsLayerBuilder {
            registry: self.registry,
            buckets: self.buckets,
            native: self.native,
            classifier,
        }
    }

    /// Registers the families and builds the layer. Fails with [`Error::Conflict`] if
    /// one of the metric names is already registered with another definition (other
    /// buckets, say) in that registry.
    pub fn build(self) -> Result<MetricsLayer<C>, Error>
    where
        C: Classifier,
    {
        let registry = self.registry.unwrap_or_else(|| global().clone());
        let buckets = self.buckets.unwrap_or_else(default_buckets);
        // Classic + native: text scrapers get the classic buckets, Prometheus with native
        // histograms enabled gets precise, aggregatable exponential buckets (protobuf).
        let config = self.native.classic(buckets);
        let duration = registry.native_histogram_family(
            Opts::new(
                REQUEST_DURATION,
                "Duration of HTTP server requests, from the request to the end of the response body.",
            )
            .unit(Unit::Seconds)
            .labels(&["http_request_method", "http_route", "http_response_status_code"]),
            config.clone(),
        )?;
        let active = registry.gauge_family(
            Opts::new(ACTIVE_REQUESTS, "Number of HTTP server requests in flight.")
                .labels(&["http_request_method"]),
        )?;
        let grpc_duration = registry.native_histogram_family(
            Opts::new(
                GRPC_DURATION,
                "Duration of gRPC server calls, from the request to the response trailers.",
            )
            .unit(Unit::Seconds)
            .labels(&["rpc_method", "rpc_grpc_status_code"]),
            config,
        )?;
        Ok(MetricsLayer {
            shared: Arc::new(Shared {
                classifier: self.classifier,
                duration,
                active,
                grpc_duration,
            }),
        })
    }
}

impl<C> fmt::Debug for MetricsLayerBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsLayerBuilder")
            .field("registry", &self.registry)
            .field("buckets", &self.buckets)
            .finish_non_exhaustive()
    }
}

/// The service [`MetricsLayer`] wraps around an HTTP service: it starts a recording
/// per request and hands it to the response body, which records when it ends.
pub struct HttpMetrics<S, C = DefaultClassifier> {
    inner: S,
    shared: Arc<Shared<C>>,
}

impl<S: Clone, C> Clone for HttpMetrics<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for HttpMetrics<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMetrics")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, C, B, ResBody> Service<Request<B>> for HttpMetrics<S, C>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    C: Classifier,
{
    type Response = Response<MetricsBody<ResBody, C>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let view = RequestView::new(&request);
        let classifier = &self.shared.classifier;
        let method = classifier.method(&view);
        let route = classifier.route(&view);
        let grpc = is_grpc(request.headers());
        let recording = Recording::start(self.shared.clone(), method, route, grpc);
        ResponseFuture::new(self.inner.call(request), recording)
    }
}
