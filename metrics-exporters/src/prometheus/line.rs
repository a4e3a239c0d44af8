//! Writing sample lines straight into the output's bytes.
//!
//! A scrape of 10,000 labeled counters is 10,000 lines of a dozen short pieces each.
//! Appending those pieces one `push_str` at a time costs a capacity check and a
//! `memcpy` call per piece, which for pieces of 3 to 20 bytes is most of the work (a
//! profile put it at two thirds of the render). Here [`append`] reserves a fixed
//! [`WINDOW`] of bytes once per line, and a [`Cursor`] writes the pieces into it with
//! fixed-size word stores:
//!
//! * per-family fragments (`name{method="`, `",route="`) are stored [`Padded`], so they
//!   are copied in whole 16-byte chunks (two unconditional stores for most) that may
//!   spill into bytes a later piece overwrites;
//! * a label value is copied a word at a time, and the same word is checked for the
//!   three bytes that need escaping (almost no value has one), so the scan and the copy
//!   are one pass; a value with one falls back to the byte-by-byte escaper;
//! * an integer below 10⁸ has its eight digits computed at once in the lanes of one
//!   word and stored with one write; larger ones go pair by pair into place.
//!
//! Positions in the window are `u8`: the compiler can then see that every store lands
//! inside the fixed-size window and drops the bounds checks, which otherwise cost as
//! much as the stores. [`append`] only takes lines whose worst case is at most
//! [`MAX_LINE`] bytes, so positions never wrap; longer lines (long label values) are
//! left to the caller's `push_str` path. (Together: 898 → 390 instructions per 3-label
//! counter series, measured with callgrind.)
//!
//! The only `unsafe` is in [`append`]: borrowing the `String`'s bytes and committing the
//! written length. Everything a [`Cursor`] writes is an ASCII byte or a whole `&str`
//! split only next to ASCII bytes, so the string stays UTF-8 — provided no position
//! wrapped, i.e. the caller's bound on the line was right. That is *checked*, not
//! assumed: the cursor also counts what it wrote in a `usize`, and `append` commits
//! nothing unless that count equals the `u8` position and is within the bound (a wrong
//! bound then costs a slower line, never invalid UTF-8). Stores themselves are safe,
//! bounds-checked slice writes into the window.

// One of the few modules allowed `unsafe` (see ARCHITECTURE.md, "Unsafe").
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

use crate::text::escape::{byte_needs_escaping, word_needs_escaping, write_label_value};

/// Fragments are stored and copied in chunks of this many bytes.
const CHUNK: usize = 16;

/// Bytes a store may reach past a line's end: a fragment copy writes two whole chunks
/// from the fragment's start.
const SLACK: usize = 2 * CHUNK;

/// The longest line (worst case) [`append`] writes: what a `u8` position can address.
pub(crate) const MAX_LINE: usize = u8::MAX as usize;

/// Bytes reserved per line: every position a `u8` can hold plus the spill of a store.
const WINDOW: usize = MAX_LINE + 1 + SLACK;

/// Worst-case length of a `u64` in decimal.
pub(crate) const MAX_U64_LEN: usize = 20;

/// What [`append`] writes: a line's pieces, held by value. A trait rather than a
/// closure so that [`write`](Line::write) can be `#[inline(always)]`: a closure used in
/// several places stays out of line, and the cursor's position then lives in memory.
pub(crate) trait Line {
    /// Writes the line through `c` and hands the cursor back.
    fn write(self, c: Cursor<'_>) -> Cursor<'_>;
}

/// Appends one line of at most `max` bytes to `out`, written by `line` through a
/// [`Cursor`] (passed by value so that its position stays in a register). Returns
/// `false`, writing nothing, when `max` exceeds [`MAX_LINE`], or when the line turned
/// out longer than `max` (a wrong bound: the caller then writes it the slow way).
///
/// If `line` panics, `out` is left as it was.
#[inline(always)]
#[must_use]
pub(crate) fn append(out: &mut String, max: usize, line: impl Line) -> bool {
    if max > MAX_LINE {
        return false;
    }
    // SAFETY: bytes reach the string only through `set_len` below, after `line.write`
    // returned, and a `Cursor` writes only ASCII bytes and whole `&str`s, or `&str`s cut
    // right before or after an ASCII byte (always a char boundary): the string stays
    // valid UTF-8.
    let vec = unsafe { out.as_mut_vec() };
    vec.reserve(WINDOW);
    let len = vec.len();
    let Ok(window) =
        <&mut [MaybeUninit<u8>; WINDOW]>::try_from(&mut vec.spare_capacity_mut()[..WINDOW])
    else {
        return false;
    };
    let c = line.write(Cursor {
        window,
        pos: 0,
        total: 0,
    });
    let written = usize::from(c.pos);
    // Fail closed: a position that wrapped (`total` past 255) or a line past its bound
    // means the bound was wrong; the bytes may then not be the line (or valid UTF-8).
    if c.total != written || written > max {
        return false;
    }
    // SAFETY: `written` equals the unwrapped count of bytes the cursor wrote, so no
    // position wrapped: every piece landed at its place, in order, making the bytes
    // `[len, len + written)` the line itself — initialised (a `Cursor` advances only over
    // bytes it has stored) and valid UTF-8 (ASCII bytes and whole `&str`s, or `&str`s cut
    // next to an ASCII byte). `written <= MAX_LINE < WINDOW`, and the window is the start
    // of the spare capacity, so `len + written` is within capacity.
    unsafe { vec.set_len(len + written) };
    true
}

/// A per-family fragment, stored both as text and as whole [`CHUNK`]s (zero-padded, and
/// followed by at least one more chunk) so that it is copied chunk by chunk, and a
/// fragment of up to two chunks (most are) with two unconditional stores. Points into a
/// [`Fragments`] buffer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Padded {
    /// Index of the first chunk in [`Fragments::chunks`].
    chunk: u32,
    /// Start in [`Fragments::text`].
    start: u32,
    len: u32,
}

