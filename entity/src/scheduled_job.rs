//! `scheduled_jobs` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scheduled_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Makes scheduling idempotent: the same deadline is stored once.
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub queue: String,
    pub kind: String,
    pub payload: String,
    pub run_at: DateTimeUtc,
    pub fired_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
