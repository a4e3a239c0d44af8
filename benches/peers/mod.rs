//! Inputs and peer-library setup shared by the bench targets (`core`, `render_peers`,
//! `alloc_report`), so every library is fed the same label values, bucket bounds and
//! latencies, and the allocation report measures exactly what the timing benches time.
//!
//! Included with `#[path = "peers/mod.rs"] mod peers;`; not every target uses every item.

#![allow(dead_code)]

pub mod ops;
pub mod series;

use std::sync::OnceLock;

use measured::LabelGroup;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use prometheus_client::encoding::EncodeLabelSet;

/// 1,024 values spread log-uniformly from 1 ms to 16 s, identical for every library.
pub fn latency_inputs() -> Vec<f64> {
    (0..1024)
        .map(|i| 0.001 * (16_000f64).powf(f64::from(i) / 1023.0))
        .collect()
}

/// [`latency_inputs`] in nanoseconds, for HDR histograms and timers.
pub fn latency_nanos() -> Vec<u64> {
    latency_inputs().iter().map(|s| (s * 1e9) as u64).collect()
}

/// The bucket bounds every explicit-bucket histogram uses (Tachometer's default latency set).
pub fn bounds() -> Vec<f64> {
    tachometer::Buckets::default_latency().bounds().to_vec()
}

/// Label names of the labeled-lookup benches.
pub const LABEL_NAMES: [&str; 3] = ["method", "route", "status"];

/// `["GET", "/users/{id}", "200"]` as runtime `String`s: built through `black_box` so no
/// library can have them folded into constants.
pub fn runtime_labels() -> [String; 3] {
    ["GET", "/users/{id}", "200"].map(|s| std::hint::black_box(s).to_owned())
}

/// The `metrics` crate's global recorder (metrics-exporter-prometheus, histograms with
/// [`bounds`]). Installed once per process; `metrics::*!` macros go through it.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets(&bounds())
            .expect("bounds are not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed in a bench process")
    })
}

/// measured's label group for runtime strings: each value is interned by `ParaCord`,
/// measured's own answer for labels not known at compile time.
#[derive(Clone, Copy, LabelGroup)]
#[label(set = MeasuredHttpSet)]
pub struct MeasuredHttp<'a> {
    #[label(dynamic_with = paracord::ParaCord)]
    pub method: &'a str,
    #[label(dynamic_with = paracord::ParaCord)]
    pub route: &'a str,
    #[label(dynamic_with = paracord::ParaCord)]
    pub status: &'a str,
}

/// An empty measured label set for [`MeasuredHttp`].
pub fn measured_http_set() -> MeasuredHttpSet {
    MeasuredHttpSet {
        method: paracord::ParaCord::default(),
        route: paracord::ParaCord::default(),
        status: paracord::ParaCord::default(),
    }
}

/// prometheus-client's label set: an owned struct, built once from the runtime strings
/// (as Tachometer is handed a prebuilt `&[String]`) and looked up by reference.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClientHttp {
    pub method: String,
    pub route: String,
    pub status: String,
}

impl ClientHttp {
    /// The label set for `values` (method, route, status).
    pub fn new(values: &[String; 3]) -> Self {
        Self {
            method: values[0].clone(),
            route: values[1].clone(),
            status: values[2].clone(),
        }
    }
}
