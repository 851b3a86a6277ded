//! `GET /ws`: the one WebSocket per phone.
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, web};
use bytestring::ByteString;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{hello, registry::Owner, socket};
use crate::{auth::CurrentUser, error::AppError, state::AppState};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(connect);
}

/// Upgrade to the live-push WebSocket. The server sends `hello` first, then
/// `notification.created` and the other frames of the API; the client sends `{"type": "ping"}`
/// (answered by `pong`) at least every `LINLI_WS_IDLE_SECS` (60 s) or is closed.
#[utoipa::path(
    tag = "live",
    responses(
        (status = 101, description = "switched to the WebSocket protocol"),
        (status = 400, description = "`bad_request`: not a WebSocket upgrade"),
    ),
    security(("bearer" = []))
)]
#[get("/ws")]
async fn connect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    me: CurrentUser,
) -> Result<HttpResponse, AppError> {
    // Registered before `hello` is read, so a frame published meanwhile waits in the queue
    // behind `hello` instead of being missed.
    let registration = state.live.register(Owner {
        user_id: me.id().to_owned(),
        session_id: me.session_id.clone(),
        community_id: me.community_id().map(str::to_owned),
    });
    super::presence::arrived(&state.redis, me.id()).await;
    let hello = hello::hello(&state.db, me.id()).await?;
    let hello = serde_json::to_string(&hello).map_err(AppError::internal)?;
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|_| AppError::BadRequest("expected a WebSocket upgrade".to_owned()))?;
    let stream = stream
        .max_frame_size(socket::MAX_CLIENT_FRAME)
        .aggregate_continuations()
        .max_continuation_size(socket::MAX_CLIENT_FRAME);
    let idle = Duration::from_secs(state.settings.ws_idle_secs);
    actix_web::rt::spawn(socket::run(
        session,
        stream,
        registration,
        ByteString::from(hello),
        idle,
    ));
    Ok(response)
}
