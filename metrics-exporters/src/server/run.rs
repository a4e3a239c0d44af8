//! The accept loop: connection limit, per-connection hyper tasks, graceful shutdown.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinSet;

use super::{MetricsService, ShutdownError};

/// Connection-level limits fixed at bind time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) header_read_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
}

/// Serves connections until `stop` turns true, then drains them (bounded by
/// `shutdown_timeout`) and reports the outcome on `done`.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    service: MetricsService,
    limits: Limits,
    stop: watch::Receiver<bool>,
    done: oneshot::Sender<Result<(), ShutdownError>>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let http = Arc::new(http);
    let mut connections = JoinSet::new();

    loop {
        // Take a slot before accepting, so excess clients wait in the kernel backlog
        // instead of costing a task each.
        let permit = tokio::select! {
            biased;
            () = stopped(stop.clone()) => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break, // the semaphore is never closed; defensive
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let stream = loop {
            tokio::select! {
                biased;
                () = stopped(stop.clone()) => break None,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => break Some(stream),
                    // Out of file descriptors or a connection reset before accept:
                    // back off briefly rather than spin.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        };
        let Some(stream) = stream else { break };
        let _ = stream.set_nodelay(true);
        let http = Arc::clone(&http);
        let service = service.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let svc = service_fn(move |req: Request<Incoming>| {
                let res = service.respond(&req);
                async move { Ok::<_, Infallible>(res) }
            });
            let conn = http.serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = stopped(stop) => {
                    // Finish the request in flight (if any), then close.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }

    // Stop accepting: the listening socket closes here.
    drop(listener);
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    let outcome = match drained {
        Ok(()) => Ok(()),
        Err(_) => {
            let aborted = connections.len();
            connections.abort_all();
            Err(ShutdownError::TimedOut {
                after: limits.shutdown_timeout,
                aborted,
            })
        }
    };
    let _ = done.send(outcome);
}

/// Resolves once shutdown is requested; never, if the handle was dropped without
/// asking (a dropped [`Server`](super::Server) leaves the endpoint running).
async fn stopped(mut stop: watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}
