//! Prometheus Pushgateway: push the registry once, on an interval, and on flush/drop.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tachometer_core::{Counter, Opts, Registry};

use super::http::{self, Endpoint, Request};
use super::{base64, exit_hook, Auth, ExitFlush, PushError, PushStats};
use crate::prometheus::{Encoder, Format};
use crate::worker::{Control, FinishOnDrop, WaitError};

/// Time a stop waits past its deadline for the last answer to be recorded.
const STOP_GRACE: Duration = Duration::from_millis(100);

/// Default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a push changes the gateway's group (the grouping key's metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PushMethod {
    /// `PUT`: replace every metric of the group (the usual choice for a batch job).
    #[default]
    Put,
    /// `POST`: replace only the metric families present in the push.
    Post,
}

impl PushMethod {
    fn as_str(self) -> &'static str {
        match self {
            PushMethod::Put => "PUT",
            PushMethod::Post => "POST",
        }
    }
}

/// Configures a [`Pushgateway`] (see [`Pushgateway::builder`]).
#[derive(Debug, Clone)]
#[must_use = "call .build() to push once, or .start(&registry) to push on an interval"]
pub struct PushgatewayBuilder {
    url: String,
    job: String,
    labels: Vec<(String, String)>,
    method: PushMethod,
    gzip: bool,
    auth: Option<Auth>,
    timeout: Duration,
    interval: Duration,
    flush_timeout: Duration,
    self_metrics: Option<Registry>,
}

impl PushgatewayBuilder {
    /// Adds a grouping-key label (besides `job`). Names follow Prometheus' label
    /// syntax and must not start with `__`; any value works (empty values and values
    /// with `/` are sent as `@base64`).
    pub fn grouping_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((name.into(), value.into()));
        self
    }

    /// `PUT` (default: replace the group) or `POST` (replace same-named families).
    pub fn method(mut self, method: PushMethod) -> Self {
        self.method = method;
        self
    }

    /// Gzip the body (`Content-Encoding: gzip`). Needs Pushgateway ≥ 1.5.0; older
    /// gateways answer 400. Default off.
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// HTTP basic authentication.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some(Auth::Basic {
            user: user.into(),
            password: password.into(),
        });
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.auth = Some(Auth::Bearer(token.into()));
        self
    }

    /// Bound on one request: connect, send, and read the answer (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time between pushes of a [`PushgatewayReporter`] (default 10 s, at least 1 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Bound on `flush()` and on the final push at drop (default 10 s).
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// Counts the reporter's samples in `registry` as
    /// `tachometer_pushgateway_samples_sent_total` and
    /// `tachometer_pushgateway_samples_dropped_total` (samples of failed pushes).
    pub fn self_metrics(mut self, registry: &Registry) -> Self {
        self.self_metrics = Some(registry.clone());
        self
    }

    /// Validates the configuration and returns a pusher for one-off pushes.
    pub fn build(self) -> Result<Pushgateway, PushError> {
        let base = Endpoint::parse(&self.url).map_err(|m| {
            PushError::InvalidConfig(format!("Pushgateway URL {:?}: {m}", self.url))
        })?;
        if self.timeout.is_zero() {
            return Err(PushError::InvalidConfig(
                "timeout is 0; give the gateway time to answer (default 10 s)".into(),
            ));
        }
        let path = grouping_path(&base.path, &self.job, &self.labels)?;
        if let Some(auth) = &self.auth {
            auth.validate()?;
        }
        Ok(Pushgateway {
            endpoint: base.with_path(path),
            method: self.method,
            gzip: self.gzip,
            auth: self.auth.as_ref().map(Auth::header_value),
            timeout: self.timeout,
            encoder: Encoder::new(),
            gz: Vec::new(),
            head: Vec::new(),
        })
    }

    /// Starts pushing `registry` from a background thread every interval, on
    /// [`flush`](PushgatewayReporter::flush), and once more when the reporter is dropped.
    pub fn start(self, registry: &Registry) -> Result<PushgatewayReporter, PushError> {
        if self.interval < Duration::from_millis(1) {
            return Err(PushError::InvalidConfig(format!(
                "interval is {:?}; use at least 1 ms",
                self.interval
            )));
        }
        let (interval, flush_timeout) = (self.interval, self.flush_timeout);
        let metrics = match &self.self_metrics {
            Some(r) => Some(SelfMetrics::register(r)?),
            None => None,
        };
        let pusher = self.build()?;
        let shared = Arc::new(Shared {
            control: Control::default(),
            produced: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            last: Mutex::new((0, None)),
            metrics,
            flush_timeout,
        });
        let thread_shared = shared.clone();
        let registry = registry.clone();
        let handle = std::thread::Builder::new()
            .name("tachometer-pushgateway".into())
            .spawn(move || run(pusher, &registry, &thread_shared, interval))
            .map_err(|e| PushError::Spawn(e.to_string()))?;
        Ok(PushgatewayReporter {
            shared,
            handle: Some(handle),
        })
    }
}

