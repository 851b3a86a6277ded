//! `course_sessions` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "course_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub course_id: String,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    /// The code staff show at the door, while it lasts.
    pub check_in_code: Option<String>,
    pub check_in_expires_at: Option<DateTimeUtc>,
    /// When participants are reminded (`course_reminder_minutes` before the start).
    pub remind_at: Option<DateTimeUtc>,
    /// Set once, by whichever scheduler sent the reminder.
    pub reminded_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
