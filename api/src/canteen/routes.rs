//! Canteen endpoints: menus, reservations, standing orders, the kitchen's list, the free-meal
//! roster and the monthly report.
use actix_web::{HttpRequest, HttpResponse, delete, get, http::header, post, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    dto::{
        CreateMenu, KitchenList, MenuQuery, MenuView, MonthlyReport, PutStandingOrder, ReportQuery,
        ReservationView, Reserve, RosterOutcome, StandingOrderView,
    },
    report, roster, service,
    standing::{self, Whose},
};
use crate::{
    auth::CurrentUser,
    error::{AppError, ErrorEnvelope},
    http::{Json, Page, PageParams, Query},
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_menu)
        .service(list_menus)
        .service(get_menu)
        .service(reserve)
        .service(kitchen_list)
        .service(free_meal_roster)
        .service(get_reservation)
        .service(cancel_reservation)
        .service(my_reservations)
        .service(my_standing_order)
        .service(put_my_standing_order)
        .service(delete_my_standing_order)
        .service(member_standing_order)
        .service(put_member_standing_order)
        .service(delete_member_standing_order)
        .service(monthly_report);
}

/// Publish a menu (staff). Standing orders are served before anyone else can reserve.
#[utoipa::path(
    tag = "canteen",
    request_body = CreateMenu,
    responses(
        (status = 201, body = MenuView),
        (status = 403, body = ErrorEnvelope),
        (status = 409, description = "`menu_exists`, `not_in_community`", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/canteen/menus")]
async fn create_menu(
    state: web::Data<AppState>,
    me: CurrentUser,
    body: Json<CreateMenu>,
) -> Result<HttpResponse, AppError> {
    let created = service::create_menu(&state.db, &me, body.0, state.now()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// The community's menus from `from` to `to`, both included, by date then slot.
#[utoipa::path(tag = "canteen", params(MenuQuery), responses((status = 200, body = Page<MenuView>)), security(("bearer" = [])))]
#[get("/canteen/menus")]
async fn list_menus(
    state: web::Data<AppState>,
    me: CurrentUser,
    query: Query<MenuQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::list_menus(&state.db, &me, &query.0).await?))
}

#[utoipa::path(tag = "canteen", params(("id" = String, Path)), responses((status = 200, body = MenuView), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
#[get("/canteen/menus/{id}")]
async fn get_menu(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::get_menu(&state.db, &me, &id).await?))
}

/// Reserve a place, to dine in or delivered; the price is computed and frozen.
#[utoipa::path(
    tag = "canteen",
    params(("id" = String, Path)),
    request_body = Reserve,
    responses(
        (status = 201, body = ReservationView),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`sold_out`, `already_reserved`, `reservation_closed`, `not_in_community`", body = ErrorEnvelope),
        (status = 422, description = "`delivery_not_eligible`, `delivery_not_available`, `validation_failed`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/canteen/menus/{id}/reservations")]
async fn reserve(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<Reserve>,
) -> Result<HttpResponse, AppError> {
    let created = service::reserve(&state.db, &me, &id, body.0, state.now()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// The kitchen's list (staff): live reservations with names and dietary notes, a page at a
/// time, and the whole meal's totals.
#[utoipa::path(tag = "canteen", params(("id" = String, Path), PageParams), responses((status = 200, body = KitchenList), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
#[get("/canteen/menus/{id}/reservations")]
async fn kitchen_list(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::kitchen_list(&state.db, &me, &id, &page).await?))
}

/// A free delivered meal for every empty-nest or hardship member who has none (staff; free-meal
/// days only). Idempotent.
#[utoipa::path(
    tag = "canteen",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = RosterOutcome),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`not_free_meal_day`, `reservation_closed`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/canteen/menus/{id}/free-meal-roster")]
async fn free_meal_roster(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(roster::run(&state.db, &me, &id, state.now()).await?))
}

#[utoipa::path(tag = "canteen", params(("id" = String, Path)), responses((status = 200, body = ReservationView), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
#[get("/canteen/reservations/{id}")]
async fn get_reservation(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::get_reservation(&state.db, &me, &id).await?))
}

