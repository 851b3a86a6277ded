//! Conversation endpoints: the list, one conversation, direct conversations, messages, read
//! markers, blocks, reports and the staff's oversight.
use actix_web::{HttpResponse, delete, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    dto::{
        AccessLogEntry, ConversationView, CreateReport, MarkRead, MessageQuery, MessageView,
        OpenDirect, ReportCreated, ReportQuery, ReportView, ReportedMessages, ResolveReport,
        SendMessage,
    },
    live, oversight,
    send::{self, Sent},
    service,
};
use crate::{
    auth::CurrentUser,
    error::{AppError, ErrorEnvelope},
    http::{Json, Page, PageParams, Query},
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_conversations)
        .service(open_direct)
        .service(get_conversation)
        .service(list_messages)
        .service(send_message)
        .service(mark_read)
        .service(block)
        .service(unblock)
        .service(report)
        .service(list_reports)
        .service(reported_messages)
        .service(resolve_report)
        .service(access_log);
}

/// The caller's conversations, the most recently active first.
#[utoipa::path(
    tag = "conversations",
    params(PageParams),
    responses((status = 200, body = Page<ConversationView>)),
    security(("bearer" = []))
)]
#[get("/conversations")]
async fn list_conversations(
    state: web::Data<AppState>,
    me: CurrentUser,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::list(&state.db, &me, &page.0, state.now()).await?))
}

/// Staff open the direct conversation with a member of their community (200 with the one that
/// exists already).
#[utoipa::path(
    tag = "conversations",
    request_body = OpenDirect,
    responses(
        (status = 201, body = ConversationView),
        (status = 200, description = "it existed already", body = ConversationView),
        (status = 403, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/conversations")]
async fn open_direct(
    state: web::Data<AppState>,
    me: CurrentUser,
    body: Json<OpenDirect>,
) -> Result<HttpResponse, AppError> {
    let (created, view) = service::open_direct(&state.db, &me, body.0, state.now()).await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// One conversation (participants).
#[utoipa::path(
    tag = "conversations",
    params(("id" = String, Path)),
    responses((status = 200, body = ConversationView), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[get("/conversations/{id}")]
async fn get_conversation(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::get(&state.db, &me, &id, state.now()).await?))
}

/// Messages: with `after_seq` those after it in order (catching up); otherwise the newest
/// first, before `before_seq` when given (history).
#[utoipa::path(
    tag = "conversations",
    params(("id" = String, Path), MessageQuery),
    responses((status = 200, body = Page<MessageView>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[get("/conversations/{id}/messages")]
async fn list_messages(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    query: Query<MessageQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(service::messages(&state.db, &me, &id, &query.0).await?))
}

/// Send a message: 201 published, or 202 waiting for the content check (only its sender sees
/// it until then).
#[utoipa::path(
    tag = "conversations",
    params(("id" = String, Path)),
    request_body = SendMessage,
    responses(
        (status = 201, body = MessageView),
        (status = 202, description = "pending the content check", body = MessageView),
        (status = 403, description = "`blocked`", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`conversation_read_only`", body = ErrorEnvelope),
        (status = 422, description = "`validation_failed` or `content_rejected`", body = ErrorEnvelope),
        (status = 429, description = "`rate_limited`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/conversations/{id}/messages")]
async fn send_message(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<SendMessage>,
) -> Result<HttpResponse, AppError> {
    Ok(match send::send(&state, &me, &id, body.0).await? {
        Sent::Published(m) => HttpResponse::Created().json(m),
        Sent::Pending(m) => HttpResponse::Accepted().json(m),
    })
}

/// Read up to `seq`: the marker only moves forward, never past `last_seq`.
#[utoipa::path(
    tag = "conversations",
    params(("id" = String, Path)),
    request_body = MarkRead,
    responses((status = 204, description = "marked"), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[post("/conversations/{id}/read")]
async fn mark_read(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<MarkRead>,
) -> Result<HttpResponse, AppError> {
    let (found, read_seq, moved) = service::mark_read(&state.db, &me, &id, body.0).await?;
    if moved {
        live::conversation_read(&state.push, &state.db, &found.id, me.id(), read_seq).await;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Block the conversation: the others' sends are refused.
#[utoipa::path(
    tag = "conversations",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "blocked"),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`cannot_block`: a conversation with staff", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/conversations/{id}/block")]
async fn block(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    service::set_block(&state.db, &me, &id, true, state.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Unblock the conversation.
#[utoipa::path(
    tag = "conversations",
    params(("id" = String, Path)),
    responses((status = 204, description = "unblocked"), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[delete("/conversations/{id}/block")]
async fn unblock(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    service::set_block(&state.db, &me, &id, false, state.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Report the conversation; a copy of the named messages is kept and staff are told.
#[utoipa::path(
    tag = "conversations",
    params(("id" = String, Path)),
    request_body = CreateReport,
    responses((status = 201, body = ReportCreated), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[post("/conversations/{id}/reports")]
async fn report(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<CreateReport>,
) -> Result<HttpResponse, AppError> {
    let created = oversight::report(&state.db, &me, &id, body.0, state.now()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// The community's reports, newest first (staff).
#[utoipa::path(
    tag = "conversations",
    params(("id" = String, Path, description = "community id"), ReportQuery),
    responses(
        (status = 200, body = Page<ReportView>),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[get("/communities/{id}/reports")]
async fn list_reports(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    query: Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(oversight::reports(&state.db, &me, &id, &query.0).await?))
}

/// The reported conversation's messages (staff, while the report is open); the read is logged.
#[utoipa::path(
    tag = "conversations",
    params(("id" = String, Path, description = "report id")),
    responses(
        (status = 200, body = ReportedMessages),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`: resolved", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[get("/reports/{id}/messages")]
async fn reported_messages(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let read = oversight::reported_messages(&state.db, &me, &id, state.now()).await?;
    Ok(HttpResponse::Ok().json(read))
}

/// Resolve a report with an outcome (staff); the reporter is told.
#[utoipa::path(
    tag = "conversations",
    params(("id" = String, Path, description = "report id")),
    request_body = ResolveReport,
    responses(
        (status = 200, body = ReportView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`invalid_state`: already resolved", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/reports/{id}/resolve")]
async fn resolve_report(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    body: Json<ResolveReport>,
) -> Result<HttpResponse, AppError> {
    let resolved = oversight::resolve(&state.db, &me, &id, body.0, state.now()).await?;
    Ok(HttpResponse::Ok().json(resolved))
}

/// Who read which conversation, when, for which report (admins).
#[utoipa::path(
    tag = "conversations",
    params(("id" = String, Path, description = "community id"), PageParams),
    responses(
        (status = 200, body = Page<AccessLogEntry>),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[get("/communities/{id}/access-log")]
async fn access_log(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<String>,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(oversight::access_log(&state.db, &me, &id, &page.0).await?))
}
