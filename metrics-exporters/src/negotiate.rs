//! Content negotiation for `/metrics`: which text format and whether to gzip.
//!
//! Prometheus builds its `Accept` header from its configured scrape protocols, each with
//! a descending `q`, ending in `*/*`. The exact string changes between Prometheus
//! versions (the q numbers, `escaping=` parameters, protobuf first when native
//! histograms are on), so matching it literally would break on the next release. This
//! module therefore parses `Accept` generically (RFC 9110 media ranges with q-values,
//! case-insensitive names, optional whitespace, quoted parameter values) and then maps
//! each acceptable range to a [`Format`] we can produce:
//!
//! | media range | format |
//! |---|---|
//! | `application/openmetrics-text; version=1.0.0` | [`Format::OpenMetrics100`] |
//! | `application/openmetrics-text; version=0.0.1` or no version | [`Format::OpenMetrics001`] |
//! | `application/openmetrics-text` with any other version | not offered (skipped) |
//! | `text/plain` with `version=0.0.4` or no version | [`Format::Text004`] |
//! | `text/plain` with any other version (e.g. Prometheus text 1.0.0) | not offered (skipped) |
//! | `text/*`, `*/*` | [`Format::Text004`] |
//! | `application/*` | [`Format::OpenMetrics100`] |
//! | anything else (protobuf, JSON, …) | not offered (skipped) |
//!
//! The highest-q offered range wins (ties: the more specific range, then the earlier
//! one). A range with `q=0` refuses that format even when a wildcard would otherwise
//! select it. When nothing matches, or the header is missing or unreadable, the answer
//! is text 0.0.4, as Prometheus' content-negotiation document prescribes.
//!
//! ## Bounds
//!
//! Both headers are attacker-controlled, so negotiation reads a bounded amount and does
//! work linear in it: at most [`MAX_HEADER_BYTES`] bytes (all values of the header
//! joined) and at most [`MAX_LIST_ELEMENTS`] list elements, each parsed twice (once to
//! learn which formats are refused with `q=0`, once to choose). A header past either
//! bound is refused by [`try_negotiate_format`] / [`try_accepts_gzip`] with a
//! [`NegotiationError`]; the server answers it with `431 Request Header Fields Too
//! Large`, since no real scraper sends one (Prometheus sends five ranges in about 300
//! bytes). The infallible [`negotiate_format`] and [`accepts_gzip`] treat such a header
//! as absent (text 0.0.4, no compression).

use std::fmt;

use crate::prometheus::Format;

/// Longest `Accept` or `Accept-Encoding` header (all values joined) that is negotiated.
pub const MAX_HEADER_BYTES: usize = 4096;

/// Most list elements (media ranges or codings, empty ones included) that are read from
/// one `Accept` or `Accept-Encoding` header.
pub const MAX_LIST_ELEMENTS: usize = 64;

/// Why a header was not negotiated: it is past a bound (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// The header is longer than [`MAX_HEADER_BYTES`].
    TooLong {
        /// `"Accept"` or `"Accept-Encoding"`.
        header: &'static str,
        /// Its length in bytes (all values joined with `,`).
        len: usize,
    },
    /// The header lists more than [`MAX_LIST_ELEMENTS`] elements.
    TooManyElements {
        /// `"Accept"` or `"Accept-Encoding"`.
        header: &'static str,
    },
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NegotiationError::TooLong { header, len } => write!(
                f,
                "the {header} header is {len} bytes long; send at most {MAX_HEADER_BYTES} bytes"
            ),
            NegotiationError::TooManyElements { header } => write!(
                f,
                "the {header} header lists more than {MAX_LIST_ELEMENTS} elements; send at most {MAX_LIST_ELEMENTS}"
            ),
        }
    }
}

impl std::error::Error for NegotiationError {}

/// Chooses the exposition format for a request's `Accept` header (all of its values
/// joined with `,`; `None` when the request has none). A header past the bounds (see
/// the module docs) is treated as absent: text 0.0.4.
///
/// ```
/// use tachometer::exporters::negotiate::negotiate_format;
/// use tachometer::exporters::prometheus::Format;
/// assert_eq!(negotiate_format(None), Format::Text004);
/// assert_eq!(
///     negotiate_format(Some("application/openmetrics-text;version=1.0.0;q=0.9,*/*;q=0.1")),
///     Format::OpenMetrics100
/// );
/// ```
#[must_use]
pub fn negotiate_format(accept: Option<&str>) -> Format {
    try_negotiate_format(accept).unwrap_or(Format::Text004)
}