impl Padded {
    /// Length of the fragment itself.
    pub(crate) fn len(self) -> usize {
        self.len as usize
    }
}

/// A buffer of [`Padded`] fragments, rebuilt per family and reused across families.
#[derive(Debug, Default)]
pub(crate) struct Fragments {
    /// Every fragment as text, for the `push_str` path of long lines.
    text: String,
    /// Every fragment again, each starting on a chunk of its own.
    chunks: Vec<[u8; CHUNK]>,
    open: usize,
}

impl Fragments {
    /// Drops every fragment (keeps the allocations).
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.chunks.clear();
        self.open = 0;
    }

    /// Starts a fragment; append to it with [`push`](Self::push), finish with
    /// [`end`](Self::end).
    pub(crate) fn begin(&mut self) {
        self.open = self.text.len();
    }

    /// Appends `s` to the open fragment.
    pub(crate) fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Ends the open fragment.
    pub(crate) fn end(&mut self) -> Padded {
        let text = self.text.get(self.open..).unwrap_or_default();
        let chunk = self.chunks.len();
        for piece in text.as_bytes().chunks(CHUNK) {
            let mut c = [0u8; CHUNK];
            c[..piece.len()].copy_from_slice(piece);
            self.chunks.push(c);
        }
        // So that the first two chunks from `chunk` always exist.
        self.chunks.push([0; CHUNK]);
        // Fragments are names and label names, far below 4 GiB; should that ever change,
        // an empty fragment is wrong output, not a wild read.
        match (
            u32::try_from(chunk),
            u32::try_from(self.open),
            u32::try_from(text.len()),
        ) {
            (Ok(chunk), Ok(start), Ok(len)) => Padded { chunk, start, len },
            _ => Padded::default(),
        }
    }

    /// The fragment as text.
    pub(crate) fn as_str(&self, frag: Padded) -> &str {
        let start = frag.start as usize;
        self.text
            .get(start..start + frag.len as usize)
            .unwrap_or_default()
    }

    /// The chunks holding `frag` (the last one zero-padded).
    #[inline(always)]
    fn chunks(&self, frag: Padded) -> &[[u8; CHUNK]] {
        let start = frag.chunk as usize;
        let n = (frag.len as usize).div_ceil(CHUNK);
        self.chunks.get(start..start + n).unwrap_or_default()
    }

    /// The first two chunks from `frag`'s start (the second may be padding).
    #[inline(always)]
    fn two_chunks(&self, frag: Padded) -> Option<&[[u8; CHUNK]; 2]> {
        let start = frag.chunk as usize;
        self.chunks.get(start..start + 2)?.try_into().ok()
    }
}

/// Writes into the window [`append`] reserved. See the module docs for the tricks;
/// every method needs the line's worst case to fit in [`MAX_LINE`], which `append`
/// checked.
pub(crate) struct Cursor<'w> {
    window: &'w mut [MaybeUninit<u8>; WINDOW],
    pos: u8,
    /// Bytes written so far, unwrapped: equal to `pos` unless the line's bound was wrong.
    total: usize,
}

