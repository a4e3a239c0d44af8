//! The Prometheus text format 0.0.4 visitor.
//!
//! Headers are `# HELP` (escaping `\` and LF only) then `# TYPE`, named exactly as the
//! samples are: a counter keeps its registered name (`http_requests_total`), a meter's
//! count family is `<base>_total`. Headers are written lazily at a family's first
//! series, so a family without series (an unused label family, a callback gauge without
//! a callback) leaves no trace: a `# TYPE` with no samples is legal but pointless noise.

use tachometer_core::{Descriptor, Labels, MetricKind, Value, Visitor};

use super::escape::write_help_text;
use super::series::{base_name, write_series, Dialect, Template};

/// Writes a registry walk as Prometheus text 0.0.4.
pub(crate) struct TextVisitor<'a> {
    out: &'a mut String,
    aux: &'a mut String,
    tpl: &'a mut Template,
    started: bool,
}

impl<'a> TextVisitor<'a> {
    /// A visitor appending to `out`, using `aux` (emptied on use) for a meter's rate
    /// family and `tpl` for each family's line fragments.
    pub(crate) fn new(out: &'a mut String, aux: &'a mut String, tpl: &'a mut Template) -> Self {
        aux.clear();
        Self {
            out,
            aux,
            tpl,
            started: false,
        }
    }

    fn header(&mut self, desc: &Descriptor) {
        let name = desc.name();
        let help = desc.help();
        match desc.kind() {
            MetricKind::Counter | MetricKind::FloatCounter => {
                meta(self.out, name, "", help, "counter")
            }
            MetricKind::Gauge | MetricKind::FloatGauge | MetricKind::CallbackGauge => {
                meta(self.out, name, "", help, "gauge");
            }
            MetricKind::Histogram => meta(self.out, name, "", help, "histogram"),
            MetricKind::HdrHistogram | MetricKind::Timer => {
                meta(self.out, name, "", help, "summary")
            }
            MetricKind::Meter => {
                let base = base_name(name);
                meta(self.out, base, "_total", help, "counter");
                meta(self.aux, base, "_rate", help, "gauge");
            }
            _ => meta(self.out, name, "", help, "untyped"),
        }
    }
}

fn meta(out: &mut String, name: &str, suffix: &str, help: &str, kind: &str) {
    if !help.is_empty() {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push_str(suffix);
        out.push(' ');
        write_help_text(out, help);
        out.push('\n');
    }
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push_str(suffix);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

impl Visitor for TextVisitor<'_> {
    fn family(&mut self, _family: &Descriptor) {
        self.started = false;
    }

    fn series(&mut self, family: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        if !self.started {
            self.started = true;
            self.header(family);
            self.tpl.begin_family(Dialect::Text, family, labels.names());
        }
        write_series(
            self.out,
            self.aux,
            self.tpl,
            Dialect::Text,
            family,
            labels,
            value,
        );
    }

    fn end_family(&mut self, _family: &Descriptor) {
        self.out.push_str(self.aux);
        self.aux.clear();
    }
}
