//! The live metrics page (`/metrics/ui`) and the compact JSON it polls
//! (`/metrics/ui.json`).
//!
//! The page is one self-contained HTML file (CSS and JavaScript inline, no CDN, no web
//! fonts), compiled into the binary with `include_str!`; [`PAGE`] is its text. It
//! fetches the data endpoint once a second while it is open and draws with hand-written
//! SVG. The server does nothing between requests: no background task, no per-client
//! state. Rates, error ratios and bucket quantiles over time are computed in the
//! browser from successive cumulative readings, which keeps the endpoint stateless
//! (deltas kept per client on the server would cost memory for every open tab and
//! would need expiry).
//!
//! Both paths sit behind the endpoint's [`Auth`](super::Auth), like `/metrics`. With
//! Basic credentials the browser asks once and sends them with every poll; a browser
//! cannot attach a bearer token by itself, so behind [`Auth::bearer`](super::Auth::bearer)
//! the page needs a proxy that adds the header (or Basic auth instead). The page is
//! served with a `Content-Security-Policy` that allows only its own inline script and
//! style (by hash) and requests to its own origin.
//!
//! # Why its own JSON and not `/metrics.json`
//!
//! `/metrics.json` follows Dropwizard's shape: one object per series keyed by
//! `name{labels}`, the label map repeated in every series, bucket bounds as string keys
//! repeated in every series, and no help text, unit or kind. The page needs the family
//! structure (to group routes and functions and to filter by family name) and would
//! otherwise parse keys. [`encode`] writes each family once with its label names and
//! bucket bounds, then one small object per series: for 1,000 labeled counters, gauges
//! and histograms it is 45 KB against `/metrics.json`'s 145 KB (`tests/server_ui.rs`).
//!
//! # Format (version 1)
//!
//! ```text
//! {"v":1,"t":<server time, Unix seconds>,
//!  "families":[{"name":…,"kind":…,"help":…,"unit":…|null,"labels":[names…],
//!               "series":[{"l":[values…], …}],
//!               "bounds":[…finite upper bounds] (histograms only)}],
//!  "omitted":<series left out by the cap>}
//! ```
//!
//! | `kind` | Tachometer kinds | series fields |
//! |---|---|---|
//! | `counter` | `Counter`, `FloatCounter` | `v` total |
//! | `gauge` | `Gauge`, `FloatGauge`, `CallbackGauge` | `v` value |
//! | `histogram` | `Histogram` | `n` count, `s` sum, `b` per-bucket counts (non-cumulative, one per bound then `+Inf`) |
//! | `hdr` | `HdrHistogram` | `n` lifetime count, `s` sum, `w` window count, `q` window `[p50, p90, p99, p99.9, max]` (raw values) |
//! | `timer` | `Timer` | as `hdr` in seconds, plus `r` calls/s `[m1, m5, m15, mean]` |
//! | `meter` | `Meter` | `n` count, `r` events/s `[m1, m5, m15, mean]` |
//!
//! Non-finite numbers (an empty window's quantiles, a `NaN` gauge) are `null`. Families
//! come in name order, series in first-use order. At most
//! [`DEFAULT_UI_MAX_SERIES`] series are written (a registry's cardinality caps bound it
//! anyway); the rest are counted in `omitted`. Strings escape `<`, `>` and `&` as
//! `\u003c`… as well, so the document stays inert if something renders it as HTML.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use tachometer_core::{Descriptor, Labels, MetricKind, Registry, Value, Visitor};

/// The page: HTML with its CSS and JavaScript inline.
pub const PAGE: &str = include_str!("ui/page.html");

/// Most series one data response carries (see the module docs).
pub const DEFAULT_UI_MAX_SERIES: usize = 20_000;

/// Appends the compact JSON view of `registry` (format in the module docs) to `out`,
/// writing at most `max_series` series.
///
/// ```
/// use tachometer::{Opts, Registry};
/// let registry = Registry::new();
/// registry
///     .counter_family(Opts::new("jobs_total", "Jobs.").labels(&["queue"]))
///     .unwrap()
///     .with_labels(&["<b>"])
///     .unwrap()
///     .increment(3);
/// let mut out = String::new();
/// tachometer::exporters::server::ui::encode(&registry, 100, &mut out);
/// assert!(out.contains(
///     r#"{"name":"jobs_total","kind":"counter","help":"Jobs.","unit":null,"labels":["queue"],"series":[{"l":["\u003cb\u003e"],"v":3}]}"#
/// ));
/// ```
pub fn encode(registry: &Registry, max_series: usize, out: &mut String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    out.push_str("{\"v\":1,\"t\":");
    let _ = write!(out, "{now:.6}");
    out.push_str(",\"families\":[");
    let mut writer = DataWriter {
        out,
        left: max_series,
        omitted: 0,
        families: 0,
        series: 0,
        bounds: Vec::new(),
    };
    registry.visit(&mut writer);
    let omitted = writer.omitted;
    out.push_str("],\"omitted\":");
    let _ = write!(out, "{omitted}");
    out.push('}');
}

