//! Test support shared by Tachometer's test suites (not published).
//!
//! * [`peer`]: find a real peer (promtool, prometheus, alertmanager, the Pushgateway,
//!   VictoriaMetrics, python's prometheus_client, the npm StatsD daemon). When it is missing the test prints a clear `SKIP` line and
//!   passes — unless `TACHOMETER_REQUIRE_PEERS=1`, which CI sets, where it fails.
//! * [`free_port`], [`TempDir`], [`ChildGuard`]: tests that start a peer bind free
//!   127.0.0.1 ports, keep their files in a directory removed on drop, and kill the peer
//!   by PID on drop, pass or fail.
//! * [`CountingAllocator`]: proves zero-allocation claims.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Whether CI demands every peer (`TACHOMETER_REQUIRE_PEERS=1`).
#[must_use]
pub fn peers_required() -> bool {
    std::env::var("TACHOMETER_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Reports a missing peer: panics when peers are required, else prints a SKIP line.
/// Returns nothing; callers `return` after it.
pub fn peer_missing(peer: &str, how_to_install: &str) {
    let msg = format!("peer {peer} is missing ({how_to_install})");
    if peers_required() {
        panic!("TACHOMETER_REQUIRE_PEERS=1 but {msg}");
    }
    eprintln!("SKIP: {msg}; this test did not run");
}

/// Finds an executable on PATH.
#[must_use]
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Real peers and how to find them.
pub mod peer {
    use super::*;

    /// `promtool`, from Debian's `prometheus` package.
    #[must_use]
    pub fn promtool() -> Option<PathBuf> {
        let p = which("promtool");
        if p.is_none() {
            peer_missing("promtool", "apt-get install -y prometheus");
        }
        p
    }

    /// The `prometheus` server binary, from Debian's `prometheus` package.
    #[must_use]
    pub fn prometheus() -> Option<PathBuf> {
        let p = which("prometheus");
        if p.is_none() {
            peer_missing("prometheus server", "apt-get install -y prometheus");
        }
        p
    }

    /// Alertmanager (`prometheus-alertmanager`, Debian's name for the binary), from
    /// Debian's `prometheus-alertmanager` package.
    #[must_use]
    pub fn alertmanager() -> Option<PathBuf> {
        let p = which("prometheus-alertmanager").or_else(|| which("alertmanager"));
        if p.is_none() {
            peer_missing("alertmanager", "apt-get install -y prometheus-alertmanager");
        }
        p
    }

    /// `amtool`, Alertmanager's CLI, from Debian's `prometheus-alertmanager` package.
    #[must_use]
    pub fn amtool() -> Option<PathBuf> {
        let p = which("amtool");
        if p.is_none() {
            peer_missing("amtool", "apt-get install -y prometheus-alertmanager");
        }
        p
    }

    /// The Prometheus Pushgateway, from Debian's `prometheus-pushgateway` package.
    #[must_use]
    pub fn pushgateway() -> Option<PathBuf> {
        let p = which("prometheus-pushgateway").or_else(|| which("pushgateway"));
        if p.is_none() {
            peer_missing(
                "prometheus-pushgateway",
                "apt-get install -y prometheus-pushgateway",
            );
        }
        p
    }

    /// Single-node VictoriaMetrics, from Debian's `victoria-metrics` package.
    #[must_use]
    pub fn victoria_metrics() -> Option<PathBuf> {
        let p = which("victoria-metrics").or_else(|| which("victoria-metrics-prod"));
        if p.is_none() {
            peer_missing("victoria-metrics", "apt-get install -y victoria-metrics");
        }
        p
    }

    /// A python3 that can `import prometheus_client`.
    #[must_use]
    pub fn python_prometheus_client() -> Option<PathBuf> {
        let py = which("python3");
        let ok = py.as_ref().is_some_and(|py| {
            Command::new(py)
                .args(["-c", "import prometheus_client"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        if !ok {
            peer_missing("python prometheus_client", "pip install prometheus-client");
            return None;
        }
        py
    }

    /// Chromium for the live page's browser tests: `$TACHOMETER_CHROMIUM`, else
    /// `chromium` (Debian's package) or `chromium-browser` on PATH.
    #[must_use]
    pub fn chromium() -> Option<PathBuf> {
        let p = std::env::var_os("TACHOMETER_CHROMIUM")
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .or_else(|| which("chromium"))
            .or_else(|| which("chromium-browser"));
        if p.is_none() {
            peer_missing("chromium", "apt-get install -y chromium");
        }
        p
    }

    /// `(node, path to statsd's stats.js)`: `$TACHOMETER_STATSD_JS`, or
    /// `node_modules/statsd/stats.js` at the workspace root (`npm install statsd@0.9`).
    #[must_use]
    pub fn statsd() -> Option<(PathBuf, PathBuf)> {
        let js = std::env::var_os("TACHOMETER_STATSD_JS")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("node_modules/statsd/stats.js"));
        match (which("node"), js.is_file()) {
            (Some(node), true) => Some((node, js)),
            _ => {
                peer_missing(
                    "statsd daemon (node + node_modules/statsd/stats.js)",
                    "npm install statsd@0.9 at the workspace root",
                );
                None
            }
        }
    }
}

/// The workspace root (the directory holding `testkit/`).
#[must_use]
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives in the workspace")
        .to_path_buf()
}

/// A free TCP port on 127.0.0.1 (bound then released; tiny race, fine for tests).
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot bind 127.0.0.1:0")
}

/// Waits until something accepts TCP connections on `addr`, or `timeout` passes.
#[must_use]
pub fn wait_for_tcp(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// PIDs of running processes whose command line contains `needle` (read from
/// `/proc`; empty where there is no `/proc`). Tests use it to prove that a peer which
/// forks helpers (Chromium) left nothing behind.
#[must_use]
pub fn pids_mentioning(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmd| {
                cmd.windows(needle.len().max(1))
                    .any(|w| w == needle.as_bytes())
            })
        })
        .collect()
}

/// A temporary directory removed (recursively) on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory under the system temp dir.
    #[must_use]
    pub fn new(prefix: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "tachometer-{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("cannot create temp dir");
        Self { path }
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Kills and reaps a child process by PID on drop, pass or fail.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    /// Spawns `cmd` and guards it.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<Self> {
        Ok(Self {
            child: cmd.spawn()?,
        })
    }

    /// The child's PID.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the child has exited (reaping it if so).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits up to `timeout` for the child to exit; its exit status, or `None` if it
    /// is still running (it is then killed when the guard drops).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

thread_local! {
    static THREAD_ALLOCS: Cell<u64> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed by this thread (requested sizes).
    static THREAD_BYTES: Cell<i64> = const { Cell::new(0) };
}

fn add_bytes(n: i64) {
    let _ = THREAD_BYTES.try_with(|c| c.set(c.get() + n));
}

/// A global allocator that counts allocations per thread. Install it in a test binary:
///
/// ```
/// #[global_allocator]
/// static ALLOC: tachometer_testkit::CountingAllocator = tachometer_testkit::CountingAllocator;
///
/// fn main() {
///     let (v, n) = tachometer_testkit::allocations_during(|| Vec::<u8>::with_capacity(8));
///     drop(v);
///     assert!(n >= 1);
/// }
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAllocator;

// SAFETY: forwards every call to `System` unchanged; only bumps thread-local counters,
// which need no allocation (const-initialised `Cell`) and tolerates TLS teardown.
#[allow(unsafe_code)] // A global allocator is `unsafe` to implement; it forwards to `System`.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
        add_bytes(layout.size() as i64);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
        add_bytes(layout.size() as i64);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
        add_bytes(new_size as i64 - layout.size() as i64);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add_bytes(-(layout.size() as i64));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Bytes this thread allocated minus bytes it freed while running `f`: the heap that
/// `f` left behind (requested sizes, without the allocator's own rounding and headers;
/// needs [`CountingAllocator`] installed as the global allocator; otherwise always 0).
pub fn net_bytes_during<T>(f: impl FnOnce() -> T) -> (T, i64) {
    let before = THREAD_BYTES.with(Cell::get);
    let out = f();
    let after = THREAD_BYTES.with(Cell::get);
    (out, after - before)
}

/// Allocations made by this thread while running `f` (needs [`CountingAllocator`]
/// installed as the global allocator; otherwise always 0).
pub fn allocations_during<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = THREAD_ALLOCS.with(Cell::get);
    let out = f();
    let after = THREAD_ALLOCS.with(Cell::get);
    (out, after - before)
}
