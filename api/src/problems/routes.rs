//! Problems-inbox endpoints: the list, take, close.
use actix_web::{HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::service::{self, CloseProblem, ProblemQuery, ProblemView};
use crate::{
    auth::CurrentUser,
    error::{AppError, ErrorEnvelope},
    http::{Json, Page, Query},
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_problems).service(take).service(close);
}

/// The community's inbox: urgent first, then oldest (staff).
#[utoipa::path(
    tag = "problems",
    params(("id" = String, Path, description = "community id"), ProblemQuery),
    responses(
        (status = 200, body = Page<ProblemView>),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[get("/communities/{id}/problems")]
async fn list_problems(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    query: Query<ProblemQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::list(&state.db, &me, &id, &query.0).await?))
}

/// "I'll handle it" (staff); whoever held it is told.
#[utoipa::path(
    tag = "problems",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = ProblemView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`: already closed", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/problems/{id}/take")]
async fn take(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::take(&state.db, &me, &id, state.now()).await?))
}

/// Close with what was done (staff).
#[utoipa::path(
    tag = "problems",
    params(("id" = String, Path)),
    request_body = CloseProblem,
    responses(
        (status = 200, body = ProblemView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`: already closed", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/problems/{id}/close")]
async fn close(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<CloseProblem>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::close(&state.db, &me, &id, body.0, state.now()).await?))
}
