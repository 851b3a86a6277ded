//! Deliveries: created and cancelled with their meals, read by staff and their volunteer, and
//! the volunteer's steps, each a conditional update from the state it must follow.
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    conversation::ContextType, conversation_member::MemberRole, delivery, reservation, role_grant,
    user,
};
use jobs::{notify::Notify, outbox};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr,
};

use super::{
    dispatch,
    dto::{
        Assign, BoardQuery, DeliveryView, DispatchQueued, Fail, FailReason, Reassign, Reassigned,
        sees_address,
    },
};
use crate::{
    auth::{CurrentUser, Role},
    community, conversations,
    db::write_txn,
    error::AppError,
    http::{Cursor, Page, PageParams, after_pair},
    state::new_id,
    volunteers::hours::{self, Credit},
    welfare,
};

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
        unassigned_alerted_at: Set(None),
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
    now: DateTime<Utc>,
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
    if cancelled == 1 {
        conversations::context::end(db, (ContextType::Delivery, delivery_id), now).await?;
    }
    Ok(if cancelled == 1 {
        found.volunteer_id
    } else {
        None
    })
}

// ------------------------------------------------------------------ reading

/// A delivery its assigned volunteer or the community's staff may see; 404 for anyone else.
async fn visible(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    id: &str,
) -> Result<delivery::Model, AppError> {
    delivery::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .filter(|d| {
            d.volunteer_id.as_deref() == Some(actor.id()) || actor.is_staff_of(&d.community_id)
        })
        .ok_or(AppError::NotFound)
}

