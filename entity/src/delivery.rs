//! `deliveries` table: a meal (or wish) carried to a member by a volunteer.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub community_id: String,
    /// `meal` or `wish`.
    pub kind: String,
    /// The reservation (meal) or wish it carries.
    pub ref_id: String,
    pub menu_id: Option<String>,
    pub date: Date,
    pub slot: String,
    pub recipient_id: String,
    pub volunteer_id: Option<String>,
    /// `pending`, `assigned`, `accepted`, `picked_up`, `delivered`, `failed` or `cancelled`.
    pub status: String,
    pub accept_deadline: Option<DateTimeUtc>,
    pub assigned_at: Option<DateTimeUtc>,
    pub accepted_at: Option<DateTimeUtc>,
    pub picked_up_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub failed_at: Option<DateTimeUtc>,
    /// `not_home`, `refused` or `other`.
    pub fail_reason: Option<String>,
    pub fail_note: Option<String>,
    /// When staff were told nobody could take it; cleared when it is assigned.
    pub unassigned_alerted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
