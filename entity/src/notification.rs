//! `notifications` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub ref_type: Option<String>,
    pub ref_id: Option<String>,
    /// The outbox event it came from; with `user_id`, unique, so a job that runs twice stores one.
    pub source_event: i64,
    /// `none` (no template or quota), `sent`, `no_quota`, `failed`.
    pub wechat_status: String,
    pub created_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
