//! Prometheus text exposition 0.0.4 and OpenMetrics 1.0.
//!
//! One walk of the registry ([`Registry::visit`]) writes the whole exposition into a
//! `String` the caller keeps: [`encode`] for one-off use, [`Encoder`] to reuse the
//! buffers across scrapes so that a steady-state scrape allocates nothing per series
//! (`tests/format_alloc.rs`, with every metric kind).
//! Output is deterministic (families in name order, series in first-use order, labels in
//! declaration order), which is what lets the tests compare bytes.
//!
//! # How Tachometer's types map to Prometheus types
//!
//! | Tachometer | 0.0.4 | OpenMetrics 1.0 |
//! |---|---|---|
//! | `Counter`, `FloatCounter` `x` | `counter`; `# TYPE` and the sample use the registered name `x` | `counter` family `x` minus any `_total`, sample `<family>_total`; no `_created` (not tracked) |
//! | `Gauge`, `FloatGauge`, `CallbackGauge` | `gauge` | `gauge` |
//! | `Histogram` | `histogram`: cumulative `x_bucket{…,le}` (`le` last, `+Inf` = `_count`), `x_sum`, `x_count` | same; `_sum`/`_count` omitted when a bound or the sum is negative (the spec forbids them then) |
//! | `HdrHistogram` | `summary`: `x{quantile}` for 0.5, 0.75, 0.95, 0.98, 0.99, 0.999 over the recent window (`NaN` when it is empty), lifetime `x_sum`/`x_count`, raw values | same |
//! | `Timer` | as `HdrHistogram`, nanoseconds converted to seconds | same |
//! | `Meter` `x` (base `b` = `x` minus `_total`) | `counter` family `b_total`, plus `gauge` family `b_rate` with label `window` = `1m`, `5m`, `15m`, `mean` (events per second) | `counter` family `b` (sample `b_total`), plus `gauge` family `b_rate` |
//!
//! Why summaries for HDR histograms and timers: their buckets are log-linear and
//! thousands strong; exporting them as classic buckets would be huge and unaggregatable
//! anyway. A summary carries what they are good at (precise recent quantiles) while the
//! lifetime `_sum`/`_count` stay monotonic so `rate()` works. Why a meter becomes two
//! families: its count is a counter, its moving averages are gauges, and one family
//! cannot have two types (the core reserves the label name `window` on meters for it).
//!
//! `le` and `quantile` values use OpenMetrics canonical numbers (`1.0`, `1e+06`) in both
//! formats: Prometheus ≥ 3 normalises `le` to that form on ingestion, and using it
//! everywhere keeps series identical whichever format a scraper negotiates. Other
//! numbers follow Go's reference encoder (`strconv.FormatFloat(v, 'g', -1, 64)`). `# HELP` lines are omitted for
//! an empty help text; `# UNIT` (OpenMetrics only) appears only when the family has a
//! unit and its OpenMetrics family name ends in `_<unit>`. Families without series are
//! left out, and so is the self-metric `tachometer_series_overflow_total` until it has
//! a series (it is an ordinary counter family). 0.0.4 output ends with a line feed
//! (it is empty when no family has series); OpenMetrics output always ends with `# EOF\n`.
//!
//! Known limit: whitespace at either end of a HELP text does not survive 0.0.4 (parsers
//! may ignore whitespace around tokens and the format has no escape for it), and
//! python's OpenMetrics parser drops a HELP text's leading spaces although the grammar
//! keeps them. Everything else, label values included, round-trips exactly; the
//! `format_*` tests prove it against promtool and both python parsers.
//!
//! ```
//! use tachometer::{Opts, Registry};
//! use tachometer::exporters::prometheus::{Encoder, Format};
//! let registry = Registry::new();
//! registry.counter(Opts::new("jobs_total", "Jobs run.")).unwrap().increment(3);
//! let mut encoder = Encoder::new();
//! assert_eq!(
//!     encoder.encode(&registry, Format::Text004),
//!     "# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total 3\n"
//! );
//! assert_eq!(
//!     encoder.encode(&registry, Format::OpenMetrics100),
//!     "# TYPE jobs counter\n# HELP jobs Jobs run.\njobs_total 3\n# EOF\n"
//! );
//! ```

mod line;
pub mod protobuf;
#[cfg(feature = "remote-write")]
pub(crate) mod samples;
mod series;
mod visitor;

use tachometer_core::naming::Dialect;
use tachometer_core::{Collector, Registry};

use series::Template;
use visitor::ExpositionVisitor;

