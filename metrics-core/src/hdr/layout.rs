//! HdrHistogram's log-linear bucket layout, computed with bit arithmetic.
//!
//! The layout is exactly the one of the `hdrhistogram` crate for the same
//! `(lowest, highest, significant figures)`, so a window's counts can be copied index by
//! index into an `hdrhistogram::Histogram` for quantile math and V2 serialization.

use crate::error::Error;

/// Where each value is counted, for one `(lowest, highest, sigfig)` triple. The default
/// (all zero, `len` 0) is a placeholder for an empty snapshot and maps no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Layout {
    pub(crate) lowest: u64,
    pub(crate) highest: u64,
    pub(crate) sigfig: u8,
    unit_magnitude: u32,
    sub_bucket_half_count_magnitude: u32,
    sub_bucket_half_count: u64,
    sub_bucket_mask: u64,
    leading_zero_count_base: u32,
    pub(crate) len: usize,
    max_value: u64,
}

impl Layout {
    pub(crate) fn new(lowest: u64, highest: u64, sigfig: u8) -> Result<Self, Error> {
        if lowest == 0 || sigfig > 5 || highest < lowest.saturating_mul(2) {
            return Err(Error::InvalidConfig(format!(
                "HDR histogram needs lowest >= 1, highest >= 2 * lowest and 0..=5 significant figures (got lowest {lowest}, highest {highest}, sigfig {sigfig})"
            )));
        }
        let largest_single_unit = 2 * 10u64.pow(u32::from(sigfig));
        let unit_magnitude = 63 - lowest.leading_zeros();
        let sub_bucket_count_magnitude = 64 - (largest_single_unit - 1).leading_zeros();
        if unit_magnitude + sub_bucket_count_magnitude > 62 {
            return Err(Error::InvalidConfig(format!(
                "HDR histogram: lowest {lowest} is too large for {sigfig} significant figures"
            )));
        }
        let sub_bucket_half_count_magnitude = sub_bucket_count_magnitude.max(1) - 1;
        let sub_bucket_count = 1u64 << (sub_bucket_half_count_magnitude + 1);
        let sub_bucket_half_count = sub_bucket_count / 2;
        let sub_bucket_mask = (sub_bucket_count - 1) << unit_magnitude;

        // Buckets needed to cover `highest`, as HdrHistogram counts them.
        let mut smallest_untrackable = sub_bucket_count << unit_magnitude;
        let mut buckets = 1u32;
        while smallest_untrackable <= highest {
            if smallest_untrackable > u64::MAX / 2 {
                buckets += 1;
                break;
            }
            smallest_untrackable <<= 1;
            buckets += 1;
        }
        let len = ((buckets + 1) as usize) << sub_bucket_half_count_magnitude;
        let leading_zero_count_base = 64 - unit_magnitude - sub_bucket_half_count_magnitude - 1;
        let mut layout = Self {
            lowest,
            highest,
            sigfig,
            unit_magnitude,
            sub_bucket_half_count_magnitude,
            sub_bucket_half_count,
            sub_bucket_mask,
            leading_zero_count_base,
            len,
            max_value: 0,
        };
        layout.max_value = layout.highest_equivalent(layout.value_from_index(len - 1));
        Ok(layout)
    }

    /// The counts index of `v`; values above the covered range are clamped to the top.
    #[inline]
    pub(crate) fn index_of(&self, v: u64) -> usize {
        let v = v.min(self.max_value);
        let bucket = self.leading_zero_count_base - (v | self.sub_bucket_mask).leading_zeros();
        let sub = v >> (bucket + self.unit_magnitude);
        let base = ((bucket + 1) as usize) << self.sub_bucket_half_count_magnitude;
        base + sub as usize - self.sub_bucket_half_count as usize
    }

    /// The lowest value counted at `index`.
    pub(crate) fn value_from_index(&self, index: usize) -> u64 {
        let mut bucket = (index >> self.sub_bucket_half_count_magnitude) as i64 - 1;
        let mut sub =
            (index as u64 & (self.sub_bucket_half_count - 1)) + self.sub_bucket_half_count;
        if bucket < 0 {
            sub -= self.sub_bucket_half_count;
            bucket = 0;
        }
        sub << (bucket as u32 + self.unit_magnitude)
    }

    /// Width of the bucket at `index` (HdrHistogram's `equivalent_range`).
    fn range_of_index(&self, index: usize) -> u64 {
        let bucket = ((index >> self.sub_bucket_half_count_magnitude) as u32).saturating_sub(1);
        1u64 << (self.unit_magnitude + bucket)
    }

    /// The highest value counted at `index` (HdrHistogram's `highest_equivalent`).
    pub(crate) fn highest_of_index(&self, index: usize) -> u64 {
        self.value_from_index(index)
            .saturating_add(self.range_of_index(index))
            - 1
    }

    /// The middle of the bucket at `index`, rounded up (HdrHistogram's
    /// `median_equivalent`).
    pub(crate) fn median_of_index(&self, index: usize) -> u64 {
        self.value_from_index(index) + (self.range_of_index(index) >> 1)
    }

    fn highest_equivalent(&self, v: u64) -> u64 {
        let bucket = self.leading_zero_count_base - (v | self.sub_bucket_mask).leading_zeros();
        let sub = v >> (bucket + self.unit_magnitude);
        let adjust = if sub >= self.sub_bucket_half_count * 2 {
            1
        } else {
            0
        };
        let range = 1u64 << (self.unit_magnitude + bucket + adjust);
        let lowest = (v >> (bucket + self.unit_magnitude)) << (bucket + self.unit_magnitude);
        lowest.saturating_add(range - 1)
    }

    /// Largest value the layout can distinguish; larger values are clamped to it.
    pub(crate) fn max_value(&self) -> u64 {
        self.max_value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;

    fn check_against_crate(lowest: u64, highest: u64, sigfig: u8, values: &[u64]) {
        let layout = Layout::new(lowest, highest, sigfig).unwrap();
        let h = Histogram::<u64>::new_with_bounds(lowest, highest, sigfig).unwrap();
        assert_eq!(layout.len, h.distinct_values(), "counts length");
        for &v in values {
            if v > layout.max_value() {
                continue;
            }
            let idx = layout.index_of(v);
            let start = layout.value_from_index(idx);
            assert_eq!(start, h.lowest_equivalent(v), "lowest equivalent of {v}");
            assert_eq!(layout.highest_of_index(idx), h.highest_equivalent(v), "{v}");
            assert_eq!(layout.median_of_index(idx), h.median_equivalent(v), "{v}");
        }
    }

    #[test]
    fn same_layout_as_hdrhistogram_crate() {
        let mut values: Vec<u64> = (0..5000).collect();
        values.extend((0..63).map(|s| 1u64 << s));
        values.extend((0..63).map(|s| (1u64 << s) - 1));
        values.extend([10_000_000, 3_600_000_000, 4_294_967_295, 3_600_000_000_000]);
        check_against_crate(1, 3_600_000_000_000, 2, &values);
        check_against_crate(1, 3_600_000_000, 3, &values);
        check_against_crate(1, 100_000, 3, &values);
        check_against_crate(4, 100_000, 3, &values);
        check_against_crate(1000, 3_600_000_000_000, 3, &values);
    }

    #[test]
    fn out_of_range_values_clamp() {
        let layout = Layout::new(1, 100_000, 3).unwrap();
        assert_eq!(layout.index_of(u64::MAX), layout.len - 1);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(Layout::new(0, 10, 2).is_err());
        assert!(Layout::new(1, 1, 2).is_err());
        assert!(Layout::new(1, 100, 6).is_err());
    }
}
