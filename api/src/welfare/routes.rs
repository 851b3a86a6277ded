//! Welfare-alert endpoints: the list, acknowledge, resolve.
use actix_web::{HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    dto::{AlertQuery, Resolve, WelfareAlertView},
    service,
};
use crate::{
    auth::CurrentUser,
    error::{AppError, ErrorEnvelope},
    http::{Json, Page, Query},
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_alerts)
        .service(acknowledge)
        .service(resolve);
}

/// The community's welfare alerts, newest first: staff see all, a grid leader those of their
/// own subtree.
#[utoipa::path(
    tag = "welfare",
    params(("id" = String, Path, description = "community id"), AlertQuery),
    responses((status = 200, body = Page<WelfareAlertView>), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[get("/communities/{id}/welfare-alerts")]
async fn list_alerts(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    query: Query<AlertQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::list(&state.db, &me, &id, &query.0).await?))
}

/// Someone is on the way (staff, or a grid leader of the member's unit or above); the others
/// are told and the alert stops escalating.
#[utoipa::path(
    tag = "welfare",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = WelfareAlertView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/welfare-alerts/{id}/acknowledge")]
async fn acknowledge(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::acknowledge(&state.db, &me, &id, state.now()).await?))
}

/// What was found (1–500 characters); the alert is closed.
#[utoipa::path(
    tag = "welfare",
    params(("id" = String, Path)),
    request_body = Resolve,
    responses(
        (status = 200, body = WelfareAlertView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/welfare-alerts/{id}/resolve")]
async fn resolve(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<Resolve>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::resolve(&state.db, &me, &id, body.0, state.now()).await?))
}
