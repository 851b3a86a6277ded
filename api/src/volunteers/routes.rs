//! Volunteer endpoints: applications and their review, teams, availability, hours and the
//! leaderboard.
use actix_web::{HttpResponse, get, post, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    dto::{
        ApplicationQuery, ApplicationReview, ApplicationView, Apply, Availability, CreateTeam,
        HoursEntryView, HoursView, LeaderboardQuery, LeaderboardRow, ManualCredit, TeamView,
    },
    service,
};
use crate::{
    auth::CurrentUser,
    error::{AppError, ErrorEnvelope},
    http::{Json, Page, PageParams, Query},
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(apply)
        .service(list_applications)
        .service(approve_application)
        .service(reject_application)
        .service(create_team)
        .service(list_teams)
        .service(set_availability)
        .service(get_availability)
        .service(my_hours)
        .service(credit_hours)
        .service(leaderboard);
}

/// Apply to volunteer in the community one has joined; its staff are told.
#[utoipa::path(
    tag = "volunteers",
    request_body = Apply,
    responses(
        (status = 201, description = "`pending`", body = ApplicationView),
        (status = 409, description = "`application_exists` (a pending or approved application in this community), `not_in_community` (no community joined)", body = ErrorEnvelope),
        (status = 422, description = "`validation_failed` (including a `team_id` of another community)", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/volunteer/applications")]
async fn apply(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<Apply>,
) -> Result<HttpResponse, AppError> {
    let created = service::apply(&state.db, &user, body.0, state.now()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// A community's volunteer applications, oldest first (staff).
#[utoipa::path(
    tag = "volunteers",
    params(("id" = String, Path, description = "community id"), ApplicationQuery),
    responses(
        (status = 200, body = Page<ApplicationView>),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[get("/communities/{id}/volunteer-applications")]
async fn list_applications(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    query: Query<ApplicationQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::applications(&state.db, &user, &id, &query).await?))
}

/// Approve a pending application (staff of its community): grants `volunteer` there and tells
/// the applicant (`volunteer_approved`).
#[utoipa::path(
    tag = "volunteers",
    params(("id" = String, Path, description = "application id")),
    request_body(content = ApplicationReview, description = "may be empty"),
    responses(
        (status = 200, body = ApplicationView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`: not pending", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/volunteer/applications/{id}/approve")]
async fn approve_application(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    body: Json<ApplicationReview>,
) -> Result<HttpResponse, AppError> {
    let approved = service::approve(&state.db, &user, &id, body.0, state.now()).await?;
    Ok(HttpResponse::Ok().json(approved))
}

/// Reject a pending application (staff of its community); the applicant is told the reason
/// (`volunteer_rejected`) and may apply again.
#[utoipa::path(
    tag = "volunteers",
    params(("id" = String, Path, description = "application id")),
    request_body(content = ApplicationReview, description = "may be empty"),
    responses(
        (status = 200, body = ApplicationView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`: not pending", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/volunteer/applications/{id}/reject")]
async fn reject_application(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    body: Json<ApplicationReview>,
) -> Result<HttpResponse, AppError> {
    let rejected = service::reject(&state.db, &user, &id, body.0, state.now()).await?;
    Ok(HttpResponse::Ok().json(rejected))
}

/// Create a volunteer team (staff).
#[utoipa::path(
    tag = "volunteers",
    params(("id" = String, Path, description = "community id")),
    request_body = CreateTeam,
    responses(
        (status = 201, body = TeamView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/communities/{id}/teams")]
async fn create_team(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    body: Json<CreateTeam>,
) -> Result<HttpResponse, AppError> {
    let created = service::create_team(&state.db, &user, &id, body.0, state.now()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// The community's volunteer teams, oldest first (anyone who belongs to the community).
#[utoipa::path(
    tag = "volunteers",
    params(("id" = String, Path, description = "community id"), PageParams),
    responses((status = 200, body = Page<TeamView>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[get("/communities/{id}/teams")]
async fn list_teams(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::teams(&state.db, &user, &id, &page).await?))
}

/// Replace when one can deliver (approved volunteers of their current community). Weekday 1 is
/// Monday; a date covers both slots. Repeats are collapsed; the answer is what was stored.
#[utoipa::path(
    tag = "volunteers",
    request_body = Availability,
    responses(
        (status = 200, body = Availability),
        (status = 403, description = "not a volunteer of one's community", body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: a weekday outside 1–7, an unknown slot, over 14 weekly entries or 60 dates, a past date or one over a year ahead", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[put("/volunteer/availability")]
async fn set_availability(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<Availability>,
) -> Result<HttpResponse, AppError> {
    let stored = service::set_availability(&state.db, &user, body.0, state.now()).await?;
    Ok(HttpResponse::Ok().json(stored))
}

/// When one can deliver, in the shape `PUT` takes; past dates are left out.
#[utoipa::path(
    tag = "volunteers",
    responses(
        (status = 200, body = Availability),
        (status = 403, description = "not a volunteer of one's community", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[get("/volunteer/availability")]
async fn get_availability(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::availability_of(&state.db, &user, state.now()).await?))
}

/// One's service-hours ledger in every community, newest first and a page at a time, with the
/// total (volunteers).
#[utoipa::path(
    tag = "volunteers",
    params(PageParams),
    responses(
        (status = 200, body = HoursView),
        (status = 403, description = "not a volunteer of one's community", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[get("/volunteer/hours")]
async fn my_hours(
    state: web::Data<AppState>,
    user: CurrentUser,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::my_hours(&state.db, &user, &page).await?))
}

/// Credit a member of the community by hand (staff), for events and service days: 1–1440
/// minutes. Entries are never edited and there are no negative credits; the member is told
/// (`hours_credited`).
#[utoipa::path(
    tag = "volunteers",
    params(("id" = String, Path, description = "community id")),
    request_body = ManualCredit,
    responses(
        (status = 201, body = HoursEntryView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, description = "no such community, or the user is not a member of it", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/communities/{id}/hours")]
async fn credit_hours(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    body: Json<ManualCredit>,
) -> Result<HttpResponse, AppError> {
    let entry = service::credit_manually(&state.db, &user, &id, body.0, state.now()).await?;
    Ok(HttpResponse::Created().json(entry))
}

/// The month's most active volunteers: minutes per person for entries in that month of the
/// community's time zone, most first (ties by user id), a page at a time (anyone who belongs to
/// the community).
#[utoipa::path(
    tag = "volunteers",
    params(("id" = String, Path, description = "community id"), LeaderboardQuery),
    responses(
        (status = 200, body = Page<LeaderboardRow>),
        (status = 404, body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: `month` is not `YYYY-MM`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[get("/communities/{id}/leaderboard")]
async fn leaderboard(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    query: Query<LeaderboardQuery>,
) -> Result<HttpResponse, AppError> {
    let page = service::leaderboard(&state.db, &user, &id, &query, state.now()).await?;
    Ok(HttpResponse::Ok().json(page))
}
