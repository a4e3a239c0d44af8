//! Push for batch jobs and fleets: a Prometheus [`Pushgateway`] and Prometheus remote
//! write 1.0 ([`RemoteWriter`]), with a lifecycle that loses nothing.
//!
//! Scraping cannot see a job that lives for three seconds, and a fleet that outgrows
//! one Prometheus sends its samples to a store (Mimir, Thanos, Cortex, VictoriaMetrics,
//! Prometheus itself) by remote write. Both pushers walk a
//! [`Registry`](tachometer_core::Registry) and send it:
//!
//! | | [`Pushgateway`] (feature `pushgateway`) | [`RemoteWriter`] (feature `remote-write`) |
//! |---|---|---|
//! | body | Prometheus text 0.0.4, optionally gzip | `WriteRequest` protobuf, snappy block |
//! | what | the registry's current state replaces the group (`PUT`) or same-named families (`POST`) | every series as a timestamped sample at each interval, queued and batched |
//! | when | [`push`](Pushgateway::push) once, or [`start`](PushgatewayBuilder::start) a [`PushgatewayReporter`] on an interval | a [`RemoteWriter`] on an interval |
//! | failure | a typed [`PushError`] (a 400 carries the gateway's explanation) | retried with backoff on 5xx/429/network errors, within bounds; counted |
//!
//! # Losing nothing
//!
//! * Handles are `#[must_use]`: binding one with `let _ = …` drops it at once, and
//!   the compiler says so.
//! * `flush()` pushes now and waits (bounded by the flush timeout); it returns the
//!   [`PushStats`]: samples produced, sent, retried, dropped and still pending.
//!   For remote write `sent + dropped + pending = produced`, exactly.
//! * Dropping a handle flushes it (bounded), and so does `shutdown(timeout)`, which
//!   returns the final stats.
//! * `std::process::exit` runs no destructors. Call `flush_on_exit(timeout)` on a
//!   handle: an `atexit` hook then flushes it (bounded by `timeout`) when the process
//!   exits through `std::process::exit` or by returning from `main` — whichever comes
//!   first while the handle is alive. Signals (`SIGKILL`, an unhandled `SIGTERM`)
//!   bypass `atexit`; handle them and exit normally.
//!
//! The pushers run on a background `std` thread with a small blocking HTTP/1.1 client,
//! so they work from a plain `main` and inside a tokio runtime alike (they never block
//! a runtime thread: recording only touches the registry's atomics). Only `http://` is
//! supported: put a TLS-terminating proxy in front of an `https` receiver.

mod error;
pub(crate) mod http;

#[cfg(feature = "pushgateway")]
mod pushgateway;
#[cfg(feature = "remote-write")]
mod remote_write;

pub use error::PushError;

pub(crate) use crate::exit::{exit_hook, flush_on_exit, ExitFlush};
#[cfg(feature = "pushgateway")]
#[cfg_attr(docsrs, doc(cfg(feature = "pushgateway")))]
pub use pushgateway::{PushMethod, Pushgateway, PushgatewayBuilder, PushgatewayReporter};
#[cfg(feature = "remote-write")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote-write")))]
pub use remote_write::{EncodedRequest, RemoteWriteBuilder, RemoteWriteEncoder, RemoteWriter};

/// Credentials sent with every request.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            Auth::Basic { user, .. } => write!(f, "Basic({user}:***)"),
            Auth::Bearer(_) => write!(f, "Bearer(***)"),
        }
    }
}

impl Auth {
    /// The `Authorization` header value.
    pub(crate) fn header_value(&self) -> String {
        match self {
            Auth::Basic { user, password } => {
                let mut v = String::from("Basic ");
                base64(&mut v, format!("{user}:{password}").as_bytes(), false);
                v
            }
            Auth::Bearer(token) => format!("Bearer {token}"),
        }
    }

    /// Checks that the header value can be sent (no line breaks).
    pub(crate) fn validate(&self) -> Result<(), PushError> {
        let bad = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
        let ok = match self {
            Auth::Basic { user, password } => !bad(user) && !bad(password) && !user.contains(':'),
            Auth::Bearer(t) => !bad(t) && !t.is_empty(),
        };
        if ok {
            Ok(())
        } else {
            Err(PushError::InvalidConfig(
                "credentials must not contain line breaks, a basic-auth user must not contain `:`, \
                 and a bearer token must not be empty"
                    .into(),
            ))
        }
    }
}

/// What a pusher has done, in samples (one sample = one line of the text format, one
/// `Sample` of remote write).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushStats {
    /// Samples read from the registry for pushing.
    pub produced: u64,
    /// Samples the receiver accepted (2xx).
    pub sent: u64,
    /// Samples sent again after a retryable failure, counted once per retry.
    pub retried: u64,
    /// Samples given up on: rejected (4xx), out of retries or too old, queue full, or
    /// still queued at shutdown. For the Pushgateway: samples of failed pushes (the
    /// next successful push replaces them).
    pub dropped: u64,
    /// Samples queued, not yet sent or dropped (remote write; 0 for the Pushgateway).
    pub pending: u64,
}

/// Appends base64 of `bytes` to `out`: the standard alphabet with padding, or the
/// URL-safe one (RFC 4648 §5) without.
pub(crate) fn base64(out: &mut String, bytes: &[u8], url_safe: bool) {
    const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let table = if url_safe { URL } else { STD };
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(table[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if !url_safe {
                out.push('=');
            }
        }
    }
}

#[cfg(feature = "remote-write")]
/// A small xorshift generator for backoff jitter (no dependency, not for secrets).
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

#[cfg(feature = "remote-write")]
impl Jitter {
    pub(crate) fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ (std::process::id() as u64).rotate_left(32);
        Self(seed | 1)
    }

    /// A value in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, std, url) in [
            ("", "", ""),
            ("f", "Zg==", "Zg"),
            ("fo", "Zm8=", "Zm8"),
            ("foo", "Zm9v", "Zm9v"),
            ("foob", "Zm9vYg==", "Zm9vYg"),
            ("fooba", "Zm9vYmE=", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
            ("/srv/data", "L3Nydi9kYXRh", "L3Nydi9kYXRh"),
            (
                "Προμηθεύς",
                "zqDPgc6/zrzOt864zrXPjc+C",
                "zqDPgc6_zrzOt864zrXPjc-C",
            ),
        ] {
            let mut s = String::new();
            base64(&mut s, input.as_bytes(), false);
            assert_eq!(s, std, "{input}");
            s.clear();
            base64(&mut s, input.as_bytes(), true);
            assert_eq!(s, url, "{input}");
        }
    }

    #[test]
    fn auth_headers_and_secrets_stay_out_of_debug() {
        let basic = Auth::Basic {
            user: "Aladdin".into(),
            password: "open sesame".into(),
        };
        assert_eq!(basic.header_value(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(format!("{basic:?}"), "Basic(Aladdin:***)");
        let bearer = Auth::Bearer("t0k".into());
        assert_eq!(bearer.header_value(), "Bearer t0k");
        assert!(!format!("{bearer:?}").contains("t0k"));
        assert!(Auth::Bearer("a\r\nX: y".into()).validate().is_err());
        assert!(Auth::Bearer(String::new()).validate().is_err());
        assert!(basic.validate().is_ok());
    }

    #[cfg(feature = "remote-write")]
    #[test]
    fn jitter_stays_in_unit_interval() {
        let mut j = Jitter::new();
        for _ in 0..10_000 {
            let u = j.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
