//! `messages` table.
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Checked (or no check configured) and numbered: everyone in the conversation sees it.
    #[sea_orm(string_value = "published")]
    Published,
    /// Waiting for the content check; only its sender sees it.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// The check refused it after it had waited; only its sender sees it.
    #[sea_orm(string_value = "rejected")]
    Rejected,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub conversation_id: String,
    /// 1, 2, 3… per conversation once published; none while pending or rejected.
    pub seq: Option<i64>,
    pub sender_id: String,
    pub text: String,
    /// Chosen by the phone; unique per sender and conversation, so a retried send is one message.
    pub client_msg_id: String,
    pub status: MessageStatus,
    pub created_at: DateTimeUtc,
    pub published_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
