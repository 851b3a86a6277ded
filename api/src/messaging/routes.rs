//! Notifications, subscribe-message grants, and the jobs admin.
use actix_web::{HttpResponse, get, post, web};
use jobs::notify;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    admin,
    dto::{
        DeadJob, MarkRead, NotificationQuery, NotificationView, QueueStats, QuotaView,
        SubscriptionResults, UnreadCount,
    },
    service,
};
use crate::{
    auth::{CurrentUser, Role},
    error::{AppError, ErrorEnvelope},
    http::{Cursor, Json, Page, PageParams, Query},
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_notifications)
        .service(unread_count)
        .service(mark_read)
        .service(record_subscriptions)
        .service(get_subscriptions)
        .service(job_stats)
        .service(dead_jobs)
        .service(retry_dead_job);
}

/// The caller's notifications, newest first.
#[utoipa::path(
    tag = "notifications",
    params(NotificationQuery),
    responses((status = 200, body = Page<NotificationView>)),
    security(("bearer" = []))
)]
#[get("/notifications")]
async fn list_notifications(
    state: web::Data<AppState>,
    me: CurrentUser,
    query: Query<NotificationQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::list(&state.db, me.id(), &query).await?))
}

/// How many are unread.
#[utoipa::path(tag = "notifications", responses((status = 200, body = UnreadCount)), security(("bearer" = [])))]
#[get("/notifications/unread-count")]
async fn unread_count(
    state: web::Data<AppState>,
    me: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let count = service::unread_count(&state.db, me.id()).await?;
    Ok(HttpResponse::Ok().json(UnreadCount { count }))
}

/// Mark some (`ids`) or `all` as read.
#[utoipa::path(
    tag = "notifications",
    request_body = MarkRead,
    responses((status = 204, description = "marked")),
    security(("bearer" = []))
)]
#[post("/notifications/read")]
async fn mark_read(
    state: web::Data<AppState>,
    me: CurrentUser,
    body: Json<MarkRead>,
) -> Result<HttpResponse, AppError> {
    service::mark_read(&state.db, me.id(), body.0, state.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn quota_views(state: &AppState, quotas: Vec<entity::subscription_quota::Model>) -> Vec<QuotaView> {
    let mut views: Vec<QuotaView> = state
        .jobs
        .templates
        .0
        .iter()
        .map(|(kind, template)| {
            let quota = quotas
                .iter()
                .find(|q| q.template_id == template.template_id);
            QuotaView {
                kind: kind.clone(),
                template_id: template.template_id.clone(),
                remaining: quota.map_or(0, |q| q.remaining),
                banned: quota.is_some_and(|q| q.banned),
            }
        })
        .collect();
    views.sort_by(|a, b| a.kind.cmp(&b.kind));
    views
}

/// Record what `wx.requestSubscribeMessage` returned; each accept allows one message.
/// Template ids this installation does not use are ignored.
#[utoipa::path(
    tag = "notifications",
    request_body = SubscriptionResults,
    responses((status = 200, body = Vec<QuotaView>)),
    security(("bearer" = []))
)]
#[post("/me/subscriptions")]
async fn record_subscriptions(
    state: web::Data<AppState>,
    me: CurrentUser,
    body: Json<SubscriptionResults>,
) -> Result<HttpResponse, AppError> {
    let known: Vec<_> = body
        .0
        .results
        .into_iter()
        .filter(|(template_id, _)| state.jobs.templates.kind_of(template_id).is_some())
        .collect();
    notify::record_subscriptions(&state.db, me.id(), &known, state.now()).await?;
    let quotas = notify::quotas(&state.db, me.id()).await?;
    Ok(HttpResponse::Ok().json(quota_views(&state, quotas)))
}

/// Remaining WeChat message quota per notification kind, by kind.
#[utoipa::path(tag = "notifications", params(PageParams), responses((status = 200, body = Page<QuotaView>)), security(("bearer" = [])))]
#[get("/me/subscriptions")]
async fn get_subscriptions(
    state: web::Data<AppState>,
    me: CurrentUser,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    let quotas = notify::quotas(&state.db, me.id()).await?;
    Ok(HttpResponse::Ok().json(quota_page(quota_views(&state, quotas), &page)?))
}

/// A page of the quotas (sorted by kind); the cursor is the last kind seen.
fn quota_page(views: Vec<QuotaView>, page: &PageParams) -> Result<Page<QuotaView>, AppError> {
    let after = page.after()?;
    let wanted = usize::try_from(page.limit() + 1).unwrap_or(usize::MAX);
    let rows: Vec<QuotaView> = views
        .into_iter()
        .filter(|q| after.as_ref().is_none_or(|Cursor(kind)| q.kind > *kind))
        .take(wanted)
        .collect();
    Ok(Page::from_rows(
        rows,
        page.limit(),
        |q| q.kind.clone(),
        |q| q,
    ))
}

fn require_operator(user: &CurrentUser) -> Result<(), AppError> {
    let staff_somewhere = user.grants.iter().any(|g| g.role == Role::Staff.as_str());
    if user.is_admin() || staff_somewhere {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only administrators and staff may see the queues",
        ))
    }
}

/// Per queue: depth, in flight, retrying, dead, and the outbox backlog.
#[utoipa::path(
    tag = "operations",
    params(PageParams),
    responses((status = 200, body = Page<QueueStats>), (status = 403, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[get("/admin/jobs")]
async fn job_stats(
    state: web::Data<AppState>,
    user: CurrentUser,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    require_operator(&user)?;
    Ok(HttpResponse::Ok().json(admin::stats(&state.jobs, &page).await?))
}

/// Jobs that gave up, newest first.
#[utoipa::path(
    tag = "operations",
    params(PageParams),
    responses((status = 200, body = Page<DeadJob>), (status = 403, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[get("/admin/jobs/dead")]
async fn dead_jobs(
    state: web::Data<AppState>,
    user: CurrentUser,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    user.require_admin()?;
    Ok(HttpResponse::Ok().json(admin::dead_jobs(&state.jobs, &page).await?))
}

/// Put a dead job back in line with its attempts reset.
#[utoipa::path(
    tag = "operations",
    params(("id" = String, Path, description = "a dead job's `id`, as `GET /admin/jobs/dead` gives it")),
    responses(
        (status = 204, description = "queued again"),
        (status = 403, body = ErrorEnvelope),
        (status = 404, description = "no such dead job", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/admin/jobs/dead/{id}/retry")]
async fn retry_dead_job(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_admin()?;
    admin::retry(&state.jobs, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
