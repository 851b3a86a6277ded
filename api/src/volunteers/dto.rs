//! Bodies of the volunteer endpoints.
use chrono::{DateTime, NaiveDate, Utc};
use entity::{hours_entry, team, volunteer_application};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

use super::hours::Month;
use crate::http::mask;

/// The longest a real name may be, in characters.
const NAME_MAX: usize = 20;
/// The longest a skill may be, in characters.
const SKILL_MAX: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Pending,
    Approved,
    Rejected,
    /// Ended by the applicant leaving the community.
    Withdrawn,
}

impl ApplicationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// An application to become a volunteer of the community one has joined.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Apply {
    /// 1–20 characters (surrounding spaces are dropped); shown to staff only.
    #[validate(custom(function = "real_name"))]
    pub real_name: String,
    /// Digits with an optional leading `+`, 5–20 digits; only ever shown masked.
    #[validate(custom(function = "phone_number"))]
    #[schema(example = "13812345678")]
    pub phone: String,
    /// At most 10, each 1–20 characters; repeats are collapsed.
    #[serde(default)]
    #[validate(length(max = 10, code = "too_many"), custom(function = "skills"))]
    pub skills: Vec<String>,
    /// A team of the same community.
    #[validate(length(min = 1, max = 64, code = "length"))]
    pub team_id: Option<String>,
}

fn real_name(name: &str) -> Result<(), ValidationError> {
    short_text(name, NAME_MAX)
}

/// Trimmed, 1..=`max` characters, no control characters.
fn short_text(text: &str, max: usize) -> Result<(), ValidationError> {
    let text = text.trim();
    let len = text.chars().count();
    if len == 0 || len > max {
        return Err(ValidationError::new("length"));
    }
    if text.chars().any(char::is_control) {
        return Err(ValidationError::new("invalid"));
    }
    Ok(())
}

/// Digits with an optional leading `+`, 5–20 digits.
fn phone_number(phone: &str) -> Result<(), ValidationError> {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    if (5..=20).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ValidationError::new("phone"))
    }
}

fn skills(skills: &[String]) -> Result<(), ValidationError> {
    if skills.iter().all(|s| short_text(s, SKILL_MAX).is_ok()) {
        Ok(())
    } else {
        Err(ValidationError::new("item_length"))
    }
}

impl Apply {
    /// The skills trimmed, in the order given, each once.
    pub fn skill_list(&self) -> Vec<String> {
        let mut list: Vec<String> = Vec::with_capacity(self.skills.len());
        for skill in &self.skills {
            let skill = skill.trim();
            if !list.iter().any(|s| s == skill) {
                list.push(skill.to_owned());
            }
        }
        list
    }
}

/// Staff's decision on an application; the body may be empty.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationReview {
    /// Told to the applicant; kept with the application. Up to 200 characters.
    #[validate(length(max = 200, code = "length"))]
    pub reason: Option<String>,
}

