//! Prometheus protobuf exposition: `io.prometheus.client.MetricFamily` messages, each
//! prefixed by its length as a varint (`encoding=delimited`), written straight from the
//! registry walk into a reused `Vec<u8>` by the crate's hand-written wire writer
//! (`pbwire`). This is the format Prometheus asks for first when native histograms
//! are enabled, and the only one that carries them.
//!
//! # Mapping (the same families and names as text 0.0.4)
//!
//! | Tachometer | `MetricFamily.type` | `Metric` field |
//! |---|---|---|
//! | `Counter`, `FloatCounter` `x` | `COUNTER`, name `x` as registered | `counter.value` |
//! | `Gauge`, `FloatGauge`, `CallbackGauge` | `GAUGE` | `gauge.value` |
//! | `Histogram` | `HISTOGRAM` | `histogram`: `sample_count`, `sample_sum`, cumulative `bucket`s for the finite bounds (`+Inf` is implied by `sample_count`) |
//! | `NativeHistogram` | `HISTOGRAM` | `histogram`: `sample_count`, `sample_sum`, classic `bucket`s when configured, then `schema`, `zero_threshold`, `zero_count`, `negative_span`/`negative_delta`, `positive_span`/`positive_delta` |
//! | `HdrHistogram`, `Timer` | `SUMMARY` | `summary`: `sample_count`, `sample_sum`, `quantile` 0.5…0.999 (timers in seconds) |
//! | `Meter` `x` (base `b`) | `COUNTER` `b_total` and `GAUGE` `b_rate{window}` | as counter and gauge |
//! | collected summaries / untyped values | `SUMMARY` / `UNTYPED` | `summary` / `untyped.value` |
//!
//! Family names and types come from the core's naming table
//! ([`tachometer_core::naming`]) in its 0.0.4 dialect, as the text formats' do.
//!
//! Every family states its `type` (an absent one would read as `COUNTER`); `help` is
//! written when not empty; no timestamps. Native buckets follow client_golang: a span
//! starts where a gap of more than two empty buckets ends, shorter gaps are written as
//! zero deltas; deltas are unpacked, as proto2 writes them. A native histogram with no
//! observation and a zero threshold of 0 carries the no-op span `{0, 0}`, so newer
//! Prometheus versions still see it as native. Families without series are left out.
//!
//! ```
//! use tachometer_core::{Opts, Registry};
//! use tachometer_exporters::prometheus::protobuf::ProtobufEncoder;
//! let registry = Registry::new();
//! registry.counter(Opts::new("hits_total", "")).unwrap().increment(3);
//! let mut encoder = ProtobufEncoder::new();
//! let body = encoder.encode(&registry);
//! assert_eq!(body[0] as usize, body.len() - 1); // one frame: its length, then the family
//! ```

use tachometer_core::naming::{Dialect, Exposition, METER_RATE_WINDOWS, SUMMARY_QUANTILES};
use tachometer_core::{Descriptor, Labels, NativeSide, NativeSnapshot, Registry, Value, Visitor};

use crate::pbwire::{
    begin_delimited, begin_message, end_message, put_double, put_sint64, put_str, put_uint64, Mark,
};

/// The `Content-Type` of a protobuf exposition.
pub const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

const NANOS_PER_SECOND: f64 = 1e9;

// `MetricType` values.
const COUNTER: u64 = 0;
const GAUGE: u64 = 1;
const SUMMARY: u64 = 2;
const UNTYPED: u64 = 3;
const HISTOGRAM: u64 = 4;

/// Appends `registry`'s protobuf exposition to `out` (allocates scratch buffers; an
/// [`ProtobufEncoder`] reuses them).
pub fn encode(registry: &Registry, out: &mut Vec<u8>) {
    ProtobufEncoder::new().encode_into(registry, out);
}

/// A reusable protobuf encoder: keeps its output and scratch buffers between calls, so
/// once they have grown a scrape allocates nothing per series.
#[derive(Debug, Default)]
pub struct ProtobufEncoder {
    out: Vec<u8>,
    scratch: Scratch,
    last_len: usize,
}

