//! Number rendering for the text formats, byte-compatible with the Go reference encoder.
//!
//! Why not `format!("{}", f)`: Rust never switches to exponent notation (`1e21` becomes
//! 22 digits) and spells infinities `inf`; Python's `repr` switches at 1e16. Prometheus'
//! own encoder uses Go's `strconv.AppendFloat(f, 'g', -1, 64)`: the shortest digits
//! that round-trip, laid out in exponent form iff the decimal exponent is `< -4` or
//! `>= 6` (Go fixes the threshold at 6 when the precision is "shortest"), with at least
//! two exponent digits (`1e+06`). Matching it byte for byte makes our output diffable
//! against any Go exporter and keeps OpenMetrics `le`/`quantile` values canonical, which
//! the spec requires and Prometheus ≥ 3 relies on when it normalises `le`.
//!
//! The shortest digits come from Rust's `{:e}` (also shortest round-trip), written into
//! a stack buffer, so nothing here allocates.

use std::fmt::Write;

/// Writes `v` as the Prometheus 0.0.4 reference encoder does: Go `'g'` shortest form,
/// `+Inf`, `-Inf`, `NaN`, and `0` for both zeros.
pub(crate) fn write_float(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str(non_finite(v));
    } else if v == 0.0 {
        // Go's encoder special-cases zero, so -0.0 is written `0` as well.
        out.push('0');
    } else if let Some(i) = small_integer(v) {
        // What Go writes too (below 1e6 an integer has no exponent and no point), without
        // the cost of the shortest-digits search: gauges and counts are often whole.
        write_i64(out, i);
    } else {
        write_go_g(out, v);
    }
}

/// `v` as an integer if it is one and its magnitude is below 10⁶.
fn small_integer(v: f64) -> Option<i64> {
    // The cast saturates and maps NaN to 0; the round trip and the range check reject
    // everything but whole numbers in range.
    let i = v as i64;
    (i as f64 == v && i.unsigned_abs() < 1_000_000).then_some(i)
}

/// Writes `v` in OpenMetrics canonical form (Go `writeOpenMetricsFloat`): the 0.0.4
/// form with `.0` appended when it has neither `.` nor an exponent (`1` → `1.0`,
/// `1e+06` stays). Required for `le` and `quantile` label values; also how the reference
/// encoder writes float sample values in OpenMetrics.
pub(crate) fn write_canonical(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str(non_finite(v));
        return;
    }
    let start = out.len();
    write_float(out, v);
    if !out[start..].bytes().any(|b| b == b'.' || b == b'e') {
        out.push_str(".0");
    }
}

/// Writes an unsigned integer in decimal.
pub(crate) fn write_u64(out: &mut String, mut v: u64) {
    // Two digits per division: counters are the bulk of a scrape.
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// Writes a signed integer in decimal.
pub(crate) fn write_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    write_u64(out, v.unsigned_abs());
}

fn non_finite(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

/// Go `strconv.AppendFloat(v, 'g', -1, 64)` for finite, non-zero `v`.
fn write_go_g(out: &mut String, v: f64) {
    let mut sci = StackStr::new();
    // `{:e}` yields the shortest round-trip digits as `[-]d[.ddd]e<exp>`.
    let _ = write!(sci, "{v:e}");
    let s = sci.as_str();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits = [0u8; 20];
    let mut nd = 0;
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        if nd < digits.len() {
            digits[nd] = b;
            nd += 1;
        }
    }
    let digits = std::str::from_utf8(&digits[..nd]).unwrap_or_default();
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        write_u64(out, u64::from(e));
        return;
    }
    // Position of the decimal point relative to the first digit.
    let dp = exp + 1;
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..-dp {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let dp = dp as usize;
        if dp >= nd {
            out.push_str(digits);
            for _ in nd..dp {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..dp]);
            out.push('.');
            out.push_str(&digits[dp..]);
        }
    }
}

/// A fixed-capacity string on the stack (for `{:e}` output and rendered `le` values).
pub(crate) struct StackStr {
    buf: [u8; 40],
    len: usize,
}

impl StackStr {
    pub(crate) fn new() -> Self {
        Self {
            buf: [0; 40],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl Write for StackStr {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(v: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, v);
        s
    }

    #[test]
    fn round_trips_through_parse() {
        for v in [
            1.0e-300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            -123.456e-7,
            0.1,
            1.0 / 3.0,
        ] {
            assert_eq!(go(v).parse::<f64>().unwrap(), v, "{v:e}");
        }
    }

    #[test]
    fn whole_numbers_take_the_short_path_and_agree_with_the_long_one() {
        for i in (-1_000_100i64..=1_000_100)
            .step_by(997)
            .chain([-999_999, 999_999, 1, -1])
        {
            let v = i as f64;
            if v == 0.0 {
                continue;
            }
            let mut long = String::new();
            write_go_g(&mut long, v);
            assert_eq!(go(v), long, "{v}");
            assert_eq!(small_integer(v).is_some(), i.unsigned_abs() < 1_000_000);
        }
        for v in [0.5, -0.5, 1e6, 1e21, 1e-7, f64::MAX, f64::MIN_POSITIVE] {
            assert_eq!(small_integer(v), None, "{v}");
        }
    }

    #[test]
    fn integers() {
        let mut s = String::new();
        write_u64(&mut s, u64::MAX);
        s.push(' ');
        write_i64(&mut s, i64::MIN);
        s.push(' ');
        write_u64(&mut s, 0);
        assert_eq!(s, "18446744073709551615 -9223372036854775808 0");
        let mut x = 1u64;
        for v in (0..1000)
            .chain((0..64).map(|k| 1u64 << k))
            .chain((0..1000).map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                x >> (x % 64)
            }))
        {
            s.clear();
            write_u64(&mut s, v);
            assert_eq!(s, v.to_string());
        }
    }
}
