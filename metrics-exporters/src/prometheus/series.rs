//! Sample lines, shared by the 0.0.4 and OpenMetrics visitors.
//!
//! Apart from headers, the formats differ in only three places, so the sample writer
//! takes a [`Dialect`] instead of being written twice: the sample name of a plain
//! counter (0.0.4 uses the registered name, OpenMetrics `<family>_total`), how float
//! values are spelled (`1` vs `1.0`), and whether a histogram may show `_sum`/`_count`
//! (OpenMetrics forbids a negative or NaN sum and a `_sum` next to negative buckets, and
//! `_count` must come and go with `_sum`).
//!
//! What stays the same for every series of a family is prepared once per family in a
//! [`Template`]: each sample name with the first label name (`x_total{method="`) and the
//! later label names (`",route="`). A sample line is then those fragments, the escaped
//! label values, and the value, written through a [`Cursor`] into bytes reserved once
//! per line (see [`line`](super::line) for why that is fast). Integers are written in
//! the same pass; floats after it, through [`float`](crate::text::float). A histogram
//! family's `le` values are rendered once per distinct set of bounds. A series costs no
//! allocation once the buffers have grown; lines too long for the cursor go through
//! `push_str` with the same layout code (see [`Sink`]).

use tachometer_core::naming::{Dialect, NamePart, METER_RATE_WINDOWS, SUMMARY_QUANTILES};
use tachometer_core::{Descriptor, Labels, Strs, Value};

use super::line::{append, Cursor, Fragments, Line, Padded, Sink, MAX_U64_LEN};
use crate::text::float::{write_canonical, write_float, write_u64};

/// Nanoseconds per second: timers record nanoseconds, both formats want base units.
const NANOS_PER_SECOND: f64 = 1e9;

