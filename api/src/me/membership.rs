//! Membership of a community, and what ends with it: a user who leaves (moves to another
//! community, or to none) keeps no role, grid post or volunteer standing there.
use chrono::{DateTime, Utc};
use entity::{delivery, role_grant, volunteer_application as application};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, sea_query::Expr,
};

use crate::{deliveries::dispatch, error::AppError, volunteers::dto::ApplicationStatus};

/// Ends everything the user held in `community_id`, inside the caller's transaction: every
/// role grant (staff, grid posts, partner, volunteer), their live volunteer application, and
/// the deliveries they had not finished, which go back to be assigned to someone else.
#[tracing::instrument(skip_all, fields(user_id, community_id))]
pub async fn leave(
    txn: &DatabaseTransaction,
    user_id: &str,
    community_id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let roles = role_grant::Entity::delete_many()
        .filter(role_grant::Column::UserId.eq(user_id))
        .filter(role_grant::Column::CommunityId.eq(community_id))
        .exec(txn)
        .await?
        .rows_affected;
    end_volunteer_application(txn, user_id, community_id, now).await?;
    let deliveries = release_deliveries(txn, user_id, community_id, now).await?;
    tracing::info!(roles, deliveries, "left a community");
    Ok(())
}

/// A pending or approved application is withdrawn; the person may apply again on return.
async fn end_volunteer_application(
    db: &impl ConnectionTrait,
    user_id: &str,
    community_id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    application::Entity::update_many()
        .col_expr(
            application::Column::Status,
            Expr::value(ApplicationStatus::Withdrawn.as_str()),
        )
        .col_expr(application::Column::LiveKey, Expr::value(None::<String>))
        .col_expr(application::Column::ReviewedAt, Expr::value(now))
        .filter(application::Column::UserId.eq(user_id))
        .filter(application::Column::CommunityId.eq(community_id))
        .filter(application::Column::LiveKey.is_not_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Unfinished deliveries of the leaver go back to `pending` and through assignment again.
async fn release_deliveries(
    txn: &DatabaseTransaction,
    user_id: &str,
    community_id: &str,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    const UNFINISHED: [&str; 3] = ["assigned", "accepted", "picked_up"];
    let theirs = delivery::Entity::find()
        .filter(delivery::Column::CommunityId.eq(community_id))
        .filter(delivery::Column::VolunteerId.eq(user_id))
        .filter(delivery::Column::Status.is_in(UNFINISHED))
        .all(txn)
        .await?;
    let mut released = 0;
    for d in &theirs {
        if dispatch::back_to_pending(txn, d, user_id, &UNFINISHED, "left_community", now).await? {
            released += 1;
        }
    }
    Ok(released)
}
