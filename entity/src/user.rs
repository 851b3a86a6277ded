//! `users` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub openid: String,
    pub unionid: Option<String>,
    pub nickname: String,
    pub avatar_url: Option<String>,
    pub community_id: Option<String>,
    pub grid_unit_id: Option<String>,
    pub birth_date: Option<Date>,
    pub phone: Option<String>,
    pub address_detail: Option<String>,
    pub dietary_notes: Option<String>,
    pub is_admin: bool,
    pub volunteer_status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