/// The label a sample carries after the series' own labels.
#[derive(Clone, Copy)]
enum Extra<'s> {
    None,
    /// The family's primary label (`quantile`) with a value that needs no escaping.
    Primary(&'s str),
    /// The rate family's label (`window`) with a value that needs no escaping.
    Rate(&'s str),
    /// The primary label with the value rendered in [`Template::scratch`].
    Scratch,
    /// The `le` of bucket `i` (see [`Template::cache_bounds`]).
    Bucket(usize),
}

/// The sample names a family's lines start with; which names they are depends on the
/// family's kind and the dialect (see [`Template::begin_family`]).
#[derive(Debug, Clone, Copy)]
enum Name {
    /// The counter, gauge, bucket, quantile or meter-count sample.
    Primary = 0,
    /// `<name>_sum`.
    Sum = 1,
    /// `<name>_count`.
    Count = 2,
    /// A meter's `<base>_rate`.
    Rate = 3,
}

/// One family's line fragments, rebuilt at each family's first series and reused (with
/// its buffers) for the next family and the next scrape.
#[derive(Debug, Default)]
pub(crate) struct Template {
    frags: Fragments,
    /// Per [`Name`]: the sample name, followed by `{<first label>="` in a labeled family.
    opens: [Padded; 4],
    /// `",<label>="` for the second label on.
    mids: Vec<Padded>,
    /// Total length of `mids`.
    mids_len: usize,
    /// Number of labels the fragments were built for.
    labels: usize,
    /// The bucket bounds whose `le` values are rendered in `le_text`: every series of a
    /// histogram family has the same bounds, and rendering a float costs more than the
    /// rest of a bucket line, so they are rendered once, not once per series.
    le_bounds: Vec<f64>,
    /// The rendered `le` values (`+Inf` last), back to back; they end at `le_ends`.
    le_text: String,
    le_ends: Vec<usize>,
    /// A label value rendered per sample (a collected summary's quantile).
    scratch: String,
    /// The label names the naming table gives the primary and rate samples.
    primary_label: &'static str,
    rate_label: &'static str,
}

impl Template {
    /// Prepares the fragments for `desc`'s family in `dialect`, with label names `names`.
    pub(crate) fn begin_family(
        &mut self,
        dialect: Dialect,
        desc: &Descriptor,
        mut names: Strs<'_>,
    ) {
        self.frags.clear();
        self.mids.clear();
        self.labels = names.len();
        let name = desc.name();
        let first = names.next();
        let rest = names;
        let f = &mut self.frags;
        let mut open = |part: Option<NamePart>| {
            let Some(part) = part else {
                return Padded::default();
            };
            f.begin();
            f.push(part.stem_of(name));
            f.push(part.suffix);
            if let Some(first) = first {
                f.push("{");
                f.push(first);
                f.push("=\"");
            }
            f.end()
        };
        let n = desc.kind().exposition().names(dialect);
        self.primary_label = n.primary_label.unwrap_or_default();
        self.rate_label = n.rate.map(|(_, _, label)| label).unwrap_or_default();
        self.opens = [
            open(Some(n.primary)),
            open(n.sum),
            open(n.count),
            open(n.rate.map(|(_, sample, _)| sample)),
        ];
        let f = &mut self.frags;
        for label in rest {
            f.begin();
            f.push("\",");
            f.push(label);
            f.push("=\"");
            self.mids.push(f.end());
        }
        self.mids_len = self.mids.iter().map(|m| m.len()).sum();
    }

    /// Makes `le` values for `bounds` (plus `+Inf`) available to [`Extra::Bucket`],
    /// rendering them only if they differ from the last bounds seen. `le` values use
    /// OpenMetrics canonical form in both formats.
    fn cache_bounds(&mut self, bounds: &[f64]) {
        if self.le_bounds.as_slice() == bounds && !self.le_ends.is_empty() {
            return;
        }
        self.le_bounds.clear();
        self.le_bounds.extend_from_slice(bounds);
        self.le_text.clear();
        self.le_ends.clear();
        for &bound in bounds.iter().chain([f64::INFINITY].iter()) {
            write_canonical(&mut self.le_text, bound);
            self.le_ends.push(self.le_text.len());
        }
    }

    /// The rendered `le` of bucket `i` (`+Inf` for `i == bounds.len()`).
    fn le(&self, i: usize) -> &str {
        let start = match i.checked_sub(1) {
            Some(prev) => self.le_ends.get(prev).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.le_ends.get(i).copied().unwrap_or(start);
        self.le_text.get(start..end).unwrap_or_default()
    }

    /// Upper bound of what [`head`](Self::head) writes.
    #[inline(always)]
    fn head_len(&self, name: Name, values: &Strs<'_>, extra: Option<(&str, &str)>) -> usize {
        let values: usize = values.clone().map(str::len).sum();
        let extra = extra.map_or(0, |(n, v)| n.len() + v.len() + 4);
        // Escaping at most doubles a value; `"} ` or `{`…`} ` closes the labels.
        self.opens[name as usize].len() + self.mids_len + 2 * values + extra + 3
    }

    /// Writes a sample line up to its value: name, labels, `extra`, and the space.
    #[inline(always)]
    fn head<S: Sink>(&self, c: &mut S, name: Name, values: &Strs<'_>, extra: Option<(&str, &str)>) {
        c.fragment(&self.frags, self.opens[name as usize]);
        let mut rest = values.clone();
        if let Some(first) = rest.next() {
            c.label_value(first);
            for (mid, v) in self.mids.iter().zip(rest) {
                c.fragment(&self.frags, *mid);
                c.label_value(v);
            }
            if let Some((n, v)) = extra {
                c.byte(b'"');
                c.byte(b',');
                c.str(n);
                c.byte(b'=');
                c.byte(b'"');
                c.str(v);
            }
            c.ascii3(*b"\"} ");
        } else if let Some((n, v)) = extra {
            c.byte(b'{');
            c.str(n);
            c.byte(b'=');
            c.byte(b'"');
            c.str(v);
            c.ascii3(*b"\"} ");
        } else {
            c.byte(b' ');
        }
    }
}

/// Writes sample lines of one series with a family's [`Template`].
struct SampleWriter<'o, 't> {
    out: &'o mut String,
    tpl: &'t mut Template,
    dialect: Dialect,
}

impl SampleWriter<'_, '_> {
    /// `extra` as a label name and value.
    #[inline(always)]
    fn extra<'e>(tpl: &'e Template, extra: Extra<'e>) -> Option<(&'e str, &'e str)> {
        match extra {
            Extra::None => None,
            Extra::Primary(v) => Some((tpl.primary_label, v)),
            Extra::Rate(v) => Some((tpl.rate_label, v)),
            Extra::Scratch => Some((tpl.primary_label, tpl.scratch.as_str())),
            Extra::Bucket(i) => Some((tpl.primary_label, tpl.le(i))),
        }
    }

    #[inline(always)]
    fn uint(&mut self, name: Name, values: &Strs<'_>, extra: Extra<'_>, v: u64) {
        match extra {
            Extra::None => self.int_line::<false>(name, values, extra, false, v),
            _ => self.int_line::<true>(name, values, extra, false, v),
        }
    }

    #[inline(always)]
    fn int(&mut self, name: Name, values: &Strs<'_>, v: i64) {
        self.int_line::<false>(name, values, Extra::None, v < 0, v.unsigned_abs());
    }

    /// A line with an integer value (`negative`, magnitude `v`). `EXTRA` says whether
    /// `extra` may be anything but [`Extra::None`]: compiled apart, the common lines
    /// (counters, gauges) carry no code for an extra label.
    #[inline(always)]
    fn int_line<const EXTRA: bool>(
        &mut self,
        name: Name,
        values: &Strs<'_>,
        extra: Extra<'_>,
        negative: bool,
        v: u64,
    ) {
        let tpl = &*self.tpl;
        let extra = if EXTRA { Self::extra(tpl, extra) } else { None };
        let max = tpl.head_len(name, values, extra) + 1 + MAX_U64_LEN + 1;
        let line = IntLine {
            head: Head {
                tpl,
                name,
                values,
                extra,
            },
            negative,
            v,
        };
        let fast = append(self.out, max, line);
        if !fast {
            tpl.head(self.out, name, values, extra);
            if negative {
                self.out.push('-');
            }
            write_u64(self.out, v);
            self.out.push('\n');
        }
    }

    fn float(&mut self, name: Name, values: &Strs<'_>, extra: Extra<'_>, v: f64) {
        let tpl = &*self.tpl;
        let extra = Self::extra(tpl, extra);
        let max = tpl.head_len(name, values, extra);
        let head = Head {
            tpl,
            name,
            values,
            extra,
        };
        let fast = append(self.out, max, head);
        if !fast {
            tpl.head(self.out, name, values, extra);
        }
        match self.dialect {
            Dialect::Text004 => write_float(self.out, v),
            Dialect::OpenMetrics => write_canonical(self.out, v),
        }
        self.out.push('\n');
    }
}

/// A sample line up to its value (see [`Template::head`]).
struct Head<'a> {
    tpl: &'a Template,
    name: Name,
    values: &'a Strs<'a>,
    extra: Option<(&'a str, &'a str)>,
}

