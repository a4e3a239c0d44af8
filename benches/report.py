"""Writes BENCHMARKS.md from one run of benches/report.sh (which sets the REPORT_* env).

Reads criterion's `new/estimates.json` medians written during the run, the allocation
report's stdout, the machine description and Cargo.lock. Library naming convention in
the bench code: `tachometer*` is ours, `floor_*` and `bare_*` are floors/baselines,
anything else is a peer.
"""

import glob
import json
import os
import platform
import re
import subprocess

env = os.environ
target, work, out = env["REPORT_TARGET"], env["REPORT_WORK"], env["REPORT_OUT"]
stamp = os.path.getmtime(os.path.join(work, "stamp"))
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# --- criterion medians ------------------------------------------------------------
medians = {}  # (group, function) -> (median, lower, upper) in ns
for bench_json in glob.glob(os.path.join(target, "criterion", "**", "new", "benchmark.json"), recursive=True):
    est_path = os.path.join(os.path.dirname(bench_json), "estimates.json")
    if not os.path.exists(est_path) or os.path.getmtime(est_path) < stamp:
        continue  # from an earlier run
    with open(bench_json) as f:
        meta = json.load(f)
    with open(est_path) as f:
        est = json.load(f)["median"]
    group = meta["group_id"]
    function = meta.get("function_id") or meta.get("value_str") or ""
    if meta.get("value_str") and meta.get("function_id"):
        function = f"{meta['function_id']}/{meta['value_str']}"
    ci = est["confidence_interval"]
    medians[(group, function)] = (est["point_estimate"], ci["lower_bound"], ci["upper_bound"])


def m(group, function):
    v = medians.get((group, function))
    return v[0] if v else None


def kind(function):
    if function.startswith("tachometer"):
        return "ours"
    if function.startswith(("floor_", "bare_")):
        return "floor"
    return "peer"


def fmt_ns(ns):
    if ns is None:
        return "n/a"
    if ns >= 1e6:
        return f"{ns / 1e6:.3f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.2f} ns"


# --- allocation report ------------------------------------------------------------
alloc_md, alloc = "", {"ops": [], "series": []}
alloc_path = os.path.join(work, "alloc.txt")
if os.path.exists(alloc_path):
    with open(alloc_path) as f:
        for line in f:
            if line.startswith("ALLOC_JSON: "):
                alloc = json.loads(line[len("ALLOC_JSON: "):])
            else:
                alloc_md += line
alloc_ops = {(r["group"], r["library"]): r["allocs_per_op"] for r in alloc["ops"]}
alloc_series = {r["library"]: r for r in alloc["series"]}

# --- targets ----------------------------------------------------------------------
rows = []


def target(name, value, limit, detail, lower_is_better=True):
    """One PASS/MISS row: `value` must be <= `limit` (both numbers, any unit)."""
    if value is None or limit is None:
        rows.append((name, "n/a", "n/a", "NOT MEASURED", detail))
        return
    ok = value <= limit if lower_is_better else value >= limit
    miss = ""
    if not ok:
        miss = f" (over by {100 * (value / limit - 1):.0f} %)" if lower_is_better else f" (short by {100 * (1 - value / limit):.0f} %)"
    rows.append((name, f"{value:.3g}", f"{limit:.3g}", ("PASS" if ok else "MISS") + miss, detail))


def ratio(a, b):
    return a / b if a is not None and b else None


def best_peer(group):
    peers = [(v[0], f) for (g, f), v in medians.items() if g == group and kind(f) == "peer"]
    return min(peers) if peers else (None, None)


target("resolved counter increment ≤ 1.05× raw atomic (1 thread)",
       ratio(m("counter_increment", "tachometer"), m("counter_increment", "floor_atomic_fetch_add")), 1.05,
       "ratio of medians, same closure harness")
target("resolved counter increment at 2 threads ≤ 0.4× prometheus IntCounter",
       ratio(m("counter_increment_2threads", "tachometer"), m("counter_increment_2threads", "prometheus")), 0.4,
       "ratio of medians")
target("labeled lookup + increment ≤ 0.7× prometheus with_label_values (1 thread)",
       ratio(m("labeled_lookup_increment", "tachometer"), m("labeled_lookup_increment", "prometheus")), 0.7,
       "ratio of medians")
