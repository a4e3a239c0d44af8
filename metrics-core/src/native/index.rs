//! Bucket index math of native histograms, bit-compatible with client_golang.
//!
//! The key of a positive value `v` at schema `s` is `ceil(2^s · log2 v)`, computed
//! without logarithms: `frexp` splits `v` into a fraction in `[0.5, 1)` and an exponent,
//! and the fraction is looked up in client_golang's boundary table (a float `log2`
//! misplaces exact boundaries). Keys are computed once at schema 8, the finest; the key
//! at schema `s` is `ceil(key8 / 2^(8−s))`, exact because every coarser table is a
//! subset of the schema-8 table.

use super::table::{BOUNDS8, START};

/// The finest schema; keys are first computed there.
const FINEST: i32 = 8;

/// `2^64`, to lift subnormals into the normal range.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// `a = frac · 2^exp` with `frac` in `[0.5, 1)`, for finite `a > 0`.
#[inline(always)]
fn frexp(a: f64) -> (f64, i32) {
    let mut bits = a.to_bits();
    let mut biased = ((bits >> 52) & 0x7ff) as i32;
    let mut adjust = 0;
    if biased == 0 {
        bits = (a * TWO_POW_64).to_bits();
        biased = ((bits >> 52) & 0x7ff) as i32;
        adjust = -64;
    }
    let frac = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (frac, biased - 1022 + adjust)
}

/// The schema-8 key of a finite `a > 0`.
#[inline(always)]
pub(crate) fn key8(a: f64) -> i32 {
    let (frac, exp) = frexp(a);
    let top = ((frac.to_bits() >> 44) & 0xff) as usize;
    let mut k = usize::from(START[top]);
    k += usize::from(BOUNDS8[k] < frac);
    k += usize::from(BOUNDS8[k] < frac);
    k as i32 + (exp - 1) * (1 << FINEST)
}

/// The key at `schema` (−4…8) of a bucket whose schema-8 key is `key8`:
/// `ceil(key8 / 2^(8 − schema))`. Also maps any key from a finer schema to a coarser
/// one when given the schema difference as `8 - schema`.
#[inline(always)]
pub(crate) fn key_at(key8: i32, schema: i8) -> i32 {
    coarsen(key8, FINEST - i32::from(schema))
}

/// `ceil(key / 2^by)`: the key of the bucket containing bucket `key` after `by`
/// halvings of the resolution.
#[inline(always)]
pub(crate) fn coarsen(key: i32, by: i32) -> i32 {
    ((i64::from(key) + (1i64 << by) - 1) >> by) as i32
}

/// The key of the bucket holding `±f64::MAX` at `schema`; `±Inf` go one above it.
pub(crate) fn max_key(schema: i8) -> i32 {
    key_at(key8(f64::MAX), schema)
}

/// `x · 2^e` without intermediate overflow or double rounding for `x` in `[0.5, 1]`.
fn ldexp(mut x: f64, mut e: i32) -> f64 {
    let pow2 = |e: i32| f64::from_bits(((e + 1023) as u64) << 52);
    while e > 1000 {
        x *= pow2(1000);
        e -= 1000;
        if x.is_infinite() {
            return x;
        }
    }
    while e < -1000 {
        x *= pow2(-1000);
        e += 1000;
        if x == 0.0 {
            return x;
        }
    }
    x * pow2(e)
}

