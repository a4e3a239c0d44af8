//! Writes Prometheus recording and alerting rules for Tachometer's metrics
//! (`tachometer::rules`): Apdex, error- and latency-budget burn rates, function error
//! ratios and series-cap overflow.
//!
//! ```text
//! cargo run --example rules > tachometer.rules.yml          # the documented defaults
//! cargo run --example rules -- --availability 99.95 --match job=checkout -o rules.yml
//! promtool check rules rules.yml
//! ```
//!
//! It refuses (exit 2, with what to change) objectives that the metrics cannot answer,
//! such as an Apdex T whose T or 4T is not a bucket bound.

use std::process::ExitCode;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use tachometer::rules::{
    bounds_in_exposition, parse_duration, BurnWindow, Histograms, Matcher, Objectives, Severity,
    HTTP_DURATION,
};

const USAGE: &str = "usage: rules [options]   (writes the rules YAML to stdout, or to --output)
  --availability PCT        requests answered without a 5xx, percent (default 99.9)
  --latency SECONDS         latency target (default 1; a bucket bound)
  --latency-percent PCT     share of requests within it (default 99)
  --apdex-t SECONDS         Apdex T: <= T satisfied, <= 4T tolerating (default 0.5)
  --apdex-window DURATION   rate window of the score (default 5m)
  --apdex-ticket RATIO:FOR  severity=ticket below RATIO for FOR (default 0.85:10m)
  --apdex-page RATIO:FOR    severity=page below RATIO for FOR (default 0.7:5m)
  --page FACTOR:LONG:SHORT  a paging burn-rate pair; repeat for several
                            (default 14.4:1h:5m and 6:6h:30m)
  --ticket FACTOR:LONG:SHORT  a ticketing pair (default 3:1d:2h and 1:3d:6h)
  --function-errors RATIO:FOR  FunctionErrorRatioHigh above RATIO for FOR (default 0.05:5m)
  --function-window DURATION   its rate window (default 5m)
  --function-severity page|ticket  (default ticket)
  --overflow-window DURATION   MetricsSeriesOverflow window (default 10m)
  --min-rate PER_SECOND     minimum traffic for ratio alerts (default 0.1)
  --match MATCHER           add a label matcher to every selector, e.g. job=api,
                            env!=dev, job=~api|web (repeatable)
  --bounds B1,B2,...        the request-duration histogram's bucket bounds, seconds
                            (default: MetricsLayer's default bounds)
  --bounds-from URL         read them from a running service's /metrics
                            (http://host:port/metrics; it must have served a request)
  --native                  read native histograms (histogram_fraction) instead
  --time-scale N            divide every window and duration by N (demos, tests)
  -o, --output FILE         write to FILE instead of stdout";

fn main() -> ExitCode {
    match parse(std::env::args().skip(1)) {
        Ok(None) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Some((objectives, output))) => match objectives.render() {
            Ok(yaml) => match output {
                None => {
                    print!("{yaml}");
                    ExitCode::SUCCESS
                }
                Some(path) => match std::fs::write(&path, yaml) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("rules: cannot write {path}: {e}");
                        ExitCode::FAILURE
                    }
                },
            },
            Err(e) => {
                eprintln!("rules: {e}");
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("rules: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Objectives and output path from the arguments; `Ok(None)` for `--help`.
pub fn parse(
    args: impl IntoIterator<Item = String>,
) -> Result<Option<(Objectives, Option<String>)>, String> {
    let mut o = Objectives::default();
    let mut output = None;
    let mut page: Option<Vec<BurnWindow>> = None;
    let mut ticket: Option<Vec<BurnWindow>> = None;
    let mut scale = 1;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value (see --help)"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--availability" => o.availability = number(&arg, &value()?)?,
            "--latency" => o.latency.target_seconds = number(&arg, &value()?)?,
            "--latency-percent" => o.latency.percent = number(&arg, &value()?)?,
            "--apdex-t" => o.apdex.t_seconds = number(&arg, &value()?)?,
            "--apdex-window" => o.apdex.window = parse_duration(&value()?)?,
            "--apdex-ticket" => o.apdex.ticket = level(&arg, &value()?)?,
            "--apdex-page" => o.apdex.page = level(&arg, &value()?)?,
            "--page" => page
                .get_or_insert_with(Vec::new)
                .push(pair(&arg, &value()?)?),
            "--ticket" => ticket
                .get_or_insert_with(Vec::new)
                .push(pair(&arg, &value()?)?),
            "--function-errors" => o.functions.level = level(&arg, &value()?)?,
            "--function-window" => o.functions.window = parse_duration(&value()?)?,
            "--function-severity" => {
                o.functions.severity = match value()?.as_str() {
                    "page" => Severity::Page,
                    "ticket" => Severity::Ticket,
                    other => {
                        return Err(format!(
                            "--function-severity is page or ticket, not {other:?}"
                        ))
                    }
                }
            }
            "--overflow-window" => o.overflow_window = parse_duration(&value()?)?,
            "--min-rate" => o.min_rate = number(&arg, &value()?)?,
            "--match" => o
                .matchers
                .push(Matcher::parse(&value()?).map_err(|e| e.to_string())?),
            "--bounds" => {
                let bounds = value()?
                    .split(',')
                    .map(|b| number(&arg, b.trim()))
                    .collect::<Result<Vec<_>, _>>()?;
                o.histograms = Histograms::Classic { bounds };
            }
            "--bounds-from" => {
                let body = fetch(&value()?)?;
                let bounds =
                    bounds_in_exposition(&body, HTTP_DURATION).map_err(|e| e.to_string())?;
                o.histograms = Histograms::Classic { bounds };
            }
            "--native" => o.histograms = Histograms::Native,
            "--time-scale" => {
                let v = value()?;
                scale = v.parse().ok().filter(|&n: &u32| n > 0).ok_or_else(|| {
                    format!("--time-scale takes a whole number from 1, not {v:?}")
                })?;
            }
            "-o" | "--output" => output = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if let Some(p) = page {
        o.burn.page = p;
    }
    if let Some(t) = ticket {
        o.burn.ticket = t;
    }
    Ok(Some((o.time_scaled(scale), output)))
}

fn number(arg: &str, text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{arg} takes a number, not {text:?}"))
}

/// `RATIO:FOR`, e.g. `0.85:10m`.
fn level(arg: &str, text: &str) -> Result<tachometer::rules::Level, String> {
    let (ratio, for_duration) = text
        .split_once(':')
        .ok_or_else(|| format!("{arg} takes RATIO:FOR, e.g. 0.85:10m, not {text:?}"))?;
    Ok(tachometer::rules::Level {
        threshold: number(arg, ratio)?,
        for_duration: parse_duration(for_duration)?,
    })
}

/// `FACTOR:LONG:SHORT`, e.g. `14.4:1h:5m`.
fn pair(arg: &str, text: &str) -> Result<BurnWindow, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let [factor, long, short] = parts[..] else {
        return Err(format!(
            "{arg} takes FACTOR:LONG:SHORT, e.g. 14.4:1h:5m, not {text:?}"
        ));
    };
    Ok(BurnWindow {
        factor: number(arg, factor)?,
        long: parse_duration(long)?,
        short: parse_duration(short)?,
    })
}

/// GETs an `http://host:port/path` URL (HTTP/1.0, so the body is not chunked), with
/// timeouts and a 64 MiB cap.
fn fetch(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--bounds-from takes an http:// URL, not {url:?}"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/metrics" } else { path };
    let addr = host
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot resolve {host:?} (write host:port)"))?;
    let fail = |e: std::io::Error| format!("GET {url}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(fail)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(fail)?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/plain;version=0.0.4\r\n\r\n"
    )
    .map_err(fail)?;
    let mut response = Vec::new();
    stream
        .take(64 << 20)
        .read_to_end(&mut response)
        .map_err(fail)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET {url}: no HTTP response"))?;
    let status = head.split_whitespace().nth(1).unwrap_or("?");
    if status != "200" {
        return Err(format!("GET {url} answered {status}"));
    }
    Ok(body.to_owned())
}
