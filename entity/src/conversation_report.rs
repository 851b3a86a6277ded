//! `conversation_reports` table: a participant's report, with a copy of the messages it names.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversation_reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub community_id: String,
    pub conversation_id: String,
    pub reporter_id: String,
    /// `harassment`, `fraud`, `privacy` or `other`.
    pub reason: String,
    pub note: Option<String>,
    /// JSON array of the named messages as they were when reported.
    pub messages: String,
    /// `open` or `resolved`.
    pub status: String,
    pub outcome: Option<String>,
    pub resolve_note: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
