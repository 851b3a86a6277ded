//! `conversations` table: a conversation between people who met through Linli (私信).
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What brought the participants together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum ContextType {
    #[sea_orm(string_value = "wish")]
    Wish,
    #[sea_orm(string_value = "delivery")]
    Delivery,
    #[sea_orm(string_value = "direct")]
    Direct,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub community_id: String,
    pub context_type: ContextType,
    pub context_id: String,
    /// `type:id` (a direct one: `direct:staff:member`), unique: one conversation per context.
    pub context_key: String,
    /// The `seq` of the last published message; taken by `last_seq = last_seq + 1` in the
    /// transaction that publishes, so numbers are gapless and in commit order.
    pub last_seq: i64,
    /// When the last message was published (or the conversation opened): the list's order.
    pub last_activity_at: DateTimeUtc,
    /// From then on nobody can send (its wish or delivery ended some days before).
    pub read_only_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
