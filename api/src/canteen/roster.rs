//! The free-meal roster (爱心餐): on the free-meal day every empty-nest or hardship member gets a
//! free meal at their door. Staff run it, and it runs by itself `free_meal_roster_hours` before
//! the cut-off; a second run finds what the first made.
use chrono::{DateTime, Utc};
use entity::{care_flag, menu, reservation, user};
use jobs::{notify::Notify, outbox};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};

use super::{
    dto::{Mode, RosterOutcome},
    service::{Refusal, Source, place, visible},
};
use crate::{
    auth::CurrentUser,
    community::{self, settings::CommunitySettings},
    db::write_txn,
    error::AppError,
};

/// Staff run the roster for a free-meal-day menu.
pub async fn run(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    menu_id: &str,
    now: DateTime<Utc>,
) -> Result<RosterOutcome, AppError> {
    let meal = visible(db, actor, menu_id).await?;
    actor.require_staff_of(&meal.community_id)?;
    if !meal.free_meal_day {
        return Err(AppError::conflict(
            "not_free_meal_day",
            "the roster is for the free-meal day's menus",
        ));
    }
    if now >= meal.reserve_cutoff_at {
        return Err(Refusal::Closed.into());
    }
    let settings = community::service::settings_of(db, &meal.community_id).await?;
    let txn = write_txn(db).await?;
    let outcome = roster_in(&txn, &meal, &settings, now).await?;
    txn.commit().await?;
    tracing::info!(
        menu_id,
        created = outcome.created,
        "free-meal roster run by staff"
    );
    Ok(outcome)
}

/// Runs every roster that is due, once each: the conditional update that marks a menu's roster
/// run is in the same transaction as the roster.
pub async fn run_due(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    let due = menu::Entity::find()
        .filter(menu::Column::RosterRanAt.is_null())
        .filter(menu::Column::RosterAt.lte(now))
        .limit(20)
        .all(db)
        .await?;
    let mut ran = 0;
    for meal in due {
        let settings = community::service::settings_of(db, &meal.community_id).await?;
        let txn = write_txn(db).await?;
        let claimed = menu::Entity::update_many()
            .col_expr(menu::Column::RosterRanAt, Expr::value(Some(now)))
            .filter(menu::Column::Id.eq(&meal.id))
            .filter(menu::Column::RosterRanAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        if claimed == 0 || now >= meal.reserve_cutoff_at {
            txn.commit().await?;
            continue;
        }
        let outcome = roster_in(&txn, &meal, &settings, now).await?;
        tell_staff(&txn, &meal, &outcome, now).await?;
        txn.commit().await?;
        tracing::info!(menu_id = %meal.id, created = outcome.created, "free-meal roster ran");
        ran += 1;
    }
    Ok(ran)
}

async fn tell_staff(
    txn: &impl ConnectionTrait,
    meal: &menu::Model,
    outcome: &RosterOutcome,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let staff = community::service::staff_of(txn, &meal.community_id).await?;
    if staff.is_empty() {
        return Ok(());
    }
    let event = Notify::about(
        staff,
        "free_meal_roster",
        ("menu", &meal.id),
        format!("{} 爱心餐名单已生成", meal.date),
        format!(
            "新增{}，已有{}，名额不足{}",
            outcome.created, outcome.existing, outcome.skipped_no_capacity
        ),
    );
    outbox::emit(txn, &event, now).await?;
    Ok(())
}

/// The members the roster serves: empty-nest or hardship members of the community.
async fn eligible_members(
    db: &impl ConnectionTrait,
    community_id: &str,
) -> Result<Vec<user::Model>, AppError> {
    let flagged: Vec<String> = care_flag::Entity::find()
        .select_only()
        .column(care_flag::Column::UserId)
        .filter(
            Condition::any()
                .add(care_flag::Column::EmptyNest.eq(true))
                .add(care_flag::Column::Hardship.eq(true)),
        )
        .into_tuple()
        .all(db)
        .await?;
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(flagged))
        .filter(user::Column::CommunityId.eq(community_id))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?)
}

async fn roster_in(
    txn: &impl ConnectionTrait,
    meal: &menu::Model,
    settings: &CommunitySettings,
    now: DateTime<Utc>,
) -> Result<RosterOutcome, AppError> {
    let members = eligible_members(txn, &meal.community_id).await?;
    let reserved: std::collections::HashSet<String> = reservation::Entity::find()
        .select_only()
        .column(reservation::Column::UserId)
        .filter(reservation::Column::MenuId.eq(&meal.id))
        .filter(reservation::Column::Status.ne("cancelled"))
        .into_tuple()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let mut outcome = RosterOutcome::default();
    for member in members {
        if reserved.contains(&member.id) {
            outcome.existing += 1;
            continue;
        }
        match place(
            txn,
            meal,
            &member,
            Mode::Delivery,
            Source::FreeMealRoster,
            settings,
            now,
        )
        .await
        {
            Ok(created) => {
                outcome.created += 1;
                let event = Notify::about(
                    vec![member.id.clone()],
                    "free_meal_reserved",
                    ("reservation", &created.id),
                    format!("{} 的爱心餐已为您预订", meal.date),
                    "志愿者会送餐上门",
                );
                outbox::emit(txn, &event, now).await?;
            }
            Err(Refusal::AlreadyReserved) => outcome.existing += 1,
            Err(Refusal::SoldOut) => outcome.skipped_no_capacity += 1,
            Err(Refusal::Failed(err)) => return Err(err),
            Err(other) => return Err(other.into()),
        }
    }
    Ok(outcome)
}
