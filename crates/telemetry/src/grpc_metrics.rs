//! [`GrpcMetricsLayer`]: a tower layer for tonic servers counting every handled gRPC request
//! by method and status code into a [`Metrics`].
//!
//! The code of a unary error comes in the response headers (a trailers-only response); the
//! code of everything else comes in the trailers at the end of the body, so the body is
//! wrapped and counted when its trailers pass. A body dropped before its trailers (the
//! client went away mid-stream) counts as `Cancelled`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::Code;

use crate::metrics::{Def, Metrics};

/// The counter [`GrpcMetricsLayer`] increments, labelled `method` and `code`. A path no
/// service answers (`UNIMPLEMENTED`) is counted as method `other`, so that callers cannot
/// grow the label set.
pub const GRPC_REQUESTS: Def = Def::counter(
    "grpc_server_requests_total",
    "gRPC requests handled, by method and status code.",
);

/// A tower layer for tonic servers counting requests by gRPC method and status code.
#[derive(Debug, Clone)]
pub struct GrpcMetricsLayer {
    metrics: Arc<Metrics>,
}

impl GrpcMetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> tower_layer::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`GrpcMetricsLayer`] wraps around a server's routes.
#[derive(Debug, Clone)]
pub struct GrpcMetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, RB> tower_service::Service<http::Request<B>> for GrpcMetricsService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<RB>>,
{
    type Response = http::Response<CountedBody<RB>>;
    type Error = S::Error;
    type Future = CountedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let recorder = Recorder {
            metrics: self.metrics.clone(),
            method: request.uri().path().to_owned(),
            done: false,
        };
        CountedFuture {
            inner: self.inner.call(request),
            recorder: Some(recorder),
        }
    }
}

/// Counts one request once: with the code it ended with, or `Cancelled` when dropped first.
#[derive(Debug)]
struct Recorder {
    metrics: Arc<Metrics>,
    method: String,
    done: bool,
}

impl Recorder {
    fn finish(&mut self, code: Code) {
        if !self.done {
            self.done = true;
            let method = match code {
                Code::Unimplemented => "other",
                _ => &self.method,
            };
            let code = code_label(code);
            self.metrics
                .inc(&GRPC_REQUESTS, &[("method", method), ("code", &code)]);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

/// `OK`, `NotFound`, `Unavailable`, …: the names Prometheus gRPC dashboards expect.
fn code_label(code: Code) -> String {
    match code {
        Code::Ok => "OK".into(),
        other => format!("{other:?}"),
    }
}

/// The `grpc-status` of a header map, when it has one.
fn status_in(headers: &HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .map(|value| Code::from_bytes(value.as_bytes()))
}

pin_project! {
    /// The response future of [`GrpcMetricsService`].
    #[derive(Debug)]
    pub struct CountedFuture<F> {
        #[pin]
        inner: F,
        recorder: Option<Recorder>,
    }
}

impl<F, RB, E> Future for CountedFuture<F>
where
    F: Future<Output = Result<http::Response<RB>, E>>,
{
    type Output = Result<http::Response<CountedBody<RB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut recorder = this.recorder.take();
        Poll::Ready(result.map(|response| {
            let (parts, body) = response.into_parts();
            if let (Some(code), Some(r)) = (status_in(&parts.headers), recorder.as_mut()) {
                r.finish(code);
            }
            http::Response::from_parts(
                parts,
                CountedBody {
                    inner: body,
                    recorder,
                },
            )
        }))
        // An `Err` drops the recorder: counted as Cancelled (the connection failed).
    }
}

pin_project! {
    /// A response body counted when its trailers carry the gRPC status.
    #[derive(Debug)]
    pub struct CountedBody<B> {
        #[pin]
        inner: B,
        recorder: Option<Recorder>,
    }
}

impl<B: Body> Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(recorder) = this.recorder.as_mut() {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(code) = frame.trailers_ref().and_then(status_in) {
                        recorder.finish(code);
                    }
                }
                Some(Err(_)) => recorder.finish(Code::Internal),
                None => recorder.finish(Code::Unknown),
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
