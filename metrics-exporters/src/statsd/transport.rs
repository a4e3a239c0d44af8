//! Getting payloads to the daemon: UDP, Unix datagram sockets and newline-framed TCP.
//!
//! Only the background thread touches a transport, so a slow or absent daemon can stall
//! that thread but never a caller. Every socket gets a write timeout so the stall is
//! bounded, and connection-oriented transports reconnect with exponential backoff
//! (100 ms doubling to 10 s) so a daemon that is down costs one failed connect per
//! backoff step, not one per payload. Failures are returned, never panicked on; the
//! caller counts them.
//!
//! **Exact accounting.** A send reports how many of the payload's units (lines, or a
//! negative-gauge pair) were handed over, not just success or failure:
//!
//! * TCP is a byte stream, so a write that times out against a daemon that stopped
//!   reading may have delivered part of a payload. The units whose terminating `\n` went
//!   out are delivered; the unit cut in the middle is *in flight*: the connection is
//!   kept and its remainder (and only that) is written before anything else on the next
//!   send, so the daemon never sees a truncated line and nothing is sent twice. The rest
//!   of the payload is reported as not sent. Only if the connection then fails before
//!   the remainder goes out (or the exporter shuts down first) is that unit lost,
//!   reported through [`Delivery::lost_earlier`].
//! * A connected UDP socket learns that the port is closed from an ICMP error that
//!   arrives *after* the datagram that caused it and is reported by a later `send` (or
//!   by `SO_ERROR`). That error is charged to the previous datagram (its units are
//!   reported lost) before the current one is retried; [`Transport::poll`] collects it
//!   when nothing else is sent. The kernel keeps one pending error per socket and rate-
//!   limits ICMP (Linux: 1,000/s, bursts of 50), so in a fast burst to a closed port
//!   the count is a lower bound.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
#[cfg(unix)]
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::StatsdError;

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// UDP to `host:port` (the classic StatsD transport; default port 8125).
    Udp(String),
    /// TCP to `host:port`; each payload is terminated by `\n` (Etsy's `servers/tcp`).
    Tcp(String),
    /// A Unix datagram socket at this path (DogStatsD's `dogstatsd_socket`).
    #[cfg(unix)]
    Unix(PathBuf),
}

impl Target {
    /// UDP to `host:port`.
    #[must_use]
    pub fn udp(addr: impl Into<String>) -> Self {
        Target::Udp(addr.into())
    }

    /// TCP to `host:port`.
    #[must_use]
    pub fn tcp(addr: impl Into<String>) -> Self {
        Target::Tcp(addr.into())
    }

    /// A Unix datagram socket.
    #[cfg(unix)]
    #[must_use]
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        Target::Unix(path.into())
    }
}

const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Exponential reconnect backoff.
#[derive(Debug)]
pub(crate) struct Backoff {
    next_attempt: Option<Instant>,
    delay: Duration,
}

impl Backoff {
    fn new() -> Self {
        Self {
            next_attempt: None,
            delay: BACKOFF_MIN,
        }
    }
    fn ready(&self) -> bool {
        self.next_attempt.map_or(true, |t| Instant::now() >= t)
    }
    fn failed(&mut self) {
        self.next_attempt = Some(Instant::now() + self.delay);
        self.delay = (self.delay * 2).min(BACKOFF_MAX);
    }
    fn succeeded(&mut self) {
        *self = Self::new();
    }
}

fn backing_off() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "daemon unreachable; waiting to reconnect",
    )
}

/// What became of one payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Delivery {
    /// How many of the payload's units (from the front) were handed over; the others
    /// were not sent at all.
    pub(crate) units: usize,
    /// Whether the transport reported an error for this payload.
    pub(crate) failed: bool,
    /// Units of *earlier* payloads, reported sent at the time, now known lost (a UDP
    /// port-unreachable, or an in-flight TCP unit whose connection failed).
    pub(crate) lost_earlier: u64,
}

/// An open (or reopening) connection to the daemon.
#[derive(Debug)]
pub(crate) enum Transport {
    Udp {
        socket: UdpSocket,
        /// Units of the last datagram the kernel accepted, until an error is charged to
        /// it (then 0, so one datagram is never counted lost twice).
        last_units: u64,
    },
    Tcp {
        addrs: Vec<SocketAddr>,
        stream: Option<TcpStream>,
        backoff: Backoff,
        framed: Vec<u8>,
        /// The undelivered remainder of a unit whose start is already in the stream
        /// (through its `\n`); written before anything else.
        carry: Vec<u8>,
    },
    #[cfg(unix)]
    Unix {
        path: PathBuf,
        socket: Option<UnixDatagram>,
        backoff: Backoff,
    },
}

