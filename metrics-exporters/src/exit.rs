//! Flushing exporters when the process exits, including through `std::process::exit`.
//!
//! `std::process::exit` runs no destructors, so a pusher's drop-flush never happens
//! there. The C library's `exit` does run `atexit` handlers, and Rust's
//! `std::process::exit` (like returning from `main`) goes through it. A handle's
//! `flush_on_exit(timeout)` registers a weak reference here; the first registration
//! installs one `atexit` handler which, at exit, asks every exporter still alive to
//! push what it has and stop, each waiting at most its own `timeout` (measured from
//! the start of exit). Exporters dropped before exit have already flushed and are
//! skipped. Signals that kill the process (`SIGKILL`, an unhandled `SIGTERM`) run no
//! handlers at all.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// An exporter the `atexit` hook can flush.
pub(crate) trait ExitFlush: Send + Sync {
    /// Final flush: push what is left and stop, waiting until `deadline` at most.
    fn exit_flush(&self, deadline: Instant);
}

type ExitEntry = (Weak<dyn ExitFlush>, Duration);

static EXIT_HOOKS: Mutex<Vec<ExitEntry>> = Mutex::new(Vec::new());

/// Registers `hook` to be flushed (within `timeout`) when the process exits, installing
/// the `atexit` handler the first time. Entries whose exporter is gone are skipped.
pub(crate) fn flush_on_exit(hook: Weak<dyn ExitFlush>, timeout: Duration) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    let mut hooks = EXIT_HOOKS.lock();
    hooks.retain(|(h, _)| h.strong_count() > 0);
    hooks.push((hook, timeout));
    drop(hooks);
    INSTALL.call_once(install_atexit);
}

#[cfg(any(unix, windows))]
#[allow(unsafe_code)] // The C `atexit` call below; see its SAFETY argument.
fn install_atexit() {
    extern "C" {
        fn atexit(cb: extern "C" fn()) -> std::os::raw::c_int;
    }
    // SAFETY: `atexit` is the C standard library's (std links it on unix and windows);
    // it takes a plain function pointer that stays valid for the whole process, and
    // `run_exit_hooks` never unwinds across the FFI boundary (it catches panics).
    let _ = unsafe { atexit(run_exit_hooks) };
}

#[cfg(not(any(unix, windows)))]
fn install_atexit() {}

extern "C" fn run_exit_hooks() {
    let _ = std::panic::catch_unwind(|| {
        let start = Instant::now();
        // Take the list so the lock is not held while flushing.
        let hooks = std::mem::take(&mut *EXIT_HOOKS.lock());
        for (hook, timeout) in hooks {
            if let Some(hook) = hook.upgrade() {
                hook.exit_flush(start + timeout);
            }
        }
    });
}

/// `Arc<T>` as a weak exit hook.
pub(crate) fn exit_hook<T: ExitFlush + 'static>(shared: &Arc<T>) -> Weak<dyn ExitFlush> {
    let weak: Weak<T> = Arc::downgrade(shared);
    weak
}
