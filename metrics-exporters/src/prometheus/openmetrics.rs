//! The OpenMetrics 1.0 visitor (also the body of the 0.0.1 content type).
//!
//! Differences from 0.0.4 that live here: metadata is `# TYPE`, `# UNIT`, `# HELP` in
//! the order the spec recommends; HELP escapes `"` too; a counter's family name drops
//! `_total` (its sample is `<family>_total`, see [`series`](super::series)); and
//! `# UNIT` appears only when the family has a unit *and* its name ends in `_<unit>`,
//! because the spec makes any other UNIT line invalid and a strict parser rejects the
//! whole exposition for it. `_created` is not written: the core does not track creation
//! time, and the sample is optional. The `# EOF` terminator is written by the encoder
//! after the walk, so other sources can be appended before it.

use tachometer_core::{Descriptor, Labels, MetricKind, Value, Visitor};

use super::escape::write_help_openmetrics;
use super::series::{base_name, write_series, Dialect, Template};

/// Writes a registry walk as OpenMetrics 1.0 (without the final `# EOF`).
pub(crate) struct OpenMetricsVisitor<'a> {
    out: &'a mut String,
    aux: &'a mut String,
    tpl: &'a mut Template,
    started: bool,
}

impl<'a> OpenMetricsVisitor<'a> {
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
        let unit = desc.unit().map(tachometer_core::Unit::as_str);
        let m = Meta {
            help: desc.help(),
            unit,
        };
        match desc.kind() {
            MetricKind::Counter | MetricKind::FloatCounter => {
                m.write(self.out, base_name(name), "", "counter")
            }
            MetricKind::Gauge | MetricKind::FloatGauge | MetricKind::CallbackGauge => {
                m.write(self.out, name, "", "gauge");
            }
            MetricKind::Histogram => m.write(self.out, name, "", "histogram"),
            MetricKind::HdrHistogram | MetricKind::Timer => m.write(self.out, name, "", "summary"),
            MetricKind::Meter => {
                let base = base_name(name);
                m.write(self.out, base, "", "counter");
                m.write(self.aux, base, "_rate", "gauge");
            }
            _ => m.write(self.out, name, "", "unknown"),
        }
    }
}

struct Meta<'d> {
    help: &'d str,
    unit: Option<&'d str>,
}

impl Meta<'_> {
    fn write(&self, out: &mut String, name: &str, suffix: &str, kind: &str) {
        let line = |out: &mut String, keyword: &str| {
            out.push_str(keyword);
            out.push_str(name);
            out.push_str(suffix);
            out.push(' ');
        };
        line(out, "# TYPE ");
        out.push_str(kind);
        out.push('\n');
        if let Some(unit) = self.unit.filter(|u| unit_matches(name, suffix, u)) {
            line(out, "# UNIT ");
            out.push_str(unit);
            out.push('\n');
        }
        if !self.help.is_empty() {
            line(out, "# HELP ");
            write_help_openmetrics(out, self.help);
            out.push('\n');
        }
    }
}

/// Whether the family name `name` + `suffix` ends with `_<unit>` (compared from the end,
/// so nothing is concatenated).
fn unit_matches(name: &str, suffix: &str, unit: &str) -> bool {
    let family = name.bytes().chain(suffix.bytes()).rev();
    let wanted = std::iter::once(b'_').chain(unit.bytes()).rev();
    name.len() + suffix.len() > unit.len() && family.zip(wanted).all(|(a, b)| a == b)
}

impl Visitor for OpenMetricsVisitor<'_> {
    fn family(&mut self, _family: &Descriptor) {
        self.started = false;
    }

    fn series(&mut self, family: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        if !self.started {
            self.started = true;
            self.header(family);
            self.tpl
                .begin_family(Dialect::OpenMetrics, family, labels.names());
        }
        write_series(
            self.out,
            self.aux,
            self.tpl,
            Dialect::OpenMetrics,
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
