//! `wishes` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "wishes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub community_id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub budget_fen: i64,
    pub status: String,
    pub poster_id: String,
    pub beneficiary_id: String,
    pub claimer_id: Option<String>,
    /// `volunteer` or `partner`.
    pub claimer_kind: Option<String>,
    pub created_at: DateTimeUtc,
    pub published_at: Option<DateTimeUtc>,
    pub claimed_at: Option<DateTimeUtc>,
    pub claim_expires_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub reject_reason: Option<String>,
    pub delivery_note: Option<String>,
    /// JSON array of photo URLs.
    pub photo_urls: Option<String>,
    pub thanks_note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
