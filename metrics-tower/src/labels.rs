//! Label values as `&'static str`, so that building a label set per request never
//! allocates: methods and status codes come from fixed tables, and routes are borrowed
//! or reference-counted, never copied.

use std::fmt;
use std::sync::Arc;

use http::{Method, StatusCode};

/// `http_route` of requests that matched no route (axum's fallback, a 404, or any
/// request without a route template). One shared value keeps scanners and typos from
/// minting a series per path.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// `http_request_method` of methods outside the OpenTelemetry list of known methods
/// (extension methods such as `PROPFIND` or garbage), as the convention prescribes.
pub const OTHER_METHOD: &str = "_OTHER";

/// `http_response_status_code` of requests that produced no complete response because
/// the server failed: the inner service returned an error, or the response body
/// yielded an error while streaming.
pub const ERROR_STATUS: &str = "error";

/// `http_response_status_code` of requests abandoned before the inner service
/// answered (the response future was dropped, e.g. the client disconnected or a
/// timeout layer gave up).
pub const CANCELLED_STATUS: &str = "cancelled";

/// `rpc_grpc_status_code` of gRPC calls whose response carried no `grpc-status` in its
/// headers or trailers (the stream ended early, errored, or was dropped).
pub const GRPC_STATUS_MISSING: &str = "missing";

/// The `http_request_method` label value: the method's name for the nine methods of
/// RFC 9110 and RFC 5789, [`OTHER_METHOD`] for anything else.
///
/// ```
/// use tachometer::tower::method_label;
/// assert_eq!(method_label(&http::Method::GET), "GET");
/// assert_eq!(method_label(&http::Method::from_bytes(b"PROPFIND").unwrap()), "_OTHER");
/// ```
#[must_use]
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => OTHER_METHOD,
    }
}

/// Every status code `http` can represent (100..=999), three ASCII digits each, so a
/// code's label is a slice of one static string.
const STATUS_DIGITS: [u8; 2700] = {
    let mut digits = [0u8; 2700];
    let mut code = 100;
    while code < 1000 {
        let i = (code - 100) * 3;
        digits[i] = b'0' + (code / 100) as u8;
        digits[i + 1] = b'0' + (code / 10 % 10) as u8;
        digits[i + 2] = b'0' + (code % 10) as u8;
        code += 1;
    }
    digits
};

/// The `http_response_status_code` label value: the three-digit code.
///
/// ```
/// use tachometer::tower::status_label;
/// assert_eq!(status_label(http::StatusCode::NOT_FOUND), "404");
/// ```
#[must_use]
pub fn status_label(status: StatusCode) -> &'static str {
    let code = usize::from(status.as_u16());
    if !(100..1000).contains(&code) {
        // `StatusCode` guarantees 100..=999; this only keeps a future change from panicking.
        return ERROR_STATUS;
    }
    let i = (code - 100) * 3;
    std::str::from_utf8(&STATUS_DIGITS[i..i + 3]).unwrap_or(ERROR_STATUS)
}

/// `rpc_grpc_status_code` of a `grpc-status` value outside the codes gRPC defines.
pub const GRPC_STATUS_OTHER: &str = "_OTHER";

/// The `rpc_grpc_status_code` label value for a `grpc-status` header value: `"0"` to
/// `"16"` for the codes gRPC defines, [`GRPC_STATUS_OTHER`] for anything else.
///
/// ```
/// use tachometer::tower::grpc_status_label;
/// assert_eq!(grpc_status_label(b"5"), "5");
/// assert_eq!(grpc_status_label(b"42"), "_OTHER");
/// ```
#[must_use]
pub fn grpc_status_label(value: &[u8]) -> &'static str {
    const CODES: [&str; 17] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    ];
    CODES
        .iter()
        .find(|c| c.as_bytes() == value)
        .copied()
        .unwrap_or(GRPC_STATUS_OTHER)
}

/// The `http_route` label value: a route *template*, never a raw path.
///
/// Cloning is free or a reference-count increment, so the layer can carry the route
/// from the request to the end of the response body without allocating.
#[derive(Clone)]
pub struct Route(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
    #[cfg(feature = "axum")]
    Axum(axum::extract::MatchedPath),
}

impl Route {
    /// The value shared by all requests that matched no route ([`UNMATCHED_ROUTE`]).
    pub const UNMATCHED: Route = Route(Repr::Static(UNMATCHED_ROUTE));

    /// A route from a static template, e.g. `Route::from_static("/users/{id}")`.
    #[must_use]
    pub const fn from_static(template: &'static str) -> Self {
        Route(Repr::Static(template))
    }

    /// A route from a shared template. Keep the `Arc` and clone it per request: building
    /// a new one per request allocates.
    #[must_use]
    pub fn shared(template: Arc<str>) -> Self {
        Route(Repr::Shared(template))
    }

    /// The route axum matched (feature `axum`); cloning it is a reference-count increment.
    #[cfg(feature = "axum")]
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    #[must_use]
    pub fn from_matched_path(path: &axum::extract::MatchedPath) -> Self {
        Route(Repr::Axum(path.clone()))
    }

    /// The template.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
            #[cfg(feature = "axum")]
            Repr::Axum(p) => p.as_str(),
        }
    }
}

impl From<&'static str> for Route {
    fn from(template: &'static str) -> Self {
        Self::from_static(template)
    }
}

impl From<Arc<str>> for Route {
    fn from(template: Arc<str>) -> Self {
        Self::shared(template)
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Route").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_code_maps_to_its_digits() {
        for code in 100..1000u16 {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(status_label(status), code.to_string());
        }
    }

    #[test]
    fn known_methods_keep_their_name_and_others_fold() {
        for m in [
            "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
        ] {
            assert_eq!(method_label(&Method::from_bytes(m.as_bytes()).unwrap()), m);
        }
        for m in ["PROPFIND", "get", "QUERYX"] {
            assert_eq!(
                method_label(&Method::from_bytes(m.as_bytes()).unwrap()),
                OTHER_METHOD
            );
        }
    }

    #[test]
    fn grpc_codes_zero_to_sixteen_and_nothing_else() {
        for code in 0..=16 {
            assert_eq!(
                grpc_status_label(code.to_string().as_bytes()),
                code.to_string()
            );
        }
        for bad in [&b"17"[..], b"-1", b"", b"00", b"ok"] {
            assert_eq!(grpc_status_label(bad), GRPC_STATUS_OTHER);
        }
    }

    #[test]
    fn routes_compare_by_template() {
        assert_eq!(Route::from_static("/a"), Route::shared(Arc::from("/a")));
        assert_eq!(Route::UNMATCHED.as_str(), UNMATCHED_ROUTE);
    }
}
