//! `enrollments` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrollments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub course_id: String,
    pub community_id: String,
    /// Who enrolled (the parent for a child).
    pub user_id: String,
    /// `self` or `dependent`.
    pub participant_kind: String,
    pub participant_id: String,
    pub participant_name: String,
    /// `applied`, `enrolled`, `waitlisted` or `cancelled`.
    pub status: String,
    pub waitlist_position: Option<i32>,
    /// `course:kind:participant` while not cancelled, null after: a unique index allows one
    /// live enrollment per participant and course.
    pub live_key: Option<String>,
    /// A lottery applicant's place in the drawn order (1-based).
    pub draw_rank: Option<i32>,
    /// What the draw gave: `enrolled`, `waitlisted` or `not_drawn`.
    pub draw_result: Option<String>,
    pub created_at: DateTimeUtc,
    pub cancelled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
