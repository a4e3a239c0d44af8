//! Allocation report: heap allocations per operation for Tachometer and every peer (the
//! same closures `benches/core.rs` times, from `peers/ops.rs`), allocations per render
//! of 10,000 series, and the resident heap those 10,000 series take in each library.
//!
//! A counting global allocator keeps a per-thread allocation count (so the criterion
//! harness or other threads cannot pollute a measurement) and a process-wide count of
//! live bytes. Output is a Markdown report on stdout, then one `ALLOC_JSON:` line that
//! `benches/report.sh` parses for the PASS/MISS table. Exits non-zero if a Tachometer
//! hot path allocates, so `cargo bench --bench alloc_report` doubles as a check.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

#[path = "peers/mod.rs"]
mod peers;

use peers::ops::{self, OpSink};
use peers::series::{self, SeriesSet};

struct Counting;

thread_local!(static ALLOCS: Cell<u64> = const { Cell::new(0) });
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to `System` unchanged; the bookkeeping touches only a
// const-initialised thread-local (no allocation, `try_with` tolerates TLS teardown)
// and an atomic.
#[allow(unsafe_code)] // A global allocator is `unsafe` to implement; it forwards to `System`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocs_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

/// Operations per measurement: a multiple of the `metrics` upkeep period (2^16), so
/// its amortised upkeep allocations are counted at their true rate.
const OPS: u64 = 1 << 18;

/// Allocations per operation, after one warm-up pass that creates series and lets
/// lazily built state settle.
#[derive(Default)]
struct AllocSink {
    group: &'static str,
    rows: Vec<(&'static str, String, f64)>,
}

impl OpSink for AllocSink {
    fn op<F: Fn(u64) + Send + Sync + 'static>(&mut self, library: &str, f: F) {
        self.op_local(library, f);
    }
    fn op_local<F: FnMut(u64) + 'static>(&mut self, library: &str, mut f: F) {
        for i in 1..=OPS {
            f(i);
        }
        let n = allocs_during(|| {
            for i in 1..=OPS {
                f(black_box(i));
            }
        });
        self.rows
            .push((self.group, library.to_owned(), n as f64 / OPS as f64));
    }
}

struct SeriesRow {
    library: &'static str,
    bytes_per_series: f64,
    allocs_per_render: u64,
    render_len: usize,
}

fn series_row<S: SeriesSet>() -> SeriesRow {
    let before = LIVE_BYTES.load(Relaxed);
    let mut set = S::build();
    let after = LIVE_BYTES.load(Relaxed);
    // The first render sizes reusable buffers; the second shows the steady state.
    let render_len = set.render();
    let mut len = 0;
    let allocs_per_render = allocs_during(|| len = set.render());
    assert_eq!(
        len,
        render_len,
        "{} renders the same registry differently",
        S::NAME
    );
    drop(set);
    SeriesRow {
        library: S::NAME,
        bytes_per_series: (after - before) as f64 / series::SERIES as f64,
        allocs_per_render,
        render_len,
    }
}

/// Resident heap per series of each histogram kind: 1,000 labeled series, each fed the
/// same 1,024 latencies (1 ms … 16 s), divided by 1,000 (family tables included).
fn histogram_memory() -> Vec<(&'static str, f64)> {
    use tachometer::{Buckets, HdrConfig, NativeConfig, Opts, Registry};
    const N: usize = 1_000;
    let inputs = peers::latency_inputs();
    let nanos = peers::latency_nanos();
    let measure = |name: &'static str, build: &dyn Fn(&Registry, usize)| {
        let r = Registry::new();
        let before = LIVE_BYTES.load(Relaxed);
        for i in 0..N {
            build(&r, i);
        }
        let after = LIVE_BYTES.load(Relaxed);
        drop(r);
        (name, (after - before) as f64 / N as f64)
    };
    let opts = || {
        Opts::new("mem_seconds", "")
            .labels(&["i"])
            .max_series(2 * N)
    };
    vec![
        measure("explicit (11 bounds)", &|r, i| {
            let f = r
                .histogram_family(opts(), Buckets::default_latency())
                .unwrap();
            let h = f.with_labels(&[i.to_string()]).unwrap();
            inputs.iter().for_each(|v| h.record(*v));
        }),
        measure("native (schema 3, 160 max)", &|r, i| {
            let f = r
                .native_histogram_family(opts(), NativeConfig::new())
                .unwrap();
            let h = f.with_labels(&[i.to_string()]).unwrap();
            inputs.iter().for_each(|v| h.record(*v));
        }),
        measure("classic + native", &|r, i| {
            let f = r
                .native_histogram_family(opts(), NativeConfig::latency())
                .unwrap();
            let h = f.with_labels(&[i.to_string()]).unwrap();
            inputs.iter().for_each(|v| h.record(*v));
        }),
        measure("HDR (default, 2 s.f.)", &|r, i| {
            let f = r
                .hdr_histogram_family(opts(), HdrConfig::default())
                .unwrap();
            let h = f.with_labels(&[i.to_string()]).unwrap();
            nanos.iter().for_each(|v| h.record(*v));
        }),
    ]
}

