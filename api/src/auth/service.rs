//! Logging in (find or create the user, open a login), rotating refresh tokens with reuse
//! detection, and logging out.
use chrono::{DateTime, Duration, Utc};
use entity::{login_session, refresh_token, user};
use jobs::wechat::WeChatError;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    TransactionTrait, sea_query::OnConflict,
};

use super::{
    dto::TokenPair,
    token::{Claims, hash_token, new_refresh_token},
};
use crate::{
    community::users::{UserView, Viewer},
    db::write_txn,
    error::AppError,
    state::{AppState, new_id},
};

/// Who is logging in, as WeChat (or dev login) vouches.
#[derive(Debug)]
pub struct LoginProfile {
    pub openid: String,
    pub unionid: Option<String>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
}

pub async fn login(state: &AppState, profile: LoginProfile) -> Result<TokenPair, AppError> {
    let now = state.now();
    let bootstrap_admin = state.settings.bootstrap_admins.contains(&profile.openid);
    let user = find_or_create_user(&state.db, profile, bootstrap_admin, now).await?;
    let txn = state.db.begin().await?;
    let session = login_session::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user.id.clone()),
        created_at: Set(now),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let refresh = new_refresh_token();
    store_refresh_token(&txn, state, &session.id, &user.id, &refresh, now).await?;
    txn.commit().await?;
    token_pair(state, user, &session.id, refresh, now, now).await
}

async fn find_or_create_user(
    db: &impl ConnectionTrait,
    profile: LoginProfile,
    bootstrap_admin: bool,
    now: DateTime<Utc>,
) -> Result<user::Model, AppError> {
    let id = new_id();
    let default_nickname = format!("邻居{}", &id[id.len() - 4..]);
    let new_user = user::ActiveModel {
        id: Set(id),
        openid: Set(profile.openid.clone()),
        unionid: Set(profile.unionid.clone()),
        nickname: Set(profile.nickname.clone().unwrap_or(default_nickname)),
        avatar_url: Set(profile.avatar_url.clone()),
        community_id: Set(None),
        grid_unit_id: Set(None),
        birth_date: Set(None),
        phone: Set(None),
        address_detail: Set(None),
        dietary_notes: Set(None),
        is_admin: Set(bootstrap_admin),
        volunteer_status: Set("none".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    };
    // Two first logins at once must not make two users: the unique openid decides.
    user::Entity::insert(new_user)
        .on_conflict(
            OnConflict::column(user::Column::Openid)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let found = user::Entity::find()
        .filter(user::Column::Openid.eq(&profile.openid))
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("user vanished after insert")))?;
    // Bootstrap admins are made at their first login only (the insert above), so an admin
    // taken away (`DELETE /admins/{id}`) stays taken away.
    let wants_update = profile
        .nickname
        .as_ref()
        .is_some_and(|n| *n != found.nickname)
        || (profile.avatar_url.is_some() && profile.avatar_url != found.avatar_url)
        || (profile.unionid.is_some() && profile.unionid != found.unionid);
    if !wants_update {
        return Ok(found);
    }
    let mut active: user::ActiveModel = found.clone().into();
    if let Some(nickname) = profile.nickname {
        active.nickname = Set(nickname);
    }
    if profile.avatar_url.is_some() {
        active.avatar_url = Set(profile.avatar_url);
    }
    if profile.unionid.is_some() {
        active.unionid = Set(profile.unionid);
    }
    active.updated_at = Set(now);
    Ok(active.update(db).await?)
}

