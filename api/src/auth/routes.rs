//! Auth endpoints: WeChat login, dev login, refresh, logout.
use actix_web::{HttpResponse, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    CurrentUser,
    dto::{DevLoginRequest, RefreshRequest, TokenPair, WeChatLoginRequest},
    rate_limit,
    service::{self, LoginProfile},
};
use crate::{
    error::{AppError, ErrorEnvelope},
    http::{ClientAddr, Json},
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(wechat_login)
        .service(dev_login)
        .service(refresh)
        .service(logout);
}

/// Logins and refreshes share one budget per client address (behind a trusted proxy, the
/// forwarded client's).
async fn limit_logins(state: &AppState, client: ClientAddr) -> Result<(), AppError> {
    rate_limit::check(state, "login", client, state.settings.login_rate_per_minute).await
}

/// Log in with a `wx.login` code (public).
#[utoipa::path(
    tag = "auth",
    request_body = WeChatLoginRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, description = "`wechat_code_invalid`", body = ErrorEnvelope),
        (status = 403, description = "`wechat_user_blocked`", body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope),
        (status = 503, description = "`wechat_unavailable`", body = ErrorEnvelope),
    )
)]
#[post("/auth/wechat/login")]
async fn wechat_login(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: Json<WeChatLoginRequest>,
) -> Result<HttpResponse, AppError> {
    limit_logins(&state, client).await?;
    let body = body.0;
    let session = state
        .wechat
        .code_to_session(&body.code)
        .await
        .map_err(service::login_error)?;
    let profile = LoginProfile {
        openid: session.openid,
        unionid: session.unionid,
        nickname: body.nickname,
        avatar_url: body.avatar_url,
    };
    Ok(HttpResponse::Ok().json(service::login(&state, profile).await?))
}

/// Log in by openid without WeChat: development only (404 where disabled).
#[utoipa::path(
    tag = "auth",
    request_body = DevLoginRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 404, description = "dev login is disabled", body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope),
    )
)]
#[post("/auth/dev/login")]
async fn dev_login(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: Json<DevLoginRequest>,
) -> Result<HttpResponse, AppError> {
    if !state.settings.dev_login {
        return Err(AppError::NotFound);
    }
    limit_logins(&state, client).await?;
    let body = body.0;
    let profile = LoginProfile {
        openid: body.openid,
        unionid: None,
        nickname: body.nickname,
        avatar_url: None,
    };
    Ok(HttpResponse::Ok().json(service::login(&state, profile).await?))
}

/// Spend a refresh token for a new pair (public).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, description = "`refresh_token_reused` (the login is revoked), `refresh_token_expired` or `refresh_token_invalid`", body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope),
    )
)]
#[post("/auth/refresh")]
async fn refresh(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, AppError> {
    limit_logins(&state, client).await?;
    Ok(HttpResponse::Ok().json(service::refresh(&state, &body.refresh_token).await?))
}

/// End the login the refresh token belongs to.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "logged out")),
    security(("bearer" = []))
)]
#[post("/auth/logout")]
async fn logout(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, AppError> {
    service::logout(&state, user.id(), &body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}