target("labeled lookup + increment ≤ 0.3× prometheus at 2 threads",
       ratio(m("labeled_lookup_increment_2threads", "tachometer"), m("labeled_lookup_increment_2threads", "prometheus")), 0.3,
       "ratio of medians")
target("labeled lookup + increment: zero allocations",
       alloc_ops.get(("labeled_lookup_increment", "tachometer")), 0.0, "allocations per operation")
for suffix, limit, label in (("", 0.6, "1 thread"), ("_2threads", 0.5, "2 threads")):
    best, who = best_peer("histogram_record" + suffix)
    target(f"explicit histogram record ≤ {limit}× fastest peer ({label})",
           ratio(m("histogram_record" + suffix, "tachometer"), best), limit, f"fastest peer: {who}")
target("HDR record ≤ 1.3× unlocked hdrhistogram (1 thread)",
       ratio(m("hdr_record", "tachometer"), m("hdr_record", "floor_hdrhistogram_unlocked")), 1.3, "ratio of medians")
target("HDR record lock-free at 2 threads",
       ratio(m("hdr_record_2threads", "tachometer"), m("hdr_record_2threads", "hdrhistogram_mutex")), 1.0,
       "record is atomics only; check used: 2-thread median ≤ Mutex<hdrhistogram>'s")
target("meter mark ≤ 1.5× resolved counter increment",
       ratio(m("meter_mark", "tachometer"), m("counter_increment", "tachometer")), 1.5, "ratio of medians")
hdr, meter = m("hdr_record", "tachometer"), m("meter_mark", "tachometer")
target("timer record ≤ HDR record + meter mark",
       m("timer_record", "tachometer"), hdr + meter if hdr is not None and meter is not None else None, "ns")
target("call-site-cached counter! ≤ 1.5× resolved handle",
       ratio(m("counter_macro", "tachometer_counter_macro"), m("counter_macro", "tachometer_resolved_handle")), 1.5,
       "ratio of medians")
target("call-site-cached counter! ≥ 15× faster than metrics::counter!",
       ratio(m("counter_macro", "metrics_counter_macro"), m("counter_macro", "tachometer_counter_macro")), 15.0,
       "speed-up (higher is better)", lower_is_better=False)
timed, bare = m("timed_call", "tachometer_timed"), m("timed_call", "bare_fn")
clock, rec = m("timed_call", "floor_timer_clock_read"), m("timed_call", "floor_timer_record")
target("#[timed] overhead ≤ 2 clock reads + 1 timer record + 5 ns",
       timed - bare if timed is not None and bare is not None else None,
       2 * clock + rec + 5 if clock is not None and rec is not None else None, "ns, from the timed_call group")
target("render 10,000 series ≤ 0.9× measured",
       ratio(m("render_10k_series", "tachometer"), m("render_10k_series", "measured")), 0.9, "ratio of medians")
ts, cs = alloc_series.get("tachometer"), alloc_series.get("prometheus-client")
target("memory per series ≤ prometheus-client's",
       ts and ts["bytes_per_series"], cs and cs["bytes_per_series"], "heap bytes per series (live-bytes delta)")
tach_allocs = [v for (g, l), v in alloc_ops.items() if l.startswith("tachometer")]
target("Tachometer hot paths allocate nothing",
       max(tach_allocs) if tach_allocs else None, 0.0, "largest allocations per operation among Tachometer's rows")

# --- document ---------------------------------------------------------------------
lock = open(os.path.join(root, "Cargo.lock")).read()
versions = {}
for name, version in re.findall(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', lock):
    versions.setdefault(name, []).append(version)
crates = ["tachometer", "prometheus", "prometheus-client", "metrics", "metrics-exporter-prometheus", "measured",
          "paracord", "hdrhistogram", "cadence", "axum-prometheus", "axum", "tower", "quanta", "criterion"]

lscpu = sh("lscpu")
cpu = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lscpu.splitlines() if ":" in line)}
mem = "unknown"
try:
    with open("/proc/meminfo") as f:
        mem = f"{int(f.readline().split()[1]) // 1024} MiB"
except OSError:
    pass

