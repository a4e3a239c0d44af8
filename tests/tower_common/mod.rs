//! Helpers shared by the tower middleware tests: reading series back out of a
//! registry, and response bodies that stream, fail, or carry trailers on cue.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame};
use tachometer::{Labels, Registry, Value, Visitor};

/// One histogram or gauge series as read from a registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub count: u64,
    pub sum: f64,
    pub gauge: i64,
}

impl Series {
    pub fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("series {self:?} has no label {name}"))
    }
}

/// Every series of the family `name`, in first-use order.
pub fn series(registry: &Registry, name: &str) -> Vec<Series> {
    struct Collect<'a> {
        name: &'a str,
        out: Vec<Series>,
    }
    impl Visitor for Collect<'_> {
        fn series(
            &mut self,
            family: &tachometer::Descriptor,
            labels: Labels<'_>,
            value: Value<'_>,
        ) {
            if family.name() != self.name {
                return;
            }
            let mut s = Series {
                labels: labels
                    .iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect(),
                count: 0,
                sum: 0.0,
                gauge: 0,
            };
            match value {
                Value::Histogram { counts, sum, .. } => {
                    s.count = counts.iter().sum();
                    s.sum = sum;
                }
                Value::NativeHistogram(h) => {
                    s.count = h.count;
                    s.sum = h.sum;
                }
                Value::Gauge(g) => s.gauge = g,
                other => panic!("unexpected value {other:?} in {}", self.name),
            }
            self.out.push(s);
        }
    }
    let mut c = Collect {
        name,
        out: Vec::new(),
    };
    registry.visit(&mut c);
    c.out
}

/// The one series of `name` whose labels are exactly `labels` (panics if absent).
pub fn find(registry: &Registry, name: &str, labels: &[(&str, &str)]) -> Series {
    let all = series(registry, name);
    all.iter()
        .find(|s| {
            s.labels.len() == labels.len()
                && s.labels
                    .iter()
                    .zip(labels)
                    .all(|((n, v), (en, ev))| n == en && v == ev)
        })
        .cloned()
        .unwrap_or_else(|| panic!("no series {labels:?} in {name}; have {all:?}"))
}

/// Sum of the in-flight gauge over all methods.
pub fn in_flight(registry: &Registry) -> i64 {
    series(registry, "http_server_active_requests")
        .iter()
        .map(|s| s.gauge)
        .sum()
}

/// Polls `cond` every 10 ms for at most 5 s.
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// A body that yields `chunks` chunks, each after `delay`.
pub struct SlowBody {
    chunks: usize,
    delay: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl SlowBody {
    pub fn new(chunks: usize, delay: Duration) -> Self {
        Self {
            chunks,
            delay,
            sleep: None,
        }
    }
}

impl Body for SlowBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.chunks == 0 {
            return Poll::Ready(None);
        }
        let delay = self.delay;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        self.chunks -= 1;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"chunk\n")))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks == 0
    }
}

/// A body that plays back a fixed list of frames (or errors) and then ends.
#[derive(Debug, Default)]
pub struct Frames {
    frames: VecDeque<Result<Frame<Bytes>, std::io::Error>>,
}

impl Frames {
    pub fn data(mut self, chunk: &'static [u8]) -> Self {
        self.frames
            .push_back(Ok(Frame::data(Bytes::from_static(chunk))));
        self
    }
    pub fn trailers(mut self, trailers: HeaderMap) -> Self {
        self.frames.push_back(Ok(Frame::trailers(trailers)));
        self
    }
    pub fn error(mut self) -> Self {
        self.frames
            .push_back(Err(std::io::Error::other("stream broke")));
        self
    }
}

impl Body for Frames {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.frames.pop_front())
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
    }
}
