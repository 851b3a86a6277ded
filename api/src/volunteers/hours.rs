//! The service-hours ledger: entries are never edited; a correction is a new entry.
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use entity::hours_entry;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func, OnConflict},
};

use crate::{http::after_pair, state::new_id};

/// Where a credit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Wish,
    Delivery,
    Manual,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wish => "wish",
            Self::Delivery => "delivery",
            Self::Manual => "manual",
        }
    }
}

/// One credit to the ledger.
#[derive(Debug, Clone)]
pub struct Credit<'a> {
    pub user_id: &'a str,
    pub community_id: &'a str,
    pub source: Source,
    /// The wish or delivery; for a manual credit, leave `None` and the entry's own id is used.
    pub ref_id: Option<&'a str>,
    pub minutes: i32,
    pub reason: Option<String>,
    pub created_by: Option<String>,
}

/// Credits minutes once per (source, ref, user): crediting the same wish or delivery twice
/// changes nothing. Returns the new entry's id, or `None` if it was credited before.
pub async fn credit(
    db: &impl ConnectionTrait,
    credit: Credit<'_>,
    now: DateTime<Utc>,
) -> Result<Option<String>, DbErr> {
    let id = new_id();
    let inserted = hours_entry::Entity::insert(hours_entry::ActiveModel {
        ref_id: Set(credit.ref_id.map_or_else(|| id.clone(), str::to_owned)),
        id: Set(id.clone()),
        user_id: Set(credit.user_id.to_owned()),
        community_id: Set(credit.community_id.to_owned()),
        source: Set(credit.source.as_str().to_owned()),
        minutes: Set(credit.minutes),
        reason: Set(credit.reason),
        created_by: Set(credit.created_by),
        at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            hours_entry::Column::Source,
            hours_entry::Column::RefId,
            hours_entry::Column::UserId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok((inserted == 1).then_some(id))
}

/// A user's entries in every community, newest first, at most `limit` after the
/// `(at, id)` given.
pub async fn entries_of(
    db: &impl ConnectionTrait,
    user_id: &str,
    after: Option<(DateTime<Utc>, String)>,
    limit: u64,
) -> Result<Vec<hours_entry::Model>, DbErr> {
    let mut select = hours_entry::Entity::find()
        .filter(hours_entry::Column::UserId.eq(user_id))
        .order_by_desc(hours_entry::Column::At)
        .order_by_desc(hours_entry::Column::Id);
    if let Some((at, id)) = after {
        select = select.filter(after_pair(
            hours_entry::Column::At,
            at,
            hours_entry::Column::Id,
            id,
            true,
        ));
    }
    select.limit(limit).all(db).await
}

/// A user's minutes in every community.
pub async fn total_of(db: &impl ConnectionTrait, user_id: &str) -> Result<i64, DbErr> {
    let total: Option<Option<i64>> = hours_entry::Entity::find()
        .select_only()
        .column_as(
            Expr::from(Func::sum(Expr::col(hours_entry::Column::Minutes))),
            "minutes",
        )
        .filter(hours_entry::Column::UserId.eq(user_id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(total.flatten().unwrap_or(0))
}

/// Where a page of the leaderboard starts: after this user's total (most first, ties by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankAfter {
    pub minutes: i64,
    pub user_id: String,
}

/// Minutes per user credited in a community within `[from, until)`, most first (ties by user
/// id), at most `limit` users after `after`.
pub async fn totals_between(
    db: &impl ConnectionTrait,
    community_id: &str,
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    after: Option<RankAfter>,
    limit: u64,
) -> Result<Vec<(String, i64)>, DbErr> {
    let total: Expr = Func::sum(Expr::col(hours_entry::Column::Minutes)).into();
    let mut select = hours_entry::Entity::find()
        .select_only()
        .column(hours_entry::Column::UserId)
        .column_as(total.clone(), "minutes")
        .filter(hours_entry::Column::CommunityId.eq(community_id))
        .filter(hours_entry::Column::At.gte(from))
        .filter(hours_entry::Column::At.lt(until))
        .group_by(hours_entry::Column::UserId);
    if let Some(RankAfter { minutes, user_id }) = after {
        select = select.having(
            Condition::any().add(total.clone().lt(minutes)).add(
                Condition::all()
                    .add(total.clone().eq(minutes))
                    .add(hours_entry::Column::UserId.gt(user_id)),
            ),
        );
    }
    select
        .order_by(total, Order::Desc)
        .order_by_asc(hours_entry::Column::UserId)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// A calendar month (`YYYY-MM`), read in some time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    /// Exactly `YYYY-MM`, a year from 2000 to 2999.
    pub fn parse(raw: &str) -> Option<Self> {
        let (year, month) = raw.split_once('-')?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return None;
        }
        let year: i32 = year.parse().ok()?;
        let month: u32 = month.parse().ok()?;
        ((2000..=2999).contains(&year) && (1..=12).contains(&month)).then_some(Self { year, month })
    }

    /// The month an instant falls in, in a time zone.
    pub fn containing(at: DateTime<Utc>, tz: Tz) -> Self {
        let local = at.with_timezone(&tz);
        Self {
            year: local.year(),
            month: local.month(),
        }
    }

    fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Its first instant and the first instant of the next month, in a time zone.
    pub fn bounds(self, tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((start_of(self, tz)?, start_of(self.next(), tz)?))
    }
}

/// The first local instant of a month: midnight of its first day, or, where a clock change skips
/// midnight, the first hour that exists.
fn start_of(month: Month, tz: Tz) -> Option<DateTime<Utc>> {
    let first = NaiveDate::from_ymd_opt(month.year, month.month, 1)?;
    (0..=3).find_map(|hour| {
        tz.from_local_datetime(&first.and_hms_opt(hour, 0, 0)?)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_only_as_year_dash_month() {
        let cases = [
            ("2026-11", Some((2026, 11))),
            ("2026-01", Some((2026, 1))),
            ("2026-12", Some((2026, 12))),
            ("2026-13", None),
            ("2026-00", None),
            ("2026-1", None),
            ("26-11", None),
            ("2026/11", None),
            ("2026-11-01", None),
            ("+202-11", None),
            ("1999-12", None),
            ("", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                Month::parse(raw).map(|m| (m.year, m.month)),
                expected,
                "{raw}"
            );
        }
    }

    #[test]
    fn month_bounds_follow_the_time_zone() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let shanghai = chrono_tz::Asia::Shanghai;
        let cases = [
            (
                "2026-11",
                shanghai,
                "2026-10-31T16:00:00Z",
                "2026-11-30T16:00:00Z",
            ),
            (
                "2026-12",
                shanghai,
                "2026-11-30T16:00:00Z",
                "2026-12-31T16:00:00Z",
            ),
            (
                "2026-11",
                chrono_tz::UTC,
                "2026-11-01T00:00:00Z",
                "2026-12-01T00:00:00Z",
            ),
            // New York leaves summer time on 1 November 2026.
            (
                "2026-11",
                chrono_tz::America::New_York,
                "2026-11-01T04:00:00Z",
                "2026-12-01T05:00:00Z",
            ),
        ];
        for (month, tz, from, until) in cases {
            let bounds = Month::parse(month).unwrap().bounds(tz).unwrap();
            assert_eq!(bounds, (at(from), at(until)), "{month} in {tz}");
        }
    }

    #[test]
    fn the_current_month_is_local() {
        let late = "2026-10-31T16:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            Month::containing(late, chrono_tz::Asia::Shanghai),
            Month {
                year: 2026,
                month: 11
            }
        );
        assert_eq!(
            Month::containing(late, chrono_tz::UTC),
            Month {
                year: 2026,
                month: 10
            }
        );
    }

    #[test]
    fn a_skipped_midnight_starts_the_month_at_the_first_hour_that_exists() {
        // Amman's clocks went from 00:00 (UTC+2) to 01:00 (UTC+3) on 1 April 2016.
        let (from, _) = Month::parse("2016-04")
            .unwrap()
            .bounds(chrono_tz::Asia::Amman)
            .unwrap();
        assert_eq!(
            from,
            "2016-03-31T22:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
