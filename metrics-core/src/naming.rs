//! The naming table: for each metric kind, the families and samples it exports in the
//! Prometheus data model (text 0.0.4 and OpenMetrics) and the label names it reserves.
//!
//! This is the one place that says so. The registry's collision check
//! ([`Exposition::sample_names`]), name validation ([`Exposition::reserved_label`]) and
//! the Prometheus/OpenMetrics exporter ([`Exposition::names`]) all read it; the JSON and
//! StatsD exporters have shapes of their own and match every `Value`
//! variant exhaustively instead.
//!
//! | kind | exposition | family (0.0.4 / OpenMetrics) | samples | reserved label |
//! |---|---|---|---|---|
//! | `Counter`, `FloatCounter` | counter | `x` / `b` | `x` / `b_total` | — |
//! | `Gauge`, `FloatGauge`, `CallbackGauge` | gauge | `x` | `x` | — |
//! | `Unknown` | untyped / unknown | `x` | `x` | — |
//! | `Histogram`, `NativeHistogram` | histogram | `x` | `x_bucket{le}`, `x_sum`, `x_count` (a native histogram's classic buckets; protobuf also carries its native ones) | `le` |
//! | `HdrHistogram`, `Timer`, `Summary` | summary | `x` | `x{quantile}`, `x_sum`, `x_count` | `quantile` |
//! | `Meter` | counter + gauge | `b_total` / `b`, and `b_rate` | `b_total`, `b_rate{window}` | `window` |
//!
//! `x` is the registered name and `b` its *base*: `x` without a trailing `_total`.
//!
//! The name rules themselves (what a metric or label name may contain) are here too.
//! `tachometer-macros` compiles this same file (its `src/naming.rs` is a symlink to it):
//! a proc-macro crate runs in the compiler and linking the core into it would build the
//! core and its dependencies a second time for the host, for a few string checks. So
//! this file uses nothing outside itself and `std`.
//!
//! Exhaustiveness is the point: `MetricKind::exposition` and every exporter's match on
//! [`Exposition`] and `Value` have no wildcard arm, and neither enum is
//! `#[non_exhaustive]` (which would force one in every other crate). Adding a kind or a
//! value shape therefore fails to compile until each exporter says how it is written,
//! instead of being dropped silently by a `_ => {}`.

/// How a family is exposed in the Prometheus data model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exposition {
    /// A counter: one monotonic sample per series.
    Counter,
    /// A gauge: one sample per series.
    Gauge,
    /// A value of unknown type (`untyped` in 0.0.4, `unknown` in OpenMetrics).
    Unknown,
    /// A histogram: cumulative `_bucket{le}` samples, `_sum`, `_count`.
    Histogram,
    /// A summary: `{quantile}` samples, `_sum`, `_count`.
    Summary,
    /// A meter: a counter family `<base>_total` plus a gauge family `<base>_rate` with
    /// one sample per rate window (`window` = `1m`, `5m`, `15m`, `mean`).
    Meter,
}

/// Which text format names are written for: they differ only for counters (and a
/// meter's count family), whose OpenMetrics family name drops `_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Prometheus text 0.0.4.
    Text004,
    /// OpenMetrics 1.0.
    OpenMetrics,
}

/// Which part of the registered name a family or sample name starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stem {
    /// The registered name as is.
    Name,
    /// The registered name without a trailing `_total` (see [`base_name`]).
    Base,
}

/// A family or sample name: a stem of the registered name plus a suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NamePart {
    /// What the name starts from.
    pub stem: Stem,
    /// What follows it (`""`, `"_total"`, `"_bucket"`…).
    pub suffix: &'static str,
}

impl NamePart {
    const fn name(suffix: &'static str) -> Self {
        Self {
            stem: Stem::Name,
            suffix,
        }
    }

    const fn base(suffix: &'static str) -> Self {
        Self {
            stem: Stem::Base,
            suffix,
        }
    }

    /// The stem of `registered` this name starts from.
    #[must_use]
    pub fn stem_of(self, registered: &str) -> &str {
        match self.stem {
            Stem::Name => registered,
            Stem::Base => base_name(registered),
        }
    }

    /// Appends the full name for a family registered as `registered` to `out`.
    pub fn write(self, registered: &str, out: &mut String) {
        out.push_str(self.stem_of(registered));
        out.push_str(self.suffix);
    }
}

/// A family's metadata line: its name and its `# TYPE` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FamilyName {
    /// The family name in `# TYPE`, `# HELP` and `# UNIT` lines.
    pub name: NamePart,
    /// The type keyword (`counter`, `gauge`, `histogram`, `summary`, `untyped`/`unknown`).
    pub type_name: &'static str,
}

