//! `menus` table: one meal (date and slot) of the community canteen.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "menus")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub community_id: String,
    /// The calendar day in the community's time zone.
    pub date: Date,
    /// `lunch` or `dinner`.
    pub slot: String,
    /// A JSON array of dish names.
    pub dishes: String,
    pub price_fen: i32,
    pub capacity: i32,
    pub reserved_count: i32,
    pub reserve_cutoff_at: DateTimeUtc,
    pub delivery_available: bool,
    pub free_meal_day: bool,
    /// When the free-meal roster runs by itself (free-meal days only), and when it did.
    pub roster_at: Option<DateTimeUtc>,
    pub roster_ran_at: Option<DateTimeUtc>,
    /// When the automatic dispatch at the cut-off ran.
    pub dispatched_at: Option<DateTimeUtc>,
    pub created_by: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
