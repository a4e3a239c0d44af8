//! Random label values, help texts and values, rendered in both formats and read back by
//! python's prometheus_client parsers. All cases go through one python start per format
//! (the proptest input is the whole batch), which keeps the test to about a second.
#![cfg(all(feature = "prometheus", feature = "json"))]

mod format_support;

use std::collections::BTreeMap;

use format_support::{python_parse, Family, Sample};
use proptest::prelude::*;
use tachometer_core::{Opts, Registry};
use tachometer_exporters::prometheus::{encode, Format};

#[derive(Debug, Clone)]
struct Case {
    help: String,
    a: String,
    b: String,
    value: f64,
}

fn text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => prop_oneof![
            Just('\\'), Just('"'), Just('\n'), Just('\t'), Just(' '), Just('#'), Just('{'), Just('}'),
            Just('='), Just(','), Just('n'), Just('ü'), Just('日'), Just('✓'), Just('\u{1F600}'),
        ],
        1 => any::<char>(),
    ];
    proptest::collection::vec(ch, 0..16).prop_map(String::from_iter)
}

fn case() -> impl Strategy<Value = Case> {
    (text(), text(), text(), any::<f64>()).prop_map(|(help, a, b, value)| Case {
        help,
        a,
        b,
        value,
    })
}

fn render(c: &Case, format: Format) -> String {
    let r = Registry::new();
    r.counter_family(Opts::new("fuzz_total", c.help.as_str()).labels(&["a", "b"]))
        .unwrap()
        .with_labels(&[&c.a, &c.b])
        .unwrap()
        .increment(3);
    r.float_gauge_family(Opts::new("fuzz_value", c.help.as_str()).labels(&["a"]))
        .unwrap()
        .with_labels(&[&c.b])
        .unwrap()
        .set(c.value);
    let mut out = String::new();
    encode(&r, format, &mut out);
    out
}

/// What a parser reads back: the case itself, except for HELP text whitespace a parser
/// cannot or does not keep.
///
/// * 0.0.4 lets parsers ignore whitespace around tokens and has no escape for it, so
///   whitespace at either end of a HELP text cannot survive (python strips each line with
///   `str.strip()`, i.e. everything `isspace()` calls whitespace).
/// * OpenMetrics' grammar keeps it (`HELP SP metricname SP escaped-string`, and a space is
///   a normal char), but python's OpenMetrics parser splits metadata lines on runs of
///   spaces and so drops a HELP text's leading spaces. That is the parser's deviation;
///   we write what the spec says.
fn expected(c: &Case, format: Format) -> Vec<Family> {
    // A line feed is escaped to `\n` on the wire, so it is not whitespace there.
    let python_space =
        |ch: char| (ch.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&ch)) && ch != '\n';
    let help = match format {
        Format::Text004 => c.help.trim_matches(python_space).to_owned(),
        _ => c.help.trim_start_matches(' ').to_owned(),
    };
    let labels = |pairs: &[(&str, &String)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).clone()))
            .collect()
    };
    vec![
        Family {
            name: "fuzz".into(),
            kind: "counter".into(),
            help: help.clone(),
            unit: String::new(),
            samples: vec![Sample {
                name: "fuzz_total".into(),
                labels: labels(&[("a", &c.a), ("b", &c.b)]),
                value: 3.0,
            }],
        },
        Family {
            name: "fuzz_value".into(),
            kind: "gauge".into(),
            help: help.clone(),
            unit: String::new(),
            samples: vec![Sample {
                name: "fuzz_value".into(),
                labels: labels(&[("a", &c.b)]),
                value: c.value,
            }],
        },
    ]
}

fn check(cases: &[Case], format: Format) -> Result<(), TestCaseError> {
    let om = format != Format::Text004;
    let docs: Vec<String> = cases.iter().map(|c| render(c, format)).collect();
    let Some(parsed) = python_parse(om, &docs) else {
        return Ok(());
    };
    for ((c, doc), got) in cases.iter().zip(&docs).zip(parsed) {
        let got = got.map_err(|e| {
            TestCaseError::fail(format!("{format:?}: parser rejected {doc:?}: {e}"))
        })?;
        prop_assert_eq!(got, expected(c, format), "{:?} document {:?}", format, doc);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1, max_shrink_iters: 16, ..ProptestConfig::default() })]

    #[test]
    fn random_labels_and_help_survive_both_python_parsers(cases in proptest::collection::vec(case(), 64)) {
        check(&cases, Format::Text004)?;
        check(&cases, Format::OpenMetrics100)?;
    }
}