/// [`negotiate_format`], refusing a header past the bounds instead of ignoring it.
///
/// ```
/// use tachometer::exporters::negotiate::{try_negotiate_format, NegotiationError};
/// let huge = "*/*,".repeat(1100);
/// assert_eq!(
///     try_negotiate_format(Some(&huge)),
///     Err(NegotiationError::TooLong { header: "Accept", len: 4400 })
/// );
/// ```
pub fn try_negotiate_format(accept: Option<&str>) -> Result<Format, NegotiationError> {
    let Some(accept) = accept else {
        return Ok(Format::Text004);
    };
    check_bounds("Accept", accept)?;
    Ok(match choose(accept, false) {
        Exposition::Text(format) => format,
        Exposition::Protobuf => Format::Text004,
    })
}

/// What to answer a scrape with: a text format or the protobuf exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exposition {
    /// A text format.
    Text(Format),
    /// `io.prometheus.client.MetricFamily`, varint-delimited
    /// ([`protobuf`](crate::prometheus::protobuf)).
    Protobuf,
}

/// Chooses text or protobuf for a request's `Accept` header (all of its values joined
/// with `,`; `None` when the request has none): protobuf when the best-weighted
/// acceptable range is the delimited `MetricFamily` protobuf (an exact range, so it wins
/// a tie with a wildcard), otherwise as [`negotiate_format`]. Prometheus 2.42 started
/// with `--enable-feature=native-histograms` lists it first at the implied `q=1`, and
/// only this format carries native histograms.
///
/// ```
/// use tachometer::exporters::negotiate::{negotiate, Exposition};
/// use tachometer::exporters::prometheus::Format;
/// let accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/// assert_eq!(negotiate(Some(accept)), Exposition::Protobuf);
/// assert_eq!(negotiate(None), Exposition::Text(Format::Text004));
/// ```
#[must_use]
pub fn negotiate(accept: Option<&str>) -> Exposition {
    try_negotiate(accept).unwrap_or(Exposition::Text(Format::Text004))
}

/// [`negotiate`], refusing a header past the bounds instead of ignoring it.
pub fn try_negotiate(accept: Option<&str>) -> Result<Exposition, NegotiationError> {
    let Some(accept) = accept else {
        return Ok(Exposition::Text(Format::Text004));
    };
    check_bounds("Accept", accept)?;
    Ok(choose(accept, true))
}

/// Checks the length and the number of list elements of a header value.
fn check_bounds(header: &'static str, value: &str) -> Result<(), NegotiationError> {
    if value.len() > MAX_HEADER_BYTES {
        return Err(NegotiationError::TooLong {
            header,
            len: value.len(),
        });
    }
    if split_outside_quotes(value, b',')
        .nth(MAX_LIST_ELEMENTS)
        .is_some()
    {
        return Err(NegotiationError::TooManyElements { header });
    }
    Ok(())
}

/// The choice itself, in two linear passes over the ranges and no allocation.
fn choose(accept: &str, protobuf: bool) -> Exposition {
    // Pass 1: which formats are refused outright (an exact range with q=0).
    let mut refused = [false; 3];
    for range in split_list(accept).filter_map(MediaRange::parse) {
        work::tick();
        if range.q == 0 && range.specificity == Specificity::Exact {
            if let Some(format) = range.format {
                refused[format_index(format)] = true;
            }
        }
    }
    let refused = |format: Format| refused[format_index(format)];
    // Pass 2: the best acceptable range.
    let mut best: Option<(u16, Specificity, Exposition)> = None;
    for range in split_list(accept).filter_map(MediaRange::parse) {
        work::tick();
        if protobuf && range.protobuf && range.q > 0 {
            let better = match best {
                None => true,
                Some((q, specificity, _)) => (range.q, range.specificity) > (q, specificity),
            };
            if better {
                best = Some((range.q, range.specificity, Exposition::Protobuf));
            }
            continue;
        }
        let Some(format) = range.format else { continue };
        if range.q == 0 {
            continue;
        }
        // A wildcard must not hand back a type the client explicitly refused.
        let format = if range.specificity == Specificity::Exact || !refused(format) {
            format
        } else if let Some(other) = WILDCARD_FALLBACKS.iter().copied().find(|f| !refused(*f)) {
            other
        } else {
            continue;
        };
        let better = match best {
            None => true,
            Some((q, specificity, _)) => (range.q, range.specificity) > (q, specificity),
        };
        if better {
            best = Some((range.q, range.specificity, Exposition::Text(format)));
        }
    }
    best.map_or(Exposition::Text(Format::Text004), |(_, _, f)| f)
}

