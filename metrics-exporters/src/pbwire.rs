//! Protocol Buffers wire primitives, hand-written for the few messages Tachometer sends
//! (remote write's `WriteRequest`, the `io.prometheus.client` exposition).
//!
//! Everything writes into a caller-owned `Vec<u8>` that is meant to be reused across
//! encodes (`clear()` keeps its capacity), so a steady-state encode allocates nothing.
//! No schema, no reflection, no decoder beyond what the tests need.
//!
//! # API (crate-private; all functions append to `buf`)
//!
//! | function | writes |
//! |---|---|
//! | [`put_varint`]`(buf, u64)` | base-128 varint, LSB group first |
//! | [`varint_len`]`(u64) -> usize` | its length in bytes (1..=10) |
//! | [`zigzag32`]`/`[`zigzag64`] | the `sint32`/`sint64` mapping (`-1 → 1`, `1 → 2`) |
//! | [`put_tag`]`(buf, field, WireType)` | the key `field << 3 \| wire type` as a varint |
//! | [`put_uint64`]`(buf, field, u64)` | `uint64`/`uint32`/`bool`/enum field (wire type 0) |
//! | [`put_int64`]`(buf, field, i64)` | `int64`/`int32` field (two's complement, negative = 10 bytes) |
//! | [`put_sint64`]`(buf, field, i64)` | `sint64`/`sint32` field (zigzag) |
//! | [`put_double`]`(buf, field, f64)` | `double` field (wire type 1, little-endian bits) |
//! | [`put_bytes`]`(buf, field, &[u8])`, [`put_str`] | `bytes`/`string` field (wire type 2) |
//! | [`put_packed_sint64`]`(buf, field, &[i64])` | packed repeated `sint64` (proto3 default) |
//! | [`put_packed_double`]`(buf, field, &[f64])` | packed repeated `double` |
//! | [`begin_message`]`(buf, field) -> Mark`, [`end_message`]`(buf, Mark)` | a nested message whose length is not known up front |
//! | [`begin_delimited`]`(buf) -> Mark`, [`end_message`] | a varint-length-prefixed frame with no tag (the `encoding=delimited` exposition stream) |
//!
//! Writers never skip a field: presence is the caller's choice. proto3 messages (remote
//! write) omit zero scalars by not calling the writer; proto2 messages (exposition) call
//! it for every field they mean, zeros included.
//!
//! Nested lengths: [`begin_message`] reserves one length byte; [`end_message`] fills it in
//! and, when the body turned out to be 128 bytes or longer, shifts the body right by the
//! extra length bytes (one `copy_within`). Lengths are therefore always minimal varints,
//! and the common small message (a label, a sample) costs no move at all.
//!
//! `reader` (tests only) decodes what these functions write, for round-trip checks.

// The encoders (remote write, protobuf exposition) each use a subset.
#![allow(dead_code)]

/// Protocol Buffers wire types (the low 3 bits of a field key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum WireType {
    /// int32, int64, uint32, uint64, sint32, sint64, bool, enum.
    Varint = 0,
    /// fixed64, sfixed64, double.
    I64 = 1,
    /// string, bytes, embedded messages, packed repeated fields.
    Len = 2,
    /// fixed32, sfixed32, float.
    I32 = 5,
}

