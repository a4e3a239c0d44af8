//! Formatting one StatsD line, without allocating.
//!
//! Direct-mode events are formatted on the caller's thread, so this writes into any
//! [`Out`] — a reused `Vec` for the reporter, or an inline [`Line`] buffer that travels
//! through the queue by value — and formats numbers through a stack buffer. Everything
//! the daemon would reject (non-finite values, negative timings, bad sample rates) is
//! refused here, before it can become a `bad_lines_seen`.

use std::fmt::{self, Write as _};

use super::dialect::{keeps_byte, sanitize, Dialect, Kind, LabelStyle, Part};

/// Somewhere line bytes go.
pub(crate) trait Out {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
}

impl Out for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Bytes kept inline in a queued [`Line`] before it spills to the heap.
pub(crate) const INLINE: usize = 232;

/// A formatted line (or negative-gauge pair) carried through the direct-mode queue by
/// value, so typical lines cost no allocation.
#[derive(Debug)]
// Inline on purpose: boxing the buffer is the allocation this type exists to avoid.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Line {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Vec<u8>),
}

impl Line {
    pub(crate) fn new() -> Self {
        Line::Inline {
            len: 0,
            buf: [0; INLINE],
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Line::Inline { len, buf } => &buf[..usize::from(*len)],
            Line::Heap(v) => v,
        }
    }
}

impl Out for Line {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        match self {
            Line::Inline { len, buf } => {
                let at = usize::from(*len);
                if at + bytes.len() <= INLINE {
                    buf[at..at + bytes.len()].copy_from_slice(bytes);
                    // Fits in u8: INLINE < 256.
                    *len = (at + bytes.len()) as u8;
                } else {
                    let mut v = Vec::with_capacity((at + bytes.len()).max(2 * INLINE));
                    v.extend_from_slice(&buf[..at]);
                    v.extend_from_slice(bytes);
                    *self = Line::Heap(v);
                }
            }
            Line::Heap(v) => v.extend_from_slice(bytes),
        }
    }
}

/// Why a sample was not turned into a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// NaN or ±∞: no StatsD daemon parses it.
    NotFinite,
    /// A negative value for a type sent as `ms`, which Etsy rejects.
    Negative,
    /// A sample rate outside (0, 1] (NaN, ±∞, ≤ 0, > 1), or too small to write without
    /// an exponent.
    Rate,
}

/// A sample value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    UInt(u64),
    Float(f64),
}

impl Num {
    fn is_negative(self) -> bool {
        match self {
            Num::Int(v) => v < 0,
            Num::UInt(_) => false,
            Num::Float(v) => v < 0.0,
        }
    }
}

/// Where a line's name comes from: `[prefix.]name[.suffix]` plus labels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key<'a, L> {
    pub dialect: Dialect,
    pub prefix: &'a str,
    pub name: &'a str,
    pub suffix: &'a str,
    pub labels: L,
}

/// A small stack buffer numbers are formatted into.
struct NumBuf {
    buf: [u8; 48],
    len: usize,
}

