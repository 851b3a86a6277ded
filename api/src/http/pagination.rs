//! Cursor pagination: `?limit=` (1–100, default 20) and an opaque `?cursor=`; answers are
//! `{items, next_cursor}`. Lists are ordered by id (ids are time-ordered UUIDv7), so the cursor
//! is the last id seen.
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::error::AppError;

#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1–100, default 20.
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> u64 {
        self.limit.unwrap_or(20)
    }

    pub fn after(&self) -> Result<Option<Cursor>, AppError> {
        self.cursor.as_deref().map(Cursor::decode).transpose()
    }
}

/// The position after which the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub String);

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }

    pub fn decode(raw: &str) -> Result<Self, AppError> {
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|s| !s.is_empty() && s.len() <= 200)
            .map(Cursor)
            .ok_or_else(|| AppError::BadRequest("the cursor is not valid".into()))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// `rows` was fetched with `limit + 1`: the extra row only says that there is more.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        limit: u64,
        key: impl Fn(&R) -> String,
        map: impl FnMut(R) -> T,
    ) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(|r| Cursor(key(r)).encode())
        } else {
            None
        };
        Page {
            items: rows.into_iter().map(map).collect(),
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor("0193-abc".into());
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("!!!").is_err());
        assert!(Cursor::decode("").is_err());
    }

    #[test]
    fn a_page_has_a_cursor_only_when_more_rows_exist() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |r| r.to_string(), |r| r);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor, Some(Cursor("2".into()).encode()));
        let last = Page::from_rows(vec![1, 2], 2, |r| r.to_string(), |r| r);
        assert_eq!(last.next_cursor, None);
    }
}
