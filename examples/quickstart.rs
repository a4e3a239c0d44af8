//! Tachometer in one file: an axum service whose handlers are timed with `#[timed]`,
//! wrapped in the tower [`MetricsLayer`], with `/metrics` (Prometheus/OpenMetrics),
//! `/metrics.json` and the live page `/metrics/ui` mounted next to the app.
//!
//! ```text
//! cargo run --example quickstart                 # http://127.0.0.1:3000, until Ctrl-C
//! cargo run --example quickstart -- --port 0     # any free port (printed)
//! cargo run --example quickstart -- --traffic 40 # keep sending itself 40 requests/s
//! cargo run --example quickstart -- --once       # print /metrics after the burst and exit
//! ```
//!
//! `/flaky` fails one call in eight; `/fail` always answers 500. `examples/monitoring/`
//! has Prometheus rules, an Alertmanager config and a Grafana dashboard for this service.
//!
//! On start it sends itself a short burst of traffic, so there is something to look at
//! right away, then prints the URLs to curl or open and what it measured per route.
//!
//! Everything records into the process-wide registry (`tachometer::global()`), which is
//! what `#[timed]`, `MetricsLayer::new()` and `MetricsService::global()` use by default.

use std::collections::BTreeMap;
use std::error::Error;
use std::future::{Future, IntoFuture};
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tachometer::exporters::server::MetricsService;
use tachometer::tower::{MetricsLayer, REQUEST_DURATION};
use tachometer::{timed, Descriptor, Labels, NativeSnapshot, Value, Visitor};

type BoxError = Box<dyn Error + Send + Sync>;

const USAGE: &str = "usage: quickstart [--port N] [--traffic RPS] [--once]
  --port N        listen on 127.0.0.1:N (default 3000; 0 picks a free port)
  --traffic RPS   after the burst, keep sending itself RPS requests per second
                  (users, slow calls, a flaky route that fails 1 call in 8, 404s)
  --once          print /metrics after the traffic burst and exit";

/// Command-line options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Print `/metrics` after the burst and exit instead of serving.
    pub once: bool,
    /// Requests per second of synthetic traffic while serving (0: none).
    pub traffic: u32,
}

impl Options {
    /// Parses the arguments after the program name; `Ok(None)` means `--help`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Self>, String> {
        let mut opts = Options {
            port: 3000,
            once: false,
            traffic: 0,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--once" => opts.once = true,
                "--port" => {
                    let value = args
                        .next()
                        .ok_or("--port needs a value, e.g. --port 8080")?;
                    opts.port = value.parse().map_err(|_| {
                        format!("--port takes a number from 0 to 65535, not {value:?}")
                    })?;
                }
                "--traffic" => {
                    let value = args
                        .next()
                        .ok_or("--traffic needs a value, e.g. --traffic 40")?;
                    opts.traffic = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=10_000).contains(n))
                        .ok_or_else(|| {
                            format!("--traffic takes requests per second from 1 to 10000, not {value:?}")
                        })?;
                }
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(Some(opts))
    }
}

fn main() -> ExitCode {
    let opts = match Options::parse(std::env::args().skip(1)) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("quickstart: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("quickstart: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(opts, &mut std::io::stdout())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the service, sends the burst, reports, then serves until Ctrl-C (or, with
/// `once`, prints `/metrics` and returns).
pub async fn run(opts: Options, out: &mut impl Write) -> Result<(), BoxError> {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    run_until(opts, out, ctrl_c).await
}

/// [`run`], serving until `stop` resolves instead of until Ctrl-C.
pub async fn run_until(
    opts: Options,
    out: &mut impl Write,
    stop_serving: impl Future<Output = ()>,
) -> Result<(), BoxError> {
    // `tachometer::global()` registers the process metrics (`process_*`) on first use;
    // `target_info` names this build. Both are read only when `/metrics` is scraped.
    tachometer::collectors::register_build_info!(tachometer::global())?;
    let metrics = MetricsService::global();
    let app = Router::new()
        .route("/", get(index))
        .route("/users/{id}", get(user))
        .route("/slow", get(slow))
        .route("/flaky", get(flaky))
        .route("/fail", get(fail))
        // Times every route above and the 404 fallback. Added before the metrics
        // routes, so scrapes (and the live page's polls) do not show up in the request
        // metrics.
        .layer(MetricsLayer::new()?)
        .route_service("/metrics", metrics.clone())
        .route_service("/metrics.json", metrics.clone())
        // The live page and the JSON it polls once a second.
        .route_service("/metrics/ui", metrics.clone())
        .route_service("/metrics/ui.json", metrics);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .map_err(|e| {
            format!(
                "cannot listen on 127.0.0.1:{}: {e} (pass --port 0 for any free port)",
                opts.port
            )
        })?;
    let addr = listener.local_addr()?;
    writeln!(out, "quickstart listening on http://{addr}")?;

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );

    let sent = burst(addr).await?;
    writeln!(out, "sent {sent} requests to warm up the metrics\n")?;
    write_table(out)?;

    if opts.once {
        writeln!(out, "\n--- GET /metrics ---")?;
        out.write_all(&fetch(addr, "/metrics").await?)?;
    } else {
        writeln!(out, "\ntry:")?;
        for path in ["/users/42", "/slow", "/fail", "/metrics", "/metrics.json"] {
            writeln!(out, "  curl http://{addr}{path}")?;
        }
        writeln!(
            out,
            "  open http://{addr}/metrics/ui    (live metrics page, in a browser)"
        )?;
        let traffic = (opts.traffic > 0).then(|| tokio::spawn(traffic(addr, opts.traffic)));
        if opts.traffic > 0 {
            writeln!(out, "\nsending itself {} requests/s", opts.traffic)?;
        }
        writeln!(out, "\nserving until Ctrl-C")?;
        out.flush()?;
        stop_serving.await;
        if let Some(traffic) = traffic {
            traffic.abort();
        }
    }

    // Let in-flight requests finish, but do not wait on idle keep-alive connections
    // (a browser tab) for long: past the grace period they are simply closed.
    let _ = stop.send(());
    let mut server = server;
    match tokio::time::timeout(Duration::from_secs(2), &mut server).await {
        Ok(finished) => finished??,
        Err(_) => server.abort(),
    }
    Ok(())
}

async fn index() -> &'static str {
    "tachometer quickstart: try /users/42, /slow, /flaky, /fail, /metrics, /metrics.json, /metrics/ui\n"
}

/// Users 1 to 1000 exist; others are 404 (still the `/users/{id}` route).
#[timed]
async fn user(Path(id): Path<u32>) -> Result<String, StatusCode> {
    if (1..=1000).contains(&id) {
        Ok(format!("user {id}\n"))
    } else {
        Err(StatusCode::NOT_FOUND)
    }
}

/// Waits 10 to 70 ms, varying from call to call, to give the histogram some spread.
#[timed]
async fn slow() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let ms = 10 + n * 37 % 61;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("waited {ms} ms\n")
}