async fn views(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    rows: Vec<delivery::Model>,
) -> Result<Vec<DeliveryView>, AppError> {
    let recipients: HashMap<String, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(rows.iter().map(|d| d.recipient_id.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    Ok(rows
        .into_iter()
        .map(|d| {
            let full = sees_address(&d, actor.id(), actor.is_staff_of(&d.community_id));
            let recipient = recipients.get(&d.recipient_id);
            DeliveryView::new(d, recipient, full)
        })
        .collect())
}

async fn view_of(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    d: delivery::Model,
) -> Result<DeliveryView, AppError> {
    Ok(views(db, actor, vec![d]).await?.remove(0))
}

pub async fn get(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
) -> Result<DeliveryView, AppError> {
    let found = visible(db, actor, id).await?;
    view_of(db, actor, found).await
}

/// The day's board of the caller's community (staff), in the order the deliveries were made.
pub async fn board(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    query: &BoardQuery,
    now: DateTime<Utc>,
) -> Result<Page<DeliveryView>, AppError> {
    let community_id = actor
        .community_id()
        .ok_or_else(|| AppError::conflict("not_in_community", "join a community first"))?
        .to_owned();
    actor.require_staff_of(&community_id)?;
    let timezone = community::service::find(db, &community_id).await?.timezone;
    let date = query
        .date
        .unwrap_or_else(|| community::users::local_date(now, &timezone));
    let limit = query.limit.unwrap_or(20);
    let mut select = delivery::Entity::find()
        .filter(delivery::Column::CommunityId.eq(&community_id))
        .filter(delivery::Column::Date.eq(date))
        .order_by_asc(delivery::Column::Id);
    if let Some(status) = query.status {
        select = select.filter(delivery::Column::Status.eq(status.as_str()));
    }
    if let Some(cursor) = query.cursor.as_deref() {
        select = select.filter(delivery::Column::Id.gt(Cursor::decode(cursor)?.0));
    }
    let rows = select.limit(limit + 1).all(db).await?;
    let page = Page::from_rows(rows, limit, |d| d.id.clone(), |d| d);
    Ok(Page {
        items: views(db, actor, page.items).await?,
        next_cursor: page.next_cursor,
    })
}

/// The caller's deliveries as a volunteer, latest date first (then newest); the cursor is the
/// last (date, id) seen.
pub async fn mine(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    page: &PageParams,
) -> Result<Page<DeliveryView>, AppError> {
    let mut select = delivery::Entity::find()
        .filter(delivery::Column::VolunteerId.eq(actor.id()))
        .order_by_desc(delivery::Column::Date)
        .order_by_desc(delivery::Column::Id);
    if let Some(cursor) = page.after()? {
        let [date, id] = cursor.parts::<2>()?;
        let date: NaiveDate = Cursor::parse(date)?;
        select = select.filter(after_pair(
            delivery::Column::Date,
            date,
            delivery::Column::Id,
            id,
            true,
        ));
    }
    let rows = select.limit(page.limit() + 1).all(db).await?;
    let page = Page::from_rows(
        rows,
        page.limit(),
        |d| Cursor::of(&[d.date.to_string().as_str(), d.id.as_str()]).0,
        |d| d,
    );
    Ok(Page {
        items: views(db, actor, page.items).await?,
        next_cursor: page.next_cursor,
    })
}

// ------------------------------------------------------------------ the volunteer's steps

fn out_of_order() -> AppError {
    AppError::conflict(
        "invalid_state",
        "this step does not follow the delivery's state",
    )
}

/// One step of the assigned volunteer: a conditional update from `from` to `to`.
async fn step(
    txn: &DatabaseTransaction,
    actor: &CurrentUser,
    id: &str,
    from: &[&str],
    to: &str,
    stamp: Option<delivery::Column>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let mut update =
        delivery::Entity::update_many().col_expr(delivery::Column::Status, Expr::value(to));
    if let Some(column) = stamp {
        update = update.col_expr(column, Expr::value(Some(now)));
    }
    let moved = update
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::VolunteerId.eq(actor.id()))
        .filter(delivery::Column::Status.is_in(from.iter().copied()))
        .exec(txn)
        .await?
        .rows_affected;
    if moved == 0 {
        return Err(out_of_order());
    }
    Ok(())
}

/// The assigned volunteer's own delivery; staff may read it but the steps are the volunteer's.
async fn theirs(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    id: &str,
) -> Result<delivery::Model, AppError> {
    let found = visible(db, actor, id).await?;
    if found.volunteer_id.as_deref() != Some(actor.id()) {
        return Err(AppError::Forbidden(
            "only the assigned volunteer may do this",
        ));
    }
    Ok(found)
}

pub async fn accept(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<DeliveryView, AppError> {
    let found = theirs(db, actor, id).await?;
    let txn = write_txn(db).await?;
    // Past the deadline it is no longer theirs to take: the time-out moves it on.
    let accepted = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value("accepted"))
        .col_expr(delivery::Column::AcceptedAt, Expr::value(Some(now)))
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::VolunteerId.eq(actor.id()))
        .filter(delivery::Column::Status.eq("assigned"))
        .filter(delivery::Column::AcceptDeadline.gt(now))
        .exec(&txn)
        .await?
        .rows_affected;
    if accepted == 0 {
        return Err(out_of_order());
    }
    // The recipient and the volunteer can now talk ("I'm downstairs") without numbers.
    let people = [
        (found.recipient_id.as_str(), MemberRole::Recipient),
        (actor.id(), MemberRole::Volunteer),
    ];
    let key = conversations::context::context_key(ContextType::Delivery, id);
    conversations::context::open(
        &txn,
        &found.community_id,
        (ContextType::Delivery, id, key),
        &people,
        now,
    )
    .await?;
    txn.commit().await?;
    get(db, actor, id).await
}

