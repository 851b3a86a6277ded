//! `problems` table: the staff's inbox of things a person must act on (待处理).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "problems")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub community_id: String,
    /// `message_report`, `blocked_conversation`, …
    pub kind: String,
    pub ref_type: String,
    pub ref_id: String,
    /// Short and free of personal data: it is shown in lists.
    pub summary: String,
    pub urgent: bool,
    /// `open`, `taken` or `closed`.
    pub status: String,
    pub taken_by: Option<String>,
    pub taken_at: Option<DateTimeUtc>,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTimeUtc>,
    pub close_note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
