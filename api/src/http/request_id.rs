//! The request id: set by `tracing-actix-web`, echoed in `X-Request-Id`, carried in every log
//! line of the request (its span) and in error envelopes (a task-local, since actix renders
//! errors without the request at hand). And the request's log line: one at info per request,
//! with no query string, path parameters or body, since those can carry personal data.
use std::time::Instant;

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

use super::ClientAddr;
use crate::error::AppError;

tokio::task_local! {
    static REQUEST_ID: String;
}

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The current request's id, or `-` outside a request.
pub fn current() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}

/// Sets the request id for the request's errors and its header, and logs the request line.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let outcome = REQUEST_ID.scope(id.clone(), next.call(req)).await;
    log_request(&outcome, started);
    let mut res = outcome?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, value);
    }
    Ok(res)
}

/// The request line, at info, inside the request's span (which names the request id, method,
/// route pattern and client). A refusal (4xx) adds its code at debug: it is the client's
/// business, not the operator's. A 5xx's cause was logged at error where it was rendered
/// (`AppError::error_response`), once.
fn log_request<B>(outcome: &Result<ServiceResponse<B>, Error>, started: Instant) {
    // To the microsecond: more digits only make the line longer.
    let latency_ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let (status, error) = match outcome {
        Ok(res) => (res.status(), res.response().error()),
        Err(err) => (err.as_response_error().status_code(), Some(err)),
    };
    tracing::info!(status = status.as_u16(), latency_ms, "request");
    if status.is_client_error() {
        // Only the stable code: a message or details can echo what the client sent.
        let code = error
            .and_then(|err| err.as_error::<AppError>())
            .map_or("-", AppError::code);
        tracing::debug!(status = status.as_u16(), code, "request refused");
    }
}

/// The route pattern a request matched, found once (matching walks every route) by the root
/// span and read by the metrics middleware.
#[derive(Clone)]
pub struct RoutePattern(pub String);

impl RoutePattern {
    pub fn of(request: &ServiceRequest) -> String {
        request
            .extensions()
            .get::<RoutePattern>()
            .map(|p| p.0.clone())
            .or_else(|| request.match_pattern())
            .unwrap_or_else(|| "unmatched".to_owned())
    }
}

/// Root span of each request: request id, method, route pattern and client address. No query
/// string and no raw path, since those can carry personal data (a name or phone searched for).
pub struct LinliRootSpan;

impl RootSpanBuilder for LinliRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        request.extensions_mut().insert(RoutePattern(route.clone()));
        let client = ClientAddr::of(request.request());
        tracing::info_span!(
            "http_request",
            request_id = %request_id,
            method = %request.method(),
            route = %route,
            client = %client,
            status = tracing::field::Empty,
        )
    }

    /// Records the status only: the request line is `middleware`'s, and errors are logged
    /// where they are rendered.
    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(res) => res.status().as_u16(),
            Err(err) => err.as_response_error().status_code().as_u16(),
        };
        span.record("status", status);
    }
}