/// Buffers reused across series and scrapes.
#[derive(Debug, Default)]
struct Scratch {
    /// A meter's rate family, appended after its count family.
    aux: Vec<u8>,
    spans: Vec<(i32, u32)>,
    deltas: Vec<i64>,
}

impl ProtobufEncoder {
    /// An encoder with empty buffers.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Renders `registry` into the encoder's own buffer and returns it (valid until the
    /// next call).
    pub fn encode(&mut self, registry: &Registry) -> &[u8] {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        self.encode_into(registry, &mut out);
        self.out = out;
        &self.out
    }

    /// Appends `registry`'s families to `out`. The stream has no terminator, so frames
    /// from another source may follow (without repeating a family name).
    pub fn encode_into(&mut self, registry: &Registry, out: &mut Vec<u8>) {
        out.reserve(self.last_len);
        let start = out.len();
        self.scratch.aux.clear();
        registry.visit(&mut ProtobufVisitor {
            out,
            scratch: &mut self.scratch,
            frame: None,
            aux_frame: None,
        });
        self.last_len = out.len() - start;
    }
}

struct ProtobufVisitor<'a> {
    out: &'a mut Vec<u8>,
    scratch: &'a mut Scratch,
    /// The open family frame in `out`, once the family has a series.
    frame: Option<Mark>,
    /// A meter's open rate family in `scratch.aux`.
    aux_frame: Option<Mark>,
}

fn family_header(buf: &mut Vec<u8>, name: &str, suffix: &str, help: &str, kind: u64) -> Mark {
    let frame = begin_delimited(buf);
    if suffix.is_empty() {
        put_str(buf, 1, name);
    } else {
        let m = begin_message(buf, 1);
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(suffix.as_bytes());
        end_message(buf, m);
    }
    if !help.is_empty() {
        put_str(buf, 2, help);
    }
    put_uint64(buf, 3, kind);
    frame
}

impl ProtobufVisitor<'_> {
    /// The family frame (and a meter's rate family frame), named by the core's naming
    /// table exactly as in text 0.0.4.
    fn header(&mut self, desc: &Descriptor) {
        let (name, help) = (desc.name(), desc.help());
        let exposition = desc.kind().exposition();
        let kind = match exposition {
            Exposition::Counter | Exposition::Meter => COUNTER,
            Exposition::Gauge => GAUGE,
            Exposition::Unknown => UNTYPED,
            Exposition::Histogram => HISTOGRAM,
            Exposition::Summary => SUMMARY,
        };
        let names = exposition.names(Dialect::Text004);
        let family = names.family.name;
        self.frame = Some(family_header(
            self.out,
            family.stem_of(name),
            family.suffix,
            help,
            kind,
        ));
        if let Some((rate, _, _)) = names.rate {
            self.aux_frame = Some(family_header(
                &mut self.scratch.aux,
                rate.name.stem_of(name),
                rate.name.suffix,
                help,
                GAUGE,
            ));
        }
    }
}

/// Starts a `Metric` (field 4 of `MetricFamily`) with the series' labels.
#[inline]
fn begin_metric(buf: &mut Vec<u8>, labels: Labels<'_>) -> Mark {
    let m = begin_message(buf, 4);
    for (name, value) in labels.iter() {
        let l = begin_message(buf, 1);
        put_str(buf, 1, name);
        put_str(buf, 2, value);
        end_message(buf, l);
    }
    m
}

/// A `Metric` whose only content is a one-double message (`Counter`, `Gauge`) in `field`.
#[inline]
fn scalar_metric(buf: &mut Vec<u8>, labels: Labels<'_>, field: u32, v: f64) {
    let m = begin_metric(buf, labels);
    // Tag, length 9, then `value` (field 1, double): a fixed 11 bytes.
    buf.extend_from_slice(&[(field << 3 | 2) as u8, 9, 0x09]);
    buf.extend_from_slice(&v.to_bits().to_le_bytes());
    end_message(buf, m);
}