pub async fn pickup(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<DeliveryView, AppError> {
    theirs(db, actor, id).await?;
    let txn = write_txn(db).await?;
    step(
        &txn,
        actor,
        id,
        &["accepted"],
        "picked_up",
        Some(delivery::Column::PickedUpAt),
        now,
    )
    .await?;
    txn.commit().await?;
    get(db, actor, id).await
}

/// Declined before pick-up: it goes to the next volunteer, never back to this one.
pub async fn decline(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<DeliveryView, AppError> {
    let found = theirs(db, actor, id).await?;
    let txn = write_txn(db).await?;
    if !dispatch::back_to_pending(
        &txn,
        &found,
        actor.id(),
        &["assigned", "accepted"],
        "declined",
        now,
    )
    .await?
    {
        return Err(out_of_order());
    }
    txn.commit().await?;
    let after = delivery::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    // No longer theirs: they see it as anyone would.
    Ok(DeliveryView::new(after, None, false))
}

/// Delivered: the meal is served and the volunteer credited `delivery_minutes`, once.
pub async fn complete(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<DeliveryView, AppError> {
    let found = theirs(db, actor, id).await?;
    let settings = community::service::settings_of(db, &found.community_id).await?;
    let txn = write_txn(db).await?;
    step(
        &txn,
        actor,
        id,
        &["picked_up"],
        "delivered",
        Some(delivery::Column::DeliveredAt),
        now,
    )
    .await?;
    if found.kind == "meal" {
        reservation::Entity::update_many()
            .col_expr(reservation::Column::Status, Expr::value("served"))
            .filter(reservation::Column::Id.eq(&found.ref_id))
            .filter(reservation::Column::Status.eq("reserved"))
            .exec(&txn)
            .await?;
    }
    hours::credit(
        &txn,
        Credit {
            user_id: actor.id(),
            community_id: &found.community_id,
            source: hours::Source::Delivery,
            ref_id: Some(id),
            minutes: i32::try_from(settings.delivery_minutes).unwrap_or(0),
            reason: Some("送餐".to_owned()),
            created_by: None,
        },
        now,
    )
    .await?;
    conversations::context::end(&txn, (ContextType::Delivery, id), now).await?;
    txn.commit().await?;
    get(db, actor, id).await
}

/// Not delivered. `not_home` raises a welfare alert in the same transaction.
pub async fn fail(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    input: Fail,
    now: DateTime<Utc>,
) -> Result<DeliveryView, AppError> {
    theirs(db, actor, id).await?;
    let txn = write_txn(db).await?;
    let moved = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value("failed"))
        .col_expr(delivery::Column::FailedAt, Expr::value(Some(now)))
        .col_expr(
            delivery::Column::FailReason,
            Expr::value(Some(input.reason.as_str())),
        )
        .col_expr(delivery::Column::FailNote, Expr::value(input.note))
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::VolunteerId.eq(actor.id()))
        .filter(delivery::Column::Status.is_in(["accepted", "picked_up"]))
        .exec(&txn)
        .await?
        .rows_affected;
    if moved == 0 {
        return Err(out_of_order());
    }
    let failed = delivery::Entity::find_by_id(id.to_owned())
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if input.reason == FailReason::NotHome {
        welfare::service::raise(&txn, &failed, now).await?;
    }
    conversations::context::end(&txn, (ContextType::Delivery, id), now).await?;
    txn.commit().await?;
    get(db, actor, id).await
}

// ------------------------------------------------------------------ staff

async fn require_volunteer(
    db: &impl ConnectionTrait,
    community_id: &str,
    user_id: &str,
) -> Result<(), AppError> {
    let granted = role_grant::Entity::find()
        .filter(role_grant::Column::CommunityId.eq(community_id))
        .filter(role_grant::Column::UserId.eq(user_id))
        .filter(role_grant::Column::Role.eq(Role::Volunteer.as_str()))
        .one(db)
        .await?;
    granted
        .map(|_| ())
        .ok_or_else(|| AppError::field("volunteer_id", "not_a_volunteer"))
}

/// Staff put a delivery on a volunteer of their choosing.
pub async fn assign(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    input: Assign,
    now: DateTime<Utc>,
) -> Result<DeliveryView, AppError> {
    let found = visible(db, actor, id).await?;
    actor.require_staff_of(&found.community_id)?;
    require_volunteer(db, &found.community_id, &input.volunteer_id).await?;
    let settings = community::service::settings_of(db, &found.community_id).await?;
    let txn = write_txn(db).await?;
    let moved = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value("assigned"))
        .col_expr(
            delivery::Column::VolunteerId,
            Expr::value(Some(input.volunteer_id.clone())),
        )
        .col_expr(delivery::Column::AssignedAt, Expr::value(Some(now)))
        .col_expr(
            delivery::Column::AcceptDeadline,
            Expr::value(Some(
                now + chrono::Duration::minutes(i64::from(settings.accept_timeout_minutes)),
            )),
        )
        .col_expr(
            delivery::Column::AcceptedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            delivery::Column::UnassignedAlertedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::Status.is_in(["pending", "assigned", "accepted"]))
        .exec(&txn)
        .await?
        .rows_affected;
    if moved == 0 {
        return Err(out_of_order());
    }
    let notice = Notify::about(
        vec![input.volunteer_id.clone()],
        "delivery_assigned",
        ("delivery", id),
        "工作人员为您安排了送餐任务",
        format!("{} {}", found.date, found.slot),
    );
    outbox::emit(&txn, &notice, now).await?;
    if let Some(previous) = found.volunteer_id.filter(|v| *v != input.volunteer_id) {
        conversations::context::remove(&txn, (ContextType::Delivery, id), &previous, now).await?;
        let notice = Notify::about(
            vec![previous],
            "delivery_cancelled",
            ("delivery", id),
            "送餐任务已改派他人",
            format!("{} {}", found.date, found.slot),
        );
        outbox::emit(&txn, &notice, now).await?;
    }
    txn.commit().await?;
    get(db, actor, id).await
}

