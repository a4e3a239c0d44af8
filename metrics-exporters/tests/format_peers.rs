//! Real consumers read our output: `promtool check metrics` accepts the 0.0.4 exposition
//! of a registry holding every kind, and python's prometheus_client parsers (0.0.4 and
//! OpenMetrics) read back every family, sample name, label value and value.
#![cfg(all(feature = "prometheus", feature = "json"))]

mod format_support;

use std::process::Command;
use std::time::Duration;

use format_support::{every_kind, python_parse, run_bounded};
use tachometer_exporters::prometheus::{encode, Format};
use tachometer_testkit::TempDir;

fn render(om: bool) -> (String, Vec<format_support::Family>) {
    let (registry, want) = every_kind(om);
    let mut out = String::new();
    encode(
        &registry,
        if om {
            Format::OpenMetrics100
        } else {
            Format::Text004
        },
        &mut out,
    );
    (out, want)
}

#[test]
fn promtool_accepts_every_kind_without_lint_problems() {
    let Some(promtool) = tachometer_testkit::peer::promtool() else {
        return;
    };
    let (exposition, _) = render(false);
    let dir = TempDir::new("format-promtool");
    let ran = run_bounded(
        Command::new(promtool).args(["check", "metrics"]),
        exposition.as_bytes(),
        dir.path(),
        Duration::from_secs(60),
    );
    assert!(
        ran.status.success() && ran.stdout.trim().is_empty() && ran.stderr.trim().is_empty(),
        "promtool: {:?}\nstdout: {}\nstderr: {}\ninput:\n{exposition}",
        ran.status,
        ran.stdout,
        ran.stderr
    );
}

#[test]
fn promtool_rejects_a_broken_exposition() {
    // Guards the test above: promtool must actually be checking what we feed it.
    let Some(promtool) = tachometer_testkit::peer::promtool() else {
        return;
    };
    let dir = TempDir::new("format-promtool-bad");
    let ran = run_bounded(
        Command::new(promtool).args(["check", "metrics"]),
        b"# TYPE a_total counter\na_total{x=\"unterminated} 1\n",
        dir.path(),
        Duration::from_secs(60),
    );
    assert!(!ran.status.success(), "promtool accepted garbage: {ran:?}");
}

fn read_back(om: bool) {
    let (exposition, want) = render(om);
    let Some(mut parsed) = python_parse(om, std::slice::from_ref(&exposition)) else {
        return;
    };
    let got = match parsed.remove(0) {
        Ok(f) => f,
        Err(e) => panic!("prometheus_client rejected our output: {e}\n{exposition}"),
    };
    assert_eq!(
        got.len(),
        want.len(),
        "families: {:?}",
        got.iter().map(|f| &f.name).collect::<Vec<_>>()
    );
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            g, w,
            "family {} read back differently from\n{exposition}",
            w.name
        );
    }
}

#[test]
fn python_text_parser_reads_back_everything() {
    read_back(false);
}

#[test]
fn python_openmetrics_parser_reads_back_everything() {
    read_back(true);
}
