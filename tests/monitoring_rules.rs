//! The shipped rules against the real tools: `examples/monitoring/tachometer.rules.yml`
//! is exactly what the generator writes for the documented defaults, `promtool check
//! rules` accepts every variant the generator can write (quoting included), and the
//! `promtool test rules` unit tests in `examples/monitoring/*.test.yml` pass.

#![cfg(feature = "rules")]

#[allow(dead_code)] // `main` is the example's entry point, unused here
#[path = "../examples/rules.rs"]
mod rules_example;

use std::path::{Path, PathBuf};
use std::process::Command;

use tachometer::exporters::prometheus::{Encoder, Format};
use tachometer::rules::{
    bounds_in_exposition, Histograms, Matcher, Objectives, RulesError, HTTP_DURATION,
};
use tachometer::tower::MetricsLayer;
use tachometer::Registry;
use tachometer_testkit::{peer, TempDir};

fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/monitoring")
}

#[test]
fn shipped_rules_are_the_generators_output_for_the_defaults() {
    let shipped = std::fs::read_to_string(monitoring_dir().join("tachometer.rules.yml"))
        .expect("examples/monitoring/tachometer.rules.yml");
    let generated = Objectives::default().render().unwrap();
    assert!(
        shipped == generated,
        "examples/monitoring/tachometer.rules.yml is stale; regenerate it with\n  \
         cargo run --example rules -- -o examples/monitoring/tachometer.rules.yml"
    );
    // The example with no arguments is the same defaults.
    let (objectives, output) = rules_example::parse(Vec::<String>::new()).unwrap().unwrap();
    assert_eq!(objectives, Objectives::default());
    assert_eq!(output, None);
}

#[test]
fn the_middlewares_default_buckets_answer_the_default_objectives() {
    // T = 0.5 s needs 0.5 and 2.0; the latency target 1.0.
    let bounds = tachometer::tower::default_buckets().bounds().to_vec();
    for b in [0.5, 1.0, 2.0] {
        assert!(bounds.contains(&b), "{b} missing from {bounds:?}");
    }
    assert_eq!(
        Objectives::default().histograms,
        Histograms::Classic { bounds }
    );
}

#[test]
fn bounds_read_back_from_both_exposition_formats_are_the_middlewares() {
    let registry = Registry::new();
    let layer = MetricsLayer::builder().registry(&registry).build().unwrap();
    // Label values that contain `le="` must not be taken for the `le` label.
    for route in ["/a", r#"/b,le="7""#, "/handle"] {
        layer
            .request_duration()
            .with_labels(&["GET", route, "200"])
            .unwrap()
            .record(0.3);
    }
    let expected = tachometer::tower::default_buckets().bounds().to_vec();
    let mut encoder = Encoder::new();
    for format in [Format::Text004, Format::OpenMetrics100] {
        let text = encoder.encode(&registry, format).to_owned();
        assert_eq!(
            bounds_in_exposition(&text, HTTP_DURATION).unwrap(),
            expected,
            "{text}"
        );
    }
    let e = bounds_in_exposition("up 1\n", HTTP_DURATION).unwrap_err();
    assert!(
        e.to_string()
            .contains("no http_server_request_duration_seconds_bucket series"),
        "{e}"
    );
}

static MACRO_REGISTRY: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::new);

#[tachometer::timed(registry = &*MACRO_REGISTRY)]
fn timed_parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

#[tachometer::counted(registry = &*MACRO_REGISTRY)]
fn counted_parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

#[tachometer::metered(registry = &*MACRO_REGISTRY)]
fn metered_parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