/// Everything a text exporter needs to name one family's samples in one dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Names {
    /// The family's metadata.
    pub family: FamilyName,
    /// The main sample: counter/gauge value, `_bucket`, summary quantile, meter count.
    pub primary: NamePart,
    /// The label the main sample carries after the series' own (`le`, `quantile`).
    pub primary_label: Option<&'static str>,
    /// `_sum`, for histograms and summaries.
    pub sum: Option<NamePart>,
    /// `_count`, for histograms and summaries.
    pub count: Option<NamePart>,
    /// A second family (a meter's rates): its metadata, sample name and extra label.
    pub rate: Option<(FamilyName, NamePart, &'static str)>,
}

/// Quantiles every HDR histogram and timer exports as summary samples, with their
/// canonical spelling (identical in both formats).
pub const SUMMARY_QUANTILES: [(f64, &str); 6] = [
    (0.5, "0.5"),
    (0.75, "0.75"),
    (0.95, "0.95"),
    (0.98, "0.98"),
    (0.99, "0.99"),
    (0.999, "0.999"),
];

/// The `window` label values of a meter's rate samples, in order: 1-, 5- and 15-minute
/// moving averages, then the mean rate.
pub const METER_RATE_WINDOWS: [&str; 4] = ["1m", "5m", "15m", "mean"];

/// A family name without a trailing `_total`: the OpenMetrics counter family name, and
/// the base a meter's families are named from.
#[must_use]
pub fn base_name(name: &str) -> &str {
    name.strip_suffix("_total").unwrap_or(name)
}

impl Exposition {
    /// The families and samples of this exposition in `dialect`.
    #[must_use]
    pub const fn names(self, dialect: Dialect) -> Names {
        const fn family(name: NamePart, type_name: &'static str) -> FamilyName {
            FamilyName { name, type_name }
        }
        const fn simple(type_name: &'static str, primary: NamePart) -> Names {
            Names {
                family: family(NamePart::name(""), type_name),
                primary,
                primary_label: None,
                sum: None,
                count: None,
                rate: None,
            }
        }
        match (self, dialect) {
            (Exposition::Counter, Dialect::Text004) => simple("counter", NamePart::name("")),
            (Exposition::Counter, Dialect::OpenMetrics) => Names {
                family: family(NamePart::base(""), "counter"),
                ..simple("counter", NamePart::base("_total"))
            },
            (Exposition::Gauge, _) => simple("gauge", NamePart::name("")),
            (Exposition::Unknown, Dialect::Text004) => simple("untyped", NamePart::name("")),
            (Exposition::Unknown, Dialect::OpenMetrics) => simple("unknown", NamePart::name("")),
            (Exposition::Histogram, _) => Names {
                primary_label: Some(BUCKET_LABEL.name),
                sum: Some(NamePart::name("_sum")),
                count: Some(NamePart::name("_count")),
                ..simple("histogram", NamePart::name("_bucket"))
            },
            (Exposition::Summary, _) => Names {
                primary_label: Some(QUANTILE_LABEL.name),
                sum: Some(NamePart::name("_sum")),
                count: Some(NamePart::name("_count")),
                ..simple("summary", NamePart::name(""))
            },
            (Exposition::Meter, _) => Names {
                family: family(
                    match dialect {
                        Dialect::Text004 => NamePart::base("_total"),
                        Dialect::OpenMetrics => NamePart::base(""),
                    },
                    "counter",
                ),
                rate: Some((
                    family(NamePart::base("_rate"), "gauge"),
                    NamePart::base("_rate"),
                    WINDOW_LABEL.name,
                )),
                ..simple("counter", NamePart::base("_total"))
            },
        }
    }

    /// The label name this exposition writes on its own samples, which a family of it
    /// therefore cannot use.
    #[must_use]
    pub const fn reserved_label(self) -> Option<ReservedLabel> {
        match self {
            Exposition::Counter | Exposition::Gauge | Exposition::Unknown => None,
            Exposition::Histogram => Some(BUCKET_LABEL),
            Exposition::Summary => Some(QUANTILE_LABEL),
            Exposition::Meter => Some(WINDOW_LABEL),
        }
    }