struct DataWriter<'a> {
    out: &'a mut String,
    left: usize,
    omitted: u64,
    /// Families written so far (for commas).
    families: usize,
    /// Series written in the current family (for commas).
    series: usize,
    /// The bucket bounds of the current histogram family's first series.
    bounds: Vec<f64>,
}

fn kind_name(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Counter | MetricKind::FloatCounter => "counter",
        MetricKind::Gauge | MetricKind::FloatGauge | MetricKind::CallbackGauge => "gauge",
        // Its classic buckets as a histogram, plus quantiles from the native buckets.
        MetricKind::Histogram | MetricKind::NativeHistogram => "histogram",
        MetricKind::HdrHistogram => "hdr",
        MetricKind::Meter => "meter",
        MetricKind::Timer => "timer",
        // A collected untyped value reads like a gauge.
        MetricKind::Unknown => "gauge",
        // Collected summaries: the page shows their name, count and sum.
        MetricKind::Summary => "other",
    }
}

impl Visitor for DataWriter<'_> {
    fn family(&mut self, family: &Descriptor) {
        let out = &mut *self.out;
        if self.families > 0 {
            out.push(',');
        }
        self.families += 1;
        self.series = 0;
        out.push_str("{\"name\":");
        json_str(out, family.name());
        out.push_str(",\"kind\":\"");
        out.push_str(kind_name(family.kind()));
        out.push_str("\",\"help\":");
        json_str(out, family.help());
        out.push_str(",\"unit\":");
        match family.unit() {
            Some(unit) => json_str(out, unit.as_str()),
            None => out.push_str("null"),
        }
        out.push_str(",\"labels\":[");
        for (i, name) in family.label_names().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(out, name);
        }
        out.push_str("],\"series\":[");
    }

    fn series(&mut self, _family: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        if self.left == 0 {
            self.omitted += 1;
            return;
        }
        self.left -= 1;
        let out = &mut *self.out;
        if self.series > 0 {
            out.push(',');
        }
        self.series += 1;
        out.push_str("{\"l\":[");
        for (i, v) in labels.values().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(out, v);
        }
        out.push(']');
        match value {
            Value::Counter(v) => {
                let _ = write!(out, ",\"v\":{v}");
            }
            Value::Gauge(v) => {
                let _ = write!(out, ",\"v\":{v}");
            }
            Value::FloatCounter(v) | Value::FloatGauge(v) | Value::Unknown(v) => {
                out.push_str(",\"v\":");
                json_f64(out, v);
            }
            Value::Histogram {
                bounds,
                counts,
                sum,
            } => histogram(out, &mut self.bounds, self.series, bounds, counts, sum),
            Value::NativeHistogram(h) => {
                let (bounds, counts) = h.classic_view();
                histogram(out, &mut self.bounds, self.series, bounds, counts, h.sum);
                // Lifetime quantiles from the native buckets (9 % wide by default), which
                // the page prefers to estimates from the classic buckets.
                let _ = write!(out, ",\"w\":{},\"q\":[", h.count);
                for (i, q) in [0.5, 0.9, 0.99, 0.999, 1.0].into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_f64(out, h.quantile(q));
                }
                out.push(']');
            }
            Value::HdrHistogram(s) => {
                let _ = write!(out, ",\"n\":{},\"s\":{}", s.count(), s.sum());
                quantiles(out, s, 1.0);
            }
            Value::Timer(t) => {
                let _ = write!(out, ",\"n\":{},\"s\":", t.durations.count());
                json_f64(out, t.durations.sum() as f64 / 1e9);
                quantiles(out, &t.durations, 1e9);
                rates(out, &t.calls);
            }
            Value::Meter(m) => {
                let _ = write!(out, ",\"n\":{}", m.count);
                rates(out, m);
            }
            Value::Summary { sum, count, .. } => {
                let _ = write!(out, ",\"n\":{count},\"s\":");
                json_f64(out, sum);
            }
        }
        out.push('}');
    }

    fn end_family(&mut self, family: &Descriptor) {
        self.out.push(']');
        if matches!(
            family.kind(),
            MetricKind::Histogram | MetricKind::NativeHistogram
        ) {
            self.out.push_str(",\"bounds\":");
            json_f64s(self.out, &self.bounds);
            self.bounds.clear();
        }
        self.out.push('}');
    }
}

