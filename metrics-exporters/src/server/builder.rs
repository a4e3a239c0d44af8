//! [`ServerBuilder`]: the endpoint's options and `bind`.

use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::time::Duration;

use tachometer_core::Registry;
use tokio::sync::{oneshot, watch, Semaphore};

use super::run::{accept_loop, Limits};
use super::{Auth, MetricsService, ServeError, Server, DEFAULT_MAX_CONCURRENT_RENDERS};

/// Default cap on simultaneously open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// Default time a client has to send a complete request head.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a keep-alive connection may sit idle between requests.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Default time a response has to be written out to the client.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default longest life of one connection.
pub const DEFAULT_MAX_CONNECTION_LIFETIME: Duration = Duration::from_secs(600);
/// Default number of requests answered on one connection.
pub const DEFAULT_MAX_REQUESTS_PER_CONNECTION: u64 = 1000;
/// Default time [`Server::shutdown`] waits for in-flight requests.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Configures and starts the metrics endpoint; see [`Server::builder`].
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tachometer::exporters::server::{Auth, Server};
/// let registry = tachometer::Registry::new();
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
    idle_timeout: Duration,
    write_timeout: Duration,
    max_connection_lifetime: Duration,
    max_requests_per_connection: u64,
    max_concurrent_renders: usize,
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
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_connection_lifetime: DEFAULT_MAX_CONNECTION_LIFETIME,
            max_requests_per_connection: DEFAULT_MAX_REQUESTS_PER_CONNECTION,
            max_concurrent_renders: DEFAULT_MAX_CONCURRENT_RENDERS,
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

    /// At most `n` connections are open at once (default 64). When all are taken and
    /// another client connects, the connection that is cheapest to drop is closed to
    /// make room: the longest-idle keep-alive connection, else the one that has been
    /// sending its request head the longest, else the one whose response has been
    /// waiting longest to be read. Connections whose request is being answered are
    /// never dropped; if every one is, the new client waits until one finishes. So
    /// clients that hold slots without progressing (slowloris, never reading) cannot
    /// keep a scraper out.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// A client must send a complete request head within this time after its first
    /// byte (for a new connection: after it is accepted), or the connection is closed
    /// (default 10 s). Bytes trickled in do not extend the deadline, which bounds
    /// slowloris-style clients. Heads longer than [`MAX_REQUEST_HEAD_BYTES`](super::MAX_REQUEST_HEAD_BYTES) get 431.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// A keep-alive connection idle this long between requests is closed (default
    /// 90 s; longer than common scrape intervals, so Prometheus keeps its connection).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// A response must be written out (accepted by the client's socket) within this
    /// time of its start, or the connection is closed (default 30 s). Bounds clients
    /// that request and never read.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// A connection open this long is closed once its request in flight (if any) is
    /// answered (default 10 minutes).
    pub fn max_connection_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_connection_lifetime = lifetime;
        self
    }

    /// At most `n` requests are answered per connection (default 1000); the last
    /// response says `Connection: close`. `0` counts as 1.
    pub fn max_requests_per_connection(mut self, n: u64) -> Self {
        self.max_requests_per_connection = n.max(1);
        self
    }

    /// At most `n` renders run at once, on tokio's blocking pool (default 2); see
    /// [`MetricsServiceBuilder::max_concurrent_renders`](super::MetricsServiceBuilder::max_concurrent_renders).
    pub fn max_concurrent_renders(mut self, n: usize) -> Self {
        self.max_concurrent_renders = n;
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
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus-interop")))]
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
        )
        .max_concurrent_renders(self.max_concurrent_renders);
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
            idle_timeout: self.idle_timeout,
            write_timeout: self.write_timeout,
            max_connection_lifetime: self.max_connection_lifetime,
            max_requests_per_connection: self.max_requests_per_connection,
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
