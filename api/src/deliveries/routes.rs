//! Delivery endpoints: dispatch, the board, mine, one delivery, the volunteer's steps, staff
//! assignment and a no-show's reassignment.
use actix_web::{HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    dto::{Assign, BoardQuery, Decline, DeliveryView, DispatchQueued, Fail, Reassign, Reassigned},
    service,
};
use crate::{
    auth::CurrentUser,
    error::{AppError, ErrorEnvelope},
    http::{Json, Page, PageParams, Query},
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(dispatch_menu)
        .service(board)
        .service(my_deliveries)
        .service(get_delivery)
        .service(accept)
        .service(decline)
        .service(pickup)
        .service(complete)
        .service(fail)
        .service(assign)
        .service(reassign);
}

/// Assign the menu's pending deliveries now (staff); the work runs on the dispatch queue.
#[utoipa::path(
    tag = "deliveries",
    params(("id" = String, Path, description = "menu id")),
    responses((status = 202, body = DispatchQueued), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[post("/canteen/menus/{id}/dispatch")]
async fn dispatch_menu(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Accepted()
        .json(service::dispatch_now(&state.db, &me, &id, state.now()).await?))
}

/// The day's board (staff): the deliveries of the date (default today), a page at a time.
#[utoipa::path(tag = "deliveries", params(BoardQuery), responses((status = 200, body = Page<DeliveryView>), (status = 403, body = ErrorEnvelope), (status = 409, description = "`not_in_community`", body = ErrorEnvelope)), security(("bearer" = [])))]
#[get("/deliveries")]
async fn board(
    state: web::Data<AppState>,
    me: CurrentUser,
    query: Query<BoardQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::board(&state.db, &me, &query.0, state.now()).await?))
}

/// The deliveries assigned to the caller, latest date first.
#[utoipa::path(tag = "deliveries", params(PageParams), responses((status = 200, body = Page<DeliveryView>)), security(("bearer" = [])))]
#[get("/me/deliveries")]
async fn my_deliveries(
    state: web::Data<AppState>,
    me: CurrentUser,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::mine(&state.db, &me, &page).await?))
}

/// One delivery (its assigned volunteer or staff).
#[utoipa::path(tag = "deliveries", params(("id" = String, Path)), responses((status = 200, body = DeliveryView), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
#[get("/deliveries/{id}")]
async fn get_delivery(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::get(&state.db, &me, &id).await?))
}

macro_rules! volunteer_step {
    ($name:ident, $path:literal, $doc:literal, $service:ident) => {
        #[doc = $doc]
        #[utoipa::path(
                    tag = "deliveries",
                    params(("id" = String, Path)),
                    responses(
                        (status = 200, body = DeliveryView),
                        (status = 403, body = ErrorEnvelope),
                        (status = 404, body = ErrorEnvelope),
                        (status = 409, description = "`invalid_state`", body = ErrorEnvelope),
                    ),
                    security(("bearer" = []))
                )]
        #[post($path)]
        async fn $name(
            state: web::Data<AppState>,
            me: CurrentUser,
            id: web::Path<String>,
        ) -> Result<HttpResponse, AppError> {
            Ok(HttpResponse::Ok().json(service::$service(&state.db, &me, &id, state.now()).await?))
        }
    };
}

volunteer_step!(
    accept,
    "/deliveries/{id}/accept",
    "The assigned volunteer takes it on.",
    accept
);
volunteer_step!(
    pickup,
    "/deliveries/{id}/pickup",
    "Collected from the canteen.",
    pickup
);
volunteer_step!(
    complete,
    "/deliveries/{id}/complete",
    "Delivered: the meal is served and the volunteer's hours credited.",
    complete
);

/// The assigned volunteer cannot do it: it goes to the next volunteer.
#[utoipa::path(
    tag = "deliveries",
    params(("id" = String, Path)),
    request_body = Decline,
    responses((status = 200, body = DeliveryView), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 409, description = "`invalid_state`", body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[post("/deliveries/{id}/decline")]
async fn decline(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    // Read though unused, so a malformed or invalid body is refused rather than ignored (an
    // empty one reads as `{}`).
    _body: Json<Decline>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::decline(&state.db, &me, &id, state.now()).await?))
}

/// Not delivered; `not_home` alerts the member's grid leaders and the staff at once.
#[utoipa::path(
    tag = "deliveries",
    params(("id" = String, Path)),
    request_body = Fail,
    responses((status = 200, body = DeliveryView), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 409, description = "`invalid_state`", body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[post("/deliveries/{id}/fail")]
async fn fail(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<Fail>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::fail(&state.db, &me, &id, body.0, state.now()).await?))
}

/// Staff put the delivery on a volunteer of their choosing.
#[utoipa::path(
    tag = "deliveries",
    params(("id" = String, Path)),
    request_body = Assign,
    responses((status = 200, body = DeliveryView), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 409, description = "`invalid_state`", body = ErrorEnvelope), (status = 422, description = "`validation_failed` (`not_a_volunteer`)", body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[post("/deliveries/{id}/assign")]
async fn assign(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<Assign>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::assign(&state.db, &me, &id, body.0, state.now()).await?))
}

/// A volunteer who did not turn up: their unfinished deliveries of that meal are reassigned.
#[utoipa::path(
    tag = "deliveries",
    params(("id" = String, Path, description = "community id")),
    request_body = Reassign,
    responses((status = 200, body = Reassigned), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[post("/communities/{id}/deliveries/reassign")]
async fn reassign(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<Reassign>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::reassign(&state.db, &me, &id, body.0, state.now()).await?))
}
