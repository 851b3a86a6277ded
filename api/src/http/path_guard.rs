//! Paths that cannot name anything: a segment that decodes to control characters (NUL among
//! them), to bytes that are not UTF-8, or to more than an id could ever be, is `404` before any
//! route sees it. Ids are opaque strings, so every route would otherwise pass them to the
//! database, and PostgreSQL refuses a NUL in text with an error (a 500) instead of "no rows".
use actix_web::{
    Error, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
};
use percent_encoding::percent_decode_str;

use crate::error::AppError;

/// Longer than any id, role or date a path holds (ids are 36-character UUIDs).
const MAX_SEGMENT_BYTES: usize = 128;

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.path().split('/').any(|segment| !possible(segment)) {
        let response = AppError::NotFound.error_response();
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Whether a raw (percent-encoded) path segment could name something.
fn possible(raw: &str) -> bool {
    match percent_decode_str(raw).decode_utf8() {
        Ok(segment) => segment.len() <= MAX_SEGMENT_BYTES && !segment.chars().any(char::is_control),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::possible;

    #[test]
    fn segments_that_cannot_name_anything() {
        let cases = [
            ("0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", true),
            ("grid_leader", true),
            ("2025-03-08", true),
            ("%E9%82%BB%E9%87%8C", true),
            ("..%2f", true),
            ("'%20or%201=1--", true),
            ("", true),
            ("x%00", false),
            ("%00", false),
            ("a%0Ab", false),
            ("%7F", false),
            ("%C2%85", false),
            ("%ff", false),
            ("%C3", false),
        ];
        for (raw, expected) in cases {
            assert_eq!(possible(raw), expected, "{raw}");
        }
        assert!(possible(&"a".repeat(128)));
        assert!(!possible(&"a".repeat(129)));
    }
}
