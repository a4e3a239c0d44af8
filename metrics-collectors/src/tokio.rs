//! The stable part of tokio's [`RuntimeMetrics`](::tokio::runtime::RuntimeMetrics) for
//! one runtime, read at scrape time, with a `runtime` label naming it:
//!
//! | name | type | what |
//! |---|---|---|
//! | `tokio_runtime_workers` | gauge | worker threads |
//! | `tokio_runtime_alive_tasks` | gauge | tasks spawned and not yet finished |
//! | `tokio_runtime_global_queue_depth` | gauge | tasks waiting in the shared injection queue |
//! | `tokio_runtime_worker_busy_seconds_total{worker}` | counter | time each worker spent polling |
//! | `tokio_runtime_worker_parks_total{worker}` | counter | times each worker parked (went idle) |
//!
//! The per-worker counters need 64-bit atomics (tokio's own condition); on targets
//! without them only the gauges are collected. Tokio's unstable metrics (poll-time
//! histograms, steal counts) need `--cfg tokio_unstable` and are left out.
//!
//! ```
//! # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let registry = tachometer::Registry::new();
//! tachometer::collectors::tokio::register(&registry, "main", runtime.handle().clone()).unwrap();
//! ```

use ::tokio::runtime::Handle;
use tachometer_core::{
    Collection, Collector, Descriptor, Error, MetricKind, Opts, Registry, Unit, Value,
};

/// Reads one runtime's metrics at each walk. See the [module docs](self).
#[derive(Debug)]
pub struct RuntimeCollector {
    name: String,
    handle: Handle,
}

/// Registers a [`RuntimeCollector`] for `handle`'s runtime, labeled `runtime=name`.
/// One runtime per registry: a second registration is refused (its names are taken).
pub fn register(registry: &Registry, name: &str, handle: Handle) -> Result<(), Error> {
    registry.register_collector(RuntimeCollector {
        name: name.to_owned(),
        handle,
    })
}

fn descriptors() -> Vec<Descriptor> {
    let d = |name: &str, help: &str, labels: &[&str], unit: Option<Unit>, kind| {
        let mut opts = Opts::new(name, help).labels(labels);
        if let Some(u) = unit {
            opts = opts.unit(u);
        }
        Descriptor::new(&opts, kind).expect("the runtime metrics' names are valid")
    };
    let mut v = vec![
        d(
            "tokio_runtime_workers",
            "Worker threads of the runtime.",
            &["runtime"],
            None,
            MetricKind::Gauge,
        ),
        d(
            "tokio_runtime_alive_tasks",
            "Tasks spawned on the runtime and not yet finished.",
            &["runtime"],
            None,
            MetricKind::Gauge,
        ),
        d(
            "tokio_runtime_global_queue_depth",
            "Tasks waiting in the runtime's shared injection queue.",
            &["runtime"],
            None,
            MetricKind::Gauge,
        ),
    ];
    if cfg!(target_has_atomic = "64") {
        v.push(d(
            "tokio_runtime_worker_busy_seconds_total",
            "Time each worker thread spent polling tasks.",
            &["runtime", "worker"],
            Some(Unit::Seconds),
            MetricKind::FloatCounter,
        ));
        v.push(d(
            "tokio_runtime_worker_parks_total",
            "Times each worker thread parked with nothing to do.",
            &["runtime", "worker"],
            None,
            MetricKind::Counter,
        ));
    }
    v
}

impl Collector for RuntimeCollector {
    fn describe(&self) -> Vec<Descriptor> {
        descriptors()
    }

    fn collect(&self, out: &mut Collection<'_>) {
        let metrics = self.handle.metrics();
        let workers = metrics.num_workers();
        let mut descs = descriptors().into_iter();
        let runtime = [("runtime", self.name.as_str())];
        // Each `series` call below cannot fail: labels and value kinds match the descriptors.
        for value in [
            workers,
            metrics.num_alive_tasks(),
            metrics.global_queue_depth(),
        ] {
            if let Some(desc) = descs.next() {
                let _ = out.family(desc).series(runtime, Value::Gauge(value as i64));
            }
        }
        #[cfg(target_has_atomic = "64")]
        {
            let labels = |w: &str| [("runtime", self.name.clone()), ("worker", w.to_owned())];
            if let Some(desc) = descs.next() {
                let mut family = out.family(desc);
                for w in 0..workers {
                    let busy = metrics.worker_total_busy_duration(w).as_secs_f64();
                    let _ = family.series(labels(&w.to_string()), Value::FloatCounter(busy));
                }
            }
            if let Some(desc) = descs.next() {
                let mut family = out.family(desc);
                for w in 0..workers {
                    let parks = metrics.worker_park_count(w);
                    let _ = family.series(labels(&w.to_string()), Value::Counter(parks));
                }
            }
        }
    }
}