/// Builds `<prefix>/metrics/job/<job>{/<name>/<value>}` with `@base64` where needed.
fn grouping_path(
    prefix: &str,
    job: &str,
    labels: &[(String, String)],
) -> Result<String, PushError> {
    if job.is_empty() {
        return Err(PushError::InvalidConfig(
            "the job name is empty; the Pushgateway requires one".into(),
        ));
    }
    let mut path = prefix.trim_end_matches('/').to_owned();
    if path.contains('?') {
        return Err(PushError::InvalidConfig(
            "the Pushgateway URL must not have a query; give its base, e.g. http://host:9091"
                .into(),
        ));
    }
    path.push_str("/metrics");
    push_segment(&mut path, "job", job);
    for (i, (name, value)) in labels.iter().enumerate() {
        let valid = name
            .bytes()
            .enumerate()
            .all(|(i, b)| b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()));
        if name.is_empty() || !valid || name.starts_with("__") {
            return Err(PushError::InvalidConfig(format!(
                "grouping label name {name:?} is invalid; use [a-zA-Z_][a-zA-Z0-9_]* not starting with __"
            )));
        }
        if name == "job" || labels[..i].iter().any(|(n, _)| n == name) {
            return Err(PushError::InvalidConfig(format!(
                "grouping label {name:?} is given twice (job is always part of the key)"
            )));
        }
        push_segment(&mut path, name, value);
    }
    Ok(path)
}

/// `/<name>/<value>`, or `/<name>@base64/<url-safe base64>` when the value is empty or
/// has a byte outside the URL-unreserved set (so `/`, `%`, spaces and non-ASCII travel
/// intact; the empty value is `=`, since an empty path segment would be lost).
fn push_segment(path: &mut String, name: &str, value: &str) {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        && value != "."
        && value != "..";
    path.push('/');
    path.push_str(name);
    if plain {
        path.push('/');
        path.push_str(value);
    } else {
        path.push_str("@base64/");
        if value.is_empty() {
            path.push('=');
        } else {
            base64(path, value.as_bytes(), true);
        }
    }
}

/// Pushes a [`Registry`] to a Prometheus Pushgateway, in Prometheus text format 0.0.4.
///
/// ```no_run
/// use tachometer::{Opts, Registry};
/// use tachometer::exporters::push::Pushgateway;
/// let registry = Registry::new();
/// let rows = registry.counter(Opts::new("rows_total", "Rows written."))?;
/// rows.increment(857);
/// let mut gateway = Pushgateway::builder("http://127.0.0.1:9091", "nightly_import")
///     .grouping_label("shard", "eu/1") // sent as shard@base64/ZXUvMQ
///     .build()?;
/// gateway.push(&registry)?; // PUT /metrics/job/nightly_import/shard@base64/ZXUvMQ
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A push carries no timestamps (the gateway rejects them); Prometheus scraping the
/// gateway with `honor_labels: true` keeps the pushed `job` and grouping labels. The
/// metric mapping is the text exporter's (see [`crate::prometheus`]).
#[derive(Debug)]
pub struct Pushgateway {
    endpoint: Endpoint,
    method: PushMethod,
    gzip: bool,
    auth: Option<String>,
    timeout: Duration,
    encoder: Encoder,
    gz: Vec<u8>,
    head: Vec<u8>,
}

impl Pushgateway {
    /// Starts configuring pushes to the gateway at `url` (e.g.
    /// `http://127.0.0.1:9091`, plus any `--web.route-prefix`) for `job`.
    pub fn builder(url: impl Into<String>, job: impl Into<String>) -> PushgatewayBuilder {
        PushgatewayBuilder {
            url: url.into(),
            job: job.into(),
            labels: Vec::new(),
            method: PushMethod::Put,
            gzip: false,
            auth: None,
            timeout: DEFAULT_TIMEOUT,
            interval: Duration::from_secs(10),
            flush_timeout: Duration::from_secs(10),
            self_metrics: None,
        }
    }

