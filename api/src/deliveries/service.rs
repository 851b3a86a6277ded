//! Deliveries as the canteen creates and cancels them; assignment and the volunteer's steps build
//! on these rows.
use chrono::{DateTime, Utc};
use entity::{delivery, reservation};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};

use crate::{error::AppError, state::new_id};

/// A pending delivery for a delivered-meal reservation, in the reservation's transaction;
/// returns its id.
pub async fn create_for_meal(
    db: &impl ConnectionTrait,
    meal: &reservation::Model,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    let id = new_id();
    delivery::Entity::insert(delivery::ActiveModel {
        id: Set(id.clone()),
        community_id: Set(meal.community_id.clone()),
        kind: Set("meal".to_owned()),
        ref_id: Set(meal.id.clone()),
        menu_id: Set(Some(meal.menu_id.clone())),
        date: Set(meal.date),
        slot: Set(meal.slot.clone()),
        recipient_id: Set(meal.user_id.clone()),
        volunteer_id: Set(None),
        status: Set("pending".to_owned()),
        accept_deadline: Set(None),
        assigned_at: Set(None),
        accepted_at: Set(None),
        picked_up_at: Set(None),
        delivered_at: Set(None),
        failed_at: Set(None),
        fail_reason: Set(None),
        fail_note: Set(None),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(id)
}

/// The reservation was cancelled: its delivery is too, unless it is already finished. Returns
/// the volunteer who had it, to be told.
pub async fn cancel_for_meal(
    db: &impl ConnectionTrait,
    delivery_id: &str,
) -> Result<Option<String>, AppError> {
    let Some(found) = delivery::Entity::find_by_id(delivery_id.to_owned())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let cancelled = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value("cancelled"))
        .filter(delivery::Column::Id.eq(delivery_id))
        .filter(delivery::Column::Status.is_in(["pending", "assigned", "accepted", "picked_up"]))
        .exec(db)
        .await?
        .rows_affected;
    Ok(if cancelled == 1 {
        found.volunteer_id
    } else {
        None
    })
}
