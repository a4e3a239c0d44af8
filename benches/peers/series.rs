//! 10,000 labeled counter series in each library, and each library's text rendering of
//! them. The same structure serves the render benchmark (time) and the allocation report
//! (resident bytes per series), so both describe the same registry.
//!
//! One family `requests_total` with labels `route` = `/items/{i}` and `status` = `200`,
//! series `i` incremented to `i + 1`.

use measured::text::BufferedTextEncoder;
use measured::{CounterVec, LabelGroup, MetricGroup};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use prometheus_client::encoding::EncodeLabelSet;
use tachometer::exporters::prometheus::{Encoder, Format};

/// Series per library.
pub const SERIES: usize = 10_000;

fn route(i: usize) -> String {
    format!("/items/{i}")
}

/// A library holding [`SERIES`] labeled series that it can render as Prometheus text.
pub trait SeriesSet {
    /// Library name as it appears in the report.
    const NAME: &'static str;
    /// Registers and increments the series.
    fn build() -> Self;
    /// Renders the exposition; returns its length (so the work cannot be elided).
    fn render(&mut self) -> usize;
}

/// Tachometer: a counter family rendered by a reused [`Encoder`].
pub struct Tach {
    registry: tachometer::Registry,
    encoder: Encoder,
}

impl SeriesSet for Tach {
    const NAME: &'static str = "tachometer";
    fn build() -> Self {
        let registry = tachometer::Registry::new();
        let family = registry
            .counter_family(
                tachometer::Opts::new("requests_total", "Requests served.")
                    .labels(&["route", "status"])
                    .max_series(SERIES * 2),
            )
            .expect("valid family");
        for i in 0..SERIES {
            family
                .with_labels(&[route(i).as_str(), "200"])
                .expect("under max_series")
                .increment(i as u64 + 1);
        }
        Self {
            registry,
            encoder: Encoder::new(),
        }
    }
    fn render(&mut self) -> usize {
        self.encoder.encode(&self.registry, Format::Text004).len()
    }
}

/// Tachometer's protobuf exposition of the same registry, by a reused
/// [`ProtobufEncoder`](tachometer::exporters::prometheus::protobuf::ProtobufEncoder).
pub struct TachProto {
    inner: Tach,
    encoder: tachometer::exporters::prometheus::protobuf::ProtobufEncoder,
}

impl SeriesSet for TachProto {
    const NAME: &'static str = "tachometer";
    fn build() -> Self {
        Self {
            inner: Tach::build(),
            encoder: tachometer::exporters::prometheus::protobuf::ProtobufEncoder::new(),
        }
    }
    fn render(&mut self) -> usize {
        self.encoder.encode(&self.inner.registry).len()
    }
}

/// prometheus-client 0.26's protobuf exposition (feature `prometheus_protobuf`):
/// `encode_to_vec`, the length-delimited `io.prometheus.client.MetricFamily` stream.
pub struct ClientProto {
    inner: Client,
}

impl SeriesSet for ClientProto {
    const NAME: &'static str = "prometheus-client";
    fn build() -> Self {
        Self {
            inner: Client::build(),
        }
    }
    fn render(&mut self) -> usize {
        prometheus_client::encoding::prometheus_protobuf::encode_to_vec(&self.inner.registry)
            .expect("encodes")
            .len()
    }
}

/// prometheus 0.14: `IntCounterVec`, `gather()` + `TextEncoder` into a reused `String`.
pub struct Prom {
    registry: prometheus::Registry,
    out: String,
}

