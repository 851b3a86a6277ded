//! `hours_entries` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hours_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub community_id: String,
    /// `wish`, `delivery` or `manual`.
    pub source: String,
    /// The wish or delivery credited; a manual entry's own id. Unique with source and user,
    /// so a credit is given once.
    pub ref_id: String,
    pub minutes: i32,
    pub reason: Option<String>,
    pub created_by: Option<String>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
