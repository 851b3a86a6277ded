//! `conversation_members` table: who is in a conversation, their read marker and block.
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Why someone is in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    #[sea_orm(string_value = "poster")]
    Poster,
    #[sea_orm(string_value = "beneficiary")]
    Beneficiary,
    #[sea_orm(string_value = "claimer")]
    Claimer,
    #[sea_orm(string_value = "recipient")]
    Recipient,
    #[sea_orm(string_value = "volunteer")]
    Volunteer,
    #[sea_orm(string_value = "staff")]
    Staff,
    #[sea_orm(string_value = "member")]
    Member,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversation_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub role: MemberRole,
    /// Only moves forward, never past the conversation's `last_seq`.
    pub read_seq: i64,
    /// The `seq` an offline reminder (WeChat) was last sent for: one until they read.
    pub reminded_seq: i64,
    pub blocked_at: Option<DateTimeUtc>,
    pub joined_at: DateTimeUtc,
    /// Set when the context moved them out (a released claim, a reassigned delivery).
    pub left_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