fn json_f64s(out: &mut String, values: &[f64]) {
    out.push('[');
    for (i, &v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_f64(out, v);
    }
    out.push(']');
}

/// A histogram series' count, sum and non-cumulative buckets. A family's series share
/// their bounds: the family object carries them once (written after its series); a
/// series whose bounds differ carries its own.
fn histogram(
    out: &mut String,
    family_bounds: &mut Vec<f64>,
    series: usize,
    bounds: &[f64],
    counts: &[u64],
    sum: f64,
) {
    let n: u64 = counts.iter().fold(0u64, |a, &c| a.saturating_add(c));
    let _ = write!(out, ",\"n\":{n},\"s\":");
    json_f64(out, sum);
    if series == 1 {
        family_bounds.clear();
        family_bounds.extend_from_slice(bounds);
    } else if family_bounds != bounds {
        out.push_str(",\"bounds\":");
        json_f64s(out, bounds);
    }
    out.push_str(",\"b\":[");
    for (i, c) in counts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{c}");
    }
    out.push(']');
}

fn quantiles(out: &mut String, s: &tachometer_core::HdrSnapshot, divisor: f64) {
    let _ = write!(out, ",\"w\":{},\"q\":[", s.window_count());
    let empty = s.window_count() == 0;
    for (i, q) in [0.5, 0.9, 0.99, 0.999, 1.0].into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let v = if empty {
            f64::NAN
        } else if q >= 1.0 {
            s.max() / divisor
        } else {
            s.quantile(q) / divisor
        };
        json_f64(out, v);
    }
    out.push(']');
}

fn rates(out: &mut String, m: &tachometer_core::MeterSnapshot) {
    out.push_str(",\"r\":[");
    for (i, r) in [m.m1_rate, m.m5_rate, m.m15_rate, m.mean_rate]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        json_f64(out, r);
    }
    out.push(']');
}

/// A JSON number, or `null` for NaN and infinities. Shortest round-trip digits;
/// exponent form outside `[1e-5, 1e16)` so huge or tiny values stay short.
fn json_f64(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str("null");
    } else if v == 0.0 || (1e-5..1e16).contains(&v.abs()) {
        let _ = write!(out, "{v}");
    } else {
        let _ = write!(out, "{v:e}");
    }
}

/// A JSON string. Besides what JSON requires, `<`, `>` and `&` are escaped.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&') || b < 0x20;
        if !escape {
            continue;
        }
        out.push_str(&s[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            _ => {
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The `Content-Security-Policy` sent with the page: nothing loads from anywhere, the
/// page may only fetch from its own origin, and only the page's own inline script and
/// style (by SHA-256 hash) may run, so even a label value that reached the DOM as HTML
/// could not execute.
pub(crate) fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let script = inline_block(PAGE, "<script>", "</script>");
        let style = inline_block(PAGE, "<style>", "</style>");
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            super::auth::base64(&sha256(script.as_bytes())),
            super::auth::base64(&sha256(style.as_bytes())),
        )
    })
}

/// The text between the first `open` tag and the following `close` tag.
fn inline_block<'a>(page: &'a str, open: &str, close: &str) -> &'a str {
    let start = page.find(open).map_or(0, |i| i + open.len());
    let end = page[start..].find(close).map_or(page.len(), |i| start + i);
    &page[start..end]
}

/// SHA-256 (FIPS 180-4), for the page's CSP hashes only.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha256_fips_180_vectors() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        let million = vec![b'a'; 1_000_000];
        assert_eq!(
            hex(&sha256(&million)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn strings_are_json_and_inert_as_html() {
        let mut out = String::new();
        json_str(&mut out, "a\"b\\c\n\u{1}<script>&é");
        assert_eq!(out, r#""a\"b\\c\n\u0001\u003cscript\u003e\u0026é""#);
    }

    #[test]
    fn numbers() {
        let mut out = String::new();
        for v in [0.0, 1.5, -2.0, 1e-9, 3e20, f64::NAN, f64::INFINITY, 0.005] {
            json_f64(&mut out, v);
            out.push(' ');
        }
        assert_eq!(out, "0 1.5 -2 1e-9 3e20 null null 0.005 ");
    }

    #[test]
    fn the_page_is_self_contained() {
        assert!(PAGE.len() < 64 * 1024, "{} bytes", PAGE.len());
        // The SVG namespace is a name, not a load.
        let page = PAGE.replace("http://www.w3.org/2000/svg", "");
        for external in ["http:", "https:", "@import", "url(", "src=", "href="] {
            assert!(!page.contains(external), "the page references {external:?}");
        }
        assert!(
            !PAGE.contains(".innerHTML"),
            "data must reach the DOM as text"
        );
        let csp = content_security_policy();
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
    }
}
