//! `course_audit` table: every staff action on a course and its enrollments.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "course_audit")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub course_id: String,
    pub actor_id: String,
    /// `edit`, `cancel`, `promote` or `remove`.
    pub action: String,
    pub enrollment_id: Option<String>,
    pub reason: Option<String>,
    /// What changed, for people.
    pub detail: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
