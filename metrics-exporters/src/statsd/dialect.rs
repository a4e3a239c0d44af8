//! Which StatsD the daemon speaks, and how labels survive the trip.
//!
//! Plain (Etsy) StatsD has no dimensions: a metric is a dotted name. Labels therefore
//! have to be folded into the name, and the daemon's key sanitizer deletes anything
//! outside `[a-zA-Z0-9_\-.;=]` — so we sanitize to exactly that set ourselves, replacing
//! rather than deleting, which keeps the name we print identical to the key the daemon
//! stores. DogStatsD carries labels as `|#key:value` tags and has its own character
//! rules, so each dialect owns its sanitizer.

/// How labels are folded into the metric name for plain (Etsy) StatsD.
///
/// In both styles, every character outside Etsy's key set `[a-zA-Z0-9_\-.;=]` becomes
/// `_` (except `/`, which becomes `-`, as Etsy's own sanitizer does), so the daemon stores
/// the name unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LabelStyle {
    /// `name.value1.value2[.stat]` — the classic Graphite hierarchy: each label value is
    /// one more path segment, in the family's label order. Dots, `;` and `=` inside a
    /// value become `_` so a value is always exactly one segment; an empty value is
    /// written as `_`.
    #[default]
    Values,
    /// `name[.stat];key1=value1;key2=value2` — Graphite ≥ 1.1 tags. `;` and `=` inside
    /// keys and values become `_`; a label with an empty value is left out (as in
    /// Prometheus, where an empty label is an absent one).
    GraphiteTags,
}

/// The protocol variant the daemon speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// Etsy's StatsD: types `c`, `g`, `ms`; labels folded into the name by the
    /// [`LabelStyle`]. A negative gauge is sent as `name:0|g\nname:-5|g` in one datagram,
    /// because a signed value alone means "change by". Histograms and distributions are
    /// sent as `ms` (Etsy's only sampled type; it would sum `h` and `d` as counters), so
    /// negative samples for them cannot be represented and are dropped (and counted).
    Etsy(LabelStyle),
    /// Datadog's DogStatsD: tags `|#key:value,…`, `h` histograms, `d` distributions,
    /// gauges set as-is (no deltas). Names keep `[A-Za-z0-9_.]`, tag keys
    /// `[A-Za-z0-9_\-./]`, tag values `[A-Za-z0-9_\-:./]`; anything else becomes `_`. A
    /// label with an empty value is sent as the bare tag `key`.
    DogStatsd,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect::Etsy(LabelStyle::Values)
    }
}

impl Dialect {
    /// Etsy StatsD with labels as name segments ([`LabelStyle::Values`]).
    #[must_use]
    pub fn etsy() -> Self {
        Dialect::Etsy(LabelStyle::Values)
    }

    /// DogStatsD.
    #[must_use]
    pub fn dogstatsd() -> Self {
        Dialect::DogStatsd
    }

    /// Whether a negative gauge needs the `0|g` reset line before it.
    pub(crate) fn gauge_needs_reset(self) -> bool {
        matches!(self, Dialect::Etsy(_))
    }
}

/// What kind of sample a line carries; the wire type token depends on the dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Count,
    Gauge,
    Timing,
    Histogram,
    Distribution,
}

impl Kind {
    pub(crate) fn token(self, dialect: Dialect) -> &'static [u8] {
        match (self, dialect) {
            (Kind::Count, _) => b"c",
            (Kind::Gauge, _) => b"g",
            (Kind::Timing, _) => b"ms",
            (Kind::Histogram, Dialect::DogStatsd) => b"h",
            (Kind::Distribution, Dialect::DogStatsd) => b"d",
            (Kind::Histogram | Kind::Distribution, Dialect::Etsy(_)) => b"ms",
        }
    }

    /// Whether the value must be ≥ 0 on the wire (Etsy rejects negative `ms`).
    pub(crate) fn non_negative(self, dialect: Dialect) -> bool {
        self.token(dialect) == b"ms"
    }

    /// Whether a sample rate applies (both dialects ignore it on gauges).
    pub(crate) fn sampled(self) -> bool {
        !matches!(self, Kind::Gauge)
    }
}

/// Where a piece of text ends up, which decides what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The metric name (and stat suffixes).
    Name,
    /// A label value folded in as a name segment (Etsy `Values`).
    Segment,
    /// A Graphite tag key or value (Etsy `GraphiteTags`).
    GraphiteTag,
    /// A DogStatsD tag key.
    DogKey,
    /// A DogStatsD tag value.
    DogValue,
}

