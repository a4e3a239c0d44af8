//! A minimal, bounded, blocking HTTP/1.1 client over `std::net::TcpStream`.
//!
//! Why not hyper's client: it needs a tokio runtime, and the pushers must work from a
//! plain `main` (a batch job) as well as inside a runtime, from a background thread and
//! from an `atexit` hook, where starting or entering a runtime is not possible. What
//! the pushers need is small: one request per connection (`Connection: close`), a body
//! known up front, and a status plus a short error body back. So this client does only
//! that, with every step bounded:
//!
//! * one deadline for the whole exchange (DNS excepted: `ToSocketAddrs` cannot be
//!   bounded; use an IP address to avoid it), applied to connect, each write and each read;
//! * response head at most [`MAX_HEAD`] bytes, body kept up to [`MAX_BODY`] bytes (the
//!   rest is not read; the connection is closed anyway);
//! * `Content-Length`, `chunked` and read-to-close bodies.
//!
//! Not supported: `https` (URLs are rejected with a typed error saying so), redirects,
//! proxies, keep-alive.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Largest response head read (status line + headers).
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Largest response body kept (error messages; success bodies are ignored).
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// Where requests go: parsed once from an `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `host[:port]` as written, for the `Host` header.
    pub(crate) authority: String,
    /// `host` without brackets, and the port, for connecting.
    host: String,
    port: u16,
    /// Path and query, at least `/`.
    pub(crate) path: String,
}

impl Endpoint {
    /// Parses `http://host[:port][/path][?query]`. The error says what is wrong.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let rest = if let Some(rest) = strip_prefix_ci(url, "http://") {
            rest
        } else if strip_prefix_ci(url, "https://").is_some() {
            return Err(
                "https is not supported by the built-in HTTP client; use an http:// URL \
                 (e.g. through a local TLS-terminating proxy)"
                    .into(),
            );
        } else {
            return Err("the URL must start with http://".into());
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], &rest[i..]),
            Some(i) => (&rest[..i], &rest[i..]), // `?query` without a path
            None => (rest, ""),
        };
        let path = if path.is_empty() || path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        if path.contains('#') {
            return Err("the URL must not contain a fragment (#…)".into());
        }
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err("the URL path must not contain spaces or control characters".into());
        }
        if authority.contains('@') {
            return Err(
                "user:password@ in the URL is not supported; use basic_auth(user, password)".into(),
            );
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or("an IPv6 host must be closed by `]`")?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or("expected `:port` after `]`")?),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err("the URL has no host".into());
        }
        if host.bytes().any(|b| b <= b' ' || b == b'/' || b == 0x7f) {
            return Err("the URL host contains invalid characters".into());
        }
        let port = match port {
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("the port {p:?} is not a number from 1 to 65535"))?,
        };
        Ok(Self {
            authority: authority.to_owned(),
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// This endpoint with another path (and no query).
    #[cfg_attr(not(feature = "pushgateway"), allow(dead_code))]
    pub(crate) fn with_path(&self, path: String) -> Self {
        Self {
            path,
            ..self.clone()
        }
    }

    /// `http://authority/path`, for messages.
    pub(crate) fn url(&self) -> String {
        format!("http://{}{}", self.authority, self.path)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// A request: method, extra headers (name, value), body.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) body: &'a [u8],
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// The body, cut at [`MAX_BODY`] bytes.
    pub(crate) body: Vec<u8>,
    /// `Retry-After` in seconds, when the server sent it as a number.
    pub(crate) retry_after: Option<Duration>,
}

impl Response {
    /// The body as text for an error message, trimmed and cut to `max` characters.
    pub(crate) fn body_text(&self, max: usize) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(max) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text.to_owned(),
        }
    }
}

/// Why a request failed before a status came back.
#[derive(Debug)]
pub(crate) enum HttpError {
    /// Resolving, connecting, writing or reading failed.
    Io {
        /// What was being done.
        stage: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The deadline passed.
    Timeout {
        /// What was being done.
        stage: &'static str,
    },
    /// The response was not HTTP/1.x as we read it.
    Protocol(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Io { stage, source } => write!(f, "{stage} failed: {source}"),
            HttpError::Timeout { stage } => write!(f, "timed out while {stage}"),
            HttpError::Protocol(m) => write!(f, "unreadable HTTP response: {m}"),
        }
    }
}

