//! Wish endpoints: post, the wall, review, claim, release, deliver, confirm, withdraw, mine.
use actix_web::{HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    dto::{
        ConfirmWish, CreateWish, DeliverWish, Empty, MyWishesQuery, ReviewWish, WishQuery, WishView,
    },
    service,
};
use crate::{
    auth::CurrentUser,
    error::{AppError, ErrorEnvelope},
    http::{Json, Page, Query},
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_wish)
        .service(list_wishes)
        .service(my_wishes)
        .service(get_wish)
        .service(review_wish)
        .service(claim_wish)
        .service(release_wish)
        .service(deliver_wish)
        .service(confirm_wish)
        .service(withdraw_wish);
}

/// Post a wish for oneself, or (staff, grid leader) for a member.
#[utoipa::path(
    tag = "wishes",
    request_body = CreateWish,
    responses(
        (status = 201, body = WishView),
        (status = 403, description = "posting for someone one may not post for", body = ErrorEnvelope),
        (status = 409, description = "`too_many_open_wishes`, `not_in_community`", body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`, `content_rejected`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/wishes")]
async fn create_wish(
    state: web::Data<AppState>,
    me: CurrentUser,
    body: Json<CreateWish>,
) -> Result<HttpResponse, AppError> {
    let created = service::create(&state, &me, body.0).await?;
    Ok(HttpResponse::Created().json(created))
}

/// The wish wall of the caller's community, newest first.
#[utoipa::path(tag = "wishes", params(WishQuery), responses((status = 200, body = Page<WishView>)), security(("bearer" = [])))]
#[get("/wishes")]
async fn list_wishes(
    state: web::Data<AppState>,
    me: CurrentUser,
    query: Query<WishQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::list(&state.db, &me, &query).await?))
}

/// Wishes I posted (or that are for me), or that I claimed.
#[utoipa::path(tag = "wishes", params(MyWishesQuery), responses((status = 200, body = Page<WishView>)), security(("bearer" = [])))]
#[get("/me/wishes")]
async fn my_wishes(
    state: web::Data<AppState>,
    me: CurrentUser,
    query: Query<MyWishesQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::mine(&state.db, &me, &query).await?))
}

/// One wish; its address and phone only for the current claimer and staff.
#[utoipa::path(
    tag = "wishes",
    params(("id" = String, Path)),
    responses((status = 200, body = WishView), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[get("/wishes/{id}")]
async fn get_wish(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::get(&state.db, &me, &id).await?))
}

/// Approve or reject a wish awaiting review (staff).
#[utoipa::path(
    tag = "wishes",
    params(("id" = String, Path)),
    request_body = ReviewWish,
    responses(
        (status = 200, body = WishView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/wishes/{id}/review")]
async fn review_wish(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<ReviewWish>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::review(&state.db, &me, &id, body.0, state.now()).await?))
}

/// Claim a published wish (volunteers and partners); one of many simultaneous claims wins.
#[utoipa::path(
    tag = "wishes",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = WishView),
        (status = 403, description = "`forbidden`, `cannot_claim_own_wish`", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`already_claimed`, `invalid_state`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/wishes/{id}/claim")]
async fn claim_wish(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    _body: Json<Empty>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::claim(&state, &me, &id).await?))
}

/// Give a claimed wish back to the wall (its claimer).
#[utoipa::path(
    tag = "wishes",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = WishView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/wishes/{id}/release")]
async fn release_wish(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    _body: Json<Empty>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::release(&state.db, &me, &id, state.now()).await?))
}

/// Mark a claimed wish delivered (its claimer).
#[utoipa::path(
    tag = "wishes",
    params(("id" = String, Path)),
    request_body = DeliverWish,
    responses(
        (status = 200, body = WishView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/wishes/{id}/deliver")]
async fn deliver_wish(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<DeliverWish>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::deliver(&state.db, &me, &id, body.0, state.now()).await?))
}

/// Confirm a delivered wish (beneficiary, poster or staff; never its claimer); credits a
/// volunteer claimer's hours.
#[utoipa::path(
    tag = "wishes",
    params(("id" = String, Path)),
    request_body = ConfirmWish,
    responses(
        (status = 200, body = WishView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/wishes/{id}/confirm")]
async fn confirm_wish(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<ConfirmWish>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::confirm(&state.db, &me, &id, body.0, state.now()).await?))
}

/// Withdraw a wish before it is claimed (poster or staff).
#[utoipa::path(
    tag = "wishes",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = WishView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/wishes/{id}/withdraw")]
async fn withdraw_wish(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    _body: Json<Empty>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::withdraw(&state.db, &me, &id, state.now()).await?))
}