impl Line for Head<'_> {
    #[inline(always)]
    fn write(self, mut c: Cursor<'_>) -> Cursor<'_> {
        self.tpl.head(&mut c, self.name, self.values, self.extra);
        c
    }
}

/// A whole sample line with an integer value.
struct IntLine<'a> {
    head: Head<'a>,
    negative: bool,
    v: u64,
}

impl Line for IntLine<'_> {
    #[inline(always)]
    fn write(self, c: Cursor<'_>) -> Cursor<'_> {
        let mut c = self.head.write(c);
        if self.negative {
            c.byte(b'-');
        }
        c.u64(self.v);
        c.byte(b'\n');
        c
    }
}

/// Writes one series' samples with `tpl`, which [`Template::begin_family`] prepared for
/// this family. Everything goes to `out` except a meter's rate samples, which belong to
/// a second family and go to `aux` (flushed at the family's end).
#[inline(always)]
pub(crate) fn write_series(
    out: &mut String,
    aux: &mut String,
    tpl: &mut Template,
    dialect: Dialect,
    desc: &Descriptor,
    labels: Labels<'_>,
    value: Value<'_>,
) {
    let values = &labels.values();
    if values.len() != tpl.labels || labels.names().len() != tpl.labels {
        // Every series of a family has the family's labels; should that ever not hold,
        // fragments for the wrong label names would be worse than rebuilding them.
        tpl.begin_family(dialect, desc, labels.names());
    }
    let mut w = SampleWriter { out, tpl, dialect };
    match value {
        Value::Counter(v) => w.uint(Name::Primary, values, Extra::None, v),
        Value::Gauge(v) => w.int(Name::Primary, values, v),
        Value::FloatCounter(_)
        | Value::FloatGauge(_)
        | Value::Unknown(_)
        | Value::Histogram { .. }
        | Value::NativeHistogram(_)
        | Value::HdrHistogram(_)
        | Value::Timer(_)
        | Value::Meter(_)
        | Value::Summary { .. } => write_other(w, aux, values, value),
    }
}

