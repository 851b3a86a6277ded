//! `outbox` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub queue: String,
    pub kind: String,
    pub payload: String,
    pub created_at: DateTimeUtc,
    /// When the relay last put it on its stream; null until then.
    pub published_at: Option<DateTimeUtc>,
    /// When its handler finished; the row is done only then.
    pub done_at: Option<DateTimeUtc>,
    /// A retry waits until then; null means at once.
    pub available_at: Option<DateTimeUtc>,
    /// Set when the job gave up and went to the dead-letter stream.
    pub dead_at: Option<DateTimeUtc>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
