//! Shared by the `format_*` peer tests: a registry holding every kind with hostile label
//! values and help texts, the model of what a parser must read back from it, and a
//! bounded runner for peer processes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tachometer_core::{Buckets, HdrConfig, ManualClock, Opts, Registry, Unit};

/// Label values that exercise every escaping rule and then some: `\`, `"`, LF, TAB, CR,
/// non-ASCII, empty, a literal `\n` (two characters) and a trailing backslash.
pub const NASTY: &[&str] = &[
    "C:\\DIR\\FILE.TXT",
    "say \"hi\"\nbye",
    "tab\there",
    "ünïcødé ✓ 日本",
    "",
    "\\n is not a newline",
    "trailing\\",
    "}{,=\" # EOF",
];

/// A help text with the characters whose escaping differs between formats.
pub const NASTY_HELP: &str = "Help with \\ backslash, \"quotes\" and\na second line.";

/// One sample as a parser reads it: name, labels, value.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl PartialEq for Sample {
    fn eq(&self, o: &Self) -> bool {
        let same_value = self.value == o.value || (self.value.is_nan() && o.value.is_nan());
        self.name == o.name && self.labels == o.labels && same_value
    }
}

/// One family as a parser reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub kind: String,
    pub help: String,
    pub unit: String,
    pub samples: Vec<Sample>,
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn sample(name: &str, pairs: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        name: name.to_owned(),
        labels: labels(pairs),
        value,
    }
}

fn family(name: &str, kind: &str, help: &str, unit: &str, samples: Vec<Sample>) -> Family {
    Family {
        name: name.into(),
        kind: kind.into(),
        help: help.into(),
        unit: unit.into(),
        samples,
    }
}

const QUANTILES: [(f64, &str); 6] = [
    (0.5, "0.5"),
    (0.75, "0.75"),
    (0.95, "0.95"),
    (0.98, "0.98"),
    (0.99, "0.99"),
    (0.999, "0.999"),
];

