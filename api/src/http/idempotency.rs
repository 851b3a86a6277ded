//! `Idempotency-Key` on POSTs: the same key from the same user within 24 h answers the first
//! answer again and creates nothing new. The key is claimed in the database before the handler
//! runs, so two simultaneous requests with one key cannot both create.
use actix_web::{
    Error, HttpMessage, HttpResponse, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::{Method, StatusCode, header::HeaderName},
    middleware::Next,
    web,
};
use chrono::{DateTime, Duration, Utc};
use entity::idempotency_key;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
    sea_query::OnConflict,
};
use sha2::{Digest, Sha256};

use crate::{error::AppError, state::AppState};

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// How long a key is remembered.
const TTL_HOURS: i64 = 24;
/// A key still "in progress" after this long belongs to a request that died.
const ABANDONED_SECS: i64 = 60;

enum Claim {
    New,
    InProgress,
    Mismatch,
    Replay { status: u16, body: String },
}

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(raw_key) = req.headers().get(HEADER).cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if req.method() != Method::POST {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = match raw_key.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) => k.to_owned(),
        _ => return Ok(refuse(req, AppError::field("idempotency_key", "invalid"))),
    };
    // Only a live login has keys: without one the handler answers 401 itself, and a revoked
    // login's token (still unexpired) must not replay what was answered to it before.
    let now = state.now();
    let claims = crate::auth::current_user::bearer_token(req.request())
        .and_then(|t| state.jwt.verify(t, now.timestamp()));
    let Some(claims) = claims else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    match crate::auth::current_user::login_is_live(&state.db, &claims.sub, &claims.sid).await {
        Ok(true) => {}
        Ok(false) => return Ok(next.call(req).await?.map_into_boxed_body()),
        Err(err) => return Ok(refuse(req, AppError::from(err))),
    }
    let user_id = claims.sub;

    let body = match read_body(&mut req).await {
        Ok(body) => body,
        Err(err) => return Ok(refuse(req, err)),
    };
    let fingerprint = fingerprint(req.method(), req.path(), &body);
    req.set_payload(Payload::from(body));

    match claim(&state.db, &user_id, &key, &fingerprint, now).await {
        Ok(Claim::New) => {}
        Ok(Claim::InProgress) => {
            return Ok(refuse(
                req,
                AppError::conflict(
                    "idempotency_key_in_use",
                    "a request with this Idempotency-Key is still being answered",
                ),
            ));
        }
        Ok(Claim::Mismatch) => {
            return Ok(refuse(
                req,
                AppError::unprocessable(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request",
                ),
            ));
        }
        Ok(Claim::Replay { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let response = HttpResponse::build(status)
                .content_type("application/json")
                .insert_header((REPLAYED, "true"))
                .body(body);
            return Ok(req.into_response(response));
        }
        Err(err) => return Ok(refuse(req, AppError::from(err))),
    }

    let res = match next.call(req).await {
        Ok(res) => res,
        Err(err) => {
            release(&state.db, &user_id, &key).await;
            return Err(err);
        }
    };
    let status = res.status();
    if status.is_server_error() {
        // Nothing was promised: let the client try again with the same key.
        release(&state.db, &user_id, &key).await;
        return Ok(res.map_into_boxed_body());
    }
    let (http_req, response) = res.into_parts();
    let (response, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let stored = String::from_utf8_lossy(&bytes).into_owned();
    if let Err(err) = remember(&state.db, &user_id, &key, status.as_u16(), stored).await {
        tracing::warn!(error = %err, "could not store an idempotent answer");
        release(&state.db, &user_id, &key).await;
    }
    Ok(ServiceResponse::new(
        http_req,
        response.set_body(BoxBody::new(bytes)),
    ))
}

fn refuse(req: ServiceRequest, err: AppError) -> ServiceResponse<BoxBody> {
    let response = err.error_response();
    req.into_response(response)
}

async fn read_body(req: &mut ServiceRequest) -> Result<web::Bytes, AppError> {
    let mut payload = req.take_payload();
    Ok(super::extract::read_body(&mut payload).await?.freeze())
}

fn fingerprint(method: &Method, path: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_str());
    hash.update(b" ");
    hash.update(path);
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}

async fn claim(
    db: &DatabaseConnection,
    user_id: &str,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<Claim, DbErr> {
    // Two rounds at most: the second follows the removal of an expired or abandoned claim.
    for _ in 0..2 {
        let inserted = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
            user_id: Set(user_id.to_owned()),
            key: Set(key.to_owned()),
            request_hash: Set(fingerprint.to_owned()),
            status_code: Set(None),
            response_body: Set(None),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                idempotency_key::Column::UserId,
                idempotency_key::Column::Key,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        if inserted == 1 {
            return Ok(Claim::New);
        }
        let Some(row) = idempotency_key::Entity::find_by_id((user_id.to_owned(), key.to_owned()))
            .one(db)
            .await?
        else {
            continue;
        };
        let expired = row.created_at < now - Duration::hours(TTL_HOURS);
        let abandoned =
            row.status_code.is_none() && row.created_at < now - Duration::seconds(ABANDONED_SECS);
        if expired || abandoned {
            idempotency_key::Entity::delete_many()
                .filter(idempotency_key::Column::UserId.eq(user_id))
                .filter(idempotency_key::Column::Key.eq(key))
                .filter(idempotency_key::Column::CreatedAt.eq(row.created_at))
                .exec(db)
                .await?;
            continue;
        }
        if row.request_hash != fingerprint {
            return Ok(Claim::Mismatch);
        }
        return Ok(match (row.status_code, row.response_body) {
            (Some(status), body) => Claim::Replay {
                status: u16::try_from(status).unwrap_or(200),
                body: body.unwrap_or_default(),
            },
            (None, _) => Claim::InProgress,
        });
    }
    Ok(Claim::InProgress)
}

async fn remember(
    db: &DatabaseConnection,
    user_id: &str,
    key: &str,
    status: u16,
    body: String,
) -> Result<(), DbErr> {
    let row = idempotency_key::ActiveModel {
        user_id: Set(user_id.to_owned()),
        key: Set(key.to_owned()),
        status_code: Set(Some(i32::from(status))),
        response_body: Set(Some(body)),
        ..Default::default()
    };
    row.update(db).await.map(|_| ())
}

async fn release(db: &DatabaseConnection, user_id: &str, key: &str) {
    let removed = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::UserId.eq(user_id))
        .filter(idempotency_key::Column::Key.eq(key))
        .exec(db)
        .await;
    if let Err(err) = removed {
        tracing::warn!(error = %err, "could not release an idempotency key");
    }
}

/// Forgets keys older than a day; run by the scheduler.
pub async fn purge_expired(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::CreatedAt.lt(now - Duration::hours(TTL_HOURS)))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_requests_apart() {
        let a = fingerprint(&Method::POST, "/api/v1/wishes", b"{\"a\":1}");
        assert_eq!(
            a,
            fingerprint(&Method::POST, "/api/v1/wishes", b"{\"a\":1}")
        );
        assert_ne!(
            a,
            fingerprint(&Method::POST, "/api/v1/wishes", b"{\"a\":2}")
        );
        assert_ne!(
            a,
            fingerprint(&Method::POST, "/api/v1/courses", b"{\"a\":1}")
        );
    }
}