    /// The group's URL (`…/metrics/job/<job>/…`).
    #[must_use]
    pub fn url(&self) -> String {
        self.endpoint.url()
    }

    /// Pushes `registry` with the configured method; returns the number of samples
    /// pushed.
    pub fn push(&mut self, registry: &Registry) -> Result<u64, PushError> {
        self.push_with(registry, self.method)
    }

    /// Pushes `registry` with `method`; returns the number of samples pushed.
    pub fn push_with(&mut self, registry: &Registry, method: PushMethod) -> Result<u64, PushError> {
        let (samples, result) = self.push_counted(registry, method);
        result.map(|()| samples)
    }

    /// Encodes and pushes; the sample count is known even when the push fails.
    fn push_counted(
        &mut self,
        registry: &Registry,
        method: PushMethod,
    ) -> (u64, Result<(), PushError>) {
        let text = self.encoder.encode(registry, Format::Text004);
        let samples = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count() as u64;
        let body: &[u8] = if self.gzip {
            self.gz.clear();
            let mut enc = flate2::write::GzEncoder::new(&mut self.gz, flate2::Compression::fast());
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(text.as_bytes());
            let _ = enc.finish();
            &self.gz
        } else {
            text.as_bytes()
        };
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(3);
        headers.push(("Content-Type", "text/plain; version=0.0.4; charset=utf-8"));
        if self.gzip {
            headers.push(("Content-Encoding", "gzip"));
        }
        if let Some(a) = &self.auth {
            headers.push(("Authorization", a));
        }
        let req = Request {
            method: method.as_str(),
            headers: &headers,
            body,
        };
        (
            samples,
            send(&self.endpoint, &req, self.timeout, &mut self.head),
        )
    }

    /// Deletes the group (`DELETE`): every metric pushed under this grouping key.
    pub fn delete(&mut self) -> Result<(), PushError> {
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(1);
        if let Some(a) = &self.auth {
            headers.push(("Authorization", a));
        }
        let req = Request {
            method: "DELETE",
            headers: &headers,
            body: b"",
        };
        send(&self.endpoint, &req, self.timeout, &mut self.head)
    }
}

fn send(
    endpoint: &Endpoint,
    req: &Request<'_>,
    timeout: Duration,
    head: &mut Vec<u8>,
) -> Result<(), PushError> {
    let resp = http::send(endpoint, req, timeout, head)
        .map_err(|e| PushError::from_http(endpoint.url(), timeout, e))?;
    if (200..300).contains(&resp.status) {
        Ok(())
    } else {
        Err(PushError::Status {
            url: endpoint.url(),
            status: resp.status,
            body: resp.body_text(2000),
        })
    }
}

#[derive(Debug)]
struct SelfMetrics {
    sent: Counter,
    dropped: Counter,
}

impl SelfMetrics {
    fn register(registry: &Registry) -> Result<Self, PushError> {
        let c = |name: &str, help: &str| {
            registry
                .counter(Opts::new(name, help))
                .map_err(PushError::Registry)
        };
        Ok(Self {
            sent: c(
                "tachometer_pushgateway_samples_sent_total",
                "Samples the Pushgateway accepted.",
            )?,
            dropped: c(
                "tachometer_pushgateway_samples_dropped_total",
                "Samples of pushes the Pushgateway did not accept (the next push replaces them).",
            )?,
        })
    }
}

#[derive(Debug)]
struct Shared {
    control: Control,
    produced: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
    /// (flush ticket covered, error of the last push).
    last: Mutex<(u64, Option<PushError>)>,
    metrics: Option<SelfMetrics>,
    flush_timeout: Duration,
}

impl Shared {
    fn stats(&self) -> PushStats {
        PushStats {
            produced: self.produced.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            retried: 0,
            dropped: self.dropped.load(Ordering::Relaxed),
            pending: 0,
        }
    }
}

impl ExitFlush for Shared {
    fn exit_flush(&self, deadline: Instant) {
        self.control.stop(deadline, STOP_GRACE);
    }
}