/// Cancel before the cut-off (its owner or staff): the place is freed, the delivery cancelled.
#[utoipa::path(
    tag = "canteen",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorEnvelope), (status = 409, description = "`reservation_closed`", body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[delete("/canteen/reservations/{id}")]
async fn cancel_reservation(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    service::cancel(&state.db, &me, &id, state.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's reservations, latest meal first.
#[utoipa::path(tag = "canteen", params(PageParams), responses((status = 200, body = Page<ReservationView>)), security(("bearer" = [])))]
#[get("/me/reservations")]
async fn my_reservations(
    state: web::Data<AppState>,
    me: CurrentUser,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::my_reservations(&state.db, &me, &page).await?))
}

#[utoipa::path(tag = "canteen", responses((status = 200, body = StandingOrderView), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
#[get("/me/standing-order")]
async fn my_standing_order(
    state: web::Data<AppState>,
    me: CurrentUser,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(standing::get(&state.db, &me, Whose::Mine).await?))
}

/// Say once which meals one eats every week; replaces the whole order.
#[utoipa::path(
    tag = "canteen",
    request_body = PutStandingOrder,
    responses((status = 200, body = StandingOrderView), (status = 409, description = "`not_in_community`", body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[put("/me/standing-order")]
async fn put_my_standing_order(
    state: web::Data<AppState>,
    me: CurrentUser,
    body: Json<PutStandingOrder>,
) -> Result<HttpResponse, AppError> {
    let saved = standing::put(&state.db, &me, Whose::Mine, body.0, state.now()).await?;
    Ok(HttpResponse::Ok().json(saved))
}

#[utoipa::path(tag = "canteen", responses((status = 204)), security(("bearer" = [])))]
#[delete("/me/standing-order")]
async fn delete_my_standing_order(
    state: web::Data<AppState>,
    me: CurrentUser,
) -> Result<HttpResponse, AppError> {
    standing::delete(&state.db, &me, Whose::Mine).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn member(path: &(String, String)) -> Whose<'_> {
    Whose::Member {
        community_id: &path.0,
        user_id: &path.1,
    }
}

/// A member's standing order (staff).
#[utoipa::path(tag = "canteen", params(("id" = String, Path), ("user_id" = String, Path)), responses((status = 200, body = StandingOrderView), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
#[get("/communities/{id}/members/{user_id}/standing-order")]
async fn member_standing_order(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(standing::get(&state.db, &me, member(&path)).await?))
}

/// Set a member's standing order (staff), for an elder who does not use the phone.
#[utoipa::path(
    tag = "canteen",
    params(("id" = String, Path), ("user_id" = String, Path)),
    request_body = PutStandingOrder,
    responses((status = 200, body = StandingOrderView), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[put("/communities/{id}/members/{user_id}/standing-order")]
async fn put_member_standing_order(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<(String, String)>,
    body: Json<PutStandingOrder>,
) -> Result<HttpResponse, AppError> {
    let saved = standing::put(&state.db, &me, member(&path), body.0, state.now()).await?;
    Ok(HttpResponse::Ok().json(saved))
}

#[utoipa::path(tag = "canteen", params(("id" = String, Path), ("user_id" = String, Path)), responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
#[delete("/communities/{id}/members/{user_id}/standing-order")]
async fn delete_member_standing_order(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    standing::delete(&state.db, &me, member(&path)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The month's figures for the subsidy account (staff); `Accept: text/csv` gives CSV.
#[utoipa::path(
    tag = "canteen",
    params(ReportQuery),
    responses(
        (status = 200, body = MonthlyReport, content_type = "application/json"),
        (status = 200, description = "the rows as CSV", body = String, content_type = "text/csv"),
        (status = 403, body = ErrorEnvelope),
        (status = 409, description = "`not_in_community`", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[get("/canteen/reports/monthly")]
async fn monthly_report(
    state: web::Data<AppState>,
    me: CurrentUser,
    query: Query<ReportQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let figures = report::monthly(&state.db, &me, &query.0.month).await?;
    let wants_csv = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    if wants_csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(report::to_csv(&figures)));
    }
    Ok(HttpResponse::Ok().json(figures))
}
