//! Standing orders: the meals a member eats every week, said once. When a menu is published
//! they are served in its own transaction, before anyone else can reserve; whoever cannot be
//! served is told why.
use chrono::{DateTime, NaiveDate, Utc};
use entity::{menu, standing_order, user};
use jobs::{notify::Notify, outbox};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, sea_query::OnConflict,
};

use super::{
    dto::{Mode, PutStandingOrder, StandingItem, StandingOrderView},
    service::{Refusal, Source, place, weekday_of},
};
use crate::{
    auth::CurrentUser,
    community::{self, settings::CommunitySettings},
    error::AppError,
};

/// Whose standing order: the caller's own, or (staff) a member's.
pub enum Whose<'a> {
    Mine,
    Member {
        community_id: &'a str,
        user_id: &'a str,
    },
}

async fn owner(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    whose: Whose<'_>,
) -> Result<user::Model, AppError> {
    match whose {
        Whose::Mine => Ok(actor.user.clone()),
        Whose::Member {
            community_id,
            user_id,
        } => {
            community::service::find(db, community_id).await?;
            actor.require_staff_of(community_id)?;
            community::service::member_of(db, community_id, user_id).await
        }
    }
}

pub async fn get(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    whose: Whose<'_>,
) -> Result<StandingOrderView, AppError> {
    let member = owner(db, actor, whose).await?;
    standing_order::Entity::find_by_id(member.id)
        .one(db)
        .await?
        .map(StandingOrderView::from)
        .ok_or(AppError::NotFound)
}

pub async fn put(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    whose: Whose<'_>,
    input: PutStandingOrder,
    now: DateTime<Utc>,
) -> Result<StandingOrderView, AppError> {
    let member = owner(db, actor, whose).await?;
    let community_id = member
        .community_id
        .clone()
        .ok_or_else(|| AppError::conflict("not_in_community", "join a community first"))?;
    let row = standing_order::ActiveModel {
        user_id: Set(member.id.clone()),
        community_id: Set(community_id),
        items: Set(serde_json::to_string(&input.items).unwrap_or_else(|_| "[]".to_owned())),
        paused_from: Set(input.paused_from),
        paused_until: Set(input.paused_until),
        updated_by: Set(actor.id().to_owned()),
        updated_at: Set(now),
    };
    standing_order::Entity::insert(row)
        .on_conflict(
            OnConflict::column(standing_order::Column::UserId)
                .update_columns([
                    standing_order::Column::CommunityId,
                    standing_order::Column::Items,
                    standing_order::Column::PausedFrom,
                    standing_order::Column::PausedUntil,
                    standing_order::Column::UpdatedBy,
                    standing_order::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    standing_order::Entity::find_by_id(member.id)
        .one(db)
        .await?
        .map(StandingOrderView::from)
        .ok_or(AppError::NotFound)
}

pub async fn delete(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    whose: Whose<'_>,
) -> Result<(), AppError> {
    let member = owner(db, actor, whose).await?;
    standing_order::Entity::delete_by_id(member.id)
        .exec(db)
        .await?;
    Ok(())
}

fn paused_on(order: &standing_order::Model, date: NaiveDate) -> bool {
    (order.paused_from.is_some() || order.paused_until.is_some())
        && order.paused_from.is_none_or(|from| from <= date)
        && order.paused_until.is_none_or(|until| date <= until)
}

/// The mode a standing order asks for at this meal, if any.
fn wanted(order: &standing_order::Model, meal: &menu::Model) -> Option<Mode> {
    if paused_on(order, meal.date) {
        return None;
    }
    let items: Vec<StandingItem> = serde_json::from_str(&order.items).unwrap_or_default();
    let weekday = weekday_of(meal);
    items
        .into_iter()
        .find(|i| i.weekday == weekday && i.slot.as_str() == meal.slot)
        .map(|i| i.mode)
}

/// Reserves the new menu for every standing order it matches, oldest order first; returns how
/// many places that took.
pub async fn serve(
    txn: &impl ConnectionTrait,
    meal: &menu::Model,
    settings: &CommunitySettings,
    now: DateTime<Utc>,
) -> Result<i32, AppError> {
    let orders = standing_order::Entity::find()
        .filter(standing_order::Column::CommunityId.eq(&meal.community_id))
        .order_by_asc(standing_order::Column::UpdatedAt)
        .all(txn)
        .await?;
    let wanted: Vec<(String, Mode)> = orders
        .iter()
        .filter_map(|o| wanted(o, meal).map(|mode| (o.user_id.clone(), mode)))
        .collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let members: std::collections::HashMap<String, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(wanted.iter().map(|(id, _)| id.clone())))
        .filter(user::Column::CommunityId.eq(&meal.community_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let mut served = 0;
    for (user_id, mode) in wanted {
        let Some(member) = members.get(&user_id) else {
            continue;
        };
        let why = match place(
            txn,
            meal,
            member,
            mode,
            Source::StandingOrder,
            settings,
            now,
        )
        .await
        {
            Ok(_) => {
                served += 1;
                continue;
            }
            Err(Refusal::AlreadyReserved) => continue,
            Err(Refusal::Failed(err)) => return Err(err),
            Err(Refusal::SoldOut) => "没有空位了",
            Err(Refusal::Closed) => "预订已截止",
            Err(Refusal::DeliveryNotAvailable) => "这一餐不送餐",
            Err(Refusal::DeliveryNotEligible) => "不符合送餐条件",
        };
        let event = Notify::about(
            vec![user_id],
            "standing_order_skipped",
            ("menu", &meal.id),
            format!("{} 的固定订餐未能预订：{why}", meal.date),
            "请联系食堂或自行预订",
        );
        outbox::emit(txn, &event, now).await?;
    }
    Ok(served)
}