/// Appends `v` as a base-128 varint.
#[inline]
pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Length in bytes of `v` as a varint (1 to 10).
#[inline]
pub(crate) const fn varint_len(v: u64) -> usize {
    // 64 - leading_zeros bits, 7 per byte, at least one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// `sint32` zigzag mapping.
#[inline]
pub(crate) const fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

/// `sint64` zigzag mapping.
#[inline]
pub(crate) const fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Appends the key of field `field` with wire type `wt`.
#[inline]
pub(crate) fn put_tag(buf: &mut Vec<u8>, field: u32, wt: WireType) {
    put_varint(buf, (u64::from(field) << 3) | wt as u64);
}

/// A `uint64`/`uint32`/`bool`/enum field.
#[inline]
pub(crate) fn put_uint64(buf: &mut Vec<u8>, field: u32, v: u64) {
    put_tag(buf, field, WireType::Varint);
    put_varint(buf, v);
}

/// An `int64`/`int32` field (negative values take 10 bytes, as the spec says).
#[inline]
pub(crate) fn put_int64(buf: &mut Vec<u8>, field: u32, v: i64) {
    put_uint64(buf, field, v as u64);
}

/// A `sint64`/`sint32` field (zigzag; an `i32` widened to `i64` encodes identically).
#[inline]
pub(crate) fn put_sint64(buf: &mut Vec<u8>, field: u32, v: i64) {
    put_uint64(buf, field, zigzag64(v));
}

/// A `double` field.
#[inline]
pub(crate) fn put_double(buf: &mut Vec<u8>, field: u32, v: f64) {
    put_tag(buf, field, WireType::I64);
    buf.extend_from_slice(&v.to_bits().to_le_bytes());
}

/// A `bytes` field.
#[inline]
pub(crate) fn put_bytes(buf: &mut Vec<u8>, field: u32, v: &[u8]) {
    put_tag(buf, field, WireType::Len);
    put_varint(buf, v.len() as u64);
    buf.extend_from_slice(v);
}

/// A `string` field (Rust strings are UTF-8, as protobuf requires).
#[inline]
pub(crate) fn put_str(buf: &mut Vec<u8>, field: u32, v: &str) {
    put_bytes(buf, field, v.as_bytes());
}

/// A packed repeated `sint64` field. Writes nothing for an empty slice (proto3 default).
pub(crate) fn put_packed_sint64(buf: &mut Vec<u8>, field: u32, vs: &[i64]) {
    if vs.is_empty() {
        return;
    }
    let len: usize = vs.iter().map(|&v| varint_len(zigzag64(v))).sum();
    put_tag(buf, field, WireType::Len);
    put_varint(buf, len as u64);
    for &v in vs {
        put_varint(buf, zigzag64(v));
    }
}

/// A packed repeated `double` field. Writes nothing for an empty slice.
pub(crate) fn put_packed_double(buf: &mut Vec<u8>, field: u32, vs: &[f64]) {
    if vs.is_empty() {
        return;
    }
    put_tag(buf, field, WireType::Len);
    put_varint(buf, (vs.len() * 8) as u64);
    for &v in vs {
        buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }
}

/// An open length-delimited region: where its body starts in the buffer.
#[must_use = "pass the mark to end_message, or the length byte stays a placeholder"]
#[derive(Debug)]
pub(crate) struct Mark {
    body: usize,
}

/// Starts an embedded message in field `field`; close it with [`end_message`].
#[inline]
pub(crate) fn begin_message(buf: &mut Vec<u8>, field: u32) -> Mark {
    put_tag(buf, field, WireType::Len);
    begin_delimited(buf)
}

/// Starts a varint-length-prefixed frame (no key); close it with [`end_message`].
#[inline]
pub(crate) fn begin_delimited(buf: &mut Vec<u8>) -> Mark {
    buf.push(0);
    Mark { body: buf.len() }
}

/// Closes the region opened by `mark`, writing its length (a minimal varint). Regions
/// nest: close the innermost first.
pub(crate) fn end_message(buf: &mut Vec<u8>, mark: Mark) {
    let body = mark.body;
    let len = buf.len() - body;
    let need = varint_len(len as u64);
    if need == 1 {
        buf[body - 1] = len as u8;
        return;
    }
    let extra = need - 1;
    let old_end = buf.len();
    buf.resize(old_end + extra, 0);
    buf.copy_within(body..old_end, body + extra);
    let mut v = len as u64;
    let mut at = body - 1;
    while v >= 0x80 {
        buf[at] = (v as u8) | 0x80;
        v >>= 7;
        at += 1;
    }
    buf[at] = v as u8;
}

/// A minimal decoder for tests: enough to walk what the writers above produce.
#[cfg(test)]
pub(crate) mod reader {
    use super::WireType;

    /// One decoded field.
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) enum Value<'a> {
        Varint(u64),
        I64(u64),
        Len(&'a [u8]),
        I32(u32),
    }

    /// Reads a varint from the front of `b`, advancing it.
    pub(crate) fn varint(b: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&byte, rest) = b.split_first()?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// Decodes all fields of one message, in order.
    pub(crate) fn fields(mut b: &[u8]) -> Option<Vec<(u32, Value<'_>)>> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let key = varint(&mut b)?;
            let field = u32::try_from(key >> 3).ok()?;
            let value = match key & 7 {
                x if x == WireType::Varint as u64 => Value::Varint(varint(&mut b)?),
                x if x == WireType::I64 as u64 => {
                    let (v, rest) = b.split_at_checked(8)?;
                    b = rest;
                    Value::I64(u64::from_le_bytes(v.try_into().ok()?))
                }
                x if x == WireType::Len as u64 => {
                    let len = usize::try_from(varint(&mut b)?).ok()?;
                    let (v, rest) = b.split_at_checked(len)?;
                    b = rest;
                    Value::Len(v)
                }
                x if x == WireType::I32 as u64 => {
                    let (v, rest) = b.split_at_checked(4)?;
                    b = rest;
                    Value::I32(u32::from_le_bytes(v.try_into().ok()?))
                }
                _ => return None,
            };
            out.push((field, value));
        }
        Some(out)
    }

    /// Inverse of zigzag64.
    pub(crate) fn unzigzag(v: u64) -> i64 {
        ((v >> 1) as i64) ^ -((v & 1) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::reader::{fields, unzigzag, varint, Value};
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn varints_match_the_spec() {
        let cases: &[(u64, &str)] = &[
            (0, "00"),
            (1, "01"),
            (127, "7f"),
            (128, "80 01"),
            (150, "96 01"),
            (16_383, "ff 7f"),
            (16_384, "80 80 01"),
            (1_700_000_000_000, "80 d0 95 ff bc 31"),
            (u64::MAX, "ff ff ff ff ff ff ff ff ff 01"),
        ];
        for &(v, want) in cases {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf, hex(want), "varint {v}");
            assert_eq!(varint_len(v), buf.len(), "varint_len {v}");
            let mut s = &buf[..];
            assert_eq!(varint(&mut s), Some(v));
        }
    }

    #[test]
    fn zigzag_matches_the_spec() {
        for (v, z) in [(0i64, 0u64), (-1, 1), (1, 2), (-2, 3), (2, 4), (4, 8)] {
            assert_eq!(zigzag64(v), z);
            assert_eq!(unzigzag(z), v);
            assert_eq!(u64::from(zigzag32(v as i32)), z);
        }
        assert_eq!(zigzag64(i64::MIN), u64::MAX);
        assert_eq!(zigzag32(i32::MIN), u32::MAX);
        assert_eq!(zigzag64(i64::MAX), u64::MAX - 1);
    }

    #[test]
    fn negative_int64_takes_ten_bytes() {
        let mut buf = Vec::new();
        put_int64(&mut buf, 1, -1);
        assert_eq!(buf, hex("08 ff ff ff ff ff ff ff ff ff 01"));
    }

    /// TV1.1 of the reference: counter `hits_total` = 3 as one delimited frame.
    #[test]
    fn exposition_counter_frame_tv1_1() {
        let mut buf = Vec::new();
        let frame = begin_delimited(&mut buf);
        put_str(&mut buf, 1, "hits_total");
        put_uint64(&mut buf, 3, 0);
        let metric = begin_message(&mut buf, 4);
        let counter = begin_message(&mut buf, 3);
        put_double(&mut buf, 1, 3.0);
        end_message(&mut buf, counter);
        end_message(&mut buf, metric);
        end_message(&mut buf, frame);
        assert_eq!(
            buf,
            hex("1b 0a 0a 68 69 74 73 5f 74 6f 74 61 6c 18 00 22 0b 1a 09 09 00 00 00 00 00 00 08 40")
        );
    }

    /// TV1.2: gauge `temp{room="a"}` = 21.5 with help `T`.
    #[test]
    fn exposition_gauge_frame_tv1_2() {
        let mut buf = Vec::new();
        let frame = begin_delimited(&mut buf);
        put_str(&mut buf, 1, "temp");
        put_str(&mut buf, 2, "T");
        put_uint64(&mut buf, 3, 1);
        let metric = begin_message(&mut buf, 4);
        let label = begin_message(&mut buf, 1);
        put_str(&mut buf, 1, "room");
        put_str(&mut buf, 2, "a");
        end_message(&mut buf, label);
        let gauge = begin_message(&mut buf, 2);
        put_double(&mut buf, 1, 21.5);
        end_message(&mut buf, gauge);
        end_message(&mut buf, metric);
        end_message(&mut buf, frame);
        assert_eq!(
            buf,
            hex(
                "23 0a 04 74 65 6d 70 12 01 54 18 01 22 16 0a 09 0a 04 72 6f 6f 6d 12 01 61 \
                 12 09 09 00 00 00 00 00 80 35 40"
            )
        );
    }

    /// TV1.3: native histogram (sint32 schema, unpacked sint64 deltas, spans).
    #[test]
    fn exposition_native_histogram_tv1_3() {
        let mut buf = Vec::new();
        let frame = begin_delimited(&mut buf);
        put_str(&mut buf, 1, "h");
        put_uint64(&mut buf, 3, 4);
        let metric = begin_message(&mut buf, 4);
        let h = begin_message(&mut buf, 7);
        put_uint64(&mut buf, 1, 4);
        put_double(&mut buf, 2, 104.5);
        put_sint64(&mut buf, 5, 0);
        put_double(&mut buf, 6, 2f64.powi(-128));
        put_uint64(&mut buf, 7, 1);
        for (offset, length) in [(1, 2), (4, 1)] {
            let span = begin_message(&mut buf, 12);
            put_sint64(&mut buf, 1, offset);
            put_uint64(&mut buf, 2, length);
            end_message(&mut buf, span);
        }
        for d in [1, 0, 0] {
            put_sint64(&mut buf, 13, d);
        }
        end_message(&mut buf, h);
        end_message(&mut buf, metric);
        end_message(&mut buf, frame);
        assert_eq!(
            buf,
            hex(
                "33 0a 01 68 18 04 22 2c 3a 2a 08 04 11 00 00 00 00 00 20 5a 40 28 00 \
                 31 00 00 00 00 00 00 f0 37 38 01 62 04 08 02 10 02 62 04 08 08 10 01 \
                 68 02 68 00 68 00"
            )
        );
    }

    /// TV3.1: remote write `up{job="x"}` = 1 @ 1700000000000.
    #[test]
    fn write_request_tv3_1() {
        let mut buf = Vec::new();
        let ts = begin_message(&mut buf, 1);
        for (n, v) in [("__name__", "up"), ("job", "x")] {
            let l = begin_message(&mut buf, 1);
            put_str(&mut buf, 1, n);
            put_str(&mut buf, 2, v);
            end_message(&mut buf, l);
        }
        let s = begin_message(&mut buf, 2);
        put_double(&mut buf, 1, 1.0);
        put_int64(&mut buf, 2, 1_700_000_000_000);
        end_message(&mut buf, s);
        end_message(&mut buf, ts);
        assert_eq!(
            buf,
            hex(
                "0a 2c 0a 0e 0a 08 5f 5f 6e 61 6d 65 5f 5f 12 02 75 70 0a 08 0a 03 6a 6f 62 \
                 12 01 78 12 10 09 00 00 00 00 00 00 f0 3f 10 80 d0 95 ff bc 31"
            )
        );
        assert_eq!(buf.len(), 46);
    }

    /// TV3.2: the remote-write Histogram (packed deltas, proto3 defaults omitted).
    #[test]
    fn remote_write_histogram_tv3_2() {
        let mut buf = Vec::new();
        put_uint64(&mut buf, 1, 4);
        put_double(&mut buf, 3, 104.5);
        put_double(&mut buf, 5, 2f64.powi(-128));
        put_uint64(&mut buf, 6, 1);
        for (offset, length) in [(1, 2), (4, 1)] {
            let span = begin_message(&mut buf, 11);
            put_sint64(&mut buf, 1, offset);
            put_uint64(&mut buf, 2, length);
            end_message(&mut buf, span);
        }
        put_packed_sint64(&mut buf, 12, &[1, 0, 0]);
        put_int64(&mut buf, 15, 1_700_000_000_000);
        assert_eq!(
            buf,
            hex(
                "08 04 19 00 00 00 00 00 20 5a 40 29 00 00 00 00 00 00 f0 37 30 01 \
                 5a 04 08 02 10 02 5a 04 08 08 10 01 62 03 02 00 00 78 80 d0 95 ff bc 31"
            )
        );
        assert_eq!(buf.len(), 46);
    }

    #[test]
    fn packed_doubles_and_empty_packed_fields() {
        let mut buf = Vec::new();
        put_packed_double(&mut buf, 13, &[]);
        put_packed_sint64(&mut buf, 12, &[]);
        assert!(buf.is_empty());
        put_packed_double(&mut buf, 13, &[1.0, -2.0]);
        assert_eq!(
            buf,
            hex("6a 10 00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 00 c0")
        );
    }

    /// Bodies of 127/128/16383/16384 bytes cross the varint boundaries: the length is
    /// minimal, the body is intact, and an enclosing message sees the grown inner length.
    #[test]
    fn nested_lengths_grow_and_shift_the_body() {
        for inner_len in [0usize, 1, 125, 126, 127, 128, 129, 16_383, 16_384, 70_000] {
            let body: Vec<u8> = (0..inner_len).map(|i| (i * 7 + 3) as u8).collect();
            let mut buf = vec![0xee]; // something before, which must not move
            let outer = begin_message(&mut buf, 5);
            let inner = begin_message(&mut buf, 1);
            buf.extend_from_slice(&body);
            end_message(&mut buf, inner);
            put_uint64(&mut buf, 2, 9);
            end_message(&mut buf, outer);

            assert_eq!(buf[0], 0xee);
            let top = fields(&buf[1..]).expect("decodes");
            assert_eq!(top.len(), 1);
            let Value::Len(outer_body) = top[0].1 else {
                panic!("outer is not LEN")
            };
            assert_eq!(top[0].0, 5);
            let inner_fields = fields(outer_body).expect("inner decodes");
            assert_eq!(
                inner_fields,
                vec![(1, Value::Len(&body[..])), (2, Value::Varint(9))],
                "inner_len {inner_len}"
            );
            // Minimal length varints: total = tags + lengths + body, nothing padded.
            let inner_total = 1 + varint_len(inner_len as u64) + inner_len + 2;
            assert_eq!(
                buf.len(),
                1 + 1 + varint_len(inner_total as u64) + inner_total
            );
        }
    }

    #[test]
    fn reused_buffer_keeps_its_capacity() {
        let mut buf = Vec::with_capacity(256);
        let cap = buf.capacity();
        for _ in 0..3 {
            buf.clear();
            let m = begin_message(&mut buf, 1);
            put_str(&mut buf, 1, "name");
            put_double(&mut buf, 2, 1.5);
            end_message(&mut buf, m);
        }
        assert_eq!(buf.capacity(), cap);
    }
}
