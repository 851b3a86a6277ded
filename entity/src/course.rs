//! `courses` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "courses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub community_id: String,
    pub title: String,
    pub category: String,
    pub description: Option<String>,
    pub teacher: Option<String>,
    pub location: Option<String>,
    pub min_age: Option<i32>,
    pub max_age: Option<i32>,
    pub capacity: i32,
    /// Null: no limit.
    pub waitlist_capacity: Option<i32>,
    pub enrolled_count: i32,
    pub waitlist_count: i32,
    /// `first_come` or `lottery`.
    pub allocation: String,
    pub registration_opens_at: DateTimeUtc,
    pub registration_closes_at: DateTimeUtc,
    pub cancelled_at: Option<DateTimeUtc>,
    /// A lottery's seed (decimal u64), recorded with the draw.
    pub draw_seed: Option<String>,
    pub drawn_at: Option<DateTimeUtc>,
    /// What the latest enrolment took: `enrolled` or `waitlisted` (see `courses::service`).
    pub last_place: Option<String>,
    pub created_by: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
