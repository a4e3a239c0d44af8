//! A batch job that pushes its metrics — to StatsD, a Prometheus Pushgateway and/or a
//! remote-write store — and loses nothing when it exits.
//!
//! ```text
//! # StatsD (the default destination when none is given)
//! npm install statsd@0.9 && echo "{ port: 8125, mgmt_port: 8126, backends: [] }" > statsd-config.js
//! node node_modules/statsd/stats.js statsd-config.js &
//! cargo run --example batch_job -- --items 1000 --statsd 127.0.0.1:8125
//! echo counters | nc -q1 127.0.0.1 8126     # the daemon's management port
//!
//! # Pushgateway and remote write (combinable with each other and with --statsd)
//! prometheus-pushgateway &                                  # :9091
//! prometheus --web.enable-remote-write-receiver &           # :9090
//! cargo run --example batch_job -- --pushgateway http://127.0.0.1:9091 \
//!     --remote-write http://127.0.0.1:9090/api/v1/write
//! ```
//!
//! It processes `--items N` items (default 1000), timing each with a timer and counting
//! them by outcome, while each destination's pusher runs in the background. At the end
//! every pusher is shut down, which pushes once more and waits (bounded), so the run's
//! totals arrive even though the job ends long before any push interval; had the job
//! called `std::process::exit` instead, `flush_on_exit` would have done the same.
//!
//! It then prints what it pushed. For StatsD: one `statsd-name value` line per total,
//! names exactly as the daemon keys them. For the Pushgateway and remote write: one
//! PromQL selector and its value per total (`batch_items_total{job="batch_job",outcome="ok"} 984`),
//! which a Prometheus scraping the gateway (with `honor_labels: true`) or the
//! remote-write store returns as is.

use std::process::ExitCode;
use std::time::Duration;

use tachometer::exporters::push::{Pushgateway, RemoteWriter};
use tachometer::exporters::statsd::{StatsdReporter, Target};
use tachometer::{Descriptor, Labels, Opts, Registry, Value, Visitor};

const PREFIX: &str = "batch_job";
/// Bound on each pusher's final push.
const FINAL_PUSH: Duration = Duration::from_secs(10);

struct Args {
    items: u64,
    job: String,
    statsd: Option<String>,
    pushgateway: Option<String>,
    remote_write: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        items: 1000,
        job: PREFIX.into(),
        statsd: None,
        pushgateway: None,
        remote_write: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--items" => {
                let v = value()?;
                args.items = v
                    .parse()
                    .map_err(|_| format!("--items takes a whole number, not {v:?}"))?;
            }
            "--job" => args.job = value()?,
            "--statsd" => args.statsd = Some(value()?),
            "--pushgateway" => args.pushgateway = Some(value()?),
            "--remote-write" => args.remote_write = Some(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.statsd.is_none() && args.pushgateway.is_none() && args.remote_write.is_none() {
        args.statsd = Some("127.0.0.1:8125".into());
    }
    Ok(args)
}

/// Stand-in for real work: a little arithmetic per item.
fn process(item: u64) -> u64 {
    (0..200u64).fold(item, |acc, i| {
        acc.wrapping_mul(6364136223846793005).wrapping_add(i)
    })
}

/// Prints every total in the registry as a PromQL selector (with the `job` label the
/// Pushgateway's grouping key and remote write's external label add) and its value.
struct PromQlTotals<'a> {
    job: &'a str,
}

impl PromQlTotals<'_> {
    fn line(&self, name: &str, suffix: &str, labels: &Labels<'_>, value: u64) {
        let mut pairs = vec![format!("job=\"{}\"", self.job)];
        pairs.extend(
            labels
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(n, v)| format!("{n}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))),
        );
        pairs.sort();
        println!("{name}{suffix}{{{}}} {value}", pairs.join(","));
    }
}

impl Visitor for PromQlTotals<'_> {
    fn series(&mut self, family: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        match value {
            Value::Counter(v) => self.line(family.name(), "", &labels, v),
            Value::Timer(t) => self.line(family.name(), "_count", &labels, t.durations.count()),
            _ => {}
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::new();
    let processed = registry.counter(Opts::new("items_processed_total", "Items processed."))?;
    let outcomes = registry
        .counter_family(Opts::new("batch_items_total", "Items by outcome.").labels(&["outcome"]))?;
    let (ok, failed) = (
        outcomes.with_labels(&["ok"])?,
        outcomes.with_labels(&["failed"])?,
    );
    let duration = registry.timer(Opts::new("item_duration", "Time to process one item."))?;

    let statsd = match &args.statsd {
        Some(addr) => Some(
            StatsdReporter::builder(Target::udp(addr.as_str()))
                .prefix(PREFIX)
                .self_metrics(&registry)
                .start(&registry)?,
        ),
        None => None,
    };
    let gateway = match &args.pushgateway {
        Some(url) => Some(
            Pushgateway::builder(url.as_str(), args.job.as_str())
                .interval(Duration::from_secs(10))
                .start(&registry)?,
        ),
        None => None,
    };
    let remote = match &args.remote_write {
        Some(url) => Some(
            RemoteWriter::builder(url.as_str())
                .external_label("job", args.job.as_str())
                .interval(Duration::from_secs(10))
                .start(&registry)?,
        ),
        None => None,
    };
    // Had the job ended in `std::process::exit`, these hooks would push the last state.
    if let Some(r) = &statsd {
        r.flush_on_exit(FINAL_PUSH);
    }
    if let Some(g) = &gateway {
        g.flush_on_exit(FINAL_PUSH);
    }
    if let Some(w) = &remote {
        w.flush_on_exit(FINAL_PUSH);
    }

    let mut checksum = 0u64;
    for item in 0..args.items {
        let result = duration.time(|| process(item));
        checksum ^= result;
        processed.increment(1);
        if result % 64 == 0 {
            failed.increment(1);
        } else {
            ok.increment(1);
        }
    }

    // Each shutdown pushes the final state and waits for it, so what is printed below is
    // what was sent. StatsD first: its self-metric is part of what the others push.
    let mut lost = Vec::new();
    if let Some(r) = statsd {
        let stats = r.shutdown(FINAL_PUSH)?;
        if stats.dropped > 0 {
            lost.push(format!("{} StatsD events", stats.dropped));
        }
    }
    if let Some(g) = gateway {
        let stats = g.shutdown(FINAL_PUSH)?;
        if stats.dropped > 0 {
            lost.push(format!("{} Pushgateway samples", stats.dropped));
        }
    }
    if let Some(w) = remote {
        let stats = w.shutdown(FINAL_PUSH)?;
        if stats.dropped > 0 {
            lost.push(format!("{} remote-write samples", stats.dropped));
        }
    }

    if args.statsd.is_some() {
        println!("{PREFIX}.items_processed_total {}", processed.get());
        println!(
            "{PREFIX}.item_duration.count {}",
            duration.snapshot().durations.count()
        );
    }
    if args.pushgateway.is_some() || args.remote_write.is_some() {
        registry.visit(&mut PromQlTotals { job: &args.job });
    }
    eprintln!("checksum {checksum:016x}");
    if !lost.is_empty() {
        return Err(format!("could not deliver {}", lost.join(", ")).into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!(
                "usage: batch_job [--items N] [--job NAME] [--statsd HOST:PORT] \
                 [--pushgateway URL] [--remote-write URL]"
            );
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