impl Visitor for ProtobufVisitor<'_> {
    fn family(&mut self, _family: &Descriptor) {
        self.frame = None;
        self.aux_frame = None;
    }

    fn series(&mut self, family: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        if self.frame.is_none() {
            self.header(family);
        }
        let buf = &mut *self.out;
        match value {
            Value::Counter(v) => scalar_metric(buf, labels, 3, v as f64),
            Value::FloatCounter(v) => scalar_metric(buf, labels, 3, v),
            Value::Gauge(v) => scalar_metric(buf, labels, 2, v as f64),
            Value::FloatGauge(v) => scalar_metric(buf, labels, 2, v),
            Value::Histogram {
                bounds,
                counts,
                sum,
            } => {
                let m = begin_metric(buf, labels);
                let h = begin_message(buf, 7);
                put_uint64(buf, 1, counts.iter().sum());
                put_double(buf, 2, sum);
                classic_buckets(buf, bounds, counts);
                end_message(buf, h);
                end_message(buf, m);
            }
            Value::NativeHistogram(s) => {
                let m = begin_metric(buf, labels);
                native_histogram(buf, &mut self.scratch.spans, &mut self.scratch.deltas, s);
                end_message(buf, m);
            }
            Value::HdrHistogram(s) => {
                let m = begin_metric(buf, labels);
                let q = begin_message(buf, 4);
                put_uint64(buf, 1, s.count());
                put_double(buf, 2, s.sum() as f64);
                for (quantile, _) in SUMMARY_QUANTILES {
                    quantile_pair(buf, quantile, s.quantile(quantile));
                }
                end_message(buf, q);
                end_message(buf, m);
            }
            Value::Timer(t) => {
                let d = &t.durations;
                let m = begin_metric(buf, labels);
                let q = begin_message(buf, 4);
                put_uint64(buf, 1, d.count());
                put_double(buf, 2, d.sum() as f64 / NANOS_PER_SECOND);
                for (quantile, _) in SUMMARY_QUANTILES {
                    quantile_pair(buf, quantile, d.quantile(quantile) / NANOS_PER_SECOND);
                }
                end_message(buf, q);
                end_message(buf, m);
            }
            Value::Meter(meter) => {
                scalar_metric(buf, labels, 3, meter.count as f64);
                let aux = &mut self.scratch.aux;
                let rates = [
                    meter.m1_rate,
                    meter.m5_rate,
                    meter.m15_rate,
                    meter.mean_rate,
                ];
                for (window, rate) in METER_RATE_WINDOWS.into_iter().zip(rates) {
                    let m = begin_metric(aux, labels);
                    let l = begin_message(aux, 1);
                    put_str(aux, 1, "window");
                    put_str(aux, 2, window);
                    end_message(aux, l);
                    let g = begin_message(aux, 2);
                    put_double(aux, 1, rate);
                    end_message(aux, g);
                    end_message(aux, m);
                }
            }
            Value::Summary {
                quantiles,
                sum,
                count,
            } => {
                let m = begin_metric(buf, labels);
                let q = begin_message(buf, 4);
                put_uint64(buf, 1, count);
                put_double(buf, 2, sum);
                for &(quantile, value) in quantiles {
                    quantile_pair(buf, quantile, value);
                }
                end_message(buf, q);
                end_message(buf, m);
            }
            Value::Unknown(v) => scalar_metric(buf, labels, 5, v),
        }
    }

    fn end_family(&mut self, _family: &Descriptor) {
        if let Some(frame) = self.frame.take() {
            end_message(self.out, frame);
        }
        if let Some(frame) = self.aux_frame.take() {
            end_message(&mut self.scratch.aux, frame);
            self.out.extend_from_slice(&self.scratch.aux);
            self.scratch.aux.clear();
        }
    }
}