fn format_index(format: Format) -> usize {
    match format {
        Format::Text004 => 0,
        Format::OpenMetrics100 => 1,
        Format::OpenMetrics001 => 2,
    }
}

/// Whether a response may be gzip-compressed, from the request's `Accept-Encoding`
/// (all values joined with `,`; `None` when absent, which means no compression).
///
/// `gzip` (or its alias `x-gzip`) with `q > 0` accepts; `q=0` refuses; `*` with `q > 0`
/// accepts unless gzip itself is listed with `q=0`. A header past the bounds (see the
/// module docs) means no compression.
///
/// ```
/// use tachometer::exporters::negotiate::accepts_gzip;
/// assert!(accepts_gzip(Some("gzip")));
/// assert!(!accepts_gzip(Some("gzip;q=0, identity")));
/// assert!(!accepts_gzip(None));
/// ```
#[must_use]
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    try_accepts_gzip(accept_encoding).unwrap_or(false)
}

/// [`accepts_gzip`], refusing a header past the bounds instead of ignoring it.
pub fn try_accepts_gzip(accept_encoding: Option<&str>) -> Result<bool, NegotiationError> {
    let Some(header) = accept_encoding else {
        return Ok(false);
    };
    check_bounds("Accept-Encoding", header)?;
    let mut gzip: Option<u16> = None;
    let mut star: Option<u16> = None;
    for item in split_list(header) {
        work::tick();
        let mut parts = split_params(item);
        let coding = parts.next().unwrap_or("").trim();
        let mut q = 1000;
        for param in parts {
            if let Some((name, value)) = param.split_once('=') {
                if name.trim().eq_ignore_ascii_case("q") {
                    match parse_qvalue(value.trim()) {
                        Some(v) => q = v,
                        None => q = 0, // a malformed weight is not a "yes"
                    }
                }
            }
        }
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(gzip.map_or(q, |g: u16| g.max(q)));
        } else if coding == "*" {
            star = Some(q);
        }
    }
    Ok(match (gzip, star) {
        (Some(q), _) => q > 0,
        (None, Some(q)) => q > 0,
        (None, None) => false,
    })
}

/// Counts list elements examined, so tests can prove the work is linear.
#[cfg(test)]
mod work {
    use std::cell::Cell;
    thread_local!(static ELEMENTS: Cell<u64> = const { Cell::new(0) });
    pub(super) fn tick() {
        ELEMENTS.with(|c| c.set(c.get() + 1));
    }
    pub(super) fn take() -> u64 {
        ELEMENTS.with(|c| c.replace(0))
    }
}
#[cfg(not(test))]
mod work {
    #[inline(always)]
    pub(super) fn tick() {}
}

/// What `*/*` or a refused wildcard falls back to, in order of preference.
const WILDCARD_FALLBACKS: [Format; 3] = [
    Format::Text004,
    Format::OpenMetrics100,
    Format::OpenMetrics001,
];

/// How specific a media range is; RFC 9110 lets a more specific range override a
/// less specific one at equal weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Specificity {
    Any,
    Type,
    Exact,
}

/// One parsed element of an `Accept` header.
#[derive(Debug)]
struct MediaRange<'a> {
    /// Weight in thousandths (RFC 9110 allows three decimals).
    q: u16,
    specificity: Specificity,
    /// The format we would serve for this range, if any.
    format: Option<Format>,
    /// The range is the delimited `io.prometheus.client.MetricFamily` protobuf.
    protobuf: bool,
    #[allow(dead_code)] // kept for Debug output in test failures
    raw: &'a str,
}