async fn store_refresh_token(
    db: &impl ConnectionTrait,
    state: &AppState,
    session_id: &str,
    user_id: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    refresh_token::ActiveModel {
        id: Set(new_id()),
        session_id: Set(session_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        token_hash: Set(hash_token(token)),
        expires_at: Set(now + Duration::days(state.settings.refresh_token_ttl_days)),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The pair answered for a login or refresh; the access token is issued at `issued` (the same
/// token again when a refresh is retried: a JWT of the same claims is the same JWT).
async fn token_pair(
    state: &AppState,
    user: user::Model,
    session_id: &str,
    refresh_token: String,
    issued: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<TokenPair, AppError> {
    let ttl = state.settings.access_token_ttl_secs;
    let exp = issued.timestamp() + ttl;
    let access_token = state
        .jwt
        .issue(&Claims {
            sub: user.id.clone(),
            sid: session_id.to_owned(),
            iat: issued.timestamp(),
            exp,
        })
        .map_err(AppError::internal)?;
    let user = UserView::load(&state.db, user, now, Viewer::SelfOrStaff).await?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: (exp - now.timestamp()).clamp(0, ttl),
        user,
    })
}

fn refresh_failed(code: &'static str, message: &'static str) -> AppError {
    AppError::AuthFailed { code, message }
}

/// A refresh token presented again this soon after it was spent is the same client retrying
/// (its answer lost on a bad network): it gets the same new pair instead of losing its login.
const REFRESH_RETRY_GRACE_SECS: i64 = 30;

/// Spends a refresh token for a new pair. A token presented twice means it was stolen or
/// replayed, and the whole login is revoked; except within a short grace while the pair it
/// was spent for is still unused, when the same pair is answered again.
pub async fn refresh(state: &AppState, token: &str) -> Result<TokenPair, AppError> {
    let now = state.now();
    let hash = hash_token(token);
    let txn = write_txn(&state.db).await?;
    let spent = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, now.into())
        .filter(refresh_token::Column::TokenHash.eq(&hash))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?
        .rows_affected;
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(&hash))
        .one(&txn)
        .await?;
    let Some(row) = row else {
        return Err(refresh_failed(
            "refresh_token_invalid",
            "the refresh token is not valid",
        ));
    };
    let next = state.jwt.successor(token);
    if spent == 1 {
        let (session, user) = live_login(&txn, &row).await?;
        store_refresh_token(&txn, state, &session.id, &user.id, &next, now).await?;
        txn.commit().await?;
        return token_pair(state, user, &session.id, next, now, now).await;
    }
    let Some(used_at) = row.used_at else {
        return Err(refresh_failed(
            "refresh_token_expired",
            "the refresh token has expired",
        ));
    };
    if let Some(issued) = unused_successor(&txn, &next, used_at, now).await? {
        let (session, user) = live_login(&txn, &row).await?;
        txn.commit().await?;
        return token_pair(state, user, &session.id, next, issued.created_at, now).await;
    }
    revoke_session(&txn, &row.session_id, now).await?;
    txn.commit().await?;
    crate::live::close_sessions(state, vec![row.session_id]);
    Err(refresh_failed(
        "refresh_token_reused",
        "this refresh token was already used; the login has been ended",
    ))
}

/// The pair a token was spent for, if that was moments ago and the pair is still unused.
async fn unused_successor(
    db: &impl ConnectionTrait,
    successor: &str,
    used_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<refresh_token::Model>, AppError> {
    if now - used_at > Duration::seconds(REFRESH_RETRY_GRACE_SECS) {
        return Ok(None);
    }
    Ok(refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_token(successor)))
        .filter(refresh_token::Column::UsedAt.is_null())
        .one(db)
        .await?)
}

/// The login of a refresh token and its user, while the login is live.
async fn live_login(
    db: &impl ConnectionTrait,
    row: &refresh_token::Model,
) -> Result<(login_session::Model, user::Model), AppError> {
    let ended = || refresh_failed("refresh_token_invalid", "the login has ended");
    let session = login_session::Entity::find_by_id(row.session_id.clone())
        .one(db)
        .await?
        .filter(|s| s.revoked_at.is_none())
        .ok_or_else(ended)?;
    let user = user::Entity::find_by_id(row.user_id.clone())
        .one(db)
        .await?
        .ok_or_else(ended)?;
    Ok((session, user))
}

async fn revoke_session(
    db: &impl ConnectionTrait,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    login_session::Entity::update_many()
        .col_expr(login_session::Column::RevokedAt, Some(now).into())
        .filter(login_session::Column::Id.eq(session_id))
        .filter(login_session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Ends the login the refresh token belongs to, if it is the caller's.
pub async fn logout(state: &AppState, user_id: &str, token: &str) -> Result<(), AppError> {
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_token(token)))
        .one(&state.db)
        .await?;
    if let Some(row) = row.filter(|r| r.user_id == user_id) {
        revoke_session(&state.db, &row.session_id, state.now()).await?;
        crate::live::close_sessions(state, vec![row.session_id]);
    }
    Ok(())
}

/// WeChat's answer to a login code, in our error codes.
pub fn login_error(err: WeChatError) -> AppError {
    match err {
        WeChatError::Business(40029 | 40163) => AppError::AuthFailed {
            code: "wechat_code_invalid",
            message: "the login code is invalid or already used",
        },
        WeChatError::Business(40226) => AppError::ForbiddenCode {
            code: "wechat_user_blocked",
            message: "WeChat has blocked this account from logging in",
        },
        WeChatError::RateLimited => AppError::RateLimited {
            retry_after_secs: 60,
        },
        other => {
            if matches!(
                other,
                WeChatError::Configuration(_) | WeChatError::NotConfigured
            ) {
                tracing::error!(error = %other, "WeChat login is misconfigured");
            } else {
                tracing::warn!(error = %other, "WeChat login failed");
            }
            AppError::Unavailable {
                code: "wechat_unavailable",
                message: "WeChat login is unavailable right now; please try again",
            }
        }
    }
}