/// [`write_series`] for everything but integer counters and gauges, kept out of line so
/// that those (the bulk of most scrapes) run through a small function.
#[inline(never)]
fn write_other(mut w: SampleWriter<'_, '_>, aux: &mut String, values: &Strs<'_>, value: Value<'_>) {
    let dialect = w.dialect;
    match value {
        Value::Counter(v) => w.uint(Name::Primary, values, Extra::None, v),
        Value::Gauge(v) => w.int(Name::Primary, values, v),
        Value::FloatCounter(v) => w.float(Name::Primary, values, Extra::None, v),
        Value::FloatGauge(v) => w.float(Name::Primary, values, Extra::None, v),
        Value::Histogram {
            bounds,
            counts,
            sum,
        } => {
            w.tpl.cache_bounds(bounds);
            let mut cumulative = 0u64;
            // Always through `+Inf`, whatever `counts` holds, so the `+Inf` bucket exists
            // and equals `_count`.
            for i in 0..=bounds.len() {
                cumulative = cumulative.saturating_add(counts.get(i).copied().unwrap_or(0));
                w.uint(Name::Primary, values, Extra::Bucket(i), cumulative);
            }
            let show_sum = match dialect {
                Dialect::Text004 => true,
                Dialect::OpenMetrics => sum >= 0.0 && bounds.iter().all(|b| *b >= 0.0),
            };
            if show_sum {
                w.float(Name::Sum, values, Extra::None, sum);
                w.uint(Name::Count, values, Extra::None, cumulative);
            }
        }
        Value::NativeHistogram(s) => {
            // Text formats carry only the classic buckets (`+Inf` alone without them).
            let (bounds, counts) = s.classic_view();
            let sum = s.sum;
            write_other(
                w,
                aux,
                values,
                Value::Histogram {
                    bounds,
                    counts,
                    sum,
                },
            );
        }
        Value::HdrHistogram(s) => {
            for (q, text) in SUMMARY_QUANTILES {
                let extra = Extra::Primary(text);
                w.float(Name::Primary, values, extra, s.quantile(q));
            }
            w.uint(Name::Sum, values, Extra::None, s.sum());
            w.uint(Name::Count, values, Extra::None, s.count());
        }
        Value::Timer(t) => {
            let d = &t.durations;
            for (q, text) in SUMMARY_QUANTILES {
                let seconds = d.quantile(q) / NANOS_PER_SECOND;
                w.float(Name::Primary, values, Extra::Primary(text), seconds);
            }
            // Division, not `* 1e-9`: 25_000_000 ns must print as 0.025, not 0.025000000000000001.
            let sum = d.sum() as f64 / NANOS_PER_SECOND;
            w.float(Name::Sum, values, Extra::None, sum);
            w.uint(Name::Count, values, Extra::None, d.count());
        }
        Value::Meter(m) => {
            w.uint(Name::Primary, values, Extra::None, m.count);
            let mut r = SampleWriter {
                out: aux,
                tpl: w.tpl,
                dialect,
            };
            let rates = [m.m1_rate, m.m5_rate, m.m15_rate, m.mean_rate];
            for (window, rate) in METER_RATE_WINDOWS.into_iter().zip(rates) {
                r.float(Name::Rate, values, Extra::Rate(window), rate);
            }
        }
        Value::Summary {
            quantiles,
            sum,
            count,
        } => {
            for &(q, v) in quantiles {
                w.tpl.scratch.clear();
                write_canonical(&mut w.tpl.scratch, q);
                w.float(Name::Primary, values, Extra::Scratch, v);
            }
            w.float(Name::Sum, values, Extra::None, sum);
            w.uint(Name::Count, values, Extra::None, count);
        }
        Value::Unknown(v) => w.float(Name::Primary, values, Extra::None, v),
    }
}

#[cfg(test)]
mod tests {
    use tachometer_core::{Buckets, Opts, Registry};

    use super::super::{Encoder, Format};
    use crate::text::escape::write_label_value;

