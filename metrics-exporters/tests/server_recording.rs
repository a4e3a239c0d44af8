//! A scrape never blocks recording or registration.
//!
//! The scrape is held in the middle of its registry walk (a callback gauge waits for
//! the test's release). While it is held, another thread records on existing handles,
//! resolves a new label set and registers a new family; all of that must finish while
//! the scrape is still held. Afterwards the same scrape reports the values recorded
//! during it for families walked later (the walk reads live atomics, not a copy).

#![cfg(feature = "server")]

mod server_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use server_support::get;
use tachometer_core::{Opts, Registry};
use tachometer_exporters::server::Server;

/// Bound on every wait; only a deadlock would reach it.
const LIVENESS: Duration = Duration::from_secs(10);

#[test]
fn recording_and_registration_proceed_while_a_scrape_is_held() {
    let registry = Registry::new();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, release_rx) = (Mutex::new(started_tx), Mutex::new(release_rx));
    let held = AtomicBool::new(false);
    // Families are walked in name order: "aa_" before the held gauge, "zz_" after it.
    let before = registry
        .counter(Opts::new("aa_before_total", "Walked before the hold."))
        .unwrap();
    registry
        .callback_gauge(Opts::new("mm_hold", "Holds the first scrape."), move || {
            if !held.swap(true, Ordering::SeqCst) {
                let _ = started_tx.lock().unwrap().send(());
                let _ = release_rx.lock().unwrap().recv_timeout(LIVENESS);
            }
            1.0
        })
        .unwrap();
    let after = registry
        .counter_family(Opts::new("zz_after_total", "Walked after the hold.").labels(&["k"]))
        .unwrap();
    after.with_labels(&["old"]).unwrap().increment(1);

    let server = Server::builder()
        .registry(registry.clone())
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    let scrape = std::thread::spawn(move || get(addr, "/metrics", &[]));
    started_rx
        .recv_timeout(LIVENESS)
        .expect("the scrape reached the held gauge");

    let (done_tx, done_rx) = mpsc::channel();
    let recorder = {
        let registry = registry.clone();
        let after = after.clone();
        let before = before.clone();
        std::thread::spawn(move || {
            for _ in 0..1000 {
                before.increment(1);
                after.with_labels(&["old"]).unwrap().increment(1);
            }
            after.with_labels(&["new"]).unwrap().increment(7);
            registry
                .gauge(Opts::new("registered_during_scrape", "New family."))
                .unwrap()
                .set(3);
            done_tx.send(()).unwrap();
        })
    };
    done_rx
        .recv_timeout(LIVENESS)
        .expect("recording/registration blocked behind a held scrape");
    release_tx.send(()).unwrap();

    let body = scrape.join().unwrap().text();
    recorder.join().unwrap();
    // Walked before the hold: the pre-scrape value. After it: the live values.
    assert!(body.contains("\naa_before_total 0\n"), "{body}");
    assert!(body.contains("zz_after_total{k=\"old\"} 1001\n"), "{body}");
    assert!(body.contains("zz_after_total{k=\"new\"} 7\n"), "{body}");
    // The family registered mid-walk is not in this scrape (the walk copied the family
    // list up front), and is in the next one.
    assert!(!body.contains("registered_during_scrape"), "{body}");
    let next = get(addr, "/metrics", &[]).text();
    assert!(next.contains("\nregistered_during_scrape 3\n"), "{next}");
    assert!(next.contains("\naa_before_total 1000\n"), "{next}");
    server.shutdown_blocking().unwrap();
}