impl NumBuf {
    fn new() -> Self {
        Self {
            buf: [0; 48],
            len: 0,
        }
    }
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Write for NumBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `v` the shortest way every StatsD parser reads back exactly: integers as
/// integers, moderate magnitudes in plain decimal, extreme ones with an exponent
/// (JavaScript's `Number` and Go's `ParseFloat` both take `1.5e300`).
fn format_num(v: Num, out: &mut NumBuf) {
    // NumBuf holds 48 bytes; i64/u64 need ≤ 20, `{:e}` of an f64 ≤ 24, and plain
    // decimal is only used below 1e15 and above 1e-5 (≤ 17 significant digits + 6).
    let _ = match v {
        Num::Int(i) if i < 0 => {
            out.buf[0] = b'-';
            out.len = 1;
            put_u64(i.unsigned_abs(), out);
            Ok(())
        }
        Num::Int(i) => {
            put_u64(i.unsigned_abs(), out);
            Ok(())
        }
        Num::UInt(u) => {
            put_u64(u, out);
            Ok(())
        }
        Num::Float(f) => {
            let f = f + 0.0; // -0.0 → 0.0: "-0" would read as "decrement by 0" in Etsy
            let a = f.abs();
            if f.fract() == 0.0 && a < 1e15 {
                write!(out, "{}", f as i64)
            } else if !(1e-5..1e15).contains(&a) {
                write!(out, "{f:e}")
            } else {
                write!(out, "{f}")
            }
        }
    };
}

/// Appends the decimal digits of `v` (the hot path for counters: no `fmt` machinery).
fn put_u64(mut v: u64, out: &mut NumBuf) {
    let mut digits = [0u8; 20];
    let mut n = digits.len();
    loop {
        n -= 1;
        digits[n] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let d = &digits[n..];
    out.buf[out.len..out.len + d.len()].copy_from_slice(d);
    out.len += d.len();
}

/// Formats a sample rate. Etsy reads it with `/^@([\d\.]+)/`, so no exponent is allowed.
fn format_rate(rate: f64, out: &mut NumBuf) -> Result<(), Invalid> {
    if !(rate > 0.0 && rate <= 1.0) {
        return Err(Invalid::Rate);
    }
    write!(out, "{rate}").map_err(|_| Invalid::Rate)
}

fn put_clean(out: &mut impl Out, dialect: Dialect, part: Part, text: &str) {
    // Names are usually clean already: copy runs of bytes that map to themselves in one
    // go and only translate the characters that need it.
    let bytes = text.as_bytes();
    let (mut run, mut i) = (0, 0);
    while i < bytes.len() {
        let b = bytes[i];
        if keeps_byte(dialect, part, b) {
            i += 1;
            continue;
        }
        out.put(&bytes[run..i]);
        let c = text[i..]
            .chars()
            .next()
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        out.put(&[sanitize(dialect, part, c)]);
        i += c.len_utf8();
        run = i;
    }
    out.put(&bytes[run..]);
}

fn write_key<'a, O: Out, L: Iterator<Item = (&'a str, &'a str)> + Clone>(
    out: &mut O,
    key: &Key<'_, L>,
) {
    let d = key.dialect;
    if !key.prefix.is_empty() {
        put_clean(out, d, Part::Name, key.prefix);
        out.put(b".");
    }
    if key.name.is_empty() {
        out.put(b"_");
    } else {
        put_clean(out, d, Part::Name, key.name);
    }
    if let Dialect::Etsy(LabelStyle::Values) = d {
        for (_, value) in key.labels.clone() {
            out.put(b".");
            if value.is_empty() {
                out.put(b"_");
            } else {
                put_clean(out, d, Part::Segment, value);
            }
        }
    }
    if !key.suffix.is_empty() {
        out.put(b".");
        put_clean(out, d, Part::Name, key.suffix);
    }
    if let Dialect::Etsy(LabelStyle::GraphiteTags) = d {
        for (name, value) in key.labels.clone().filter(|(_, v)| !v.is_empty()) {
            out.put(b";");
            put_clean(out, d, Part::GraphiteTag, name);
            out.put(b"=");
            put_clean(out, d, Part::GraphiteTag, value);
        }
    }
}

fn write_dog_tags<'a, O: Out>(out: &mut O, labels: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut first = true;
    for (name, value) in labels {
        out.put(if first { b"|#" } else { b"," });
        first = false;
        put_clean(out, Dialect::DogStatsd, Part::DogKey, name);
        if !value.is_empty() {
            out.put(b":");
            put_clean(out, Dialect::DogStatsd, Part::DogValue, value);
        }
    }
}

