//! The exposition visitor: one registry walk written as Prometheus text 0.0.4 or
//! OpenMetrics 1.0 (also the body of the 0.0.1 content type), chosen by a [`Dialect`].
//!
//! The formats share every sample line (see [`series`](super::series)) and differ only in
//! their metadata:
//!
//! * **0.0.4:** `# HELP` (escaping `\` and LF only) then `# TYPE`, named exactly as the
//!   samples are: a counter keeps its registered name (`http_requests_total`), a meter's
//!   count family is `<base>_total`.
//! * **OpenMetrics:** `# TYPE`, `# UNIT`, `# HELP` in the order the spec recommends; HELP
//!   escapes `"` too; a counter's family name drops `_total` (its sample is
//!   `<family>_total`); `# UNIT` appears only when the family has a unit *and* its name
//!   ends in `_<unit>`, because the spec makes any other UNIT line invalid and a strict
//!   parser rejects the whole exposition for it. `_created` is not written: the core does
//!   not track creation time, and the sample is optional. The `# EOF` terminator is
//!   written by the encoder after the walk, so other sources can be appended before it.
//!
//! Family and sample names come from the core's [naming table](tachometer_core::naming).
//! Headers are written lazily at a family's first series, so a family without series (an
//! unused label family, a callback gauge without a callback) leaves no trace: a `# TYPE`
//! with no samples is legal but pointless noise.

use tachometer_core::naming::{Dialect, FamilyName};
use tachometer_core::{Descriptor, Labels, Value, Visitor};

use super::series::{write_series, Template};
use crate::text::escape::{write_help_openmetrics, write_help_text};

/// Writes a registry walk in one dialect.
pub(crate) struct ExpositionVisitor<'a> {
    dialect: Dialect,
    out: &'a mut String,
    aux: &'a mut String,
    tpl: &'a mut Template,
    started: bool,
}

impl<'a> ExpositionVisitor<'a> {
    /// A visitor appending to `out`, using `aux` (emptied on use) for a meter's rate
    /// family and `tpl` for each family's line fragments.
    pub(crate) fn new(
        dialect: Dialect,
        out: &'a mut String,
        aux: &'a mut String,
        tpl: &'a mut Template,
    ) -> Self {
        aux.clear();
        Self {
            dialect,
            out,
            aux,
            tpl,
            started: false,
        }
    }

    fn header(&mut self, desc: &Descriptor) {
        let names = desc.kind().exposition().names(self.dialect);
        let meta = Meta {
            dialect: self.dialect,
            name: desc.name(),
            help: desc.help(),
            unit: desc.unit().map(tachometer_core::Unit::as_str),
        };
        meta.write(self.out, names.family);
        if let Some((family, _, _)) = names.rate {
            meta.write(self.aux, family);
        }
    }
}

/// What a family's metadata lines say.
struct Meta<'d> {
    dialect: Dialect,
    /// The registered name.
    name: &'d str,
    help: &'d str,
    unit: Option<&'d str>,
}

impl Meta<'_> {
    fn write(&self, out: &mut String, family: FamilyName) {
        let stem = family.name.stem_of(self.name);
        let suffix = family.name.suffix;
        let line = |out: &mut String, keyword: &str| {
            out.push_str(keyword);
            out.push_str(stem);
            out.push_str(suffix);
            out.push(' ');
        };
        match self.dialect {
            Dialect::Text004 => {
                if !self.help.is_empty() {
                    line(out, "# HELP ");
                    write_help_text(out, self.help);
                    out.push('\n');
                }
                line(out, "# TYPE ");
                out.push_str(family.type_name);
                out.push('\n');
            }
            Dialect::OpenMetrics => {
                line(out, "# TYPE ");
                out.push_str(family.type_name);
                out.push('\n');
                if let Some(unit) = self.unit.filter(|u| unit_matches(stem, suffix, u)) {
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
    }
}

/// Whether the family name `name` + `suffix` ends with `_<unit>` (compared from the end,
/// so nothing is concatenated).
fn unit_matches(name: &str, suffix: &str, unit: &str) -> bool {
    let family = name.bytes().chain(suffix.bytes()).rev();
    let wanted = std::iter::once(b'_').chain(unit.bytes()).rev();
    name.len() + suffix.len() > unit.len() && family.zip(wanted).all(|(a, b)| a == b)
}

impl Visitor for ExpositionVisitor<'_> {
    fn family(&mut self, _family: &Descriptor) {
        self.started = false;
    }

    fn series(&mut self, family: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        if !self.started {
            self.started = true;
            self.header(family);
            self.tpl.begin_family(self.dialect, family, labels.names());
        }
        write_series(
            self.out,
            self.aux,
            self.tpl,
            self.dialect,
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
