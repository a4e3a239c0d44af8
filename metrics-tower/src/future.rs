//! The response future: hands the recording from the call to the response body.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use super::body::MetricsBody;
use super::classify::Classifier;
use super::labels::ERROR_STATUS;
use super::record::Recording;

pin_project! {
    /// The future [`HttpMetrics`](super::HttpMetrics) returns. If the inner service
    /// fails, the request is recorded with status [`ERROR_STATUS`]; if this future is
    /// dropped first, with [`CANCELLED_STATUS`](super::CANCELLED_STATUS).
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: F,
        recording: Option<Recording<C>>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn new(inner: F, recording: Recording<C>) -> Self {
        Self {
            inner,
            recording: Some(recording),
        }
    }
}

impl<F, C, ResBody, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    C: Classifier,
{
    type Output = Result<Response<MetricsBody<ResBody, C>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut recording = this.recording.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(r) = recording.as_mut() {
                    r.status = r.shared.classifier.status(response.status());
                    r.response_headers(response.headers());
                }
                Ok(response.map(|body| MetricsBody::new(body, recording)))
            }
            Err(e) => {
                if let Some(r) = recording.as_mut() {
                    r.status = ERROR_STATUS;
                }
                // Dropping the recording records the failed request now.
                drop(recording);
                Err(e)
            }
        })
    }
}