/// Pushes a registry to a Pushgateway on an interval, on [`flush`](Self::flush), and
/// once more when dropped or [`shutdown`](Self::shutdown). Built by
/// [`PushgatewayBuilder::start`].
///
/// ```no_run
/// use std::time::Duration;
/// use tachometer::{Opts, Registry};
/// use tachometer::exporters::push::Pushgateway;
/// let registry = Registry::new();
/// let items = registry.counter(Opts::new("items_total", "Items processed."))?;
/// let reporter = Pushgateway::builder("http://127.0.0.1:9091", "batch")
///     .interval(Duration::from_secs(15))
///     .start(&registry)?;
/// reporter.flush_on_exit(Duration::from_secs(5)); // also covers std::process::exit
/// items.increment(857);
/// let stats = reporter.shutdown(Duration::from_secs(5))?; // final push, bounded
/// assert_eq!(stats.dropped, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping the reporter stops it at once (after one final push); bind it to a named variable"]
pub struct PushgatewayReporter {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

impl PushgatewayReporter {
    /// Pushes now and waits for the answer (bounded by the flush timeout). Returns the
    /// stats after the push, or the push's error (e.g. the gateway's 400 and why).
    pub fn flush(&self) -> Result<PushStats, PushError> {
        let ticket = self.shared.control.request_flush();
        let deadline = Instant::now() + self.shared.flush_timeout;
        match self.shared.control.wait_completed(ticket, deadline) {
            Ok(()) => {}
            Err(WaitError::Timeout) => {
                return Err(PushError::FlushTimeout {
                    timeout: self.shared.flush_timeout,
                    stats: self.shared.stats(),
                })
            }
            Err(WaitError::Finished) => return Err(PushError::Stopped),
        }
        let last = self.shared.last.lock();
        match &last.1 {
            Some(e) if last.0 >= ticket => Err(e.clone()),
            _ => Ok(self.shared.stats()),
        }
    }

    /// What the reporter has done so far.
    #[must_use]
    pub fn stats(&self) -> PushStats {
        self.shared.stats()
    }

    /// Makes an `atexit` hook push one last time (bounded by `timeout`) if the process
    /// exits while this reporter is alive — including by `std::process::exit`, which
    /// runs no destructors. See the [module docs](super).
    pub fn flush_on_exit(&self, timeout: Duration) {
        super::flush_on_exit(exit_hook(&self.shared), timeout);
    }

    /// Pushes one last time and stops, waiting at most `timeout`. Returns the final
    /// stats, or the last push's error.
    pub fn shutdown(mut self, timeout: Duration) -> Result<PushStats, PushError> {
        self.stop(timeout)
    }