impl Cursor<'_> {
    /// Stores `bytes` at `at` (`N` ≤ [`CHUNK`], so the store is within the window).
    #[inline(always)]
    fn store<const N: usize>(&mut self, at: u8, bytes: [u8; N]) {
        self.store_at(usize::from(at), bytes);
    }

    /// [`store`](Self::store) at a `usize` position: `at` must be a `u8` plus at most
    /// [`CHUNK`] for the compiler to see the store is within the window.
    #[inline(always)]
    fn store_at<const N: usize>(&mut self, at: usize, bytes: [u8; N]) {
        if let Ok(dst) = <&mut [MaybeUninit<u8>; N]>::try_from(&mut self.window[at..at + N]) {
            *dst = bytes.map(MaybeUninit::new);
        }
    }

    /// The position `n` bytes after the current one. Wrapping never happens (lines fit in
    /// [`MAX_LINE`]); computing in `u8` is what shows the compiler the stores are in bounds.
    #[inline(always)]
    fn at(&self, n: usize) -> u8 {
        self.pos.wrapping_add(n as u8)
    }

    #[inline(always)]
    fn advance(&mut self, n: usize) {
        self.pos = self.at(n);
        self.total += n;
    }

    /// Copies a per-family fragment from `frags`.
    #[inline(always)]
    pub(crate) fn fragment(&mut self, frags: &Fragments, frag: Padded) {
        // Advancing only over what was stored keeps every committed byte initialised
        // even if `frag` did not belong to `frags` (a bug: the fragment would be missing).
        if frag.len() <= 2 * CHUNK {
            if let Some([a, b]) = frags.two_chunks(frag) {
                self.store(self.pos, *a);
                // Not `at(CHUNK)`: near the end of a line that would wrap to its start.
                self.store_at(usize::from(self.pos) + CHUNK, *b);
                self.advance(frag.len());
            }
        } else {
            let chunks = frags.chunks(frag);
            let mut at = self.pos;
            for chunk in chunks {
                self.store(at, *chunk);
                at = at.wrapping_add(CHUNK as u8);
            }
            self.advance(frag.len().min(chunks.len() * CHUNK));
        }
    }

    /// Copies `s`, which needs no escaping, as is.
    #[inline]
    pub(crate) fn str(&mut self, s: &str) {
        for &b in s.as_bytes() {
            self.store(self.pos, [b]);
            self.advance(1);
        }
    }

    /// Copies one ASCII byte.
    #[inline(always)]
    pub(crate) fn byte(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.store(self.pos, [b]);
        self.advance(1);
    }

    /// Copies three ASCII bytes (`"} `).
    #[inline(always)]
    pub(crate) fn ascii3(&mut self, b: [u8; 3]) {
        debug_assert!(b.is_ascii());
        self.store(self.pos, b);
        self.advance(3);
    }

    /// Writes a label value escaped (`\` → `\\`, `"` → `\"`, LF → `\n`); its worst
    /// case is twice its length.
    #[inline(always)]
    pub(crate) fn label_value(&mut self, v: &str) {
        let b = v.as_bytes();
        let n = b.len();
        if n >= 8 {
            let mut i = 0;
            while i + 8 <= n {
                let w = word(b, i);
                if word_needs_escaping(w) {
                    return self.escape_from(b, i);
                }
                self.store(self.at(i), w.to_le_bytes());
                i += 8;
            }
            if i < n {
                // The last eight bytes, overlapping what was already copied.
                let w = word(b, n - 8);
                if word_needs_escaping(w) {
                    return self.escape_from(b, i);
                }
                self.store(self.at(n - 8), w.to_le_bytes());
            }
        } else if n >= 4 {
            // Two overlapping halves cover 4 to 7 bytes.
            let (lo, hi) = (half(b, 0), half(b, n - 4));
            if word_needs_escaping(u64::from(lo) | u64::from(hi) << 32) {
                return self.escape_from(b, 0);
            }
            self.store(self.pos, lo.to_le_bytes());
            self.store(self.at(n - 4), hi.to_le_bytes());
        } else if n > 0 {
            // Positions 0, n/2 and n-1 cover 1 to 3 bytes.
            let (x, y, z) = (b[0], b[n / 2], b[n - 1]);
            if byte_needs_escaping(x) | byte_needs_escaping(y) | byte_needs_escaping(z) {
                return self.escape_from(b, 0);
            }
            self.store(self.pos, [x]);
            self.store(self.at(n / 2), [y]);
            self.store(self.at(n - 1), [z]);
        }
        self.advance(n);
    }

    /// The rare path of [`label_value`](Self::label_value): `b[..from]` is already
    /// copied and clean; escape the rest byte by byte.
    #[inline(always)]
    fn escape_from(&mut self, b: &[u8], from: usize) {
        // Out of line, and handed the window and position rather than `&mut self`: a
        // cursor whose address escapes to a call keeps its position in memory.
        let (pos, written) = escape_from(self.window, self.at(from), &b[from..]);
        self.pos = pos;
        self.total += from + written;
    }

    /// Writes `v` in decimal (at most [`MAX_U64_LEN`] bytes).
    #[inline(always)]
    pub(crate) fn u64(&mut self, v: u64) {
        if v < 100_000_000 {
            // The common case, counts below 10⁸: all eight digits at once (see
            // [`eight_digits`]), leading zeros shifted out, one store.
            let digits = eight_digits(v);
            // The last digit is always written, so `0` comes out as "0".
            let leading_zeros = ((digits | (1 << 56)).trailing_zeros() / 8) as usize;
            let ascii = (digits | 0x3030_3030_3030_3030) >> (8 * leading_zeros);
            self.store(self.pos, ascii.to_le_bytes());
            self.advance(8 - leading_zeros);
        } else {
            self.u64_long(v);
        }
    }

    /// [`u64`](Self::u64) for 10⁸ and up: two digits per division, each pair stored at
    /// its final place from the right.
    #[inline(never)]
    fn u64_long(&mut self, mut v: u64) {
        const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";
        let digits = v.checked_ilog10().unwrap_or(0) as usize + 1;
        let mut end = self.at(digits);
        while v >= 100 {
            let pair = (v % 100) as usize * 2;
            v /= 100;
            end = end.wrapping_sub(2);
            self.store(end, [PAIRS[pair], PAIRS[pair + 1]]);
        }
        if v >= 10 {
            let pair = v as usize * 2;
            self.store(end.wrapping_sub(2), [PAIRS[pair], PAIRS[pair + 1]]);
        } else {
            self.store(end.wrapping_sub(1), [b'0' + v as u8]);
        }
        self.advance(digits);
    }
}