impl<'a> MediaRange<'a> {
    fn parse(raw: &'a str) -> Option<Self> {
        let mut parts = split_params(raw);
        let media = parts.next()?.trim();
        let (ty, subtype) = media.split_once('/')?;
        let (ty, subtype) = (ty.trim(), subtype.trim());
        if ty.is_empty() || subtype.is_empty() {
            return None;
        }
        let mut version: Option<&str> = None;
        let (mut proto, mut encoding) = (None, None);
        let mut q = 1000;
        for param in parts {
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            let name = name.trim();
            let value = unquote(value.trim());
            if name.eq_ignore_ascii_case("q") {
                q = parse_qvalue(value)?;
                // RFC 9110: `q` separates media-type parameters from extensions.
                break;
            }
            if name.eq_ignore_ascii_case("version") {
                version = Some(value);
            } else if name.eq_ignore_ascii_case("proto") {
                proto = Some(value);
            } else if name.eq_ignore_ascii_case("encoding") {
                encoding = Some(value);
            }
        }
        let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let (specificity, format) = if ty == "*" && subtype == "*" {
            (Specificity::Any, Some(Format::Text004))
        } else if subtype == "*" {
            let format = if is(ty, "text") {
                Some(Format::Text004)
            } else if is(ty, "application") {
                Some(Format::OpenMetrics100)
            } else {
                None
            };
            (Specificity::Type, format)
        } else if is(ty, "application") && is(subtype, "openmetrics-text") {
            let format = match version {
                Some("1.0.0") => Some(Format::OpenMetrics100),
                Some("0.0.1") | None => Some(Format::OpenMetrics001),
                Some(_) => None,
            };
            (Specificity::Exact, format)
        } else if is(ty, "text") && is(subtype, "plain") {
            let format = match version {
                Some("0.0.4") | None => Some(Format::Text004),
                Some(_) => None,
            };
            (Specificity::Exact, format)
        } else {
            (Specificity::Exact, None)
        };
        let protobuf = is(ty, "application")
            && is(subtype, "vnd.google.protobuf")
            && proto == Some("io.prometheus.client.MetricFamily")
            && encoding == Some("delimited");
        Some(Self {
            q,
            specificity,
            format,
            protobuf,
            raw,
        })
    }
}

/// Parses an RFC 9110 qvalue (`0`, `0.5`, `1.000`) into thousandths; `None` if malformed.
fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Removes the quotes (and backslash escapes) of an RFC 9110 quoted-string. Escapes
/// are rare in these headers, so a value that has any is returned quoted and simply
/// fails to match a version.
fn unquote(s: &str) -> &str {
    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => inner,
        _ => s,
    }
}

/// Splits a comma-separated header list, respecting quoted strings and skipping empty
/// elements (RFC 9110 §5.6.1 requires recipients to tolerate them).
fn split_list(s: &str) -> impl Iterator<Item = &str> {
    split_outside_quotes(s, b',').filter(|item| !item.trim().is_empty())
}

/// Splits one list element into its value and `;` parameters, respecting quotes.
fn split_params(s: &str) -> impl Iterator<Item = &str> {
    split_outside_quotes(s, b';')
}