/// Appends one line — or, for a negative Etsy gauge, the `0|g` + value pair joined by
/// `\n` — to `out`. Nothing is written when the sample is refused.
pub(crate) fn write_line<'a, O: Out, L: Iterator<Item = (&'a str, &'a str)> + Clone>(
    out: &mut O,
    key: &Key<'_, L>,
    value: Num,
    kind: Kind,
    rate: f64,
) -> Result<(), Invalid> {
    if let Num::Float(f) = value {
        if !f.is_finite() {
            return Err(Invalid::NotFinite);
        }
    }
    if value.is_negative() && kind.non_negative(key.dialect) {
        return Err(Invalid::Negative);
    }
    let mut rate_buf = NumBuf::new();
    // A rate outside (0, 1] is refused for every kind (the documented contract), even
    // where a valid one is ignored (gauges): sent as rate 1 it would mis-scale counts.
    if !(rate > 0.0 && rate <= 1.0) {
        return Err(Invalid::Rate);
    }
    let with_rate = kind.sampled() && rate < 1.0;
    if with_rate {
        format_rate(rate, &mut rate_buf)?;
    }
    let mut num = NumBuf::new();
    format_num(value, &mut num);
    if kind == Kind::Gauge
        && value.is_negative()
        && num.bytes() != b"0"
        && key.dialect.gauge_needs_reset()
    {
        write_key(out, key);
        out.put(b":0|g\n");
    }
    write_key(out, key);
    out.put(b":");
    out.put(num.bytes());
    out.put(b"|");
    out.put(kind.token(key.dialect));
    if with_rate {
        out.put(b"|@");
        out.put(rate_buf.bytes());
    }
    if key.dialect == Dialect::DogStatsd {
        write_dog_tags(out, key.labels.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        d: Dialect,
        name: &str,
        labels: &[(&str, &str)],
        v: Num,
        kind: Kind,
        rate: f64,
    ) -> Result<String, Invalid> {
        let mut out = Vec::new();
        let key = Key {
            dialect: d,
            prefix: "",
            name,
            suffix: "",
            labels: labels.iter().copied(),
        };
        write_line(&mut out, &key, v, kind, rate)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn dogstatsd_reference_vectors() {
        let d = Dialect::dogstatsd();
        let tags = [("env", "prod"), ("service", "web")];
        assert_eq!(
            line(d, "page.views", &tags, Num::Int(1), Kind::Count, 0.5).unwrap(),
            "page.views:1|c|@0.5|#env:prod,service:web"
        );
        assert_eq!(
            line(d, "song.length", &[], Num::Int(240), Kind::Histogram, 0.5).unwrap(),
            "song.length:240|h|@0.5"
        );
        assert_eq!(
            line(d, "fuel.level", &[], Num::Float(0.5), Kind::Gauge, 1.0).unwrap(),
            "fuel.level:0.5|g"
        );
        assert_eq!(
            line(d, "x", &[], Num::Int(-5), Kind::Gauge, 1.0).unwrap(),
            "x:-5|g"
        );
        assert_eq!(
            line(d, "x", &[("a", "")], Num::Int(1), Kind::Distribution, 1.0).unwrap(),
            "x:1|d|#a"
        );
    }

    #[test]
    fn etsy_negative_gauge_is_a_reset_pair() {
        let d = Dialect::etsy();
        assert_eq!(
            line(d, "gaugor", &[], Num::Int(-10), Kind::Gauge, 1.0).unwrap(),
            "gaugor:0|g\ngaugor:-10|g"
        );
        assert_eq!(
            line(d, "g", &[], Num::Float(-0.0), Kind::Gauge, 1.0).unwrap(),
            "g:0|g"
        );
        // Rates never apply to gauges.
        assert_eq!(
            line(d, "g", &[], Num::Int(3), Kind::Gauge, 0.1).unwrap(),
            "g:3|g"
        );
    }

    #[test]
    fn etsy_label_styles() {
        let labels = [("method", "GET"), ("route", "/users/{id}"), ("empty", "")];
        let v = line(
            Dialect::etsy(),
            "http.hits",
            &labels,
            Num::Int(2),
            Kind::Count,
            1.0,
        )
        .unwrap();
        assert_eq!(v, "http.hits.GET.-users-_id_._:2|c");
        let mut out = Vec::new();
        let key = Key {
            dialect: Dialect::Etsy(LabelStyle::GraphiteTags),
            prefix: "app",
            name: "lat",
            suffix: "p99",
            labels: labels.iter().copied(),
        };
        write_line(&mut out, &key, Num::Float(1.5), Kind::Gauge, 1.0).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "app.lat.p99;method=GET;route=-users-_id_:1.5|g"
        );
    }

    #[test]
    fn numbers_read_back_exactly() {
        let d = Dialect::etsy();
        let f = |v: f64| line(d, "x", &[], Num::Float(v), Kind::Count, 1.0).unwrap();
        assert_eq!(f(3.0), "x:3|c");
        assert_eq!(f(0.1), "x:0.1|c");
        assert_eq!(f(1e300), "x:1e300|c");
        assert_eq!(f(-2.5e-7), "x:-2.5e-7|c");
        assert_eq!(
            line(d, "x", &[], Num::UInt(u64::MAX), Kind::Count, 1.0).unwrap(),
            "x:18446744073709551615|c"
        );
    }

    #[test]
    fn integers_and_mixed_text_take_the_fast_paths_correctly() {
        let d = Dialect::etsy();
        let i = |v: i64| line(d, "x", &[], Num::Int(v), Kind::Count, 1.0).unwrap();
        assert_eq!(i(0), "x:0|c");
        assert_eq!(i(-7), "x:-7|c");
        assert_eq!(i(i64::MIN), "x:-9223372036854775808|c");
        assert_eq!(i(i64::MAX), "x:9223372036854775807|c");
        let t = line(d, "aé b/c€d", &[], Num::Int(1), Kind::Count, 1.0).unwrap();
        assert_eq!(t, "a__b-c_d:1|c");
    }

    #[test]
    fn refuses_what_the_daemon_rejects() {
        let d = Dialect::etsy();
        assert_eq!(
            line(d, "x", &[], Num::Float(f64::NAN), Kind::Gauge, 1.0),
            Err(Invalid::NotFinite)
        );
        assert_eq!(
            line(d, "x", &[], Num::Float(-1.0), Kind::Histogram, 1.0),
            Err(Invalid::Negative)
        );
        assert_eq!(
            line(d, "x", &[], Num::Int(1), Kind::Count, 0.0),
            Err(Invalid::Rate)
        );
        assert_eq!(
            line(d, "x", &[], Num::Int(1), Kind::Count, f64::NAN),
            Err(Invalid::Rate)
        );
        assert_eq!(
            line(d, "x", &[], Num::Int(1), Kind::Count, 1e-300),
            Err(Invalid::Rate)
        );
        // Above 1 or infinite: documented as dropped, never sent as rate 1.
        for rate in [1.000_000_1, 2.0, f64::INFINITY, f64::NEG_INFINITY, -0.5] {
            for kind in [Kind::Count, Kind::Timing, Kind::Gauge] {
                assert_eq!(
                    line(d, "x", &[], Num::Int(1), kind, rate),
                    Err(Invalid::Rate),
                    "{rate} {kind:?}"
                );
            }
        }
        assert_eq!(
            line(d, "", &[], Num::Int(1), Kind::Count, 1.0).unwrap(),
            "_:1|c"
        );
    }

    #[test]
    fn inline_line_spills_to_heap_intact() {
        let mut l = Line::new();
        let long = "a".repeat(INLINE + 10);
        l.put(b"xy");
        l.put(long.as_bytes());
        assert_eq!(l.as_bytes().len(), INLINE + 12);
        assert!(matches!(l, Line::Heap(_)));
    }
}