    /// Lines short enough for the cursor and too long for it (the `push_str` path) must
    /// read the same: label values of every length across the boundary, clean and with
    /// bytes to escape.
    #[test]
    fn short_and_long_lines_agree() {
        let registry = Registry::new();
        let family = registry
            .counter_family(Opts::new("lines_total", "").labels(&["a", "b"]))
            .unwrap();
        let mut want = String::from("# TYPE lines_total counter\n");
        for len in (0..=300).step_by(7) {
            for special in ["", "\"", "\\\n"] {
                let a: String = "é✓x".chars().cycle().take(len).collect::<String>() + special;
                let b = format!("{special}{len}");
                let v = len as u64 * 1_000_003;
                family
                    .with_labels(&[a.as_str(), b.as_str()])
                    .unwrap()
                    .increment(v);
                want.push_str("lines_total{a=\"");
                write_label_value(&mut want, &a);
                want.push_str("\",b=\"");
                write_label_value(&mut want, &b);
                want.push_str(&format!("\"}} {v}\n"));
            }
        }
        assert_eq!(Encoder::new().encode(&registry, Format::Text004), want);
    }

    /// `le` values are rendered once per distinct set of bounds; families with other
    /// bounds (here a prefix, then a different set, then the first again) must not see
    /// stale ones.
    #[test]
    fn each_family_gets_its_own_le_values() {
        let registry = Registry::new();
        let sets: [&[f64]; 3] = [&[0.5, 1.0, 2.0], &[0.5, 1.0], &[1e6, 2.5e6]];
        for (i, bounds) in sets.iter().chain(&sets[..1]).enumerate() {
            let opts = Opts::new(format!("h{i}"), "").labels(&["k"]);
            let family = registry
                .histogram_family(opts, Buckets::new(bounds).unwrap())
                .unwrap();
            family.with_labels(&["x"]).unwrap().record(1.0);
            family.with_labels(&["y"]).unwrap().record(3e6);
        }
        let text = Encoder::new().encode(&registry, Format::Text004).to_owned();
        let les = |family: &str, series: &str| -> Vec<String> {
            let prefix = format!("{family}_bucket{{k=\"{series}\",le=\"");
            text.lines()
                .filter_map(|l| l.strip_prefix(prefix.as_str()))
                .map(|l| l.split('"').next().unwrap_or_default().to_owned())
                .collect()
        };
        let want: [&[&str]; 4] = [
            &["0.5", "1.0", "2.0", "+Inf"],
            &["0.5", "1.0", "+Inf"],
            &["1e+06", "2.5e+06", "+Inf"],
            &["0.5", "1.0", "2.0", "+Inf"],
        ];
        for (i, want) in want.iter().enumerate() {
            for series in ["x", "y"] {
                assert_eq!(
                    les(&format!("h{i}"), series),
                    *want,
                    "h{i} {series}\n{text}"
                );
            }
        }
    }

    /// Lines whose fixed parts (long label names) put a fragment near the end of the
    /// cursor's window, for float lines (head only) and integer lines, at every length
    /// across the window's end.
    #[test]
    fn lines_ending_near_the_window_end() {
        for name_len in 1..90 {
            let registry = Registry::new();
            // A short last label name: its fragment is the one that starts latest.
            let names: Vec<String> = (0..4)
                .map(|i| format!("l{i}{}", "x".repeat(if i < 3 { name_len } else { 0 })))
                .collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let floats = registry
                .float_gauge_family(Opts::new("f", "").labels(&names))
                .unwrap();
            let ints = registry
                .gauge_family(Opts::new("g", "").labels(&names))
                .unwrap();
            let values = ["", "a", "b\"", "c"];
            floats.with_labels(&values).unwrap().set(1.5);
            ints.with_labels(&values).unwrap().set(-7);
            let labels: Vec<String> = names
                .iter()
                .zip(values)
                .map(|(n, v)| {
                    let mut s = format!("{n}=\"");
                    write_label_value(&mut s, v);
                    s + "\""
                })
                .collect();
            let labels = labels.join(",");
            let want =
                format!("# TYPE f gauge\nf{{{labels}}} 1.5\n# TYPE g gauge\ng{{{labels}}} -7\n");
            assert_eq!(
                Encoder::new().encode(&registry, Format::Text004),
                want,
                "{name_len}"
            );
        }
    }
}