/// A text exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text004,
    /// OpenMetrics 1.0.0.
    OpenMetrics100,
    /// OpenMetrics 0.0.1 (same body as 1.0.0; what a scraper asking without a version gets).
    OpenMetrics001,
}

impl Format {
    /// The naming dialect of the format.
    fn dialect(self) -> Dialect {
        match self {
            Format::Text004 => Dialect::Text004,
            Format::OpenMetrics100 | Format::OpenMetrics001 => Dialect::OpenMetrics,
        }
    }

    /// The `Content-Type` header value for a response in this format.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text004 => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics100 => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::OpenMetrics001 => "application/openmetrics-text; version=0.0.1; charset=utf-8",
        }
    }
}

/// Appends `registry`'s complete exposition in `format` to `out` (including the
/// OpenMetrics `# EOF`). Allocates small scratch buffers per call (each family's line
/// fragments, a meter's rate family); use an [`Encoder`] to reuse them, and to have
/// `out` reserved at the last exposition's size up front.
pub fn encode(registry: &Registry, format: Format, out: &mut String) {
    Encoder::new().encode_into(registry, format, out);
}

/// The `le` label value both formats write for a bucket bound (OpenMetrics canonical
/// form, `+Inf` for infinity), for tools that must match it, such as alerting rules.
///
/// ```
/// use tachometer_exporters::prometheus::le_value;
/// assert_eq!(le_value(2.0), "2.0");
/// assert_eq!(le_value(1e6), "1e+06");
/// assert_eq!(le_value(f64::INFINITY), "+Inf");
/// ```
#[must_use]
pub fn le_value(bound: f64) -> String {
    let mut s = String::new();
    crate::text::float::write_canonical(&mut s, bound);
    s
}

/// Appends the terminator `format` requires after the last family: `# EOF\n` for
/// OpenMetrics, nothing for 0.0.4. Only needed with [`Encoder::write_families`].
pub fn write_terminator(format: Format, out: &mut String) {
    match format {
        Format::Text004 => {}
        Format::OpenMetrics100 | Format::OpenMetrics001 => out.push_str("# EOF\n"),
    }
}

/// A reusable encoder: keeps its output and scratch buffers between calls, so once they
/// have grown to the exposition's size a scrape allocates nothing per series.
#[derive(Debug, Default)]
pub struct Encoder {
    out: String,
    aux: String,
    tpl: Template,
    /// Bytes the last [`write_families`](Self::write_families) wrote: reserved up front
    /// next time, so a caller's fresh `String` grows once instead of doubling its way up.
    last_len: usize,
}

impl Encoder {
    /// An encoder with empty buffers.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Renders `registry` in `format` into the encoder's own buffer and returns it
    /// (valid until the next call).
    pub fn encode(&mut self, registry: &Registry, format: Format) -> &str {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        self.encode_into(registry, format, &mut out);
        self.out = out;
        &self.out
    }

    /// Appends `registry`'s complete exposition in `format` to `out`.
    pub fn encode_into(&mut self, registry: &Registry, format: Format, out: &mut String) {
        self.write_families(registry, format, out);
        write_terminator(format, out);
    }

    /// Appends `registry`'s families to `out` *without* the OpenMetrics `# EOF`, so that
    /// families from another source can follow before [`write_terminator`]. The other
    /// source must not repeat a family name; a [`Collector`]
    /// is the way to add families that are checked and kept in name order.
    pub fn write_families(&mut self, registry: &Registry, format: Format, out: &mut String) {
        self.write_collected(registry, &[], format, out);
    }

    /// [`encode_into`](Self::encode_into), with the families of `extra` collectors for
    /// this exposition only (see [`Registry::visit_with`]).
    #[cfg(feature = "prometheus-interop")]
    pub(crate) fn encode_collected(
        &mut self,
        registry: &Registry,
        extra: &[&dyn Collector],
        format: Format,
        out: &mut String,
    ) {
        self.write_collected(registry, extra, format, out);
        write_terminator(format, out);
    }

    fn write_collected(
        &mut self,
        registry: &Registry,
        extra: &[&dyn Collector],
        format: Format,
        out: &mut String,
    ) {
        out.reserve(self.last_len);
        let start = out.len();
        let (aux, tpl) = (&mut self.aux, &mut self.tpl);
        let mut visitor = ExpositionVisitor::new(format.dialect(), out, aux, tpl);
        registry.visit_with(extra, &mut visitor);
        self.last_len = out.len() - start;
    }
}