fn resolve(addr: &str) -> Result<Vec<SocketAddr>, StatsdError> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|source| StatsdError::Resolve {
            target: addr.to_string(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(StatsdError::Resolve {
            target: addr.to_string(),
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        });
    }
    Ok(addrs)
}

impl Transport {
    /// Resolves and opens `target`. Connection-oriented transports connect lazily, so a
    /// daemon that is not up yet is not an error here.
    pub(crate) fn open(target: &Target) -> Result<Self, StatsdError> {
        match target {
            Target::Udp(addr) => {
                let to = resolve(addr)?[0];
                let local: SocketAddr = if to.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let io_err = |source| StatsdError::Io {
                    what: "open the UDP socket",
                    source,
                };
                let socket = UdpSocket::bind(local).map_err(io_err)?;
                // Connected, so the kernel reports ICMP port-unreachable as ECONNREFUSED
                // instead of losing datagrams without a trace, and skips a route lookup
                // per send.
                socket.connect(to).map_err(io_err)?;
                socket
                    .set_write_timeout(Some(WRITE_TIMEOUT))
                    .map_err(io_err)?;
                Ok(Transport::Udp {
                    socket,
                    last_units: 0,
                })
            }
            Target::Tcp(addr) => Ok(Transport::Tcp {
                addrs: resolve(addr)?,
                stream: None,
                backoff: Backoff::new(),
                framed: Vec::new(),
                carry: Vec::new(),
            }),
            #[cfg(unix)]
            Target::Unix(path) => Ok(Transport::Unix {
                path: path.clone(),
                socket: None,
                backoff: Backoff::new(),
            }),
        }
    }

    /// Sends one payload (units joined by `\n`); `ends` holds the end offset of each
    /// unit (see [`Packer`](super::packer::Packer)).
    pub(crate) fn send(&mut self, payload: &[u8], ends: &[usize]) -> Delivery {
        let all = ends.len();
        match self {
            Transport::Udp { socket, last_units } => {
                let mut lost_earlier = 0;
                let mut r = socket.send(payload);
                if matches!(&r, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused) {
                    // The error belongs to an earlier datagram (the ICMP came back late):
                    // charge it to the last one and try this payload once more.
                    lost_earlier = std::mem::take(last_units);
                    r = socket.send(payload);
                }
                match r {
                    Ok(_) => {
                        *last_units = all as u64;
                        Delivery {
                            units: all,
                            failed: false,
                            lost_earlier,
                        }
                    }
                    Err(_) => Delivery {
                        units: 0,
                        failed: true,
                        lost_earlier,
                    },
                }
            }
            Transport::Tcp {
                addrs,
                stream,
                backoff,
                framed,
                carry,
            } => {
                let none = Delivery {
                    units: 0,
                    failed: true,
                    lost_earlier: 0,
                };
                if let Some(s) = stream.as_mut() {
                    if !carry.is_empty() {
                        let (written, err) = write_bounded(s, carry);
                        carry.drain(..written);
                        match err {
                            None => {}
                            Some(e) if is_timeout(&e) => return none,
                            Some(_) => {
                                // The connection failed with a unit half-written: the
                                // daemon drops an unterminated line on close.
                                carry.clear();
                                *stream = None;
                                return Delivery {
                                    lost_earlier: 1,
                                    ..none
                                };
                            }
                        }
                    }
                }
                if stream.is_none() {
                    if !backoff.ready() {
                        return none;
                    }
                    match connect_tcp(addrs) {
                        Ok(s) => {
                            backoff.succeeded();
                            *stream = Some(s);
                        }
                        Err(_) => {
                            backoff.failed();
                            return none;
                        }
                    }
                }
                framed.clear();
                framed.extend_from_slice(payload);
                framed.push(b'\n');
                let s = stream.as_mut().expect("connected above");
                let (written, err) = write_bounded(s, framed);
                let Some(err) = err else {
                    return Delivery {
                        units: all,
                        failed: false,
                        lost_earlier: 0,
                    };
                };
                // Unit `i` is complete once the byte at `ends[i]` (its `\n`) is out.
                let mut units = ends.partition_point(|&e| e < written);
                let unit_start = if units == 0 { 0 } else { ends[units - 1] + 1 };
                if is_timeout(&err) {
                    if units < all && written > unit_start {
                        // Cut mid-unit on a live connection: finish it on the next send.
                        carry.clear();
                        carry.extend_from_slice(&framed[written..=ends[units]]);
                        units += 1;
                    }
                } else {
                    // Reconnect on the next payload; a unit cut here is not delivered
                    // (the daemon drops an unterminated line when the connection closes).
                    *stream = None;
                }
                Delivery {
                    units,
                    failed: true,
                    lost_earlier: 0,
                }
            }
            #[cfg(unix)]
            Transport::Unix {
                path,
                socket,
                backoff,
            } => {
                let none = Delivery {
                    units: 0,
                    failed: true,
                    lost_earlier: 0,
                };
                if socket.is_none() {
                    if !backoff.ready() {
                        return none;
                    }
                    let opened = UnixDatagram::unbound().and_then(|s| {
                        s.connect(&*path)?;
                        s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                        Ok(s)
                    });
                    match opened {
                        Ok(s) => {
                            backoff.succeeded();
                            *socket = Some(s);
                        }
                        Err(_) => {
                            backoff.failed();
                            return none;
                        }
                    }
                }
                let r = socket.as_ref().expect("connected above").send(payload);
                match r {
                    Ok(_) => Delivery {
                        units: all,
                        failed: false,
                        lost_earlier: 0,
                    },
                    Err(e) => {
                        if !is_timeout(&e) {
                            // The daemon went away (socket removed or recreated): reopen.
                            *socket = None;
                        }
                        none
                    }
                }
            }
        }
    }