/// The eight decimal digits of `v` (< 10⁸, with leading zeros) as the bytes of a `u64`,
/// most significant digit in the lowest byte (so a little-endian store writes them in
/// order). Divides both halves, then all four quarters, in parallel lanes of one word.
#[inline(always)]
fn eight_digits(v: u64) -> u64 {
    debug_assert!(v < 100_000_000);
    // Two 32-bit lanes: the high four digits, the low four.
    let x = (v / 10_000) | ((v % 10_000) << 32);
    // x / 100 per lane (exact below 43,699); then four 16-bit lanes of two digits.
    let q = ((x * 10_486) >> 20) & 0x0000_007f_0000_007f;
    let x = q | ((x - q * 100) << 16);
    // x / 10 per lane (exact below 179); then eight 8-bit lanes of one digit.
    let q = ((x * 103) >> 10) & 0x000f_000f_000f_000f;
    q | ((x - q * 10) << 8)
}

/// Where a line's pieces go: a [`Cursor`] for lines that fit in [`MAX_LINE`], the
/// `String` itself (`push_str`, escaping run by run) for longer ones. One line layout,
/// written once, serves both.
pub(crate) trait Sink {
    /// Copies a per-family fragment.
    fn fragment(&mut self, frags: &Fragments, frag: Padded);
    /// Writes a label value escaped.
    fn label_value(&mut self, v: &str);
    /// Copies text that needs no escaping.
    fn str(&mut self, s: &str);
    /// Copies an ASCII byte.
    fn byte(&mut self, b: u8);
    /// Copies three ASCII bytes.
    fn ascii3(&mut self, b: [u8; 3]);
}

impl Sink for Cursor<'_> {
    #[inline(always)]
    fn fragment(&mut self, frags: &Fragments, frag: Padded) {
        Cursor::fragment(self, frags, frag);
    }
    #[inline(always)]
    fn label_value(&mut self, v: &str) {
        Cursor::label_value(self, v);
    }
    #[inline(always)]
    fn str(&mut self, s: &str) {
        Cursor::str(self, s);
    }
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        Cursor::byte(self, b);
    }
    #[inline(always)]
    fn ascii3(&mut self, b: [u8; 3]) {
        Cursor::ascii3(self, b);
    }
}

