//! Getting payloads to the daemon: UDP, Unix datagram sockets and newline-framed TCP.
//!
//! Only the background thread touches a transport, so a slow or absent daemon can stall
//! that thread but never a caller. Every socket gets a write timeout so the stall is
//! bounded, and connection-oriented transports reconnect with exponential backoff
//! (100 ms doubling to 10 s) so a daemon that is down costs one failed connect per
//! backoff step, not one per payload. Failures are returned, never panicked on; the
//! caller counts them.

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

/// An open (or reopening) connection to the daemon.
#[derive(Debug)]
pub(crate) enum Transport {
    Udp(UdpSocket),
    Tcp {
        addrs: Vec<SocketAddr>,
        stream: Option<TcpStream>,
        backoff: Backoff,
        framed: Vec<u8>,
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
                Ok(Transport::Udp(socket))
            }
            Target::Tcp(addr) => Ok(Transport::Tcp {
                addrs: resolve(addr)?,
                stream: None,
                backoff: Backoff::new(),
                framed: Vec::new(),
            }),
            #[cfg(unix)]
            Target::Unix(path) => Ok(Transport::Unix {
                path: path.clone(),
                socket: None,
                backoff: Backoff::new(),
            }),
        }
    }

    /// Sends one payload (lines joined by `\n`).
    pub(crate) fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        match self {
            Transport::Udp(socket) => match socket.send(payload) {
                // The error belongs to an earlier datagram (the ICMP came back late) and
                // reporting it consumed it; this payload was not sent, so try once more.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    socket.send(payload).map(drop)
                }
                r => r.map(drop),
            },
            Transport::Tcp {
                addrs,
                stream,
                backoff,
                framed,
            } => {
                if stream.is_none() {
                    if !backoff.ready() {
                        return Err(backing_off());
                    }
                    match connect_tcp(addrs) {
                        Ok(s) => {
                            backoff.succeeded();
                            *stream = Some(s);
                        }
                        Err(e) => {
                            backoff.failed();
                            return Err(e);
                        }
                    }
                }
                framed.clear();
                framed.extend_from_slice(payload);
                framed.push(b'\n');
                let s = stream.as_mut().expect("connected above");
                let r = s.write_all(framed);
                if r.is_err() {
                    // Reconnect on the next payload; the daemon drops the unterminated
                    // remainder of this connection's buffer when it closes.
                    *stream = None;
                }
                r
            }
            #[cfg(unix)]
            Transport::Unix {
                path,
                socket,
                backoff,
            } => {
                if socket.is_none() {
                    if !backoff.ready() {
                        return Err(backing_off());
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
                        Err(e) => {
                            backoff.failed();
                            return Err(e);
                        }
                    }
                }
                let r = socket
                    .as_ref()
                    .expect("connected above")
                    .send(payload)
                    .map(drop);
                if let Err(e) = &r {
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) {
                        // The daemon went away (socket removed or recreated): reopen.
                        *socket = None;
                    }
                }
                r
            }
        }
    }
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