impl ApplicationReview {
    pub fn reason(&self) -> Option<String> {
        self.reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
    }
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplicationQuery {
    /// Only applications in this state.
    pub status: Option<ApplicationStatus>,
    /// 1–100, default 20.
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// An application as its applicant and the community's staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: String,
    pub user_id: String,
    pub community_id: String,
    pub real_name: String,
    /// `138****5678`; the full number is never shown.
    pub phone_masked: String,
    pub skills: Vec<String>,
    pub team_id: Option<String>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Staff's reason, if they gave one.
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

impl From<volunteer_application::Model> for ApplicationView {
    fn from(a: volunteer_application::Model) -> Self {
        Self {
            phone_masked: mask::phone(&a.phone),
            skills: serde_json::from_str(&a.skills).unwrap_or_default(),
            id: a.id,
            user_id: a.user_id,
            community_id: a.community_id,
            real_name: a.real_name,
            team_id: a.team_id,
            status: a.status,
            reason: a.reason,
            created_at: a.created_at,
            reviewed_at: a.reviewed_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    /// 1–30 characters.
    #[validate(custom(function = "team_name"))]
    pub name: String,
    /// Up to 200 characters.
    #[validate(length(max = 200, code = "length"))]
    pub description: Option<String>,
}

fn team_name(name: &str) -> Result<(), ValidationError> {
    short_text(name, 30)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    pub id: String,
    pub community_id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<team::Model> for TeamView {
    fn from(t: team::Model) -> Self {
        Self {
            id: t.id,
            community_id: t.community_id,
            name: t.name,
            description: t.description,
            created_at: t.created_at,
        }
    }
}

/// A meal slot a volunteer can deliver in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MealSlot {
    Lunch,
    Dinner,
}

impl MealSlot {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lunch => "lunch",
            Self::Dinner => "dinner",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "lunch" => Some(Self::Lunch),
            "dinner" => Some(Self::Dinner),
            _ => None,
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Validate,
    ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct WeeklySlot {
    /// 1 (Monday) – 7 (Sunday).
    #[validate(range(min = 1, max = 7, code = "range"))]
    #[schema(minimum = 1, maximum = 7)]
    pub weekday: u8,
    pub slot: MealSlot,
}

/// When a volunteer can deliver: every week on these slots, and on these whole days (a date
/// covers both slots). `PUT` replaces everything; a missing list counts as empty.
#[derive(Debug, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    /// At most 14 entries (7 days × 2 slots); repeats are collapsed.
    #[serde(default)]
    #[validate(length(max = 14, code = "too_many"), nested)]
    pub weekly: Vec<WeeklySlot>,
    /// `YYYY-MM-DD` in the community's time zone, from today up to a year ahead; at most 60.
    /// Repeats are collapsed; past dates are not listed back.
    #[serde(default)]
    #[validate(length(max = 60, code = "too_many"))]
    pub dates: Vec<NaiveDate>,
}

/// One credit in a volunteer's ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoursEntryView {
    pub id: String,
    pub community_id: String,
    /// `wish`, `delivery` or `manual`.
    pub source: String,
    /// The wish or delivery credited; a manual entry's own id.
    pub ref_id: String,
    pub minutes: i32,
    pub at: DateTime<Utc>,
    /// Why staff credited it (manual entries).
    pub reason: Option<String>,
}

impl From<hours_entry::Model> for HoursEntryView {
    fn from(e: hours_entry::Model) -> Self {
        Self {
            id: e.id,
            community_id: e.community_id,
            source: e.source,
            ref_id: e.ref_id,
            minutes: e.minutes,
            at: e.at,
            reason: e.reason,
        }
    }
}

/// The total, and a page of the ledger (`?limit=`, `?cursor=`).
#[derive(Debug, Serialize, ToSchema)]
pub struct HoursView {
    /// Every entry's minutes, in every community.
    pub total_minutes: i64,
    /// Newest first.
    pub entries: Vec<HoursEntryView>,
    /// Pass as `cursor` for the older entries; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A manual credit of service hours (events, service days).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualCredit {
    /// A member of the community.
    #[validate(length(min = 1, max = 64, code = "length"))]
    pub user_id: String,
    /// 1–1440 (one day at most). Entries are never edited, and there are no negative credits.
    #[validate(range(min = 1, max = 1440, code = "range"))]
    #[schema(minimum = 1, maximum = 1440)]
    pub minutes: i32,
    /// 1–200 characters.
    #[validate(custom(function = "credit_reason"))]
    pub reason: String,
}

fn credit_reason(reason: &str) -> Result<(), ValidationError> {
    short_text(reason, 200)
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeaderboardQuery {
    /// `YYYY-MM` in the community's time zone; default the current month there.
    #[validate(custom(function = "valid_month"))]
    #[param(example = "2026-11")]
    pub month: Option<String>,
    /// 1–100, default 20.
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

fn valid_month(raw: &str) -> Result<(), ValidationError> {
    Month::parse(raw)
        .map(|_| ())
        .ok_or_else(|| ValidationError::new("month"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeaderboardRow {
    pub user_id: String,
    pub nickname: String,
    pub minutes: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_digits_with_an_optional_plus() {
        let cases = [
            ("13812345678", true),
            ("+8613812345678", true),
            ("12345", true),
            ("1234", false),
            ("123456789012345678901", false),
            ("138-1234-5678", false),
            ("+", false),
            ("", false),
            ("1381234567８", false),
        ];
        for (phone, ok) in cases {
            assert_eq!(phone_number(phone).is_ok(), ok, "{phone}");
        }
    }

    #[test]
    fn short_texts_count_characters_after_trimming() {
        let cases = [
            ("王小明", 20, true),
            ("  王小明  ", 3, true),
            ("   ", 20, false),
            ("", 20, false),
            ("一二三四五六七八九十一二三四五六七八九十", 20, true),
            ("一二三四五六七八九十一二三四五六七八九十一", 20, false),
            ("a\u{0}b", 20, false),
        ];
        for (text, max, ok) in cases {
            assert_eq!(short_text(text, max).is_ok(), ok, "{text:?}");
        }
    }

    #[test]
    fn skills_are_trimmed_and_collapsed_in_order() {
        let apply = Apply {
            real_name: "王".into(),
            phone: "13812345678".into(),
            skills: vec![" 烹饪".into(), "驾驶".into(), "烹饪 ".into()],
            team_id: None,
        };
        assert_eq!(apply.skill_list(), ["烹饪", "驾驶"]);
    }
}
