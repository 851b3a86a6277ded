//! `reservations` table: a place at a meal, its price frozen.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reservations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub menu_id: String,
    pub community_id: String,
    pub user_id: String,
    pub date: Date,
    pub slot: String,
    /// `dine_in` or `delivery`.
    pub mode: String,
    pub price_fen: i32,
    pub subsidy_fen: i32,
    pub payable_fen: i32,
    /// The free-meal-day meal the community pays for.
    pub free_meal: bool,
    /// `self`, `standing_order` or `free_meal_roster`.
    pub source: String,
    /// `reserved`, `cancelled` or `served`.
    pub status: String,
    pub delivery_id: Option<String>,
    /// `menu:user` while not cancelled: one live reservation per member and meal.
    pub live_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub cancelled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