/// A volunteer who did not turn up: every unfinished delivery of theirs for that meal goes back
/// through assignment, never to them again.
pub async fn reassign(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    community_id: &str,
    input: Reassign,
    now: DateTime<Utc>,
) -> Result<Reassigned, AppError> {
    community::service::find(db, community_id).await?;
    actor.require_staff_of(community_id)?;
    let txn = write_txn(db).await?;
    let theirs = delivery::Entity::find()
        .filter(delivery::Column::CommunityId.eq(community_id))
        .filter(delivery::Column::VolunteerId.eq(&input.volunteer_id))
        .filter(delivery::Column::Date.eq(input.date))
        .filter(delivery::Column::Slot.eq(input.slot.as_str()))
        .filter(delivery::Column::Status.is_in(["assigned", "accepted", "picked_up"]))
        .all(&txn)
        .await?;
    let mut reassigned = 0;
    for d in &theirs {
        if dispatch::back_to_pending(
            &txn,
            d,
            &input.volunteer_id,
            &["assigned", "accepted", "picked_up"],
            "no_show",
            now,
        )
        .await?
        {
            reassigned += 1;
        }
    }
    txn.commit().await?;
    tracing::info!(
        community_id,
        reassigned,
        "a no-show volunteer's deliveries reassigned"
    );
    Ok(Reassigned { reassigned })
}

/// Staff dispatch a menu's pending deliveries now (it also runs by itself at the cut-off).
pub async fn dispatch_now(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    menu_id: &str,
    now: DateTime<Utc>,
) -> Result<DispatchQueued, AppError> {
    let meal = entity::menu::Entity::find_by_id(menu_id.to_owned())
        .one(db)
        .await?
        .filter(|m| actor.belongs_to(&m.community_id))
        .ok_or(AppError::NotFound)?;
    actor.require_staff_of(&meal.community_id)?;
    let pending = delivery::Entity::find()
        .filter(delivery::Column::MenuId.eq(menu_id))
        .filter(delivery::Column::Status.eq("pending"))
        .count(db)
        .await?;
    dispatch::enqueue(db, menu_id, now).await?;
    Ok(DispatchQueued {
        menu_id: menu_id.to_owned(),
        pending,
    })
}