    fn stop(&mut self, timeout: Duration) -> Result<PushStats, PushError> {
        let finished = self
            .shared
            .control
            .stop(Instant::now() + timeout, STOP_GRACE);
        if finished {
            if let Some(h) = self.handle.take() {
                let _ = h.join();
            }
        } else {
            // Left to finish on its own rather than blocking the program.
            self.handle = None;
            return Err(PushError::FlushTimeout {
                timeout,
                stats: self.shared.stats(),
            });
        }
        match self.shared.last.lock().1.clone() {
            Some(e) => Err(e),
            None => Ok(self.shared.stats()),
        }
    }
}

impl Drop for PushgatewayReporter {
    fn drop(&mut self) {
        if self.handle.is_some() {
            let _ = self.stop(self.shared.flush_timeout);
        }
    }
}

fn run(mut pusher: Pushgateway, registry: &Registry, shared: &Shared, interval: Duration) {
    let _finish = FinishOnDrop(&shared.control);
    let mut next = Instant::now() + interval;
    let mut done = 0;
    loop {
        let work = shared.control.wait_work(done, Some(next));
        if let Some(deadline) = work.stop {
            // The final push gets whatever time the stop request left.
            pusher.timeout = pusher
                .timeout
                .min(deadline.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1));
        }
        let (samples, result) = pusher.push_counted(registry, pusher.method);
        shared.produced.fetch_add(samples, Ordering::Relaxed);
        match &result {
            Ok(_) => {
                shared.sent.fetch_add(samples, Ordering::Relaxed);
                if let Some(m) = &shared.metrics {
                    m.sent.increment(samples);
                }
            }
            Err(_) => {
                shared.dropped.fetch_add(samples, Ordering::Relaxed);
                if let Some(m) = &shared.metrics {
                    m.dropped.increment(samples);
                }
            }
        }
        *shared.last.lock() = (work.flush, result.err());
        done = work.flush;
        shared.control.complete(work.flush);
        if work.stop.is_some() {
            return;
        }
        let now = Instant::now();
        if now >= next {
            next = now + interval;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(job: &str, labels: &[(&str, &str)]) -> Result<String, PushError> {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        grouping_path("/", job, &labels)
    }

    /// Captures one request on a local socket and answers `reply`.
    fn capture(reply: &'static str) -> (String, std::thread::JoinHandle<(String, Vec<u8>)>) {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body_start) = loop {
                let n = s.read(&mut chunk).unwrap();
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    // Each header line ends with CRLF, the last one included.
                    break (String::from_utf8_lossy(&buf[..i + 2]).into_owned(), i + 4);
                }
            };
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map_or(0, |v| v.parse().unwrap());
            while buf.len() < body_start + len {
                let n = s.read(&mut chunk).unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            s.write_all(reply.as_bytes()).unwrap();
            (head, buf[body_start..].to_vec())
        });
        (url, h)
    }

    /// What goes on the wire: method, path, headers (gzip, auth) and a text body.
    #[test]
    fn request_carries_method_path_gzip_and_credentials() {
        use std::io::Read;
        let registry = Registry::new();
        registry
            .counter(Opts::new("rows_total", "Rows."))
            .unwrap()
            .increment(7);
        let (url, h) = capture("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let mut gw = Pushgateway::builder(url, "j")
            .grouping_label("path", "/srv")
            .gzip(true)
            .basic_auth("Aladdin", "open sesame")
            .build()
            .unwrap();
        assert_eq!(gw.push_with(&registry, PushMethod::Post).unwrap(), 1);
        let (head, body) = h.join().unwrap();
        assert!(
            head.starts_with("POST /metrics/job/j/path@base64/L3Nydg HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nContent-Encoding: gzip\r\n"), "{head}");
        assert!(
            head.contains("\r\nAuthorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"),
            "{head}"
        );
        assert!(
            head.contains("\r\nContent-Type: text/plain; version=0.0.4"),
            "{head}"
        );
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(
            text,
            "# HELP rows_total Rows.\n# TYPE rows_total counter\nrows_total 7\n"
        );

        let (url, h) = capture("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
        let mut gw = Pushgateway::builder(url, "j")
            .bearer_token("t0k")
            .build()
            .unwrap();
        gw.delete().unwrap();
        let (head, body) = h.join().unwrap();
        assert!(
            head.starts_with("DELETE /metrics/job/j HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nAuthorization: Bearer t0k\r\n"), "{head}");
        assert!(body.is_empty());
    }

    /// A silent gateway is a timeout within the configured bound, not a hang.
    #[test]
    fn a_silent_gateway_times_out() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut gw = Pushgateway::builder(format!("http://{}", l.local_addr().unwrap()), "j")
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let start = Instant::now();
        let err = gw.push(&Registry::new()).unwrap_err();
        assert!(matches!(err, PushError::Timeout { .. }), "{err}");
        assert!(err.is_retryable());
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    /// The reference's grouping-key vectors (Pushgateway README).
    #[test]
    fn grouping_keys_match_the_reference_vectors() {
        assert_eq!(
            path("directory_cleaner", &[("path", "/srv/data")]).unwrap(),
            "/metrics/job/directory_cleaner/path@base64/L3Nydi9kYXRh"
        );
        assert_eq!(
            path(
                "example",
                &[("first_label", ""), ("second_label", "foobar")]
            )
            .unwrap(),
            "/metrics/job/example/first_label@base64/=/second_label/foobar"
        );
        assert_eq!(
            path("titan", &[("name", "Προμηθεύς")]).unwrap(),
            "/metrics/job/titan/name@base64/zqDPgc6_zrzOt864zrXPjc-C"
        );
        assert_eq!(path("a/b", &[]).unwrap(), "/metrics/job@base64/YS9i");
        assert_eq!(
            grouping_path("/prefix/", "j", &[]).unwrap(),
            "/prefix/metrics/job/j"
        );
    }

    #[test]
    fn bad_grouping_keys_are_config_errors() {
        for (job, labels, says) in [
            ("", vec![], "job name is empty"),
            ("j", vec![("__x", "v")], "not starting with __"),
            ("j", vec![("1a", "v")], "is invalid"),
            ("j", vec![("a-b", "v")], "is invalid"),
            ("j", vec![("job", "v")], "given twice"),
            ("j", vec![("a", "1"), ("a", "2")], "given twice"),
        ] {
            let err = path(job, &labels).unwrap_err().to_string();
            assert!(err.contains(says), "{job} {labels:?}: {err}");
        }
        let err = Pushgateway::builder("https://gw", "j").build().unwrap_err();
        assert!(err.to_string().contains("https is not supported"), "{err}");
    }
}