/// The (inclusive) upper bound of bucket `key` at `schema`, as client_golang's `getLe`:
/// `f64::MAX` for the last finite bucket, `+Inf` above it.
pub(crate) fn upper_bound(key: i32, schema: i8) -> f64 {
    if key > max_key(schema) {
        return f64::INFINITY;
    }
    if schema < 0 {
        let exp = key << -i32::from(schema);
        if exp == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, exp);
    }
    let s = i32::from(schema);
    let frac = BOUNDS8[((key & ((1 << s) - 1)) << (FINEST - s)) as usize];
    let exp = (key >> s) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// client_golang's algorithm literally: binary search in the schema's own table.
    fn reference_key(v: f64, schema: i8) -> i32 {
        let a = v.abs();
        let (frac, exp) = frexp(a);
        if schema > 0 {
            let n = 1usize << schema;
            let table: Vec<f64> = (0..n).map(|j| BOUNDS8[j << (8 - schema)]).collect();
            table.partition_point(|b| *b < frac) as i32 + (exp - 1) * n as i32
        } else {
            let mut key = exp;
            if frac == 0.5 {
                key -= 1;
            }
            let by = -i32::from(schema);
            (key + (1 << by) - 1) >> by
        }
    }

    #[test]
    fn frexp_matches_definition() {
        assert_eq!(frexp(1.0), (0.5, 1));
        assert_eq!(frexp(3.0), (0.75, 2));
        assert_eq!(frexp(f64::MIN_POSITIVE), (0.5, -1021));
        assert_eq!(frexp(5e-324), (0.5, -1073));
        assert_eq!(frexp(f64::MAX).1, 1024);
    }

    #[test]
    fn reference_vectors() {
        // protocols-push-native.md §2.8.
        for (schema, v, key) in [
            (0, 1.5, 1),
            (0, 2.0, 1),
            (0, 100.0, 7),
            (0, 0.3, -1),
            (3, 1.0, 0),
            (3, 1.5, 5),
            (3, 2.0, 8),
            (3, 1000.0, 80),
            (-1, 4.0, 1),
            (-1, 5.0, 2),
        ] {
            assert_eq!(key_at(key8(v), schema), key, "schema {schema} v {v}");
        }
        let just_above = f64::from_bits(2.938735877055719e-39f64.to_bits() + 1);
        assert_eq!(key_at(key8(just_above), 0), -127);
        assert_eq!(key8(f64::MAX), 262_144);
    }

    #[test]
    fn every_boundary_and_its_neighbours_match_client_golang() {
        for schema in -4..=8i8 {
            for exp in [-1073, -1022, -3, 0, 1, 7, 1023] {
                for &b in &BOUNDS8[..256] {
                    let v = ldexp(b, exp);
                    if v == 0.0 || !v.is_finite() {
                        continue;
                    }
                    for w in [
                        v,
                        f64::from_bits(v.to_bits() - 1),
                        f64::from_bits(v.to_bits() + 1),
                    ] {
                        assert_eq!(
                            key_at(key8(w), schema),
                            reference_key(w, schema),
                            "schema {schema} v {w:e}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn upper_bounds_are_inclusive_and_tight() {
        for schema in -4..=8i8 {
            for key in [-1000, -129, -1, 0, 1, 5, 80, 4000] {
                let le = upper_bound(key, schema);
                if le == 0.0 || !le.is_finite() {
                    continue;
                }
                assert_eq!(key_at(key8(le), schema), key, "schema {schema} key {key}");
                let above = f64::from_bits(le.to_bits() + 1);
                assert_eq!(
                    key_at(key8(above), schema),
                    key + 1,
                    "schema {schema} key {key}"
                );
            }
            assert_eq!(upper_bound(max_key(schema), schema), f64::MAX);
            assert_eq!(upper_bound(max_key(schema) + 1, schema), f64::INFINITY);
            assert_eq!(key_at(key8(f64::MAX), schema), max_key(schema));
        }
        assert_eq!(upper_bound(0, 0), 1.0);
        assert_eq!(upper_bound(-128, 0), 2.938735877055719e-39);
    }

    proptest! {
        #[test]
        fn keys_match_the_reference(bits in 1u64..0x7ff0_0000_0000_0000, schema in -4i8..=8) {
            let v = f64::from_bits(bits);
            prop_assert_eq!(key_at(key8(v), schema), reference_key(v, schema));
        }

        #[test]
        fn coarsening_commutes(bits in 1u64..0x7ff0_0000_0000_0000, schema in -3i8..=8, by in 1i32..4) {
            let v = f64::from_bits(bits);
            let coarser = (schema as i32 - by).max(-4);
            let by = schema as i32 - coarser;
            prop_assert_eq!(coarsen(key_at(key8(v), schema), by), key_at(key8(v), coarser as i8));
        }
    }
}