/// Always answers 500, so that the alerts on error ratios have something to fire on
/// (`examples/monitoring/`: driving it pages with `HttpErrorBudgetBurnFast`).
#[timed]
async fn fail() -> Result<&'static str, StatusCode> {
    Err(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Fails one call in eight with a 500, to give the error ratio something to show.
#[timed]
async fn flaky() -> Result<&'static str, StatusCode> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    if CALLS.fetch_add(1, Ordering::Relaxed) % 8 == 7 {
        Err(StatusCode::INTERNAL_SERVER_ERROR)
    } else {
        Ok("fine this time\n")
    }
}

/// `--traffic`: `rps` requests per second until aborted, at most 64 in flight (a
/// tick is skipped while that many are outstanding).
async fn traffic(addr: SocketAddr, rps: u32) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rps);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    loop {
        tick.tick().await;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue;
        };
        // xorshift: a varied but reproducible mix of paths.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let path = match seed % 100 {
            0..=64 => format!("/users/{}", 1 + (seed >> 8) % 1100),
            65..=79 => "/slow".to_owned(),
            80..=94 => "/flaky".to_owned(),
            _ => "/no/such/page".to_owned(),
        };
        let client = client.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Ok(uri) = format!("http://{addr}{path}").parse() {
                if let Ok(response) = client.get(uri).await {
                    let _ = response.into_body().collect().await;
                }
            }
        });
    }
}

/// The warm-up traffic: found and missing users, slow calls and unknown paths.
const BURST: &[(&str, u32)] = &[
    ("/users/", 150),
    ("/users/9999", 10),
    ("/slow", 20),
    ("/no/such/page", 5),
];

/// Sends [`BURST`] with up to 16 requests in flight; returns how many were sent.
async fn burst(addr: SocketAddr) -> Result<usize, BoxError> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut paths = Vec::new();
    for (path, n) in BURST {
        for i in 1..=*n {
            paths.push(if path.ends_with('/') {
                format!("{path}{i}")
            } else {
                (*path).to_owned()
            });
        }
    }
    let sent = paths.len();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in paths.chunks(paths.len().div_ceil(16)) {
        let client = client.clone();
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            for path in chunk {
                let uri = format!("http://{addr}{path}");
                let response = client.get(uri.parse()?).await?;
                response.into_body().collect().await?;
            }
            Ok::<_, BoxError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(sent)
}

async fn fetch(addr: SocketAddr, path: &str) -> Result<Bytes, BoxError> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client.get(format!("http://{addr}{path}").parse()?).await?;
    if !response.status().is_success() {
        return Err(format!("GET {path} answered {}", response.status()).into());
    }
    Ok(response.into_body().collect().await?.to_bytes())
}

/// Per route: the native histograms summed over methods and statuses.
#[derive(Default)]
struct Routes {
    by_route: BTreeMap<String, NativeSnapshot>,
}

impl Visitor for Routes {
    fn series(&mut self, family: &Descriptor, labels: Labels<'_>, value: Value<'_>) {
        let Value::NativeHistogram(h) = value else {
            return;
        };
        if family.name() != REQUEST_DURATION {
            return;
        }
        let Some((_, route)) = labels.iter().find(|(name, _)| *name == "http_route") else {
            return;
        };
        match self.by_route.get_mut(route) {
            Some(sum) => sum.merge(h),
            None => {
                self.by_route.insert(route.to_owned(), h.clone());
            }
        }
    }
}

/// What the layer measured, per route: p50/p99 from the native buckets (9 % wide, so
/// microsecond handlers read as microseconds, not as the first classic bound).
fn write_table(out: &mut impl Write) -> std::io::Result<()> {
    let mut routes = Routes::default();
    tachometer::global().visit(&mut routes);
    writeln!(
        out,
        "what MetricsLayer measured (p50/p99 from its native histogram, within 9 %):"
    )?;
    writeln!(
        out,
        "{:<14} {:>8} {:>10} {:>10}",
        "route", "requests", "p50 (ms)", "p99 (ms)"
    )?;
    for (route, h) in &routes.by_route {
        let p50 = h.quantile(0.5) * 1e3;
        let p99 = h.quantile(0.99) * 1e3;
        writeln!(out, "{route:<14} {:>8} {p50:>10.3} {p99:>10.3}", h.count)?;
    }
    Ok(())
}
