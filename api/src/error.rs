//! The one error type of the API: a stable machine-readable `code`, a message for people,
//! and the request id. Internal causes go to the log, never to the client.
use std::collections::BTreeMap;

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::request_id;

pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized,
    /// 401 with its own code (`wechat_code_invalid`, `refresh_token_reused`, …).
    #[error("{message}")]
    AuthFailed {
        code: &'static str,
        message: &'static str,
    },
    #[error("{0}")]
    Forbidden(&'static str),
    /// 403 with a domain code (`cannot_claim_own_wish`, …).
    #[error("{message}")]
    ForbiddenCode {
        code: &'static str,
        message: &'static str,
    },
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("validation failed")]
    Validation(FieldErrors),
    /// 422 with a domain code (`content_rejected`, `not_eligible`, …).
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: &'static str,
    },
    /// 409 with a domain code (`already_claimed`, `sold_out`, …).
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: &'static str,
    },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("{message}")]
    Unavailable {
        code: &'static str,
        message: &'static str,
    },
    /// Anything unexpected. The cause is logged with the request id and never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn conflict(code: &'static str, message: &'static str) -> Self {
        Self::Conflict { code, message }
    }

    pub fn unprocessable(code: &'static str, message: &'static str) -> Self {
        Self::Unprocessable { code, message }
    }

    pub fn field(field: &str, reason: &str) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_owned(), vec![reason.to_owned()]);
        Self::Validation(errors)
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Validation(_) => "validation_failed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal(_) => "internal",
            Self::AuthFailed { code, .. }
            | Self::ForbiddenCode { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unavailable { code, .. } => code,
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Internal(err.into())
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(err: sea_orm::TransactionError<AppError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: `not_found`, `validation_failed`, `already_claimed`, …
    pub code: String,
    /// For people; never internals.
    pub message: String,
    pub request_id: String,
    /// Per field, the reasons it was refused (`validation_failed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<FieldErrors>,
}

impl AppError {
    pub fn envelope(&self, request_id: String) -> ErrorEnvelope {
        let message = match self {
            Self::Internal(_) => "something went wrong on our side".to_owned(),
            other => other.to_string(),
        };
        ErrorEnvelope {
            error: ErrorBody {
                code: self.code().to_owned(),
                message,
                request_id,
                details: match self {
                    Self::Validation(fields) => Some(fields.clone()),
                    _ => None,
                },
            },
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::AuthFailed { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::ForbiddenCode { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Validation(_) | Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = request_id::current();
        if let Self::Internal(cause) = self {
            tracing::error!(request_id = %request_id, error = %format!("{cause:#}"), "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        if let Self::RateLimited { retry_after_secs } = self {
            response.insert_header(("Retry-After", retry_after_secs.to_string()));
        }
        response.json(self.envelope(request_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_of(err: AppError) -> serde_json::Value {
        serde_json::to_value(err.envelope("req-1".into())).unwrap()
    }

    #[test]
    fn envelope_json_is_pinned() {
        assert_eq!(
            json_of(AppError::NotFound),
            json!({"error": {"code": "not_found", "message": "not found", "request_id": "req-1"}})
        );
        assert_eq!(
            json_of(AppError::field("title", "too_long")),
            json!({"error": {"code": "validation_failed", "message": "validation failed",
                "request_id": "req-1", "details": {"title": ["too_long"]}}})
        );
        assert_eq!(
            json_of(AppError::conflict(
                "already_claimed",
                "someone else claimed this wish"
            )),
            json!({"error": {"code": "already_claimed", "message": "someone else claimed this wish",
                "request_id": "req-1"}})
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let body = json_of(AppError::internal(anyhow::anyhow!(
            "password=hunter2 at db"
        )));
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("hunter2"));
    }

    #[test]
    fn statuses_match_the_contract() {
        let cases = [
            (AppError::BadRequest("x".into()), 400),
            (AppError::Unauthorized, 401),
            (AppError::NotFound, 404),
            (AppError::field("a", "b"), 422),
            (AppError::conflict("sold_out", "x"), 409),
            (AppError::PayloadTooLarge, 413),
            (
                AppError::RateLimited {
                    retry_after_secs: 3,
                },
                429,
            ),
            (AppError::internal(anyhow::anyhow!("x")), 500),
        ];
        for (err, status) in cases {
            assert_eq!(err.status_code().as_u16(), status, "{}", err.code());
        }
    }
}