#[test]
fn the_function_families_the_rules_read_are_what_the_macros_export() {
    for input in ["1", "x"] {
        let _ = timed_parse(input);
        let _ = counted_parse(input);
        let _ = metered_parse(input);
    }
    let text = Encoder::new()
        .encode(&MACRO_REGISTRY, Format::Text004)
        .to_owned();
    let module = module_path!();
    for (family, function) in [
        (tachometer::rules::FUNCTION_DURATION, "timed_parse"),
        (tachometer::rules::FUNCTION_CALLS, "counted_parse"),
        (tachometer::rules::FUNCTION_EXECUTIONS, "metered_parse"),
    ] {
        // `#[timed]` is a summary: the rules read its `_count`.
        let sample = if family == tachometer::rules::FUNCTION_DURATION {
            format!("{family}_count")
        } else {
            family.to_owned()
        };
        for result in ["ok", "error"] {
            let line = format!(
                "{sample}{{function=\"{function}\",module=\"{module}\",result=\"{result}\"}} 1"
            );
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
    }
    let rules = Objectives::default().render().unwrap();
    for sample in [
        "function_duration_seconds_count{result=\"error\"}",
        "function_calls_total{result=\"error\"}",
        "function_executions_total{result=\"error\"}",
    ] {
        assert!(rules.contains(sample), "{sample}");
    }
}

fn promtool_check(promtool: &Path, yaml: &str) -> std::process::Output {
    let dir = TempDir::new("rules-check");
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, yaml).unwrap();
    Command::new(promtool)
        .arg("check")
        .arg("rules")
        .arg(&file)
        .output()
        .expect("run promtool")
}

#[test]
fn promtool_accepts_every_variant_the_generator_writes() {
    let Some(promtool) = peer::promtool() else {
        return;
    };
    let parse = |args: &[&str]| {
        rules_example::parse(args.iter().map(|s| s.to_string()))
            .unwrap()
            .unwrap()
            .0
    };
    let variants: Vec<(&str, Objectives)> = vec![
        ("defaults", Objectives::default()),
        (
            "native histograms, T = 0.3 s",
            parse(&["--native", "--apdex-t", "0.3"]),
        ),
        (
            "matchers with quotes, backslashes, a newline and a regex",
            parse(&[
                "--match",
                "job=a \"quoted\" \\ job\nwith a newline: # and {{ braces }}",
                "--match",
                "env!~dev|test",
                "--match",
                "namespace=~.+",
            ]),
        ),
        (
            "scaled to seconds, custom pairs",
            parse(&[
                "--time-scale",
                "100",
                "--page",
                "10:1h:5m",
                "--ticket",
                "2:1d:2h",
                "--function-severity",
                "page",
                "--availability",
                "99.95",
            ]),
        ),
        (
            "custom bounds",
            parse(&[
                "--bounds",
                "0.1,0.25,1,4",
                "--apdex-t",
                "0.25",
                "--latency",
                "4",
            ]),
        ),
    ];
    for (what, objectives) in variants {
        let yaml = objectives
            .render()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let out = promtool_check(&promtool, &yaml);
        assert!(
            out.status.success(),
            "promtool check rules rejected {what}:\n{}{}\n{yaml}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("SUCCESS"), "{what}: {stdout}");
    }
}

#[test]
fn promtool_rejects_a_broken_file_so_the_check_above_means_something() {
    let Some(promtool) = peer::promtool() else {
        return;
    };
    let yaml = Objectives::default()
        .render()
        .unwrap()
        .replace("sum by (job, http_route)", "sum by (job, http_route");
    assert!(!promtool_check(&promtool, &yaml).status.success());
}

#[test]
fn promtool_unit_tests_of_the_shipped_rules_pass() {
    let Some(promtool) = peer::promtool() else {
        return;
    };
    let dir = monitoring_dir();
    let mut tests: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.yml"))
        .collect();
    tests.sort();
    assert!(tests.len() >= 3, "{tests:?}");
    let out = Command::new(&promtool)
        .current_dir(&dir)
        .arg("test")
        .arg("rules")
        .args(&tests)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool test rules failed:\n{text}");
    assert_eq!(
        text.matches("SUCCESS").count(),
        tests.len(),
        "every file passes:\n{text}"
    );
    // Each alert is exercised by some test file.
    let all: String = tests
        .iter()
        .map(|t| std::fs::read_to_string(t).unwrap())
        .collect();
    for alert in tachometer::rules::ALERTS {
        assert!(
            all.contains(&format!("alertname: {alert}")),
            "no promtool test for {alert}"
        );
    }
}

#[test]
fn shipped_prometheus_and_alertmanager_configs_are_valid() {
    let Some(promtool) = peer::promtool() else {
        return;
    };
    let Some(amtool) = peer::amtool() else {
        return;
    };
    let dir = monitoring_dir();
    let check = |cmd: &mut Command| {
        let out = cmd.current_dir(&dir).output().expect("run checker");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{cmd:?}:\n{text}");
        text
    };
    let text = check(Command::new(&promtool).args(["check", "config", "prometheus.yml"]));
    assert!(text.contains("1 rule files found"), "{text}");
    let text = check(Command::new(&amtool).args(["check-config", "alertmanager.yml"]));
    assert!(text.contains("1 inhibit rules"), "{text}");
}

#[test]
fn the_unit_tests_catch_a_threshold_that_is_not_strict() {
    // Proof that the unit tests can fail: the same tests against rules whose 6x page
    // threshold admits equality fail on the route that sits exactly on it.
    let Some(promtool) = peer::promtool() else {
        return;
    };
    let dir = TempDir::new("rules-mutant");
    let rules = std::fs::read_to_string(monitoring_dir().join("tachometer.rules.yml")).unwrap();
    let mutant = rules.replace("> 0.006\n", ">= 0.006\n");
    assert_ne!(mutant, rules);
    std::fs::write(dir.path().join("tachometer.rules.yml"), mutant).unwrap();
    std::fs::copy(
        monitoring_dir().join("http.test.yml"),
        dir.path().join("http.test.yml"),
    )
    .unwrap();
    let out = Command::new(&promtool)
        .current_dir(dir.path())
        .args(["test", "rules", "http.test.yml"])
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("/at-threshold"), "{text}");
}