    /// Units of earlier payloads now known lost, when nothing else is being sent: a
    /// pending UDP port-unreachable error is charged to the last datagram. One
    /// `getsockopt` when a datagram went out since the last check, otherwise free.
    pub(crate) fn poll(&mut self) -> u64 {
        match self {
            Transport::Udp { socket, last_units } if *last_units > 0 => match socket.take_error() {
                Ok(Some(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    std::mem::take(last_units)
                }
                _ => 0,
            },
            _ => 0,
        }
    }

    /// Before shutting down: finishes an in-flight TCP unit if the daemon takes it within
    /// the write timeout; returns the units lost (0 or 1), plus what [`poll`](Self::poll) finds.
    pub(crate) fn close(&mut self) -> u64 {
        let mut lost = self.poll();
        if let Transport::Tcp { stream, carry, .. } = self {
            if !carry.is_empty() {
                let done = stream
                    .as_mut()
                    .is_some_and(|s| write_bounded(s, carry).1.is_none());
                carry.clear();
                if !done {
                    lost += 1;
                }
            }
        }
        lost
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Writes `buf` until done, an error, or [`WRITE_TIMEOUT`] passes (a daemon reading a
/// byte at a time cannot hold the sender longer); returns the bytes written and the
/// error, if any (`TimedOut` for the deadline).
fn write_bounded(s: &mut TcpStream, buf: &[u8]) -> (usize, Option<io::Error>) {
    let deadline = Instant::now() + WRITE_TIMEOUT;
    let mut written = 0;
    while written < buf.len() {
        match s.write(&buf[written..]) {
            Ok(0) => return (written, Some(io::ErrorKind::WriteZero.into())),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (written, Some(e)),
        }
        if written < buf.len() && Instant::now() >= deadline {
            return (written, Some(io::ErrorKind::TimedOut.into()));
        }
    }
    (written, None)
}

fn connect_tcp(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(backing_off))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let mut b = Backoff::new();
        assert!(b.ready());
        b.failed();
        assert!(!b.ready());
        for _ in 0..20 {
            b.failed();
        }
        assert_eq!(b.delay, BACKOFF_MAX);
        b.succeeded();
        assert!(b.ready());
        assert_eq!(b.delay, BACKOFF_MIN);
    }

    #[test]
    fn unresolvable_target_is_an_error_not_a_panic() {
        let err = Transport::open(&Target::udp("no-port-here")).unwrap_err();
        assert!(err.to_string().contains("no-port-here"), "{err}");
    }
}
