//! A batch job that pushes its metrics to StatsD and loses nothing when it exits.
//!
//! ```text
//! npm install statsd@0.9 && echo "{ port: 8125, mgmt_port: 8126, backends: [] }" > statsd-config.js
//! node node_modules/statsd/stats.js statsd-config.js &
//! cargo run --example batch_job -- --items 1000 --statsd 127.0.0.1:8125
//! echo counters | nc -q1 127.0.0.1 8126     # the daemon's management port
//! ```
//!
//! It processes `--items N` items (default 1000), timing each with a timer and counting
//! them with a counter, while a reporter pushes the registry to the daemon at
//! `--statsd HOST:PORT` (default 127.0.0.1:8125) over UDP. The reporter's final push
//! happens when it is dropped, so the run's totals arrive even though the job ends long
//! before the 10 s push interval. It then prints the totals it pushed, one
//! `statsd-name value` line each, with names exactly as the daemon keys them.

use std::process::ExitCode;

use tachometer::exporters::statsd::{StatsdReporter, Target};
use tachometer::{Opts, Registry};

const PREFIX: &str = "batch_job";

struct Args {
    items: u64,
    statsd: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        items: 1000,
        statsd: "127.0.0.1:8125".into(),
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
            "--statsd" => args.statsd = value()?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// Stand-in for real work: a little arithmetic per item.
fn process(item: u64) -> u64 {
    (0..200u64).fold(item, |acc, i| {
        acc.wrapping_mul(6364136223846793005).wrapping_add(i)
    })
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::new();
    let items = registry.counter(Opts::new("items_processed_total", "Items processed."))?;
    let duration = registry.timer(Opts::new("item_duration", "Time to process one item."))?;
    let reporter = StatsdReporter::builder(Target::udp(args.statsd.as_str()))
        .prefix(PREFIX)
        .self_metrics(&registry)
        .start(&registry)?;

    let mut checksum = 0u64;
    for item in 0..args.items {
        checksum ^= duration.time(|| process(item));
        items.increment(1);
    }

    // Push now and wait for it, so what we print below is what was sent; dropping the
    // reporter would also push, bounded by its flush timeout.
    reporter.flush()?;
    let dropped = reporter.dropped();
    drop(reporter);

    println!("{PREFIX}.items_processed_total {}", items.get());
    println!(
        "{PREFIX}.item_duration.count {}",
        duration.snapshot().durations.count()
    );
    eprintln!("checksum {checksum:016x}");
    if dropped > 0 {
        return Err(format!(
            "{dropped} StatsD events could not be sent; see tachometer_statsd_dropped_total"
        )
        .into());
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
            eprintln!("usage: batch_job [--items N] [--statsd HOST:PORT]");
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
