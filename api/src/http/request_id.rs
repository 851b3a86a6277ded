//! The request id: set by `tracing-actix-web`, echoed in `X-Request-Id`, carried in every log
//! line of the request (its span) and in error envelopes (a task-local, since actix renders
//! errors without the request at hand).
use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

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

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut res = REQUEST_ID.scope(id.clone(), next.call(req)).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, value);
    }
    Ok(res)
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

/// Root span of each request: method, route pattern and request id. No query string and no
/// raw path, since those can carry personal data (a name or phone searched for).
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
        tracing::info_span!(
            "http_request",
            request_id = %request_id,
            method = %request.method(),
            route = %route,
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(res) => res.status().as_u16(),
            Err(err) => err.as_response_error().status_code().as_u16(),
        };
        span.record("status", status);
        let _entered = span.enter();
        if status >= 500 {
            tracing::warn!(status, "request failed");
        } else {
            tracing::debug!(status, "request done");
        }
    }
}
