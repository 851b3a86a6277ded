//! The `User` as the API shows it, built from the user row, their grants and care flags.
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{care_flag, community, role_grant, user};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    auth::{
        Role,
        current_user::{grants_of, roles_of},
    },
    http::mask,
};

#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct CareView {
    pub lives_alone: bool,
    pub empty_nest: bool,
    pub hardship: bool,
}

impl From<Option<care_flag::Model>> for CareView {
    fn from(flags: Option<care_flag::Model>) -> Self {
        flags.map_or_else(Self::default, |f| Self {
            lives_alone: f.lives_alone,
            empty_nest: f.empty_nest,
            hardship: f.hardship,
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub nickname: String,
    pub avatar_url: Option<String>,
    pub roles: Vec<Role>,
    pub community_id: Option<String>,
    pub grid_unit_id: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub age: Option<u32>,
    pub phone_masked: Option<String>,
    pub care: CareView,
    /// `none`, `pending`, `approved` or `rejected`.
    pub volunteer_status: String,
    /// Only to the user themself and to staff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_detail: Option<String>,
    /// Only to the user themself and to staff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dietary_notes: Option<String>,
}

/// Who is looking decides what is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    SelfOrStaff,
    Other,
}

/// Whole years between a birth date and a day.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> u32 {
    let mut years = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

pub fn timezone_of(name: &str) -> Tz {
    name.parse().unwrap_or(chrono_tz::Asia::Shanghai)
}

/// The calendar day in a community's time zone.
pub fn local_date(now: DateTime<Utc>, timezone: &str) -> NaiveDate {
    now.with_timezone(&timezone_of(timezone)).date_naive()
}

impl UserView {
    pub fn build(
        user: user::Model,
        grants: &[role_grant::Model],
        care: Option<care_flag::Model>,
        today: NaiveDate,
        viewer: Viewer,
    ) -> Self {
        let private = viewer == Viewer::SelfOrStaff;
        Self {
            roles: roles_of(&user, grants),
            age: user.birth_date.map(|b| age_on(b, today)),
            phone_masked: user.phone.as_deref().map(mask::phone),
            care: care.into(),
            address_detail: user.address_detail.filter(|_| private),
            dietary_notes: user.dietary_notes.filter(|_| private),
            id: user.id,
            nickname: user.nickname,
            avatar_url: user.avatar_url,
            community_id: user.community_id,
            grid_unit_id: user.grid_unit_id,
            birth_date: user.birth_date,
            volunteer_status: user.volunteer_status,
        }
    }

    /// Loads what the view needs (grants, care flags, the community's time zone).
    pub async fn load(
        db: &impl ConnectionTrait,
        user: user::Model,
        now: DateTime<Utc>,
        viewer: Viewer,
    ) -> Result<Self, DbErr> {
        let grants = grants_of(db, &user.id).await?;
        let care = care_flag::Entity::find_by_id(user.id.clone())
            .one(db)
            .await?;
        let timezone = match user.community_id.as_deref() {
            Some(id) => community::Entity::find_by_id(id.to_owned())
                .one(db)
                .await?
                .map(|c| c.timezone),
            None => None,
        };
        let today = local_date(now, timezone.as_deref().unwrap_or("Asia/Shanghai"));
        Ok(Self::build(user, &grants, care, today, viewer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn age_turns_on_the_birthday() {
        let cases = [
            (d(1966, 11, 22), d(2026, 11, 21), 59),
            (d(1966, 11, 22), d(2026, 11, 22), 60),
            (d(1946, 2, 28), d(2026, 2, 27), 79),
            (d(2000, 2, 29), d(2026, 2, 28), 25),
            (d(2000, 2, 29), d(2026, 3, 1), 26),
            (d(2030, 1, 1), d(2026, 1, 1), 0),
        ];
        for (birth, day, age) in cases {
            assert_eq!(age_on(birth, day), age, "{birth} on {day}");
        }
    }

    #[test]
    fn the_local_date_follows_the_community_time_zone() {
        let late_utc: DateTime<Utc> = "2026-11-07T16:30:00Z".parse().unwrap();
        assert_eq!(local_date(late_utc, "Asia/Shanghai"), d(2026, 11, 8));
        assert_eq!(local_date(late_utc, "UTC"), d(2026, 11, 7));
    }
}
