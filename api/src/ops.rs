//! Operations endpoints at the root: liveness, readiness, Prometheus metrics (for loopback and
//! allowed addresses only); and the metrics middleware that counts every request.
use std::{sync::OnceLock, time::Instant};

use actix_web::{
    Error, HttpResponse,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    get,
    middleware::Next,
    web,
};
use entity::outbox;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::{
    error::{AppError, ErrorEnvelope},
    http::ClientAddr,
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(healthz)
        .service(readyz)
        .service(prometheus_metrics);
}

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide metrics recorder once (several apps in one test process share it).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| handle)
        })
        .as_ref()
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
}

/// The process is up.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Whether a dependency answered.
#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Dependency {
    Up,
    Down,
}

impl Dependency {
    fn of(answered: bool) -> Self {
        if answered { Self::Up } else { Self::Down }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    database: Dependency,
    /// Without Redis the API still serves: queued work waits in the outbox and rate limits let
    /// requests through.
    redis: Dependency,
    /// Events committed but not yet handed to Redis; `null` when the database does not answer.
    outbox_backlog: Option<u64>,
}

/// Ready while the database answers; the body also says how Redis and the outbox backlog are.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "the database answers (Redis may be down: see `redis`)", body = Readiness),
        (status = 503, description = "the database does not answer", body = Readiness),
    )
)]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let backlog = outbox::Entity::find()
        .filter(outbox::Column::PublishedAt.is_null())
        .filter(outbox::Column::DoneAt.is_null())
        .count(&state.db)
        .await;
    let body = Readiness {
        database: Dependency::of(backlog.is_ok()),
        redis: Dependency::of(state.redis.ping().await.is_ok()),
        outbox_backlog: backlog.ok(),
    };
    // A load balancer takes an instance out only when it cannot answer anything: without Redis
    // it still serves almost everything, so that is not a reason.
    if body.database == Dependency::Up {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus text format; only for loopback and `LINLI_METRICS_ALLOW` clients (behind a
/// trusted proxy, the forwarded client counts).
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, content_type = "text/plain", body = String),
        (status = 403, description = "`forbidden`: the client is neither loopback nor in `LINLI_METRICS_ALLOW`", body = ErrorEnvelope),
    )
)]
#[get("/metrics")]
async fn prometheus_metrics(
    state: web::Data<AppState>,
    client: ClientAddr,
) -> Result<HttpResponse, AppError> {
    if !client.is_loopback_or_in(&state.settings.metrics_allow) {
        return Err(AppError::Forbidden(
            "metrics are not served to this address",
        ));
    }
    let text = prometheus()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text))
}

/// Counts requests and their latency by route pattern and status.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = crate::http::request_id::RoutePattern::of(&req);
    let res = next.call(req).await?;
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    Ok(res)
}
