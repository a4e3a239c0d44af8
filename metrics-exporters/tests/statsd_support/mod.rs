//! Shared by the StatsD tests: a real Etsy daemon on free loopback ports, read back
//! through its management interface, and plain listeners that capture our bytes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tachometer_testkit::{free_port, wait_for_tcp, ChildGuard, TempDir};

/// A value in the daemon's `util.inspect` dump.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Num(f64),
    List(Vec<f64>),
}

/// A running `node stats.js` with no backends and a one-hour flush interval, so what we
/// send stays readable through the management port.
pub struct Daemon {
    pub udp: SocketAddr,
    pub tcp: Option<SocketAddr>,
    mgmt: SocketAddr,
    dir: TempDir,
    // Declared last: killed before the temp dir goes away.
    child: ChildGuard,
}

impl Daemon {
    /// Starts the daemon (UDP, plus TCP when `with_tcp`); `None` when the peer is
    /// missing (the testkit printed SKIP or panicked, per `TACHOMETER_REQUIRE_PEERS`).
    pub fn start(with_tcp: bool) -> Option<Daemon> {
        let (node, js) = tachometer_testkit::peer::statsd()?;
        let dir = TempDir::new("statsd-daemon");
        // UDP and TCP port spaces are separate; a free TCP port is very likely a free
        // UDP port too, and startup fails loudly (mgmt port never opens) if it is not.
        let (port, mgmt, tcp) = (free_port(), free_port(), free_port());
        let servers = if with_tcp {
            format!(
                r#"servers: [ {{ server: "./servers/udp", address: "127.0.0.1", port: {port} }},
                             {{ server: "./servers/tcp", address: "127.0.0.1", port: {tcp} }} ],"#
            )
        } else {
            String::new()
        };
        let config = format!(
            r#"{{ port: {port}, address: "127.0.0.1", mgmt_port: {mgmt}, mgmt_address: "127.0.0.1",
                 {servers} flushInterval: 3600000, backends: [], deleteIdleStats: false }}"#
        );
        let config_path = dir.path().join("config.js");
        std::fs::write(&config_path, config).expect("write statsd config");
        let log = std::fs::File::create(dir.path().join("daemon.log")).expect("create log");
        let child = ChildGuard::spawn(
            Command::new(node)
                .arg(&js)
                .arg(&config_path)
                .current_dir(js.parent().expect("stats.js has a directory"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone log"))
                .stderr(log),
        )
        .expect("spawn node stats.js");
        let mgmt: SocketAddr = ([127, 0, 0, 1], mgmt).into();
        let tcp_addr: SocketAddr = ([127, 0, 0, 1], tcp).into();
        let d = Daemon {
            udp: ([127, 0, 0, 1], port).into(),
            tcp: with_tcp.then_some(tcp_addr),
            mgmt,
            dir,
            child,
        };
        assert!(
            wait_for_tcp(mgmt, Duration::from_secs(15)),
            "statsd mgmt port never opened; log:\n{}",
            d.log()
        );
        if with_tcp {
            assert!(
                wait_for_tcp(tcp_addr, Duration::from_secs(5)),
                "statsd TCP port never opened; log:\n{}",
                d.log()
            );
        }
        Some(d)
    }

    /// The daemon's stdout/stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// Sends a management command and returns the response up to `END`.
    pub fn query(&self, cmd: &str) -> String {
        let mut s =
            TcpStream::connect_timeout(&self.mgmt, Duration::from_secs(5)).expect("connect mgmt");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(format!("{cmd}\n").as_bytes()).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        while !out.ends_with(b"END\n\n") {
            let n = s.read(&mut buf).expect("read mgmt response");
            assert!(
                n > 0,
                "mgmt connection closed early: {:?}",
                String::from_utf8_lossy(&out)
            );
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(out).expect("ascii response")
    }

    /// `counters`, `gauges` or `timers`, parsed.
    pub fn dump(&self, what: &str) -> BTreeMap<String, Val> {
        parse_inspect(&self.query(what))
    }

    pub fn counter(&self, key: &str) -> Option<f64> {
        match self.dump("counters").get(key) {
            Some(Val::Num(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn bad_lines(&self) -> f64 {
        self.counter("statsd.bad_lines_seen")
            .expect("the daemon always has bad_lines_seen")
    }

    /// Polls `read` until it returns `want` or 10 s pass; returns the last reading.
    pub fn wait_for<T: PartialEq + Clone>(
        &self,
        want: &T,
        mut read: impl FnMut(&Daemon) -> T,
    ) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = read(self);
            if &got == want || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Parses node's `util.inspect` of a flat object of numbers or number arrays.
pub fn parse_inspect(text: &str) -> BTreeMap<String, Val> {
    let body = text.split("END").next().unwrap_or("");
    let mut tokens = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            '{' | '}' | '[' | ']' | ':' => {
                tokens.push(c.to_string());
                chars.next();
            }
            ',' => {
                chars.next();
            }
            c if c.is_whitespace() => {
                chars.next();
            }
            '\'' | '"' => {
                let q = c;
                chars.next();
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => s.extend(chars.next()),
                        c if c == q => break,
                        c => s.push(c),
                    }
                }
                tokens.push(format!("\"{s}"));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "{}[]:,".contains(c) {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                tokens.push(s);
            }
        }
    }
    let mut map = BTreeMap::new();
    let mut it = tokens.into_iter().peekable();
    assert_eq!(it.next().as_deref(), Some("{"), "not an object: {text}");
    while let Some(tok) = it.next() {
        if tok == "}" {
            break;
        }
        let key = tok.strip_prefix('"').unwrap_or(&tok).to_string();
        assert_eq!(
            it.next().as_deref(),
            Some(":"),
            "no ':' after {key} in {text}"
        );
        let v = it.next().expect("value");
        let val = if v == "[" {
            let mut list = Vec::new();
            for t in it.by_ref() {
                if t == "]" {
                    break;
                }
                assert_ne!(t, "...", "array truncated by util.inspect: {text}");
                list.push(
                    t.parse::<f64>()
                        .unwrap_or_else(|_| panic!("not a number {t:?} in {text}")),
                );
            }
            Val::List(list)
        } else {
            Val::Num(
                v.parse()
                    .unwrap_or_else(|_| panic!("not a number {v:?} in {text}")),
            )
        };
        map.insert(key, val);
    }
    map
}

/// A UDP listener on a free loopback port whose thread collects datagrams as they
/// arrive (so a burst cannot overflow the socket's receive buffer while the test waits).
pub struct UdpCapture {
    addr: SocketAddr,
    data: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl UdpCapture {
    pub fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let addr = socket.local_addr().unwrap();
        let data = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::downgrade(&data);
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 70_000];
            loop {
                let got = socket.recv(&mut buf);
                let Some(sink) = sink.upgrade() else { return };
                if let Ok(n) = got {
                    sink.lock().unwrap().push(buf[..n].to_vec());
                }
            }
        });
        Self { addr, data }
    }

    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Every datagram received so far, once 300 ms pass with nothing new.
    pub fn drain(&self) -> Vec<Vec<u8>> {
        let mut seen = usize::MAX;
        loop {
            let now = self.data.lock().unwrap().len();
            if now == seen {
                return std::mem::take(&mut *self.data.lock().unwrap());
            }
            seen = now;
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// Lines of all datagrams, as strings.
pub fn lines(datagrams: &[Vec<u8>]) -> Vec<String> {
    datagrams
        .iter()
        .flat_map(|d| {
            String::from_utf8(d.clone())
                .expect("utf8")
                .split('\n')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A TCP listener that accepts connections and appends everything read to a buffer.
pub struct TcpCapture {
    pub addr: SocketAddr,
    data: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl TcpCapture {
    pub fn bind(addr: &str) -> Self {
        let listener = TcpListener::bind(addr).expect("bind tcp");
        let addr = listener.local_addr().unwrap();
        let data = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = data.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let sink = sink.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    while let Ok(n) = conn.read(&mut buf) {
                        if n == 0 {
                            return;
                        }
                        sink.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                });
            }
        });
        Self { addr, data }
    }

    pub fn data(&self) -> Vec<u8> {
        self.data.lock().unwrap().clone()
    }

    /// Waits up to 10 s until `pred` holds for the captured bytes.
    pub fn wait(&self, pred: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let d = self.data();
            if pred(&d) || Instant::now() >= deadline {
                return d;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn parses_node_inspect_output() {
    let text = "{\n  'statsd.bad_lines_seen': 0,\n  foo: 10000,\n  'a;b=c': -5\n}\nEND\n\n";
    let m = parse_inspect(text);
    assert_eq!(m["statsd.bad_lines_seen"], Val::Num(0.0));
    assert_eq!(m["foo"], Val::Num(10000.0));
    assert_eq!(m["a;b=c"], Val::Num(-5.0));
    let t = parse_inspect("{ t: [\n  1, 2.5,\n  3 ] }\nEND\n\n");
    assert_eq!(t["t"], Val::List(vec![1.0, 2.5, 3.0]));
}