/// Whether ASCII byte `b` is written unchanged in `part`. Etsy keeps
/// `[a-zA-Z0-9_\-.;=]` (its `keyNameSanitize`), minus `;` and `=` everywhere (they
/// delimit Graphite tags) and minus `.` in a folded label value (it would add a level).
const fn keeps(dog: bool, part: Part, b: u8) -> bool {
    let alnum = b.is_ascii_alphanumeric();
    if dog {
        match part {
            Part::DogKey => alnum || matches!(b, b'_' | b'-' | b'.' | b'/'),
            Part::DogValue => alnum || matches!(b, b'_' | b'-' | b':' | b'.' | b'/'),
            _ => alnum || matches!(b, b'_' | b'.'),
        }
    } else {
        match part {
            Part::Segment => alnum || matches!(b, b'_' | b'-'),
            _ => alnum || matches!(b, b'_' | b'-' | b'.'),
        }
    }
}

/// `keeps` as bitmasks over ASCII, indexed `[dogstatsd][part]`: sanitizing runs on the
/// caller's thread for every direct-mode event, so it is one shift and mask per byte.
static KEEP: [[u128; 5]; 2] = {
    let parts = [
        Part::Name,
        Part::Segment,
        Part::GraphiteTag,
        Part::DogKey,
        Part::DogValue,
    ];
    let mut t = [[0u128; 5]; 2];
    let mut d = 0;
    while d < 2 {
        let mut p = 0;
        while p < parts.len() {
            let mut b = 0u8;
            while b < 128 {
                if keeps(d == 1, parts[p], b) {
                    t[d][parts[p] as usize] |= 1u128 << b;
                }
                b += 1;
            }
            p += 1;
        }
        d += 1;
    }
    t
};

/// Whether byte `b` passes through `part` unchanged.
#[inline]
pub(crate) fn keeps_byte(dialect: Dialect, part: Part, b: u8) -> bool {
    let dog = matches!(dialect, Dialect::DogStatsd);
    b < 128 && (KEEP[dog as usize][part as usize] >> b) & 1 == 1
}

/// Maps one character of `part` text to the byte written for it: itself if kept, `-`
/// for `/` in Etsy (as Etsy's own sanitizer does), `_` otherwise.
pub(crate) fn sanitize(dialect: Dialect, part: Part, c: char) -> u8 {
    match u8::try_from(c) {
        Ok(b) if keeps_byte(dialect, part, b) => b,
        _ if c == '/' && dialect != Dialect::DogStatsd => b'-',
        _ => b'_',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(d: Dialect, p: Part, s: &str) -> String {
        s.chars().map(|c| sanitize(d, p, c) as char).collect()
    }

    #[test]
    fn etsy_name_matches_daemon_sanitizer_on_the_reference_key() {
        // protocols.md §3.4 #5: the daemon turns `my metric/name!` into `my_metric-name`;
        // we replace instead of deleting, and the daemon then keeps ours unchanged.
        assert_eq!(
            clean(Dialect::etsy(), Part::Name, "my metric/name!"),
            "my_metric-name_"
        );
    }

    #[test]
    fn etsy_segments_never_add_a_level() {
        assert_eq!(clean(Dialect::etsy(), Part::Segment, "a.b;c=d"), "a_b_c_d");
        assert_eq!(clean(Dialect::etsy(), Part::Name, "a.b;c"), "a.b_c");
    }

    #[test]
    fn dogstatsd_rules() {
        let d = Dialect::dogstatsd();
        assert_eq!(clean(d, Part::Name, "page-views.total"), "page_views.total");
        assert_eq!(clean(d, Part::DogKey, "env:x,y|z"), "env_x_y_z");
        assert_eq!(
            clean(d, Part::DogValue, "staging:east/1,#"),
            "staging:east/1__"
        );
        assert_eq!(clean(d, Part::DogValue, "ü#ï"), "___");
    }

    #[test]
    fn wire_tokens() {
        assert_eq!(Kind::Histogram.token(Dialect::etsy()), b"ms");
        assert_eq!(Kind::Histogram.token(Dialect::dogstatsd()), b"h");
        assert_eq!(Kind::Distribution.token(Dialect::dogstatsd()), b"d");
        assert!(Kind::Distribution.non_negative(Dialect::etsy()));
        assert!(!Kind::Distribution.non_negative(Dialect::dogstatsd()));
    }
}