impl Sink for String {
    fn fragment(&mut self, frags: &Fragments, frag: Padded) {
        self.push_str(frags.as_str(frag));
    }
    fn label_value(&mut self, v: &str) {
        write_label_value(self, v);
    }
    fn str(&mut self, s: &str) {
        self.push_str(s);
    }
    fn byte(&mut self, b: u8) {
        self.push(char::from(b));
    }
    fn ascii3(&mut self, b: [u8; 3]) {
        for b in b {
            self.push(char::from(b));
        }
    }
}

/// Writes `b` escaped into `window` at `at`; returns the position after it.
#[cold]
#[inline(never)]
fn escape_from(window: &mut [MaybeUninit<u8>; WINDOW], at: u8, b: &[u8]) -> (u8, usize) {
    let mut c = Cursor {
        window,
        pos: at,
        total: 0,
    };
    for &byte in b {
        let escaped = match byte {
            b'\\' => b'\\',
            b'"' => b'"',
            b'\n' => b'n',
            _ => {
                // Non-ASCII bytes are copied one by one too; a char's bytes stay in order.
                c.store(c.pos, [byte]);
                c.advance(1);
                continue;
            }
        };
        c.store(c.pos, [b'\\', escaped]);
        c.advance(2);
    }
    (c.pos, c.total)
}

#[inline(always)]
fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn half(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Test<F>(F);

    impl<F: FnOnce(&mut Cursor<'_>)> Line for Test<F> {
        fn write(self, mut c: Cursor<'_>) -> Cursor<'_> {
            (self.0)(&mut c);
            c
        }
    }

    fn line(write: impl FnOnce(&mut Cursor<'_>), max: usize) -> String {
        let mut s = String::from("é");
        assert!(append(&mut s, max, Test(write)));
        s.split_off("é".len())
    }

    #[test]
    fn label_values_of_every_length_and_special_position() {
        // Lengths around every branch (1–3, 4–7, whole words, overlapping tails), with the
        // special byte at every position, next to multi-byte chars.
        for len in 0..40 {
            let base: String = "aé✓bcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH"
                .chars()
                .take(len)
                .collect();
            let mut cases = vec![base.clone()];
            for special in ['\\', '"', '\n'] {
                for at in 0..=base.chars().count() {
                    let mut s: String = base.chars().take(at).collect();
                    s.push(special);
                    s.extend(base.chars().skip(at));
                    cases.push(s);
                }
            }
            for v in cases {
                let mut want = String::new();
                crate::text::escape::write_label_value(&mut want, &v);
                assert_eq!(line(|c| c.label_value(&v), 2 * v.len()), want, "{v:?}");
            }
        }
    }

    /// A caller whose bound is wrong gets `false` and an untouched string, whether the
    /// line overran its bound a little or wrapped the window's positions.
    #[test]
    fn a_wrong_bound_commits_nothing() {
        let long = "é".repeat(200); // 400 bytes: past what a `u8` position can address
        for (text, bound) in [
            ("abcdef", 3),
            (long.as_str(), 10),
            (long.as_str(), MAX_LINE),
        ] {
            let mut s = String::from("x");
            assert!(!append(
                &mut s,
                bound,
                Test(|c: &mut Cursor<'_>| c.str(text))
            ));
            assert_eq!(s, "x");
            let mut s = String::from("x");
            assert!(!append(
                &mut s,
                bound,
                Test(|c: &mut Cursor<'_>| c.label_value(text))
            ));
            assert_eq!(s, "x");
        }
        // Escaping that doubles a value past the bound, through the slow escaper.
        let quotes = "\"".repeat(130);
        let mut s = String::new();
        assert!(!append(
            &mut s,
            130,
            Test(|c: &mut Cursor<'_>| c.label_value(&quotes))
        ));
        assert!(s.is_empty());
    }

    #[test]
    fn integers_and_fragments() {
        let mut frags = Fragments::default();
        let mut made = Vec::new();
        for text in [
            "",
            "x",
            "name{method=\"",
            "a_long_metric_name_total{some_label=\"",
        ] {
            frags.begin();
            frags.push(text);
            made.push((text, frags.end()));
        }
        for (text, frag) in made {
            assert_eq!(line(|c| c.fragment(&frags, frag), frag.len()), text);
        }
        let mut x = 1u64;
        for v in (0..1000)
            .chain([u64::MAX, 99_999_999, 100_000_000])
            .chain((1..20).flat_map(|k| [10u64.pow(k) - 1, 10u64.pow(k)]))
            .chain((0..100_000_000).step_by(9_973))
            .chain((0..64).map(|k| 1u64 << k))
            .chain((0..1000).map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                x >> (x % 64)
            }))
        {
            assert_eq!(line(|c| c.u64(v), MAX_U64_LEN), v.to_string());
        }
    }
}