fn split_outside_quotes(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut pos = 0;
    let mut in_quotes = false;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        while pos < bytes.len() {
            let b = bytes[pos];
            pos += 1;
            if in_quotes && b == b'\\' {
                pos += 1; // skip the escaped byte (ASCII in a valid header)
            } else if b == b'"' {
                in_quotes = !in_quotes;
            } else if b == sep && !in_quotes {
                let item = &s[start..pos - 1];
                start = pos;
                return Some(item);
            }
        }
        done = true;
        Some(s.get(start..).unwrap_or(""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header Prometheus 3 sends with its default `scrape_protocols` (protocols.md §2.8).
    const PROMETHEUS_3_DEFAULT: &str = "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

    #[test]
    fn prometheus_3_default_header_selects_openmetrics_1_0() {
        assert_eq!(
            negotiate_format(Some(PROMETHEUS_3_DEFAULT)),
            Format::OpenMetrics100
        );
    }

    #[test]
    fn prometheus_3_with_openmetrics_disabled_gets_text() {
        // scrape_protocols: [PrometheusText1.0.0, PrometheusText0.0.4]
        let h = "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert_eq!(negotiate_format(Some(h)), Format::Text004);
    }

    #[test]
    fn protobuf_first_is_skipped_for_the_next_acceptable_type() {
        let h = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,application/openmetrics-text;version=1.0.0;q=0.6,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(negotiate_format(Some(h)), Format::OpenMetrics100);
        let only_pb = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
        assert_eq!(negotiate_format(Some(only_pb)), Format::Text004);
    }

    #[test]
    fn prometheus_2_style_header() {
        let h = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate_format(Some(h)), Format::OpenMetrics100);
    }

    #[test]
    fn openmetrics_versions() {
        let f = |h| negotiate_format(Some(h));
        assert_eq!(
            f("application/openmetrics-text; version=1.0.0"),
            Format::OpenMetrics100
        );
        assert_eq!(
            f("application/openmetrics-text; version=0.0.1"),
            Format::OpenMetrics001
        );
        assert_eq!(f("application/openmetrics-text"), Format::OpenMetrics001);
        assert_eq!(
            f("application/openmetrics-text; version=\"1.0.0\""),
            Format::OpenMetrics100
        );
        // An unknown version is not something we can produce: fall back.
        assert_eq!(
            f("application/openmetrics-text; version=2.0.0"),
            Format::Text004
        );
    }

    #[test]
    fn missing_or_bare_wildcard_or_garbage_is_text() {
        assert_eq!(negotiate_format(None), Format::Text004);
        assert_eq!(negotiate_format(Some("*/*")), Format::Text004);
        assert_eq!(negotiate_format(Some("")), Format::Text004);
        assert_eq!(negotiate_format(Some(",,;;==")), Format::Text004);
        assert_eq!(negotiate_format(Some("application/json")), Format::Text004);
        assert_eq!(negotiate_format(Some("text/plain")), Format::Text004);
        assert_eq!(negotiate_format(Some("text/*")), Format::Text004);
        assert_eq!(
            negotiate_format(Some("application/*")),
            Format::OpenMetrics100
        );
    }

    #[test]
    fn tolerant_of_case_and_whitespace() {
        let h = "  Application/OpenMetrics-Text ;  Version=1.0.0 ; Q=0.9 ,\t*/* ; q=0.1 ";
        assert_eq!(negotiate_format(Some(h)), Format::OpenMetrics100);
    }

    #[test]
    fn highest_q_wins_regardless_of_order() {
        let h = "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5";
        assert_eq!(negotiate_format(Some(h)), Format::Text004);
        let h = "*/*;q=0.1,application/openmetrics-text;version=0.0.1;q=0.8";
        assert_eq!(negotiate_format(Some(h)), Format::OpenMetrics001);
    }

    #[test]
    fn equal_q_prefers_the_more_specific_range_then_the_first() {
        let h = "*/*,application/openmetrics-text;version=1.0.0";
        assert_eq!(negotiate_format(Some(h)), Format::OpenMetrics100);
        let h = "application/openmetrics-text;version=0.0.1,text/plain;version=0.0.4";
        assert_eq!(negotiate_format(Some(h)), Format::OpenMetrics001);
    }

    #[test]
    fn q_zero_refuses_even_through_a_wildcard() {
        assert_eq!(
            negotiate_format(Some("application/openmetrics-text;version=1.0.0;q=0")),
            Format::Text004
        );
        assert_eq!(
            negotiate_format(Some("text/plain;q=0, */*;q=0.5")),
            Format::OpenMetrics100
        );
    }

    #[test]
    fn malformed_q_drops_only_that_range() {
        let h = "application/openmetrics-text;version=1.0.0;q=1.5,application/openmetrics-text;version=0.0.1;q=0.4";
        assert_eq!(negotiate_format(Some(h)), Format::OpenMetrics001);
    }

    #[test]
    fn quoted_commas_do_not_split_ranges() {
        let h = "application/x-thing;note=\"a,b;c\";q=1,application/openmetrics-text;version=1.0.0;q=0.5";
        assert_eq!(negotiate_format(Some(h)), Format::OpenMetrics100);
    }

    /// The defect of issue 11: the refusal check rescanned every range for each
    /// wildcard, so 64k `*/*` ranges cost 2.3 s. Work must be linear in the ranges.
    #[test]
    fn choosing_is_linear_in_the_number_of_ranges() {
        for n in [10usize, 1_000, 64_000] {
            let mut h = "text/plain;q=0,".repeat(n / 2);
            h.push_str(&"*/*;q=0.5,".repeat(n / 2));
            work::take();
            assert_eq!(choose(&h, false), Exposition::Text(Format::OpenMetrics100));
            let examined = work::take();
            assert!(
                examined <= 2 * n as u64,
                "{examined} range inspections for {n} ranges"
            );
        }
    }

    #[test]
    fn headers_past_the_bounds_are_refused_without_reading_them() {
        let long = format!("{},*/*", " ".repeat(MAX_HEADER_BYTES));
        assert_eq!(
            try_negotiate_format(Some(&long)),
            Err(NegotiationError::TooLong {
                header: "Accept",
                len: MAX_HEADER_BYTES + 4
            })
        );
        assert_eq!(negotiate_format(Some(&long)), Format::Text004);
        // 256 KiB of wildcards: refused by length, nothing parsed.
        let attack = "*/*,".repeat(64 * 1024);
        work::take();
        assert!(try_negotiate_format(Some(&attack)).is_err());
        assert!(try_accepts_gzip(Some(&attack)).is_err());
        assert!(!accepts_gzip(Some(&attack)));
        assert_eq!(work::take(), 0);
        // Short but too many elements (empty ones count: they still cost a split).
        let many = ",".repeat(MAX_LIST_ELEMENTS);
        assert_eq!(
            try_negotiate_format(Some(&many)),
            Err(NegotiationError::TooManyElements { header: "Accept" })
        );
        let at_bound = format!(
            "{}application/openmetrics-text;version=1.0.0",
            ",".repeat(MAX_LIST_ELEMENTS - 1)
        );
        assert_eq!(
            try_negotiate_format(Some(&at_bound)),
            Ok(Format::OpenMetrics100)
        );
        let many_codings = "br,".repeat(MAX_LIST_ELEMENTS) + "gzip";
        assert_eq!(
            try_accepts_gzip(Some(&many_codings)),
            Err(NegotiationError::TooManyElements {
                header: "Accept-Encoding"
            })
        );
        let err = try_accepts_gzip(Some(&many_codings))
            .unwrap_err()
            .to_string();
        assert!(err.contains("send at most 64"), "{err}");
    }

    #[test]
    fn qvalue_grammar() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.123"), Some(123));
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("0."), Some(0));
        assert_eq!(parse_qvalue("1.001"), None);
        assert_eq!(parse_qvalue("0.1234"), None);
        assert_eq!(parse_qvalue("2"), None);
        assert_eq!(parse_qvalue("-0"), None);
        assert_eq!(parse_qvalue(""), None);
    }

    #[test]
    fn gzip_acceptance() {
        let g = |h| accepts_gzip(Some(h));
        assert!(g("gzip"));
        assert!(g("GZip"));
        assert!(g("deflate, gzip;q=1.0, *;q=0.5"));
        assert!(g("x-gzip"));
        assert!(g("*"));
        assert!(g("br;q=1, gzip ; q=0.001"));
        assert!(!g("identity"));
        assert!(!g("gzip;q=0"));
        assert!(!g("gzip;q=0.000"));
        assert!(!g("*;q=0"));
        assert!(!g("gzip;q=0, *"));
        assert!(!g(""));
        assert!(!g("gzip;q=bogus"));
        assert!(!accepts_gzip(None));
    }

    /// protocols-push-native.md §1.3: what Prometheus 2.42 sends with and without
    /// `--enable-feature=native-histograms`.
    #[test]
    fn prometheus_2_42_gets_protobuf_only_with_native_histograms_enabled() {
        let native = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let default = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(native)), Exposition::Protobuf);
        assert_eq!(
            negotiate(Some(default)),
            Exposition::Text(Format::OpenMetrics100)
        );
        assert_eq!(negotiate_format(Some(native)), Format::OpenMetrics100);
    }

    #[test]
    fn protobuf_needs_the_message_and_the_delimited_encoding() {
        fn f(h: &str) -> Exposition {
            negotiate(Some(h))
        }
        let pb = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
        assert_eq!(f(pb), Exposition::Protobuf);
        for other in [
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily",
            "application/vnd.google.protobuf;proto=other.Message;encoding=delimited",
        ] {
            assert_eq!(f(other), Exposition::Text(Format::Text004), "{other}");
        }
        let lower = format!("{pb};q=0.5,text/plain;version=0.0.4;q=0.9");
        assert_eq!(f(&lower), Exposition::Text(Format::Text004));
        let tie = format!("*/*,{pb}");
        assert_eq!(f(&tie), Exposition::Protobuf, "the exact range wins a tie");
        let refused = format!("{pb};q=0");
        assert_eq!(f(&refused), Exposition::Text(Format::Text004));
    }
}
