//! `welfare_alerts` table: a member who did not open the door.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "welfare_alerts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub community_id: String,
    pub delivery_id: String,
    pub member_id: String,
    pub grid_unit_id: Option<String>,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    pub raised_at: DateTimeUtc,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTimeUtc>,
    pub resolution_note: Option<String>,
    /// While open: when it is sent again to everyone.
    pub next_escalation_at: Option<DateTimeUtc>,
    pub escalations: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
