//! Reading and marking one's notifications.
use chrono::{DateTime, Utc};
use entity::notification;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};

use super::dto::{MarkRead, NotificationQuery, NotificationView};
use crate::{
    error::AppError,
    http::{Cursor, Page},
};

/// Newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: &str,
    query: &NotificationQuery,
) -> Result<Page<NotificationView>, AppError> {
    let limit = query.limit.unwrap_or(20);
    let mut select = notification::Entity::find()
        .filter(notification::Column::UserId.eq(user_id))
        .order_by_desc(notification::Column::Id);
    if query.unread == Some(true) {
        select = select.filter(notification::Column::ReadAt.is_null());
    }
    if let Some(cursor) = query.cursor.as_deref() {
        select = select.filter(notification::Column::Id.lt(Cursor::decode(cursor)?.0));
    }
    let rows = select.limit(limit + 1).all(db).await?;
    Ok(Page::from_rows(
        rows,
        limit,
        |n| n.id.clone(),
        NotificationView::from,
    ))
}

pub async fn unread_count(db: &impl ConnectionTrait, user_id: &str) -> Result<u64, AppError> {
    Ok(notification::Entity::find()
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null())
        .count(db)
        .await?)
}

pub async fn mark_read(
    db: &impl ConnectionTrait,
    user_id: &str,
    body: MarkRead,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let mut update = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(Some(now)))
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null());
    if body.all != Some(true) {
        update = update.filter(notification::Column::Id.is_in(body.ids.unwrap_or_default()));
    }
    update.exec(db).await?;
    Ok(())
}
