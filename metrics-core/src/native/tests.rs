use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// Recounts `values` at the snapshot's final schema and zero threshold: what every bucket
/// must hold if moves lost or duplicated nothing.
fn naive(values: &[f64], s: &NativeSnapshot) -> (u64, BTreeMap<i32, u64>, BTreeMap<i32, u64>) {
    let (mut zero, mut pos, mut neg) = (0, BTreeMap::new(), BTreeMap::new());
    for &v in values {
        if v.is_nan() || v.is_infinite() {
            continue;
        }
        if v.abs() <= s.zero_threshold {
            zero += 1;
        } else {
            let side = if v < 0.0 { &mut neg } else { &mut pos };
            *side.entry(key_at(key8(v.abs()), s.schema)).or_insert(0) += 1;
        }
    }
    (zero, pos, neg)
}

fn populated(side: &NativeSide) -> BTreeMap<i32, u64> {
    side.iter().collect()
}

fn check_against_model(values: &[f64], s: &NativeSnapshot, cap: usize) {
    let (zero, pos, neg) = naive(values, s);
    assert_eq!(s.zero_count, zero, "zero bucket");
    assert_eq!(populated(&s.positive), pos, "positive buckets");
    assert_eq!(populated(&s.negative), neg, "negative buckets");
    assert!(s.positive.counts.len() <= cap && s.negative.counts.len() <= cap);
    let finite = values.iter().filter(|v| v.is_finite()).count() as u64;
    let infs = values.iter().filter(|v| v.is_infinite()).count() as u64;
    assert_eq!(s.count, finite + infs);
}

#[test]
fn reference_observations_schema_0() {
    // protocols-push-native.md TV1.3: {0, 1.5, 3, 100} at schema 0.
    let h = NativeHistogram::with_config(NativeConfig::new().schema(0)).unwrap();
    for v in [0.0, 1.5, 3.0, 100.0] {
        h.record(v);
    }
    let s = h.snapshot();
    assert_eq!(s.schema, 0);
    assert_eq!(s.zero_threshold, DEFAULT_ZERO_THRESHOLD);
    assert_eq!(s.zero_count, 1);
    assert_eq!(s.count, 4);
    assert_eq!(s.sum, 104.5);
    assert_eq!(s.positive.first_key, 1);
    assert_eq!(s.positive.counts, vec![1, 1, 0, 0, 0, 0, 1]);
    assert!(s.negative.is_empty());
}

#[test]
fn halving_merges_bucket_pairs_as_the_reference_does() {
    // §2.8: schema 1 → 0 maps {-1:2, 0:1, 1:3, 2:1, 3:4} to {0:3, 1:4, 2:4}.
    let by_key = [(-1, 2), (0, 1), (1, 3), (2, 1), (3, 4)];
    let mut merged = BTreeMap::new();
    for (k, n) in by_key {
        *merged.entry(coarsen(k, 1)).or_insert(0) += n;
    }
    assert_eq!(merged, BTreeMap::from([(0, 3), (1, 4), (2, 4)]));

    // The same through the histogram: fill those schema-1 buckets, then a far value
    // forces halvings; every count lands where a recount at the final schema puts it.
    let h = NativeHistogram::with_config(NativeConfig::new().schema(1).max_buckets(8)).unwrap();
    let mut values = Vec::new();
    for (k, n) in by_key {
        for _ in 0..n {
            values.push(upper_bound(k, 1));
        }
    }
    values.push(1e6);
    for &v in &values {
        h.record(v);
    }
    let s = h.snapshot();
    assert!(s.schema < 1, "schema {}", s.schema);
    check_against_model(&values, &s, 8);
}

#[test]
fn a_window_moves_without_losing_resolution_when_the_range_fits() {
    let h = NativeHistogram::with_config(NativeConfig::new().max_buckets(40)).unwrap();
    // Schema 3: 40 buckets cover a factor 2^5. First 1.0 (centred), then 20.0 needs a move.
    let values = [1.0, 1.1, 20.0, 25.0];
    for v in values {
        h.record(v);
    }
    let s = h.snapshot();
    assert_eq!(s.schema, 3);
    check_against_model(&values, &s, 40);
}

#[test]
fn the_zero_bucket_widens_before_the_resolution_halves() {
    let h =
        NativeHistogram::with_config(NativeConfig::new().max_buckets(16).max_zero_threshold(0.01))
            .unwrap();
    let values = [1e-6, 1e-3, 1.0, 1.05, 1.2];
    for v in values {
        h.record(v);
    }
    let s = h.snapshot();
    assert_eq!(s.schema, 3, "widening sufficed");
    assert!(
        s.zero_threshold > 1e-3 && s.zero_threshold <= 0.01,
        "{}",
        s.zero_threshold
    );
    check_against_model(&values, &s, 16);
}

#[test]
fn infinities_go_to_overflow_buckets_and_nan_is_ignored() {
    let h = NativeHistogram::new();
    for v in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1.0, -2.0] {
        h.record(v);
    }
    let s = h.snapshot();
    assert_eq!(s.count, 4);
    assert_eq!((s.positive.inf, s.negative.inf), (1, 1));
    let pos: Vec<_> = s.positive.buckets(s.schema).collect();
    assert_eq!(pos, vec![(0, 1), (8193, 1)]);
    let neg: Vec<_> = s.negative.buckets(s.schema).collect();
    assert_eq!(neg, vec![(8, 1), (8193, 1)]);
}

