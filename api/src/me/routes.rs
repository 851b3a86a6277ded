//! `/me` and `/me/dependents`.
use actix_web::{HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    dto::{CreateDependent, DependentView, ProfilePatch},
    service,
};
use crate::{
    auth::CurrentUser,
    community::users::{UserView, Viewer, local_date},
    error::{AppError, ErrorEnvelope},
    http::{Json, Page, PageParams, Query},
    moderation::{self, Scene},
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_me)
        .service(patch_me)
        .service(list_dependents)
        .service(add_dependent)
        .service(remove_dependent);
}

/// The caller.
#[utoipa::path(tag = "me", responses((status = 200, body = UserView)), security(("bearer" = [])))]
#[get("/me")]
async fn get_me(state: web::Data<AppState>, me: CurrentUser) -> Result<HttpResponse, AppError> {
    let view = UserView::load(&state.db, me.user, state.now(), Viewer::SelfOrStaff).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Change one's profile: nickname, birth date, phone, community and unit, address, dietary notes.
#[utoipa::path(
    tag = "me",
    request_body = ProfilePatch,
    responses(
        (status = 200, body = UserView),
        (status = 422, description = "`validation_failed`, or `content_rejected` for a risky nickname", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[patch("/me")]
async fn patch_me(
    state: web::Data<AppState>,
    me: CurrentUser,
    body: Json<ProfilePatch>,
) -> Result<HttpResponse, AppError> {
    // A nickname is shown to neighbours: risky ones are refused (there is no review queue for
    // nicknames, so "review" lets it through).
    if let Some(nickname) = body.nickname.as_deref() {
        moderation::screen(&state, &me.user.openid, Scene::Profile, nickname).await?;
    }
    let change = service::update_profile(&state.db, me.id(), body.0, state.now()).await?;
    if change.moved {
        crate::live::close_users(&state, vec![me.id().to_owned()]);
    }
    Ok(HttpResponse::Ok().json(change.view))
}

/// The caller's dependents, oldest first.
#[utoipa::path(tag = "me", params(PageParams), responses((status = 200, body = Page<DependentView>)), security(("bearer" = [])))]
#[get("/me/dependents")]
async fn list_dependents(
    state: web::Data<AppState>,
    me: CurrentUser,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    let today = local_date(state.now(), "Asia/Shanghai");
    let rows = service::dependents(&state.db, me.id(), &page).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        page.limit(),
        |d| d.id.clone(),
        |d| DependentView::new(d, today),
    )))
}

/// Register a family member (a child) one can enrol in classes.
#[utoipa::path(
    tag = "me",
    request_body = CreateDependent,
    responses(
        (status = 201, body = DependentView),
        (status = 409, description = "`too_many_dependents`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/me/dependents")]
async fn add_dependent(
    state: web::Data<AppState>,
    me: CurrentUser,
    body: Json<CreateDependent>,
) -> Result<HttpResponse, AppError> {
    let now = state.now();
    let dependent = service::add_dependent(&state.db, me.id(), body.0, now).await?;
    Ok(HttpResponse::Created().json(DependentView::new(
        dependent,
        local_date(now, "Asia/Shanghai"),
    )))
}

/// Remove a dependent.
#[utoipa::path(
    tag = "me",
    params(("id" = String, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[delete("/me/dependents/{id}")]
async fn remove_dependent(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    service::remove_dependent(&state.db, me.id(), &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
