//! `volunteer_applications` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "volunteer_applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub community_id: String,
    pub real_name: String,
    pub phone: String,
    /// JSON array of skills.
    pub skills: String,
    pub team_id: Option<String>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// `user_id:community_id` while pending or approved, null once rejected: a unique index
    /// allows one live application per person and community.
    pub live_key: Option<String>,
    pub reason: Option<String>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
