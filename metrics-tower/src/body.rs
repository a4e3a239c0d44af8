//! The response body wrapper: the request is timed until this body ends.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::labels::ERROR_STATUS;
use super::record::Recording;

pin_project! {
    /// A response body that records its request when it ends: at the end of the
    /// stream (the last frame, or trailers — where gRPC's `grpc-status` is read), at
    /// an error (status [`ERROR_STATUS`]), or when dropped unfinished (a client that
    /// went away; recorded with the status already sent). Exactly once in any case.
    ///
    /// Data and errors pass through unchanged.
    pub struct MetricsBody<B, C> {
        #[pin]
        inner: B,
        recording: Option<Recording<C>>,
    }
}

impl<B, C> MetricsBody<B, C> {
    pub(crate) fn new(inner: B, recording: Option<Recording<C>>) -> Self {
        Self { inner, recording }
    }
}

impl<B: Body, C> Body for MetricsBody<B, C> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        match &frame {
            None => {
                this.recording.take();
            }
            Some(Ok(f)) => {
                if let (Some(trailers), Some(r)) = (f.trailers_ref(), this.recording.as_mut()) {
                    r.grpc_status_from(trailers);
                }
                // Servers stop polling once `is_end_stream` is true, so the last data
                // frame, not a later `None`, is the end of the response.
                if this.inner.is_end_stream() {
                    this.recording.take();
                }
            }
            Some(Err(_)) => {
                if let Some(mut r) = this.recording.take() {
                    r.status = ERROR_STATUS;
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: std::fmt::Debug, C> std::fmt::Debug for MetricsBody<B, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsBody")
            .field("inner", &self.inner)
            .field("recording", &self.recording.is_some())
            .finish()
    }
}
