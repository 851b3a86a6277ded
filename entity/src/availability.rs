//! `volunteer_availability` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "volunteer_availability")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub community_id: String,
    /// 1 (Monday) – 7 for a weekly slot; null for a date.
    pub weekday: Option<i32>,
    pub date: Option<Date>,
    /// `lunch` or `dinner` for a weekly slot; null for a date (it covers both).
    pub slot: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
