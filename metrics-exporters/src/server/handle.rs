//! [`Server`]: the handle of a running endpoint.

use std::net::SocketAddr;

use tokio::sync::{oneshot, watch};

use super::{ServerBuilder, ShutdownError};

/// A running metrics endpoint.
///
/// Dropping the handle leaves the endpoint running for the life of the process (the
/// usual wish for a metrics endpoint started at boot); call [`shutdown`](Self::shutdown)
/// to stop it.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    done: oneshot::Receiver<Result<(), ShutdownError>>,
}

impl Server {
    /// Configures an endpoint; finish with [`ServerBuilder::bind`].
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    pub(crate) fn new(
        local_addr: SocketAddr,
        stop: watch::Sender<bool>,
        done: oneshot::Receiver<Result<(), ShutdownError>>,
    ) -> Self {
        Self {
            local_addr,
            stop,
            done,
        }
    }

    /// The address actually bound (with the real port when bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets requests in flight finish (idle keep-alive
    /// connections close at once), and returns when all connections are closed, or
    /// aborts the rest once the shutdown timeout passes and reports
    /// [`ShutdownError::TimedOut`]. An aborted connection stops at its next I/O wait; a
    /// render already running (it is synchronous) completes first.
    pub async fn shutdown(self) -> Result<(), ShutdownError> {
        let _ = self.stop.send(true);
        self.done
            .await
            .unwrap_or(Err(ShutdownError::AlreadyStopped))
    }

    /// [`shutdown`](Self::shutdown) for synchronous code. Must not be called from
    /// inside an async task (it blocks the thread); use `shutdown().await` there.
    pub fn shutdown_blocking(self) -> Result<(), ShutdownError> {
        let _ = self.stop.send(true);
        if tokio::runtime::Handle::try_current().is_ok() {
            // Blocking here could deadlock a runtime that runs the server (tokio
            // would panic); the stop signal is sent, the wait is the caller's job.
            return Err(ShutdownError::InsideRuntime);
        }
        self.done
            .blocking_recv()
            .unwrap_or(Err(ShutdownError::AlreadyStopped))
    }
}
