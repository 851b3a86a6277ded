//! Administrators of the installation: who they are, and taking admin away from one (never
//! from the last, so the installation cannot lock itself out).
use entity::user;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    db::write_txn,
    error::AppError,
    http::{Cursor, Page},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminView {
    pub id: String,
    pub nickname: String,
    pub avatar_url: Option<String>,
    pub community_id: Option<String>,
}

impl From<user::Model> for AdminView {
    fn from(u: user::Model) -> Self {
        Self {
            id: u.id,
            nickname: u.nickname,
            avatar_url: u.avatar_url,
            community_id: u.community_id,
        }
    }
}

pub async fn list(
    db: &impl ConnectionTrait,
    limit: u64,
    after: Option<Cursor>,
) -> Result<Page<AdminView>, AppError> {
    let mut query = user::Entity::find()
        .filter(user::Column::IsAdmin.eq(true))
        .order_by_asc(user::Column::Id);
    if let Some(Cursor(after)) = after {
        query = query.filter(user::Column::Id.gt(after));
    }
    let rows = query.limit(limit + 1).all(db).await?;
    Ok(Page::from_rows(
        rows,
        limit,
        |u| u.id.clone(),
        AdminView::from,
    ))
}

/// Takes admin away from `user_id` (an admin who is not one any more: done already). Every
/// admin row is held first, so two admins removing each other at once leave one of them.
#[tracing::instrument(skip(db))]
pub async fn remove(db: &DatabaseConnection, user_id: &str) -> Result<(), AppError> {
    let txn = write_txn(db).await?;
    let mut admins = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::IsAdmin.eq(true))
        .order_by_asc(user::Column::Id);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        admins = admins.lock_exclusive();
    }
    let admins: Vec<String> = admins.into_tuple().all(&txn).await?;
    if !admins.iter().any(|id| id == user_id) {
        return user::Entity::find_by_id(user_id.to_owned())
            .one(&txn)
            .await?
            .map(|_| ())
            .ok_or(AppError::NotFound);
    }
    if admins.len() <= 1 {
        return Err(AppError::conflict(
            "last_admin",
            "the installation's last administrator cannot be removed",
        ));
    }
    user::Entity::update_many()
        .col_expr(user::Column::IsAdmin, Expr::value(false))
        .filter(user::Column::Id.eq(user_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    tracing::info!("admin removed");
    Ok(())
}