/// Stream plus the exchange's deadline.
struct Conn {
    stream: TcpStream,
    deadline: Instant,
}

impl Conn {
    fn remaining(&self, stage: &'static str) -> Result<Duration, HttpError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HttpError::Timeout { stage });
        }
        Ok(left)
    }

    fn write_all(&mut self, mut buf: &[u8]) -> Result<(), HttpError> {
        const STAGE: &str = "sending the request";
        while !buf.is_empty() {
            let left = self.remaining(STAGE)?;
            self.stream
                .set_write_timeout(Some(left))
                .map_err(|source| HttpError::Io {
                    stage: STAGE,
                    source,
                })?;
            match self.stream.write(buf) {
                Ok(0) => {
                    return Err(HttpError::Io {
                        stage: STAGE,
                        source: io::ErrorKind::WriteZero.into(),
                    })
                }
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(HttpError::Timeout { stage: STAGE }),
                Err(source) => {
                    return Err(HttpError::Io {
                        stage: STAGE,
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// Reads some bytes into `out`, growing it to at most `limit` bytes; 0 at end of
    /// stream (or when `out` is already at `limit`).
    fn read_some(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<usize, HttpError> {
        const STAGE: &str = "reading the response";
        let mut chunk = [0u8; 8192];
        let want = limit.saturating_sub(out.len()).min(chunk.len());
        if want == 0 {
            return Ok(0);
        }
        loop {
            let left = self.remaining(STAGE)?;
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|source| HttpError::Io {
                    stage: STAGE,
                    source,
                })?;
            match self.stream.read(&mut chunk[..want]) {
                Ok(n) => {
                    out.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(HttpError::Timeout { stage: STAGE }),
                Err(source) => {
                    return Err(HttpError::Io {
                        stage: STAGE,
                        source,
                    })
                }
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sends `req` to `endpoint` and reads the status and (the start of) the body, all
/// within `timeout`. `head` is a reused buffer for the request head.
pub(crate) fn send(
    endpoint: &Endpoint,
    req: &Request<'_>,
    timeout: Duration,
    head: &mut Vec<u8>,
) -> Result<Response, HttpError> {
    let deadline = Instant::now() + timeout;
    let addrs: Vec<SocketAddr> = (endpoint.host.as_str(), endpoint.port)
        .to_socket_addrs()
        .map_err(|source| HttpError::Io {
            stage: "resolving the host",
            source,
        })?
        .collect();
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HttpError::Timeout {
                stage: "connecting",
            });
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if is_timeout(&e) => {
                last = Some(HttpError::Timeout {
                    stage: "connecting",
                })
            }
            Err(source) => {
                last = Some(HttpError::Io {
                    stage: "connecting",
                    source,
                })
            }
        }
    }
    let Some(stream) = stream else {
        return Err(last.unwrap_or(HttpError::Io {
            stage: "resolving the host",
            source: io::Error::new(io::ErrorKind::NotFound, "no address found"),
        }));
    };
    let _ = stream.set_nodelay(true);
    let mut conn = Conn { stream, deadline };

    head.clear();
    write_head(head, endpoint, req);
    conn.write_all(head)?;
    conn.write_all(req.body)?;
    read_response(&mut conn)
}

fn write_head(head: &mut Vec<u8>, endpoint: &Endpoint, req: &Request<'_>) {
    let _ = write!(
        head,
        "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tachometer/{}\r\nConnection: close\r\nContent-Length: {}\r\n",
        req.method,
        endpoint.path,
        endpoint.authority,
        env!("CARGO_PKG_VERSION"),
        req.body.len()
    );
    for (name, value) in req.headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.extend_from_slice(b"\r\n");
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn read_response(conn: &mut Conn) -> Result<Response, HttpError> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() >= MAX_HEAD {
            return Err(HttpError::Protocol(format!(
                "response head longer than {MAX_HEAD} bytes"
            )));
        }
        let n = conn.read_some(&mut buf, MAX_HEAD + 4)?;
        if n == 0 {
            return Err(HttpError::Protocol(if buf.is_empty() {
                "the server closed the connection without answering".into()
            } else {
                "the connection closed inside the response head".into()
            }));
        }
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| HttpError::Protocol("response head is not UTF-8".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Protocol(format!(
            "status line {status_line:?} is not HTTP/1.x"
        )));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| HttpError::Protocol(format!("bad status line {status_line:?}")))?;
    let mut content_length = None;
    let mut chunked = false;
    let mut retry_after = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse::<u64>()
                    .map_err(|_| HttpError::Protocol(format!("bad Content-Length {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("retry-after") {
            retry_after = value.parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    let mut rest = buf.split_off(head_end + 4);
    let no_body = status == 204 || status == 304 || (100..200).contains(&status);
    let body = if no_body {
        Vec::new()
    } else if chunked {
        read_chunked(conn, rest)?
    } else if let Some(len) = content_length {
        let want = usize::try_from(len).unwrap_or(usize::MAX).min(MAX_BODY);
        while rest.len() < want {
            if conn.read_some(&mut rest, want)? == 0 {
                break;
            }
        }
        rest.truncate(want);
        rest
    } else {
        while rest.len() < MAX_BODY {
            if conn.read_some(&mut rest, MAX_BODY)? == 0 {
                break;
            }
        }
        rest.truncate(MAX_BODY);
        rest
    };
    Ok(Response {
        status,
        body,
        retry_after,
    })
}

/// Decodes a chunked body from `raw` (bytes already read) plus the stream, keeping at
/// most [`MAX_BODY`] bytes of data.
fn read_chunked(conn: &mut Conn, mut raw: Vec<u8>) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        // Chunk size line.
        let line_end = loop {
            if let Some(i) = find(&raw[pos..], b"\r\n") {
                break pos + i;
            }
            if raw.len() - pos > 1024 {
                return Err(HttpError::Protocol("chunk size line too long".into()));
            }
            let limit = raw.len() + 8192;
            if conn.read_some(&mut raw, limit)? == 0 {
                // Cut short: keep what we have (the status is what matters).
                return Ok(body);
            }
        };
        let size_text = std::str::from_utf8(&raw[pos..line_end]).unwrap_or_default();
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| HttpError::Protocol(format!("bad chunk size {size_text:?}")))?;
        pos = line_end + 2;
        if size == 0 {
            return Ok(body);
        }
        let take = size.min(MAX_BODY - body.len());
        while raw.len() < pos + take {
            if conn.read_some(&mut raw, pos + take)? == 0 {
                body.extend_from_slice(&raw[pos..]);
                return Ok(body);
            }
        }
        body.extend_from_slice(&raw[pos..pos + take]);
        if body.len() >= MAX_BODY {
            return Ok(body);
        }
        pos += size;
        // The chunk's trailing CRLF.
        while raw.len() < pos + 2 {
            if conn.read_some(&mut raw, pos + 2)? == 0 {
                return Ok(body);
            }
        }
        pos += 2;
        if pos > 64 * 1024 {
            raw.drain(..pos);
            pos = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn urls_parse_or_say_what_is_wrong() {
        let e = Endpoint::parse("http://127.0.0.1:9091").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("127.0.0.1", 9091, "/")
        );
        assert_eq!(e.authority, "127.0.0.1:9091");
        let e = Endpoint::parse("HTTP://example.com/api/v1/write?x=1").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("example.com", 80, "/api/v1/write?x=1")
        );
        let e = Endpoint::parse("http://[::1]:8428/api/v1/write").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 8428));
        let e = Endpoint::parse("http://h?q").unwrap();
        assert_eq!(e.path, "/?q");
        for (bad, says) in [
            ("https://x", "https is not supported"),
            ("ftp://x", "must start with http://"),
            ("http://:80/", "no host"),
            ("http://h:0/", "1 to 65535"),
            ("http://h:99999/", "1 to 65535"),
            ("http://u:p@h/", "basic_auth"),
            ("http://h/a b", "spaces"),
            ("http://[::1/", "closed by"),
        ] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    /// Serves one connection with `reply` and returns the request bytes it read.
    fn serve_once(reply: &'static [u8]) -> (Endpoint, std::thread::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head, then Content-Length bytes.
            loop {
                let n = s.read(&mut buf).unwrap();
                req.extend_from_slice(&buf[..n]);
                if let Some(i) = find(&req, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&req[..i]).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while req.len() < i + 4 + len {
                        let n = s.read(&mut buf).unwrap();
                        req.extend_from_slice(&buf[..n]);
                    }
                    break;
                }
            }
            s.write_all(reply).unwrap();
            req
        });
        (
            Endpoint::parse(&format!("http://127.0.0.1:{port}/p?q=1")).unwrap(),
            h,
        )
    }

    #[test]
    fn content_length_chunked_and_close_bodies() {
        let cases: [(&'static [u8], u16, &str); 4] = [
            (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nhello", 400, "hello"),
            (
                b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\n\r\n",
                500,
                "abcdefg",
            ),
            (b"HTTP/1.0 200 OK\r\n\r\nuntil close", 200, "until close"),
            (b"HTTP/1.1 204 No Content\r\n\r\n", 204, ""),
        ];
        for (reply, status, body) in cases {
            let (ep, h) = serve_once(reply);
            let mut head = Vec::new();
            let req = Request {
                method: "PUT",
                headers: &[("Content-Type", "text/plain")],
                body: b"x 1\n",
            };
            let resp = send(&ep, &req, Duration::from_secs(5), &mut head).unwrap();
            assert_eq!(resp.status, status);
            assert_eq!(resp.body_text(100), body);
            let sent = String::from_utf8(h.join().unwrap()).unwrap();
            assert!(
                sent.starts_with("PUT /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:"),
                "{sent}"
            );
            assert!(sent.contains("\r\nContent-Type: text/plain\r\n"), "{sent}");
            assert!(sent.contains("\r\nContent-Length: 4\r\n"), "{sent}");
            assert!(sent.ends_with("\r\n\r\nx 1\n"), "{sent}");
        }
    }

    #[test]
    fn retry_after_is_read() {
        let (ep, h) =
            serve_once(b"HTTP/1.1 429 Too Many\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n");
        let resp = send(
            &ep,
            &Request {
                method: "POST",
                headers: &[],
                body: b"",
            },
            Duration::from_secs(5),
            &mut Vec::new(),
        )
        .unwrap();
        h.join().unwrap();
        assert_eq!(resp.retry_after, Some(Duration::from_secs(3)));
    }

    #[test]
    fn a_silent_server_times_out_within_the_deadline() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let ep = Endpoint::parse(&format!("http://{}/", l.local_addr().unwrap())).unwrap();
        let start = Instant::now();
        let err = send(
            &ep,
            &Request {
                method: "POST",
                headers: &[],
                body: b"x",
            },
            Duration::from_millis(300),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(matches!(err, HttpError::Timeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(l);
    }

    #[test]
    fn garbage_and_oversized_heads_are_protocol_errors() {
        let (ep, h) = serve_once(b"SSH-2.0-OpenSSH\r\n\r\n");
        let err = send(
            &ep,
            &Request {
                method: "GET",
                headers: &[],
                body: b"",
            },
            Duration::from_secs(5),
            &mut Vec::new(),
        )
        .unwrap_err();
        h.join().unwrap();
        assert!(matches!(err, HttpError::Protocol(_)), "{err}");

        static BIG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let big = BIG.get_or_init(|| {
            let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
            while v.len() < MAX_HEAD + 100 {
                v.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
            }
            v.extend_from_slice(b"\r\n");
            v
        });
        let (ep, h) = serve_once(big);
        let err = send(
            &ep,
            &Request {
                method: "GET",
                headers: &[],
                body: b"",
            },
            Duration::from_secs(5),
            &mut Vec::new(),
        )
        .unwrap_err();
        let _ = h.join();
        assert!(err.to_string().contains("longer than"), "{err}");
    }

    #[test]
    fn connection_refused_is_an_io_error() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let ep = Endpoint::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let err = send(
            &ep,
            &Request {
                method: "GET",
                headers: &[],
                body: b"",
            },
            Duration::from_secs(2),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                HttpError::Io {
                    stage: "connecting",
                    ..
                }
            ),
            "{err}"
        );
    }
}