impl SeriesSet for Prom {
    const NAME: &'static str = "prometheus";
    fn build() -> Self {
        let registry = prometheus::Registry::new();
        let vec = prometheus::IntCounterVec::new(
            prometheus::Opts::new("requests_total", "Requests served."),
            &["route", "status"],
        )
        .expect("valid vec");
        registry
            .register(Box::new(vec.clone()))
            .expect("registered once");
        for i in 0..SERIES {
            vec.with_label_values(&[route(i).as_str(), "200"])
                .inc_by(i as u64 + 1);
        }
        Self {
            registry,
            out: String::new(),
        }
    }
    fn render(&mut self) -> usize {
        use prometheus::Encoder as _;
        self.out.clear();
        let mut buf = std::mem::take(&mut self.out).into_bytes();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("encodes");
        self.out = String::from_utf8(buf).expect("utf-8");
        self.out.len()
    }
}

/// Both values owned, as runtime label values are (a `&'static str` status would
/// flatter prometheus-client's memory figure with an input no other library gets).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientLabels {
    route: String,
    status: String,
}

/// prometheus-client 0.26: `Family<_, Counter>` and `encoding::text::encode`.
pub struct Client {
    registry: prometheus_client::registry::Registry,
    out: String,
}

impl SeriesSet for Client {
    const NAME: &'static str = "prometheus-client";
    fn build() -> Self {
        use prometheus_client::metrics::{counter::Counter, family::Family};
        let mut registry = prometheus_client::registry::Registry::default();
        let family = Family::<ClientLabels, Counter>::default();
        registry.register("requests", "Requests served.", family.clone());
        for i in 0..SERIES {
            family
                .get_or_create(&ClientLabels {
                    route: route(i),
                    status: "200".to_owned(),
                })
                .inc_by(i as u64 + 1);
        }
        Self {
            registry,
            out: String::new(),
        }
    }
    fn render(&mut self) -> usize {
        self.out.clear();
        prometheus_client::encoding::text::encode(&mut self.out, &self.registry).expect("encodes");
        self.out.len()
    }
}

/// metrics 0.24 + metrics-exporter-prometheus 0.18: a recorder of its own (not the
/// process-global one, so this set is exactly 10,000 series) and `PrometheusHandle::render`.
pub struct Metrics {
    _recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl SeriesSet for Metrics {
    const NAME: &'static str = "metrics";
    fn build() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!("requests_total", "Requests served.");
            for i in 0..SERIES {
                metrics::counter!("requests_total", "route" => route(i), "status" => "200")
                    .increment(i as u64 + 1);
            }
        });
        let handle = recorder.handle();
        Self {
            _recorder: recorder,
            handle,
        }
    }
    fn render(&mut self) -> usize {
        self.handle.render().len()
    }
}

#[derive(Clone, Copy, LabelGroup)]
#[label(set = MeasuredRouteSet)]
struct MeasuredRoute<'a> {
    #[label(dynamic_with = paracord::ParaCord)]
    route: &'a str,
    #[label(dynamic_with = paracord::ParaCord)]
    status: &'a str,
}

#[derive(MetricGroup)]
struct MeasuredGroup {
    /// Requests served.
    requests_total: CounterVec<MeasuredRouteSet>,
}

/// measured 0.0.25: `CounterVec` over `ParaCord`-interned labels, `BufferedTextEncoder`.
pub struct Measured {
    group: MeasuredGroup,
    encoder: BufferedTextEncoder,
}

impl SeriesSet for Measured {
    const NAME: &'static str = "measured";
    fn build() -> Self {
        let group = MeasuredGroup {
            requests_total: CounterVec::with_label_set(MeasuredRouteSet {
                route: paracord::ParaCord::default(),
                status: paracord::ParaCord::default(),
            }),
        };
        for i in 0..SERIES {
            let r = route(i);
            group.requests_total.inc_by(
                MeasuredRoute {
                    route: &r,
                    status: "200",
                },
                i as u64 + 1,
            );
        }
        Self {
            group,
            encoder: BufferedTextEncoder::new(),
        }
    }
    fn render(&mut self) -> usize {
        self.group
            .collect_group_into(&mut self.encoder)
            .expect("encodes");
        self.encoder.finish().len()
    }
}