#[test]
fn example_arguments() {
    let parse = |args: &[&str]| rules_example::parse(args.iter().map(|s| s.to_string()));
    assert_eq!(parse(&["--help"]), Ok(None));
    let (o, out) = parse(&[
        "--availability",
        "99.5",
        "--apdex-ticket",
        "0.9:15m",
        "--match",
        "job=api",
        "-o",
        "x.yml",
    ])
    .unwrap()
    .unwrap();
    assert_eq!(o.availability, 99.5);
    assert_eq!(o.apdex.ticket.threshold, 0.9);
    assert_eq!(
        o.apdex.ticket.for_duration,
        std::time::Duration::from_secs(900)
    );
    assert_eq!(o.matchers, vec![Matcher::eq("job", "api")]);
    assert_eq!(out.as_deref(), Some("x.yml"));
    for (args, expected) in [
        (&["--availability"][..], "needs a value"),
        (&["--availability", "high"][..], "takes a number"),
        (&["--apdex-page", "0.7"][..], "RATIO:FOR"),
        (&["--page", "14.4:1h"][..], "FACTOR:LONG:SHORT"),
        (&["--apdex-window", "5 min"][..], "is not a duration"),
        (&["--match", "job"][..], "label matcher"),
        (&["--time-scale", "0"][..], "whole number from 1"),
        (&["--verbose"][..], "unknown argument"),
    ] {
        let e = parse(args).unwrap_err();
        assert!(e.contains(expected), "{args:?}: {e}");
    }
    // Objectives the buckets cannot answer are refused with the bounds to add.
    let (o, _) = parse(&["--apdex-t", "0.4"]).unwrap().unwrap();
    match o.render() {
        Err(RulesError::MissingBounds { missing, .. }) => {
            assert_eq!(missing, vec![(0.4, "Apdex T"), (1.6, "Apdex 4T")]);
        }
        other => panic!("{other:?}"),
    }
}