#[test]
fn classic_and_native_share_count_and_sum() {
    let h = NativeHistogram::with_config(
        NativeConfig::new().classic(Buckets::new(&[0.25, 1.0, 2.5]).unwrap()),
    )
    .unwrap();
    for v in [0.25, 0.5, 0.5, 1.5, 3.0] {
        h.record(v);
    }
    let s = h.snapshot();
    assert_eq!(
        s.classic().collect::<Vec<_>>(),
        vec![(0.25, 1), (1.0, 3), (2.5, 4), (f64::INFINITY, 5)]
    );
    assert_eq!(s.count, 5);
    assert_eq!(s.sum, 5.75);
    assert_eq!(s.positive.total(), 5);
}

#[test]
fn quantiles_are_within_the_bucket_width() {
    let h = NativeHistogram::new();
    let values: Vec<f64> = (1..=10_000).map(|i| f64::from(i) * 1e-5).collect();
    for &v in &values {
        h.record(v);
    }
    let s = h.snapshot();
    let width = 2f64.powf(2f64.powi(-i32::from(s.schema))) - 1.0;
    for q in [0.01, 0.5, 0.9, 0.99, 0.999] {
        let exact = values[(q * values.len() as f64) as usize - 1];
        let est = s.quantile(q);
        assert!(
            (est - exact).abs() / exact <= width,
            "q {q}: {est} vs {exact} (width {width})"
        );
    }
    assert!(NativeHistogram::new().snapshot().quantile(0.5).is_nan());
}

#[test]
fn invalid_configurations_say_what_to_change() {
    for (c, needle) in [
        (NativeConfig::new().schema(9), "-4..=8"),
        (NativeConfig::new().zero_threshold(-1.0), "zero threshold"),
        (NativeConfig::new().max_buckets(2), "max_buckets"),
        (NativeConfig::new().max_zero_threshold(f64::NAN), "max zero"),
    ] {
        let e = NativeHistogram::with_config(c).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
    assert_eq!(NativeConfig::new().factor(1.1).schema_value(), 3);
    assert_eq!(NativeConfig::new().factor(2.0).schema_value(), 0);
    assert_eq!(NativeConfig::new().factor(1.005).schema_value(), 8);
    assert_eq!(NativeConfig::new().factor(65536.0).schema_value(), -4);
}

#[test]
fn concurrent_recorders_racing_moves_lose_nothing() {
    for round in 0..20 {
        let h =
            NativeHistogram::with_config(NativeConfig::new().schema(8).max_buckets(16)).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let h = h.clone();
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..2_000u32 {
                        // Spread over many octaves and both signs so moves and halvings
                        // happen while other threads record.
                        let x = f64::from((i * 7919 + t * 104_729 + round) % 4096);
                        let v = 2f64.powf(x / 256.0 - 8.0) * if i % 5 == 0 { -1.0 } else { 1.0 };
                        h.record(v);
                        mine.push(v);
                    }
                    mine
                })
            })
            .collect();
        let values: Vec<f64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let s = h.snapshot();
        check_against_model(&values, &s, 16);
        let sum: f64 = values.iter().sum();
        assert!((s.sum - sum).abs() <= sum.abs() * 1e-9);
    }
}

proptest! {
    #[test]
    fn matches_a_recount_at_the_final_resolution(
        schema in -4i8..=8,
        cap in 8u32..64,
        max_zt in prop_oneof![Just(0.0), Just(1e-3), Just(1.0)],
        values in proptest::collection::vec(
            prop_oneof![
                4 => 1e-9f64..1e9,
                2 => -1e6f64..-1e-6,
                1 => Just(0.0),
                1 => 1e-300f64..1e-200,
            ],
            0..200,
        ),
    ) {
        let h = NativeHistogram::with_config(
            NativeConfig::new().schema(schema).max_buckets(cap).max_zero_threshold(max_zt),
        ).unwrap();
        for &v in &values {
            h.record(v);
        }
        let s = h.snapshot();
        check_against_model(&values, &s, cap as usize);
        prop_assert!(s.schema <= schema);
    }
}

#[test]
fn merging_equals_recording_into_one() {
    let a = NativeHistogram::with_config(NativeConfig::new().schema(3)).unwrap();
    let b = NativeHistogram::with_config(NativeConfig::new().schema(1)).unwrap();
    let all = NativeHistogram::with_config(NativeConfig::new().schema(1)).unwrap();
    for i in 1..200 {
        let v = f64::from(i) * 0.37 - 20.0;
        if i % 3 == 0 {
            a.record(v);
        } else {
            b.record(v);
        }
        all.record(v);
    }
    let mut merged = a.snapshot();
    merged.merge(&b.snapshot());
    let want = all.snapshot();
    assert_eq!(merged.schema, 1);
    assert_eq!(merged.count, want.count);
    assert_eq!(populated(&merged.positive), populated(&want.positive));
    assert_eq!(populated(&merged.negative), populated(&want.negative));
    assert_eq!(merged.zero_count, want.zero_count);
}
