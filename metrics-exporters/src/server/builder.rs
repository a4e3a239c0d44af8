//! [`ServerBuilder`]: the endpoint's options and `bind`.

use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::time::Duration;

use tachometer_core::Registry;
use tokio::sync::{oneshot, watch, Semaphore};

use super::run::{accept_loop, Limits};
use super::{Auth, MetricsService, ServeError, Server};

/// Default cap on simultaneously served connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// Default time a client has to send a complete request head.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time [`Server::shutdown`] waits for in-flight requests.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Configures and starts the metrics endpoint; see [`Server::builder`].
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tachometer_exporters::server::{Auth, Server};
/// let registry = tachometer_core::Registry::new();
/// let server = Server::builder()
///     .registry(registry)
///     .max_connections(16)
///     .header_read_timeout(Duration::from_secs(5))
///     .auth(Auth::bearer("s3cr3t")?)
///     .bind("127.0.0.1:0")?;
/// println!("metrics on http://{}/metrics", server.local_addr());
/// server.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `bind` is called"]
pub struct ServerBuilder {
    registry: Option<Registry>,
    auth: Option<Auth>,
    max_connections: usize,
    header_read_timeout: Duration,
    shutdown_timeout: Duration,
    ui: bool,
    #[cfg(feature = "prometheus-interop")]
    interop: Option<::prometheus::Registry>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            registry: None,
            auth: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            ui: true,
            #[cfg(feature = "prometheus-interop")]
            interop: None,
        }
    }
}

impl ServerBuilder {
    /// The registry to serve (default: the [`global`](tachometer_core::global) one).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Requires these credentials on every request (401 otherwise).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// At most `n` connections are served at once (default 64). Further connections are
    /// not accepted until one closes: they wait in the operating system's listen
    /// backlog (the client sees a connected socket and a delayed response), so a burst
    /// costs no memory or task here, and the header-read timeout frees slots held by
    /// clients that never send a request.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// A client must send its complete request head within this time after the
    /// connection opens or goes idle between requests, or the connection is closed
    /// (default 10 s). This bounds slowloris-style clients that trickle header bytes to
    /// hold connection slots.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long [`Server::shutdown`] waits for in-flight requests before aborting their
    /// connections (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Whether to serve the live metrics page at `/metrics/ui` and its data at
    /// `/metrics/ui.json` (default on; same auth as `/metrics`). See
    /// [`ui`](super::ui).
    pub fn ui(mut self, enabled: bool) -> Self {
        self.ui = enabled;
        self
    }

    /// Also serves a `prometheus` crate registry's families on `/metrics`, after ours.
    #[cfg(feature = "prometheus-interop")]
    pub fn prometheus_registry(mut self, registry: ::prometheus::Registry) -> Self {
        self.interop = Some(registry);
        self
    }

    /// Binds `addr` (port 0 picks a free port; see [`Server::local_addr`]) and starts
    /// serving. Inside a tokio runtime the server runs as tasks of that runtime;
    /// outside one it gets a dedicated thread with a single-threaded runtime.
    ///
    /// Host names are resolved with the blocking system resolver; pass an IP address
    /// when calling from async code.
    pub fn bind(self, addr: impl ToSocketAddrs + std::fmt::Display) -> Result<Server, ServeError> {
        if self.max_connections == 0 || self.max_connections > Semaphore::MAX_PERMITS {
            return Err(ServeError::InvalidMaxConnections(self.max_connections));
        }
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|source| ServeError::Bind {
                addr: addr.to_string(),
                source,
            })?
            .collect();
        if addrs.is_empty() {
            return Err(ServeError::NoAddress {
                addr: addr.to_string(),
            });
        }
        let listener = StdListener::bind(&addrs[..]).map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let bind_err = |source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        };
        listener.set_nonblocking(true).map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;

        let mut service = MetricsService::builder(
            self.registry
                .unwrap_or_else(|| tachometer_core::global().clone()),
        );
        if let Some(auth) = self.auth {
            service = service.auth(auth);
        }
        service = service.ui(self.ui);
        #[cfg(feature = "prometheus-interop")]
        if let Some(theirs) = self.interop {
            service = service.prometheus_registry(theirs);
        }
        let limits = Limits {
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout,
            shutdown_timeout: self.shutdown_timeout,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = oneshot::channel();
        let service = service.build();

        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let _enter = handle.enter();
            let listener = tokio::net::TcpListener::from_std(listener).map_err(bind_err)?;
            handle.spawn(accept_loop(listener, service, limits, stop_rx, done_tx));
        } else {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(ServeError::Runtime)?;
            let listener = {
                let _enter = runtime.enter();
                tokio::net::TcpListener::from_std(listener).map_err(bind_err)?
            };
            std::thread::Builder::new()
                .name("tachometer-metrics-server".to_owned())
                .spawn(move || {
                    runtime.block_on(accept_loop(listener, service, limits, stop_rx, done_tx))
                })
                .map_err(ServeError::Runtime)?;
        }
        Ok(Server::new(local_addr, stop_tx, done_rx))
    }
}
