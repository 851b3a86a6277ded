//! Course endpoints: create, list, read, enrol, cancel an enrollment, mine, roster.
use actix_web::{HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    attendance,
    dto::{
        AttendanceView, AuditEntry, CheckIn, CheckInCode, CourseQuery, CourseView, CreateCourse,
        DrawView, Enroll, EnrollmentView, Promote, Roster, UpdateCourse,
    },
    lottery, service,
};
use crate::{
    auth::CurrentUser,
    error::{AppError, ErrorEnvelope},
    http::{Json, Page, PageParams, Query},
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_course)
        .service(list_courses)
        .service(get_course)
        .service(enroll)
        .service(cancel_enrollment)
        .service(my_enrollments)
        .service(roster)
        .service(update_course)
        .service(cancel_course)
        .service(promote)
        .service(audit_log)
        .service(draw)
        .service(check_in_code)
        .service(check_in)
        .service(course_attendance);
}

/// A fresh code for the session, good for 15 minutes, to show at the door (staff).
#[utoipa::path(
    tag = "courses",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = CheckInCode), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[post("/course-sessions/{id}/check-in-code")]
async fn check_in_code(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(attendance::new_code(&state.db, &me, &id, state.now()).await?))
}

/// Check in with the code at the door: the caller's enrolled participants (or one child).
#[utoipa::path(
    tag = "courses",
    params(("id" = String, Path, description = "session id")),
    request_body = CheckIn,
    responses(
        (status = 200, body = Vec<AttendanceView>),
        (status = 403, description = "`not_enrolled`", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, description = "`check_in_code_invalid`, `validation_failed`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/course-sessions/{id}/check-in")]
async fn check_in(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<CheckIn>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .json(attendance::check_in(&state.db, &me, &id, body.0, state.now()).await?))
}

/// Who checked in to which session of the course (staff), in the order they did.
#[utoipa::path(
    tag = "courses",
    params(("id" = String, Path), PageParams),
    responses((status = 200, body = Page<AttendanceView>), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[get("/courses/{id}/attendance")]
async fn course_attendance(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(attendance::of_course(&state.db, &me, &id, &page).await?))
}

/// Change a course (staff); a larger capacity promotes from the waitlist at once, and the
/// participants are told.
#[utoipa::path(
    tag = "courses",
    params(("id" = String, Path)),
    request_body = UpdateCourse,
    responses(
        (status = 200, body = CourseView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`course_cancelled`, `capacity_below_enrolled`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[patch("/courses/{id}")]
async fn update_course(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<UpdateCourse>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::update(&state.db, &me, &id, body.0, state.now()).await?))
}

/// Cancel a course (staff): every enrollment is cancelled and everyone told.
#[utoipa::path(
    tag = "courses",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = CourseView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`course_cancelled`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/courses/{id}/cancel")]
async fn cancel_course(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::cancel_course(&state.db, &me, &id, state.now()).await?))
}

/// Seat a waitlisted participant now, ahead of the queue (staff, with a reason for the audit log).
#[utoipa::path(
    tag = "courses",
    params(("id" = String, Path)),
    request_body = Promote,
    responses(
        (status = 200, body = EnrollmentView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`: not waitlisted", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/enrollments/{id}/promote")]
async fn promote(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<Promote>,
) -> Result<HttpResponse, AppError> {
    let reason = body.0.reason.trim().to_owned();
    Ok(HttpResponse::Ok().json(service::promote(&state.db, &me, &id, reason, state.now()).await?))
}

/// A lottery course's draw (staff): the seed, the applicants in drawn order, what each got, and
/// how to replay it.
#[utoipa::path(
    tag = "courses",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = DrawView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`not_a_lottery`, `not_drawn_yet`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[get("/courses/{id}/draw")]
async fn draw(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(lottery::show(&state.db, &me, &id).await?))
}

/// Every staff action on the course, oldest first: who, when, what, why.
#[utoipa::path(
    tag = "courses",
    params(("id" = String, Path), PageParams),
    responses((status = 200, body = Page<AuditEntry>), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[get("/courses/{id}/audit")]
async fn audit_log(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::audit_log(&state.db, &me, &id, &page).await?))
}

/// Create a course in the caller's community (staff).
#[utoipa::path(
    tag = "courses",
    request_body = CreateCourse,
    responses(
        (status = 201, body = CourseView),
        (status = 403, body = ErrorEnvelope),
        (status = 409, description = "`not_in_community`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/courses")]
async fn create_course(
    state: web::Data<AppState>,
    me: CurrentUser,
    body: Json<CreateCourse>,
) -> Result<HttpResponse, AppError> {
    let created = service::create(&state.db, &me, body.0, state.now()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// The caller's community's courses, newest first; `status` follows the clock.
#[utoipa::path(tag = "courses", params(CourseQuery), responses((status = 200, body = Page<CourseView>)), security(("bearer" = [])))]
#[get("/courses")]
async fn list_courses(
    state: web::Data<AppState>,
    me: CurrentUser,
    query: Query<CourseQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::list(&state.db, &me, &query, state.now()).await?))
}

/// One course.
#[utoipa::path(
    tag = "courses",
    params(("id" = String, Path)),
    responses((status = 200, body = CourseView), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[get("/courses/{id}")]
async fn get_course(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::get(&state.db, &me, &id, state.now()).await?))
}

/// Enrol oneself or a dependent: `enrolled` while seats are left, then `waitlisted`.
#[utoipa::path(
    tag = "courses",
    params(("id" = String, Path)),
    request_body = Enroll,
    responses(
        (status = 201, body = EnrollmentView),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`registration_not_open`, `already_enrolled`, `enrollment_limit_reached`, `waitlist_full`, `course_cancelled`", body = ErrorEnvelope),
        (status = 422, description = "`not_eligible` (age), `validation_failed`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/courses/{id}/enrollments")]
async fn enroll(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<Enroll>,
) -> Result<HttpResponse, AppError> {
    let created =
        service::enroll(&state.db, &state.enrolments, me, &id, body.0, state.now()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Cancel an enrollment (its owner or staff); a freed seat goes to the first on the waitlist.
#[utoipa::path(
    tag = "courses",
    params(("id" = String, Path)),
    responses((status = 204, description = "cancelled"), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[delete("/enrollments/{id}")]
async fn cancel_enrollment(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    service::cancel(&state.db, &me, &id, state.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's enrollments (their own and their dependents'), newest first.
#[utoipa::path(tag = "courses", params(PageParams), responses((status = 200, body = Page<EnrollmentView>)), security(("bearer" = [])))]
#[get("/me/enrollments")]
async fn my_enrollments(
    state: web::Data<AppState>,
    me: CurrentUser,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::mine(&state.db, &me, &page).await?))
}

/// Enrolled participants and the waitlist in position order (staff).
#[utoipa::path(
    tag = "courses",
    params(("id" = String, Path)),
    responses((status = 200, body = Roster), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[get("/courses/{id}/roster")]
async fn roster(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::roster(&state.db, &me, &id).await?))
}
