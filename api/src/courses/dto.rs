//! Bodies of the course endpoints.
use chrono::{DateTime, Utc};
use entity::{course, course_session, enrollment};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

use crate::http::extract::refuse_field;

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "ordered_session"))]
pub struct SessionInput {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "consistent_course"))]
pub struct CreateCourse {
    #[validate(length(min = 1, max = 40, code = "length"))]
    pub title: String,
    /// Free text: dance, calligraphy, music, lego…
    #[validate(length(min = 1, max = 20, code = "length"))]
    pub category: String,
    #[validate(length(max = 1000, code = "length"))]
    pub description: Option<String>,
    #[validate(length(max = 40, code = "length"))]
    pub teacher: Option<String>,
    #[validate(length(max = 100, code = "length"))]
    pub location: Option<String>,
    #[validate(range(min = 0, max = 120, code = "range"))]
    pub min_age: Option<i32>,
    #[validate(range(min = 0, max = 120, code = "range"))]
    pub max_age: Option<i32>,
    #[validate(range(min = 1, max = 1000, code = "range"))]
    pub capacity: i32,
    /// Left out: no limit.
    #[validate(range(min = 0, max = 10000, code = "range"))]
    pub waitlist_capacity: Option<i32>,
    /// `first_come` (the default) or `lottery`.
    #[serde(default)]
    pub allocation: Allocation,
    pub registration_opens_at: DateTime<Utc>,
    pub registration_closes_at: DateTime<Utc>,
    /// At least one.
    #[validate(length(min = 1, max = 200, code = "length"), nested)]
    pub sessions: Vec<SessionInput>,
}

fn consistent_course(c: &CreateCourse) -> Result<(), ValidationError> {
    if c.registration_closes_at <= c.registration_opens_at {
        return Err(refuse_field(
            "registration_closes_at",
            "registration_window",
        ));
    }
    if let (Some(min), Some(max)) = (c.min_age, c.max_age)
        && min > max
    {
        return Err(refuse_field("max_age", "age_range"));
    }
    Ok(())
}

/// Checked per session, so the answer names the one that is wrong (`sessions[2].ends_at`).
fn ordered_session(s: &SessionInput) -> Result<(), ValidationError> {
    if s.ends_at <= s.starts_at {
        return Err(refuse_field("ends_at", "session_times"));
    }
    Ok(())
}

/// How seats go: in commit order, or by one draw at the close of registration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Allocation {
    #[default]
    FirstCome,
    Lottery,
}

