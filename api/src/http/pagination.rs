//! Cursor pagination: `?limit=` (1–100, default 20) and an opaque `?cursor=`; answers are
//! `{items, next_cursor}`. Most lists are ordered by id (ids are time-ordered UUIDv7), so the
//! cursor is the last id seen; a list ordered by something else (a date, then the id) keys its
//! cursor on every column of its order (`Cursor::of`, `Cursor::parts`, `after_pair`), so a page
//! starts exactly after the last row of the one before.
use std::str::FromStr;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::{ColumnTrait, Condition, Value};
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
    /// The paging part of a list's own query type (one that has filters besides).
    pub fn of(limit: Option<u64>, cursor: Option<&str>) -> Self {
        Self {
            limit,
            cursor: cursor.map(str::to_owned),
        }
    }

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

/// Separates the parts of a composite cursor; none of the keys (ids, dates, timestamps,
/// numbers, slots) contains it, and the last part may (it is split off at most `N - 1` times).
const SEPARATOR: char = '|';

fn bad_cursor() -> AppError {
    AppError::BadRequest("the cursor is not valid".into())
}

impl Cursor {
    /// A cursor over a composite sort key: its parts in the list's order.
    pub fn of(parts: &[&str]) -> Self {
        Cursor(parts.join(&SEPARATOR.to_string()))
    }

    /// The `N` parts of a composite cursor; another shape is a bad request.
    pub fn parts<const N: usize>(&self) -> Result<[&str; N], AppError> {
        let parts: Vec<&str> = self.0.splitn(N, SEPARATOR).collect();
        <[&str; N]>::try_from(parts).map_err(|_| bad_cursor())
    }

    /// One part of a cursor read as what it keys (a date, a number): 400 if it is not one.
    pub fn parse<T: FromStr>(part: &str) -> Result<T, AppError> {
        part.parse().map_err(|_| bad_cursor())
    }

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
            .ok_or_else(bad_cursor)
    }
}

/// A timestamp as a cursor part: RFC 3339 with every digit the database keeps, so that the
/// next page starts exactly after it.
pub fn cursor_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The rows after `(first, second)` in a list ordered by `first` then `second`, both in the same
/// direction: later in `first`, or level in it and later in `second`.
pub fn after_pair<A, B>(
    first: impl ColumnTrait,
    at: A,
    second: impl ColumnTrait,
    then: B,
    descending: bool,
) -> Condition
where
    A: Into<Value> + Clone,
    B: Into<Value>,
{
    let (past_first, past_second) = if descending {
        (first.lt(at.clone()), second.lt(then))
    } else {
        (first.gt(at.clone()), second.gt(then))
    };
    Condition::any()
        .add(past_first)
        .add(Condition::all().add(first.eq(at)).add(past_second))
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
    fn composite_cursors_split_into_their_parts_or_are_refused() {
        let c = Cursor::of(&["2026-11-08", "lunch"]);
        let decoded = Cursor::decode(&c.encode()).unwrap();
        assert_eq!(decoded.parts::<2>().unwrap(), ["2026-11-08", "lunch"]);
        let cases: [(&str, bool); 5] = [
            ("2026-11-08|lunch", true),
            ("a|b|c", true),
            ("2026-11-08", false),
            ("", false),
            ("|", true),
        ];
        for (raw, ok) in cases {
            assert_eq!(Cursor(raw.into()).parts::<2>().is_ok(), ok, "{raw}");
        }
        assert_eq!(Cursor("a|b|c".into()).parts::<2>().unwrap(), ["a", "b|c"]);
        assert!(Cursor::parse::<chrono::NaiveDate>("2026-11-08").is_ok());
        let at = "2026-11-08T03:04:05.123456789Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap();
        assert_eq!(
            Cursor::parse::<chrono::DateTime<chrono::Utc>>(&cursor_time(at)).unwrap(),
            at
        );
        let err = Cursor::parse::<i64>("twelve").err().unwrap();
        assert_eq!(err.code(), "bad_request");
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