/// A registry with every metric kind (on a manual clock, so meter rates are exact) and
/// the families a conforming parser must read back from its exposition. `unit` is the
/// unit the parser should report where the family has one (OpenMetrics only).
pub fn every_kind(om: bool) -> (Registry, Vec<Family>) {
    let clock = ManualClock::new();
    let r = Registry::builder().clock(Arc::new(clock)).build();
    let unit = |u: &'static str| if om { u } else { "" };
    let mut want = Vec::new();

    let cpu = r
        .float_counter(Opts::new("app_cpu_seconds_total", "CPU time.").unit(Unit::Seconds))
        .unwrap();
    cpu.increment(1.5);
    want.push(family(
        "app_cpu_seconds",
        "counter",
        "CPU time.",
        unit("seconds"),
        vec![sample("app_cpu_seconds_total", &[], 1.5)],
    ));

    let events = r
        .meter_family(Opts::new("app_events_total", "Events.").labels(&["kind"]))
        .unwrap();
    events.with_labels(&["a\"b"]).unwrap().mark(7);
    want.push(family(
        "app_events",
        "counter",
        "Events.",
        "",
        vec![sample("app_events_total", &[("kind", "a\"b")], 7.0)],
    ));
    want.push(family(
        "app_events_rate",
        "gauge",
        "Events.",
        "",
        ["1m", "5m", "15m", "mean"]
            .iter()
            .map(|w| sample("app_events_rate", &[("kind", "a\"b"), ("window", w)], 0.0))
            .collect(),
    ));

    let timer = r
        .timer_family(Opts::new("app_job_duration_seconds", NASTY_HELP).labels(&["job"]))
        .unwrap();
    let t = timer.with_labels(&["nightly\nbuild"]).unwrap();
    t.record(Duration::from_millis(250));
    let snap = t.snapshot();
    let job = [("job", "nightly\nbuild")];
    let mut s: Vec<Sample> = QUANTILES
        .iter()
        .map(|(q, text)| {
            sample(
                "app_job_duration_seconds",
                &[job[0], ("quantile", text)],
                snap.durations.quantile(*q) / 1e9,
            )
        })
        .collect();
    s.push(sample("app_job_duration_seconds_sum", &job, 0.25));
    s.push(sample("app_job_duration_seconds_count", &job, 1.0));
    want.push(family(
        "app_job_duration_seconds",
        "summary",
        NASTY_HELP,
        "",
        s,
    ));

    let latency = r
        .histogram_family(
            Opts::new("app_latency_seconds", "Latency.")
                .unit(Unit::Seconds)
                .labels(&["route"]),
            Buckets::new(&[0.005, 0.25, 1.0, 1e6]).unwrap(),
        )
        .unwrap();
    let h = latency.with_labels(&["/users/{id}"]).unwrap();
    let observed = [0.001, 0.25, 0.5, 3.0];
    for v in observed {
        h.record(v);
    }
    let route = [("route", "/users/{id}")];
    let mut s: Vec<Sample> = [
        ("0.005", 1.0),
        ("0.25", 2.0),
        ("1.0", 3.0),
        ("1e+06", 4.0),
        ("+Inf", 4.0),
    ]
    .iter()
    .map(|(le, c)| sample("app_latency_seconds_bucket", &[route[0], ("le", le)], *c))
    .collect();
    s.push(sample(
        "app_latency_seconds_sum",
        &route,
        observed.iter().sum(),
    ));
    s.push(sample("app_latency_seconds_count", &route, 4.0));
    want.push(family(
        "app_latency_seconds",
        "histogram",
        "Latency.",
        unit("seconds"),
        s,
    ));

    let payload = r
        .hdr_histogram(
            Opts::new("app_payload_bytes", "Payload sizes.").unit(Unit::Bytes),
            HdrConfig::default(),
        )
        .unwrap();
    payload.record(7);
    payload.record(7);
    let mut s: Vec<Sample> = QUANTILES
        .iter()
        .map(|(_, text)| sample("app_payload_bytes", &[("quantile", text)], 7.0))
        .collect();
    s.push(sample("app_payload_bytes_sum", &[], 14.0));
    s.push(sample("app_payload_bytes_count", &[], 2.0));
    want.push(family(
        "app_payload_bytes",
        "summary",
        "Payload sizes.",
        unit("bytes"),
        s,
    ));

    let queue = r
        .gauge(Opts::new("app_queue_length", "Queue length."))
        .unwrap();
    queue.set(-42);
    want.push(family(
        "app_queue_length",
        "gauge",
        "Queue length.",
        "",
        vec![sample("app_queue_length", &[], -42.0)],
    ));

    let requests = r
        .counter_family(
            Opts::new("app_requests_total", NASTY_HELP)
                .labels(&["path", "msg"])
                .max_series(NASTY.len()),
        )
        .unwrap();
    let mut s = Vec::new();
    for (i, v) in NASTY.iter().enumerate() {
        requests
            .with_labels(&[*v, NASTY[NASTY.len() - 1 - i]])
            .unwrap()
            .increment(i as u64 + 1);
        s.push(sample(
            "app_requests_total",
            &[("path", v), ("msg", NASTY[NASTY.len() - 1 - i])],
            i as f64 + 1.0,
        ));
    }
    // One past the cap: lands in the overflow series and bumps the self-metric.
    requests
        .with_labels(&["one", "too many"])
        .unwrap()
        .increment(1000);
    s.push(sample(
        "app_requests_total",
        &[("path", "__overflow__"), ("msg", "__overflow__")],
        1000.0,
    ));
    want.push(family("app_requests", "counter", NASTY_HELP, "", s));

    let temps = r
        .float_gauge_family(
            Opts::new("app_temperature_celsius", "Temperatures.").labels(&["sensor"]),
        )
        .unwrap();
    let specials = [
        ("hot", f64::INFINITY),
        ("cold", f64::NEG_INFINITY),
        ("broken", f64::NAN),
        ("tiny", 1.5e-7),
        ("big", 1e21),
    ];
    for (sensor, v) in specials {
        temps.with_labels(&[sensor]).unwrap().set(v);
    }
    want.push(family(
        "app_temperature_celsius",
        "gauge",
        "Temperatures.",
        "",
        specials
            .iter()
            .map(|(k, v)| sample("app_temperature_celsius", &[("sensor", k)], *v))
            .collect(),
    ));

    want.push(family(
        "tachometer_series_overflow",
        "counter",
        "Label-set lookups that exceeded their family's series cap and were folded into the overflow series.",
        "",
        vec![sample("tachometer_series_overflow_total", &[("metric", "app_requests_total")], 1.0)],
    ));
    (r, want)
}