impl Allocation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstCome => "first_come",
            Self::Lottery => "lottery",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CourseStatus {
    Upcoming,
    Open,
    Closed,
    Cancelled,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CourseQuery {
    pub status: Option<CourseStatus>,
    #[validate(length(min = 1, max = 20, code = "length"))]
    pub category: Option<String>,
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl From<course_session::Model> for SessionView {
    fn from(s: course_session::Model) -> Self {
        Self {
            id: s.id,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CourseView {
    pub id: String,
    pub community_id: String,
    pub title: String,
    pub category: String,
    pub description: Option<String>,
    pub teacher: Option<String>,
    pub location: Option<String>,
    pub min_age: Option<i32>,
    pub max_age: Option<i32>,
    pub capacity: i32,
    pub waitlist_capacity: Option<i32>,
    pub enrolled_count: i32,
    pub waitlist_count: i32,
    pub seats_left: i32,
    pub registration_opens_at: DateTime<Utc>,
    pub registration_closes_at: DateTime<Utc>,
    pub status: CourseStatus,
    /// `first_come` or `lottery`.
    pub allocation: String,
    pub sessions: Vec<SessionView>,
}

pub fn status_at(c: &course::Model, now: DateTime<Utc>) -> CourseStatus {
    if c.cancelled_at.is_some() {
        CourseStatus::Cancelled
    } else if now < c.registration_opens_at {
        CourseStatus::Upcoming
    } else if now < c.registration_closes_at {
        CourseStatus::Open
    } else {
        CourseStatus::Closed
    }
}

impl CourseView {
    pub fn new(c: course::Model, sessions: Vec<course_session::Model>, now: DateTime<Utc>) -> Self {
        Self {
            status: status_at(&c, now),
            seats_left: (c.capacity - c.enrolled_count).max(0),
            sessions: sessions.into_iter().map(SessionView::from).collect(),
            id: c.id,
            community_id: c.community_id,
            title: c.title,
            category: c.category,
            description: c.description,
            teacher: c.teacher,
            location: c.location,
            min_age: c.min_age,
            max_age: c.max_age,
            capacity: c.capacity,
            waitlist_capacity: c.waitlist_capacity,
            enrolled_count: c.enrolled_count,
            waitlist_count: c.waitlist_count,
            registration_opens_at: c.registration_opens_at,
            registration_closes_at: c.registration_closes_at,
            allocation: c.allocation,
        }
    }
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enroll {
    /// Enrol a child (or other dependent) instead of oneself.
    #[validate(length(min = 1, max = 64, code = "length"))]
    pub dependent_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantView {
    /// `self` or `dependent`.
    pub kind: String,
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentView {
    pub id: String,
    pub course_id: String,
    pub participant: ParticipantView,
    /// `applied` (a lottery course before its draw), `enrolled`, `waitlisted` or `cancelled`.
    pub status: String,
    pub waitlist_position: Option<i32>,
    pub created_at: DateTime<Utc>,
}

impl From<enrollment::Model> for EnrollmentView {
    fn from(e: enrollment::Model) -> Self {
        Self {
            id: e.id,
            course_id: e.course_id,
            participant: ParticipantView {
                kind: e.participant_kind,
                id: e.participant_id,
                name: e.participant_name,
            },
            status: e.status,
            waitlist_position: e.waitlist_position,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Roster {
    pub enrolled: Vec<EnrollmentView>,
    /// In position order.
    pub waitlist: Vec<EnrollmentView>,
}

/// Only the fields given change. A larger capacity promotes from the waitlist at once.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCourse {
    #[validate(length(min = 1, max = 40, code = "length"))]
    pub title: Option<String>,
    #[validate(length(min = 1, max = 20, code = "length"))]
    pub category: Option<String>,
    #[validate(length(max = 1000, code = "length"))]
    pub description: Option<String>,
    #[validate(length(max = 40, code = "length"))]
    pub teacher: Option<String>,
    #[validate(length(max = 100, code = "length"))]
    pub location: Option<String>,
    #[validate(range(min = 1, max = 1000, code = "range"))]
    pub capacity: Option<i32>,
    #[validate(range(min = 0, max = 10000, code = "range"))]
    pub waitlist_capacity: Option<i32>,
    pub registration_opens_at: Option<DateTime<Utc>>,
    pub registration_closes_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Promote {
    /// Why this participant goes ahead of the queue; kept in the audit log.
    #[validate(length(min = 1, max = 200, code = "length"))]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub actor_id: String,
    /// `edit`, `cancel`, `promote` or `remove`.
    pub action: String,
    pub enrollment_id: Option<String>,
    pub reason: Option<String>,
    pub detail: String,
    pub at: DateTime<Utc>,
}

impl From<entity::course_audit::Model> for AuditEntry {
    fn from(a: entity::course_audit::Model) -> Self {
        Self {
            id: a.id,
            actor_id: a.actor_id,
            action: a.action,
            enrollment_id: a.enrollment_id,
            reason: a.reason,
            detail: a.detail,
            at: a.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInCode {
    /// Six digits to show at the door.
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    #[validate(length(min = 6, max = 6, code = "length"))]
    pub code: String,
    /// Check in only this child; by default every enrolled participant of the caller.
    #[validate(length(min = 1, max = 64, code = "length"))]
    pub dependent_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceView {
    pub session_id: String,
    pub enrollment_id: String,
    pub participant_name: String,
    pub checked_in_at: DateTime<Utc>,
}

impl From<entity::attendance::Model> for AttendanceView {
    fn from(a: entity::attendance::Model) -> Self {
        Self {
            session_id: a.session_id,
            enrollment_id: a.enrollment_id,
            participant_name: a.participant_name,
            checked_in_at: a.checked_in_at,
        }
    }
}

/// One applicant of a lottery, in drawn order.
#[derive(Debug, Serialize, ToSchema)]
pub struct DrawnApplicant {
    /// 1-based place in the drawn order.
    pub rank: i32,
    pub enrollment_id: String,
    pub participant: ParticipantView,
    /// What the draw gave: `enrolled`, `waitlisted` or `not_drawn` (beyond the waitlist).
    pub result: String,
    /// The enrollment's status now (it may have been cancelled or promoted since).
    pub status: String,
}

/// A lottery course's draw, with what anyone needs to replay it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DrawView {
    pub course_id: String,
    /// The recorded seed, a decimal u64 (a string: it exceeds JavaScript's safe integers).
    pub seed: String,
    pub drawn_at: DateTime<Utc>,
    /// How to replay it: the applicants sorted by `enrollment_id` are shuffled by Fisher–Yates
    /// (from the last place down) with SplitMix64 seeded by `seed`, unbiased by rejection.
    pub method: String,
    pub seats: i32,
    pub applicants: Vec<DrawnApplicant>,
    pub enrolled: usize,
    pub waitlisted: usize,
    pub not_drawn: usize,
}
