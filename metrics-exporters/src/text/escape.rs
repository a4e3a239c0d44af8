//! Escaping of label values and HELP text.
//!
//! The two formats agree on label values (`\` → `\\`, `"` → `\"`, LF → `\n`, nothing
//! else: TAB, CR, NUL and non-ASCII are written raw) but not on HELP: 0.0.4 escapes only
//! `\` and LF and writes `"` raw, while OpenMetrics' HELP is an escaped string like a
//! label value, so `"` must become `\"` there. Getting this wrong is invisible to a lax
//! parser and fatal to a strict one, hence one function per rule.
//!
//! Each function copies runs of ordinary bytes in one `push_str`, so the common case (no
//! special characters) is a single copy.

/// Writes a label value escaped for either format.
pub(crate) fn write_label_value(out: &mut String, value: &str) {
    write_escaped(out, value, true);
}

/// Writes HELP text escaped for Prometheus text 0.0.4 (`\` and LF only).
pub(crate) fn write_help_text(out: &mut String, help: &str) {
    write_escaped(out, help, false);
}

/// Writes HELP text escaped for OpenMetrics (`\`, `"` and LF).
pub(crate) fn write_help_openmetrics(out: &mut String, help: &str) {
    write_escaped(out, help, true);
}

fn write_escaped(out: &mut String, s: &str, quote: bool) {
    if !needs_escaping(s.as_bytes(), quote) {
        out.push_str(s);
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let replacement = match b {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'"' if quote => "\\\"",
            _ => continue,
        };
        // `i` is at an ASCII byte, hence on a char boundary.
        out.push_str(&s[start..i]);
        out.push_str(replacement);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Whether `s` holds `\\`, LF or (if `quote`) `"`. Most values need no escaping, and a
/// profile of 10,000 series put the byte-by-byte scan at a third of the render time, so
/// this checks eight bytes per step (see [`word_needs_escaping`]).
fn needs_escaping(s: &[u8], quote: bool) -> bool {
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let word = u64::from_le_bytes(bytes);
        let found = if quote {
            word_needs_escaping(word)
        } else {
            has_byte(word, b'\\') || has_byte(word, b'\n')
        };
        if found {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b == b'\\' || b == b'\n' || (quote && b == b'"'))
}

/// Whether any of the eight bytes of `word` is `byte`: the "has a zero byte" bit trick
/// on `word ^ needle`, exact for the question "any?" (borrows only ever mark bytes
/// above a real match).
#[inline(always)]
fn has_byte(word: u64, byte: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS != 0
}

/// Whether any of the eight bytes of `word` is below `n` (≤ 128): the same trick with a
/// subtraction of `n` instead of 1 from every byte.
#[inline(always)]
fn has_less(word: u64, n: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS != 0
}

/// Whether any of the eight bytes of `word` must be escaped in a label value (`\\`,
/// `"`, LF).
///
/// Most words need nothing, so this first asks a cheaper question that over-approximates
/// (any byte below `#`, which takes in LF and `"` but also space and controls, or a `\\`)
/// and answers exactly only when that one says yes.
#[inline(always)]
pub(crate) fn word_needs_escaping(word: u64) -> bool {
    (has_less(word, b'#') | has_byte(word, b'\\'))
        && (has_byte(word, b'\\') | has_byte(word, b'"') | has_byte(word, b'\n'))
}

/// Whether a byte must be escaped in a label value, by byte value.
static NEEDS_ESCAPING: [bool; 256] = {
    let mut table = [false; 256];
    table[b'\\' as usize] = true;
    table[b'"' as usize] = true;
    table[b'\n' as usize] = true;
    table
};

/// Whether `b` must be escaped in a label value.
#[inline(always)]
pub(crate) fn byte_needs_escaping(b: u8) -> bool {
    NEEDS_ESCAPING[usize::from(b)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_check_finds_every_special_byte_at_every_position() {
        for len in 0..24 {
            for at in 0..len {
                for (special, quote_only) in [(b'\\', false), (b'\n', false), (b'"', true)] {
                    let mut s = vec![b'a'; len];
                    // Neighbours of the specials and high bytes, where the bit trick's borrows could go wrong.
                    for (i, b) in s.iter_mut().enumerate() {
                        *b = [b'[', b']', b'!', b'#', 0x0b, 0x09, 0x80, 0xff, 0xdc, 0xa2][i % 10];
                    }
                    assert!(!needs_escaping(&s, true));
                    s[at] = special;
                    assert!(needs_escaping(&s, true), "{s:?}");
                    assert_eq!(needs_escaping(&s, false), !quote_only, "{s:?}");
                }
            }
        }
    }

    #[test]
    fn the_word_check_is_exact() {
        // Every byte value at every position, among neighbours that trip the cheap check
        // (space, `!`, controls) and high bytes.
        for at in 0..8 {
            for fill in [b'a', b' ', b'!', 0x01, 0x80, 0xff, b'#', b'['] {
                for b in 0..=255u8 {
                    let mut bytes = [fill; 8];
                    bytes[at] = b;
                    let want = bytes.iter().any(|&c| byte_needs_escaping(c));
                    assert_eq!(
                        word_needs_escaping(u64::from_le_bytes(bytes)),
                        want,
                        "{bytes:?}"
                    );
                    assert_eq!(byte_needs_escaping(b), matches!(b, b'\\' | b'"' | b'\n'));
                }
            }
        }
    }

    #[test]
    fn help_differs_only_in_quotes() {
        let help = "a \"b\" \\ c\nd\te\r";
        let (mut text, mut om) = (String::new(), String::new());
        write_help_text(&mut text, help);
        write_help_openmetrics(&mut om, help);
        assert_eq!(text, "a \"b\" \\\\ c\\nd\te\r");
        assert_eq!(om, "a \\\"b\\\" \\\\ c\\nd\te\r");
    }
}