/// A child process killed (by PID) if it outlives its deadline or the test panics.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a bounded run produced.
#[derive(Debug)]
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with `stdin` as its input, in `dir` (for the captured output), for at most
/// `timeout`.
pub fn run_bounded(cmd: &mut Command, stdin: &[u8], dir: &Path, timeout: Duration) -> Ran {
    let (i, o, e) = (dir.join("stdin"), dir.join("stdout"), dir.join("stderr"));
    std::fs::write(&i, stdin).unwrap();
    cmd.stdin(Stdio::from(File::open(&i).unwrap()))
        .stdout(Stdio::from(File::create(&o).unwrap()))
        .stderr(Stdio::from(File::create(&e).unwrap()));
    let mut child = Running(cmd.spawn().expect("cannot start peer"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "peer {cmd:?} did not finish within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        status,
        stdout: std::fs::read_to_string(&o).unwrap(),
        stderr: std::fs::read_to_string(&e).unwrap(),
    }
}

/// Parses with python's prometheus_client and prints, per document, its families or
/// the parser's error. All documents go through one interpreter start.
pub const PARSER_PY: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families as text_parse
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse

req = json.load(sys.stdin)
parse = om_parse if req["format"] == "om" else text_parse
results = []
for doc in req["docs"]:
    try:
        fams = []
        for f in parse(doc):
            fams.append({
                "name": f.name, "type": f.type, "help": f.documentation, "unit": getattr(f, "unit", ""),
                "samples": [[s.name, s.labels, repr(float(s.value))] for s in f.samples],
            })
        results.append({"families": fams})
    except Exception as e:
        results.append({"error": "%s: %s" % (type(e).__name__, e)})
json.dump(results, sys.stdout)
"#;

/// Parses each of `docs` with the 0.0.4 (`om == false`) or OpenMetrics parser; `None`
/// when python's prometheus_client is missing (after the testkit's SKIP message).
pub fn python_parse(om: bool, docs: &[String]) -> Option<Vec<Result<Vec<Family>, String>>> {
    let py = tachometer_testkit::peer::python_prometheus_client()?;
    let dir = tachometer_testkit::TempDir::new("format-py");
    let script = dir.path().join("parse.py");
    std::fs::write(&script, PARSER_PY).unwrap();
    let request = serde_json::json!({ "format": if om { "om" } else { "text" }, "docs": docs });
    let ran = run_bounded(
        Command::new(py).arg(&script),
        request.to_string().as_bytes(),
        dir.path(),
        Duration::from_secs(60),
    );
    assert!(ran.status.success(), "parser script failed: {}", ran.stderr);
    let results: Vec<serde_json::Value> =
        serde_json::from_str(&ran.stdout).expect("parser printed JSON");
    Some(results.into_iter().map(to_families).collect())
}

fn to_families(v: serde_json::Value) -> Result<Vec<Family>, String> {
    if let Some(e) = v.get("error") {
        return Err(e.as_str().unwrap_or_default().to_owned());
    }
    let s = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    Ok(v["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Family {
            name: s(f, "name"),
            kind: s(f, "type"),
            help: s(f, "help"),
            unit: s(f, "unit"),
            samples: f["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| Sample {
                    name: x[0].as_str().unwrap().to_owned(),
                    labels: x[1]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                        .collect(),
                    value: x[2].as_str().unwrap().parse().unwrap(),
                })
                .collect(),
        })
        .collect())
}