fn json_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn main() {
    let mut sink = AllocSink::default();
    for (name, run) in ops::all::<AllocSink>() {
        sink.group = name;
        run(&mut sink);
    }
    let series = [
        series_row::<series::Tach>(),
        series_row::<series::Measured>(),
        series_row::<series::Client>(),
        series_row::<series::Prom>(),
        series_row::<series::Metrics>(),
    ];

    println!("### Allocations per operation (1 thread, {OPS} operations after a warm-up pass)\n");
    let mut libraries: Vec<&str> = Vec::new();
    let mut by_group: BTreeMap<&str, BTreeMap<&str, f64>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for (group, lib, per_op) in &sink.rows {
        if !libraries.contains(&lib.as_str()) {
            libraries.push(lib);
        }
        if !order.contains(group) {
            order.push(group);
        }
        by_group.entry(group).or_default().insert(lib, *per_op);
    }
    // Tachometer first, floors last, peers in between in the order they were run.
    libraries.sort_by_key(|l| (!l.starts_with("tachometer"), l.starts_with("floor_")));
    println!("| operation | {} |", libraries.join(" | "));
    println!("|---|{}", "---:|".repeat(libraries.len()));
    for group in &order {
        let cells: Vec<String> = libraries
            .iter()
            .map(|l| {
                by_group[group]
                    .get(l)
                    .map_or_else(|| "–".to_owned(), |v| format!("{v:.3}"))
            })
            .collect();
        println!("| {group} | {} |", cells.join(" | "));
    }

    println!("\n### 10,000 labeled counter series: resident heap and rendering\n");
    println!("| library | heap bytes / series | allocations per render (2nd render) | exposition bytes |");
    println!("|---|---:|---:|---:|");
    for r in &series {
        println!(
            "| {} | {:.0} | {} | {} |",
            r.library, r.bytes_per_series, r.allocs_per_render, r.render_len
        );
    }

    println!(
        "\n### Histogram kinds: resident heap per series (1,000 series, 1,024 latencies each)\n"
    );
    println!("| kind | heap bytes / series |");
    println!("|---|---:|");
    for (kind, bytes) in histogram_memory() {
        println!("| {kind} | {bytes:.0} |");
    }

    let ops_json: Vec<String> = sink
        .rows
        .iter()
        .map(|(g, l, v)| {
            format!(
                "{{\"group\":{},\"library\":{},\"allocs_per_op\":{v}}}",
                json_str(g),
                json_str(l)
            )
        })
        .collect();
    let series_json: Vec<String> = series
        .iter()
        .map(|r| {
            format!(
                "{{\"library\":{},\"bytes_per_series\":{},\"allocs_per_render\":{},\"render_len\":{}}}",
                json_str(r.library),
                r.bytes_per_series,
                r.allocs_per_render,
                r.render_len
            )
        })
        .collect();
    println!(
        "\nALLOC_JSON: {{\"ops\":[{}],\"series\":[{}]}}",
        ops_json.join(","),
        series_json.join(",")
    );

    let allocating: Vec<String> = sink
        .rows
        .iter()
        .filter(|(_, l, v)| l.starts_with("tachometer") && *v > 0.0)
        .map(|(g, l, v)| format!("{g}/{l}: {v}"))
        .collect();
    if !allocating.is_empty() {
        eprintln!("Tachometer hot paths allocate: {}", allocating.join(", "));
        std::process::exit(1);
    }
}