order = ["floor", "counter_increment", "labeled_lookup_increment", "gauge_set", "histogram_record", "hdr_record",
         "meter_mark", "timer_record"]
order += [g + "_2threads" for g in order[1:]]
order += ["render_10k_series", "counter_macro", "timed_call", "middleware_request"]
groups = sorted({g for g, _ in medians}, key=lambda g: (order.index(g) if g in order else len(order), g))

doc = []
w = doc.append
w("# Benchmarks\n")
w("Generated by `benches/report.sh`; every number below is output of one run of that script "
  "(never edited by hand). Medians from criterion; 2-thread groups are wall time / total operations "
  "with two threads on one metric.\n")
w(f"- Run: {env['REPORT_STARTED']}, {int(env['REPORT_ELAPSED'])} s, criterion `{env['REPORT_BENCH_ARGS']}`")
w(f"- Machine: {cpu.get('Model name', platform.processor() or 'unknown')}, {cpu.get('CPU(s)', '?')} CPUs "
  f"({cpu.get('Thread(s) per core', '?')} threads per core), {mem} RAM, Linux {platform.release()}")
w(f"- Load average (1/5/15 min) before: {env['REPORT_LOAD_BEFORE']}, after: {env['REPORT_LOAD_AFTER']} "
  "(anything well above 0 on 2 cores means other work shared the CPUs; the 2-thread groups "
  "need an idle machine most: when the two threads cannot run at the same time they never "
  "contend, and neither the cost of contention nor the benefit of striping shows)")
w(f"- {sh('rustc', '-V')}")
w("- Crates: " + ", ".join(f"{c} {'/'.join(versions[c])}" for c in crates if c in versions) + "\n")

w("## Targets (issue 7)\n")
w("| target | measured | limit | result | how |")
w("|---|---:|---:|---|---|")
for r in rows:
    w("| " + " | ".join(r) + " |")
w("")

w("## Overheads over the bare baseline (median differences, same group)\n")
w("| what | ours | peer |")
w("|---|---:|---:|")


def diff(group, a, b):
    x, y = m(group, a), m(group, b)
    return fmt_ns(x - y) if x is not None and y is not None else "n/a"


w(f"| per request, axum router (`middleware_request`): Tachometer `MetricsLayer` vs axum-prometheus | "
  f"{diff('middleware_request', 'tachometer_layer', 'bare_router')} | "
  f"{diff('middleware_request', 'axum-prometheus', 'bare_router')} |")
w(f"| per call (`timed_call`): `#[timed]` vs `Instant` + `metrics::histogram!` | "
  f"{diff('timed_call', 'tachometer_timed', 'bare_fn')} | "
  f"{diff('timed_call', 'metrics_instant_histogram', 'bare_fn')} |")
w("")

w("## Medians per group\n")
w("`ratio` is the median divided by the fastest peer's median in the same group "
  "(ours = `tachometer*`; `floor_*`/`bare_*` are floors and baselines, not peers; in groups "
  "whose entries follow no such naming, e.g. the macro crate's, every entry counts as a peer).\n")
for g in groups:
    fns = sorted(((f, v) for (gg, f), v in medians.items() if gg == g),
                 key=lambda fv: ({"ours": 0, "peer": 1, "floor": 2}[kind(fv[0])], fv[1][0]))
    best, who = best_peer(g)
    w(f"### {g}\n")
    w("| library | median | 95 % CI of median | ratio to fastest peer |")
    w("|---|---:|---:|---:|")
    for f, (med, lo, hi) in fns:
        r = f"{med / best:.2f}×" if best else "–"
        w(f"| {f} | {fmt_ns(med)} | {fmt_ns(lo)} – {fmt_ns(hi)} | {r} |")
    w("")

w("## Allocations and memory\n")
w("From `cargo bench --bench alloc_report` (counting global allocator; exit status "
  f"{env['REPORT_ALLOC_STATUS']}, non-zero means a Tachometer hot path allocated).\n")
w(alloc_md.strip() + "\n" if alloc_md.strip() else "(the allocation report produced no output)\n")
failures = open(os.path.join(work, "failures.md")).read().strip()
if failures:
    w("## Bench targets that failed in this run\n")
    w(failures + "\n")

with open(out, "w") as f:
    f.write("\n".join(doc))