fn quantile_pair(buf: &mut Vec<u8>, quantile: f64, value: f64) {
    let q = begin_message(buf, 3);
    put_double(buf, 1, quantile);
    put_double(buf, 2, value);
    end_message(buf, q);
}

/// Cumulative `Bucket`s (field 3) for the finite bounds.
fn classic_buckets(buf: &mut Vec<u8>, bounds: &[f64], counts: &[u64]) {
    let mut cumulative = 0u64;
    for (i, bound) in bounds.iter().enumerate() {
        cumulative = cumulative.saturating_add(counts.get(i).copied().unwrap_or(0));
        let b = begin_message(buf, 3);
        put_uint64(buf, 1, cumulative);
        put_double(buf, 2, *bound);
        end_message(buf, b);
    }
}

/// The `Histogram` message (field 7 of `Metric`) of a native histogram.
fn native_histogram(
    buf: &mut Vec<u8>,
    spans: &mut Vec<(i32, u32)>,
    deltas: &mut Vec<i64>,
    s: &NativeSnapshot,
) {
    let h = begin_message(buf, 7);
    put_uint64(buf, 1, s.count);
    put_double(buf, 2, s.sum);
    if let Some(bounds) = &s.classic_bounds {
        classic_buckets(buf, bounds, &s.classic_counts);
    }
    put_sint64(buf, 5, i64::from(s.schema));
    put_double(buf, 6, s.zero_threshold);
    put_uint64(buf, 7, s.zero_count);
    for (side, span_field, delta_field) in [(&s.negative, 9, 10), (&s.positive, 12, 13)] {
        spans_and_deltas(side, s.schema, spans, deltas);
        write_spans_and_deltas(buf, spans, deltas, span_field, delta_field);
    }
    if s.zero_threshold == 0.0
        && s.zero_count == 0
        && s.positive.is_empty()
        && s.negative.is_empty()
    {
        // The no-op span: "native, but empty" (client_model).
        write_spans_and_deltas(buf, &[(0, 0)], &[], 12, 13);
    }
    end_message(buf, h);
}

fn write_spans_and_deltas(
    buf: &mut Vec<u8>,
    spans: &[(i32, u32)],
    deltas: &[i64],
    span_field: u32,
    delta_field: u32,
) {
    for &(offset, length) in spans {
        let m = begin_message(buf, span_field);
        put_sint64(buf, 1, i64::from(offset));
        put_uint64(buf, 2, u64::from(length));
        end_message(buf, m);
    }
    for &d in deltas {
        put_sint64(buf, delta_field, d);
    }
}

/// One sign's buckets as spans and deltas, as client_golang's `makeBuckets`: the first
/// span's offset is the first populated key, a later span starts after a gap of more
/// than two empty buckets (its offset is the gap), shorter gaps become zero buckets;
/// each delta is the count minus the previous bucket's, across spans.
pub(crate) fn spans_and_deltas(
    side: &NativeSide,
    schema: i8,
    spans: &mut Vec<(i32, u32)>,
    deltas: &mut Vec<i64>,
) {
    spans.clear();
    deltas.clear();
    let mut prev: Option<(i32, i64)> = None; // (key, count) of the last bucket written
    for (key, count) in side.buckets(schema).filter(|(_, c)| *c != 0) {
        let count = count as i64;
        match prev {
            None => spans.push((key, 1)),
            Some((pk, mut pc)) => {
                let gap = key - pk - 1;
                let last = spans
                    .last_mut()
                    .expect("a span exists after the first bucket");
                if gap <= 2 {
                    for _ in 0..gap {
                        deltas.push(-pc);
                        pc = 0;
                    }
                    last.1 += gap as u32 + 1;
                    prev = Some((pk, pc));
                } else {
                    spans.push((gap, 1));
                }
            }
        }
        let pc = prev.map_or(0, |(_, c)| c);
        deltas.push(count - pc);
        prev = Some((key, count));
    }
}

#[cfg(test)]
mod tests;
