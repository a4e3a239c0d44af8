//! One request's measurement, recorded exactly once when it is dropped.
//!
//! Ownership does the bookkeeping: the [`Recording`] moves from the service call into
//! the response future and then into the response body, and whoever holds it last
//! drops it — at the body's end of stream, at an error, or when anything in between is
//! dropped early. No flag can be forgotten, and no path records twice.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderValue};

use super::labels::{grpc_status_label, Route, CANCELLED_STATUS, GRPC_STATUS_MISSING};
use super::layer::Shared;
use tachometer_core::Gauge;

pub(crate) struct Recording<C> {
    pub(crate) shared: Arc<Shared<C>>,
    method: &'static str,
    route: Route,
    start: Instant,
    /// `http_response_status_code`; `cancelled` until a response arrives.
    pub(crate) status: &'static str,
    /// `Some(rpc_grpc_status_code)` once the exchange is known to be gRPC.
    grpc: Option<&'static str>,
    /// The in-flight series of this request's method, decremented on drop.
    in_flight: Option<Gauge>,
}

impl<C> Recording<C> {
    pub(crate) fn start(
        shared: Arc<Shared<C>>,
        method: &'static str,
        route: Route,
        grpc: bool,
    ) -> Self {
        let in_flight = shared.active.with_labels(&[method]).ok().cloned();
        if let Some(g) = &in_flight {
            g.increment(1);
        }
        Self {
            shared,
            method,
            route,
            start: Instant::now(),
            status: CANCELLED_STATUS,
            grpc: grpc.then_some(GRPC_STATUS_MISSING),
            in_flight,
        }
    }

    /// Notes the response headers: gRPC content type, and a `grpc-status` sent in
    /// headers (a gRPC "trailers-only" response).
    pub(crate) fn response_headers(&mut self, headers: &HeaderMap) {
        if self.grpc.is_none() && is_grpc(headers) {
            self.grpc = Some(GRPC_STATUS_MISSING);
        }
        self.grpc_status_from(headers);
    }

    /// Takes `grpc-status` from headers or trailers, if this is a gRPC exchange.
    pub(crate) fn grpc_status_from(&mut self, headers: &HeaderMap) {
        if let (Some(code), Some(value)) = (self.grpc.as_mut(), headers.get("grpc-status")) {
            *code = grpc_status_label(value.as_bytes());
        }
    }
}

/// Whether `headers` declare a gRPC message (`application/grpc`, `application/grpc+proto`, …).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .map(HeaderValue::as_bytes)
        .is_some_and(|ct| {
            ct.strip_prefix(b"application/grpc")
                .is_some_and(|rest| rest.is_empty() || rest[0] == b'+' || rest[0] == b';')
        })
}

impl<C> Drop for Recording<C> {
    fn drop(&mut self) {
        let seconds = self.start.elapsed().as_secs_f64();
        if let Some(g) = &self.in_flight {
            g.decrement(1);
        }
        let route = self.route.as_str();
        // The families were registered with exactly these label counts, so lookups
        // cannot fail; if one ever did, losing a sample beats panicking in a drop.
        if let Ok(h) = self
            .shared
            .duration
            .with_labels(&[self.method, route, self.status])
        {
            h.record(seconds);
        }
        if let Some(code) = self.grpc {
            if let Ok(h) = self.shared.grpc_duration.with_labels(&[route, code]) {
                h.record(seconds);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types() {
        let mut h = HeaderMap::new();
        for (ct, want) in [
            ("application/grpc", true),
            ("application/grpc+proto", true),
            ("application/grpc; charset=utf-8", true),
            ("application/grpc-web", false),
            ("application/json", false),
        ] {
            h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
            assert_eq!(is_grpc(&h), want, "{ct}");
        }
        assert!(!is_grpc(&HeaderMap::new()));
    }
}
