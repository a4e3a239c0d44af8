//! Number rendering against the Go reference encoder's tables (protocols.md §1.9 #6 and
//! §2.9 #4).
#![cfg(feature = "prometheus")]

use tachometer_core::{Opts, Registry};
use tachometer_exporters::prometheus::{encode, Format};

/// `v` as the value of a float gauge's sample in `format` (the number formatting is
/// private to the exporters; this reads it where users meet it).
fn sample_value(v: f64, format: Format) -> String {
    let registry = Registry::new();
    registry.float_gauge(Opts::new("g", "")).unwrap().set(v);
    let mut out = String::new();
    encode(&registry, format, &mut out);
    let line = out
        .lines()
        .find(|l| l.starts_with("g "))
        .expect("the sample");
    line["g ".len()..].to_owned()
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)`, as text 0.0.4 writes values.
fn go(v: f64) -> String {
    sample_value(v, Format::Text004)
}

/// OpenMetrics' canonical number.
fn canonical(v: f64) -> String {
    sample_value(v, Format::OpenMetrics100)
}

#[test]
fn go_g_shortest_table() {
    let table: &[(f64, &str)] = &[
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (0.25, "0.25"),
        (10.0, "10"),
        (123_456.0, "123456"),
        (999_999.0, "999999"),
        (1e6, "1e+06"),
        (1_234_567.0, "1.234567e+06"),
        (17_560_473.0, "1.7560473e+07"),
        (1_458_255_915.0, "1.458255915e+09"),
        (1e-4, "0.0001"),
        (1e-5, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (9_007_199_254_740_992.0, "9.007199254740992e+15"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::NAN, "NaN"),
        // Beyond the notes' table: negative exponent forms and three exponent digits.
        (-2.5e-9, "-2.5e-09"),
        (1e-300, "1e-300"),
        (5.75, "5.75"),
        (100_000.0, "100000"),
    ];
    for (v, want) in table {
        assert_eq!(go(*v), *want, "value {v:e}");
    }
}

#[test]
fn openmetrics_canonical_table() {
    let table: &[(f64, &str)] = &[
        // §2.9 #4 bounds.
        (0.005, "0.005"),
        (0.01, "0.01"),
        (1.0, "1.0"),
        (10.0, "10.0"),
        (1e6, "1e+06"),
        (1e-5, "1e-05"),
        // The spec's canonical examples.
        (0.0, "0.0"),
        (0.001, "0.001"),
        (0.002, "0.002"),
        (0.1, "0.1"),
        (0.9, "0.9"),
        (0.95, "0.95"),
        (0.99, "0.99"),
        (0.999, "0.999"),
        (1.7, "1.7"),
        (1e-10, "1e-10"),
        (1e-9, "1e-09"),
        (1e-4, "0.0001"),
        (100_000.0, "100000.0"),
        (1e10, "1e+10"),
        (-1.0, "-1.0"),
        (-0.0, "0.0"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::NAN, "NaN"),
    ];
    for (v, want) in table {
        assert_eq!(canonical(*v), *want, "value {v:e}");
    }
}

#[test]
fn every_rendering_parses_back_to_the_same_value() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..20_000 {
        // xorshift over raw bit patterns: all exponents, subnormals included.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = f64::from_bits(x);
        if !v.is_finite() {
            continue;
        }
        assert_eq!(go(v).parse::<f64>().unwrap(), v, "{v:e} -> {}", go(v));
        assert_eq!(
            canonical(v).parse::<f64>().unwrap(),
            v,
            "{v:e} -> {}",
            canonical(v)
        );
    }
}