    /// Every name a family of this exposition owns in either dialect — family names,
    /// sample names, and the `_created` sample OpenMetrics allows — so that the
    /// registry can keep two families from ever emitting the same one.
    #[must_use]
    pub const fn sample_names(self) -> &'static [NamePart] {
        const fn n(suffix: &'static str) -> NamePart {
            NamePart::name(suffix)
        }
        const fn b(suffix: &'static str) -> NamePart {
            NamePart::base(suffix)
        }
        const COUNTER: &[NamePart] = &[n(""), b(""), b("_total"), b("_created")];
        const SINGLE: &[NamePart] = &[n("")];
        const HISTOGRAM: &[NamePart] =
            &[n(""), n("_bucket"), n("_sum"), n("_count"), n("_created")];
        const SUMMARY: &[NamePart] = &[n(""), n("_sum"), n("_count"), n("_created")];
        const METER: &[NamePart] = &[n(""), b(""), b("_total"), b("_created"), b("_rate")];
        match self {
            Exposition::Counter => COUNTER,
            Exposition::Gauge | Exposition::Unknown => SINGLE,
            Exposition::Histogram => HISTOGRAM,
            Exposition::Summary => SUMMARY,
            Exposition::Meter => METER,
        }
    }
}

/// A label name an exposition writes itself, and why a family cannot use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReservedLabel {
    /// The label name.
    pub name: &'static str,
    /// What uses it (`"histogram buckets use it"`).
    pub why: &'static str,
    /// The whole reason, for error messages (`"\"le\" is reserved: histogram buckets use it"`).
    pub reason: &'static str,
}

macro_rules! reserved {
    ($name:literal, $why:literal) => {
        ReservedLabel {
            name: $name,
            why: $why,
            reason: concat!("\"", $name, "\" is reserved: ", $why),
        }
    };
}

/// `le`, on a histogram's bucket samples.
pub const BUCKET_LABEL: ReservedLabel = reserved!("le", "histogram buckets use it");
/// `quantile`, on a summary's quantile samples (HDR histograms and timers).
pub const QUANTILE_LABEL: ReservedLabel = reserved!(
    "quantile",
    "timers and HDR histograms are exported as summaries, whose quantiles use it"
);
/// `window`, on a meter's rate samples.
pub const WINDOW_LABEL: ReservedLabel =
    reserved!("window", "a meter's exported rate windows use it");

/// The metric-name rule, as messages state it.
pub const METRIC_NAME_RULE: &str =
    "use letters, digits, '_' and ':' only, not starting with a digit ([a-zA-Z_:][a-zA-Z0-9_:]*)";
/// The label-name rule, as messages state it.
pub const LABEL_NAME_RULE: &str =
    "use letters, digits and '_' only, not starting with a digit ([a-zA-Z_][a-zA-Z0-9_]*)";
/// Why label names starting with `__` are refused.
pub const RESERVED_PREFIX_RULE: &str = "names starting with \"__\" are reserved for Prometheus";

/// Whether `name` is a valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
#[must_use]
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// What is wrong with `name` as a label name, whatever the metric: malformed
/// ([`LABEL_NAME_RULE`]) or reserved by Prometheus ([`RESERVED_PREFIX_RULE`]).
#[must_use]
pub fn label_name_problem(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    let well_formed = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        Some(LABEL_NAME_RULE)
    } else if name.starts_with("__") {
        Some(RESERVED_PREFIX_RULE)
    } else {
        None
    }
}

/// The distinct names [`Exposition::sample_names`] gives for a family called `name`.
pub(crate) fn owned_names(name: &str, exposition: Exposition) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for part in exposition.sample_names() {
        let mut s = String::new();
        part.write(name, &mut s);
        if !names.contains(&s) {
            names.push(s);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(part: NamePart, name: &str) -> String {
        let mut s = String::new();
        part.write(name, &mut s);
        s
    }

    /// Every name an exporter writes is one the registry reserves for the family.
    #[test]
    fn written_names_are_owned_names() {
        for exposition in [
            Exposition::Counter,
            Exposition::Gauge,
            Exposition::Unknown,
            Exposition::Histogram,
            Exposition::Summary,
            Exposition::Meter,
        ] {
            for name in ["x", "x_total"] {
                let owned = owned_names(name, exposition);
                for dialect in [Dialect::Text004, Dialect::OpenMetrics] {
                    let n = exposition.names(dialect);
                    let mut written = vec![full(n.family.name, name), full(n.primary, name)];
                    written.extend(n.sum.map(|p| full(p, name)));
                    written.extend(n.count.map(|p| full(p, name)));
                    if let Some((family, sample, label)) = n.rate {
                        written.push(full(family.name, name));
                        written.push(full(sample, name));
                        assert_eq!(exposition.reserved_label().map(|r| r.name), Some(label));
                    }
                    if let Some(label) = n.primary_label {
                        assert_eq!(exposition.reserved_label().map(|r| r.name), Some(label));
                    }
                    for w in written {
                        assert!(
                            owned.contains(&w),
                            "{exposition:?} {dialect:?} {w} {owned:?}"
                        );
                    }
                }
            }
        }
    }
}
