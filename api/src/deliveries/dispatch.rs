//! Assigning deliveries to volunteers, as a job on the `dispatch` queue. A menu's pending
//! deliveries go to the volunteers available for that date and slot, fewest deliveries that day
//! first, the recipient's estate preferred, at most `max_deliveries_per_volunteer` each; nobody
//! gets a delivery they declined, let time out or did not turn up for. A menu's dispatch holds
//! the menu row, and each assignment is a conditional update from `pending`, so a repeated job
//! or two workers never put two volunteers on one delivery.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, Utc};
use entity::{
    availability, conversation::ContextType, delivery, delivery_exclusion, grid_node, menu,
    role_grant, user,
};
use jobs::{
    notify::Notify,
    outbox::{self, Event, Queue},
    runtime::{JobContext, JobError},
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, OnConflict},
};
use serde::{Deserialize, Serialize};

use crate::{auth::Role, community, db::write_txn, error::AppError, state::new_id};

/// Assign the pending deliveries of a menu.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DispatchMeal {
    pub menu_id: String,
}

impl Event for DispatchMeal {
    const KIND: &'static str = "dispatch_meal";
    const QUEUE: Queue = Queue::Dispatch;
}

/// The job's handler: idempotent, since only `pending` deliveries are assigned.
pub async fn handle(ctx: JobContext, event: DispatchMeal) -> Result<(), JobError> {
    let now = ctx.clock.now();
    assign_pending(&ctx.db, &event.menu_id, now)
        .await
        .map(|_| ())
        .map_err(|err| JobError::Retry(format!("dispatch: {err}")))
}

/// Queues a dispatch of the menu in the caller's transaction.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    menu_id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let event = DispatchMeal {
        menu_id: menu_id.to_owned(),
    };
    outbox::emit(db, &event, now).await?;
    Ok(())
}

/// At the cut-off each menu is dispatched once, by itself: the conditional update that marks it
/// is in the transaction that queues the job.
pub async fn dispatch_due(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    let due: Vec<String> = menu::Entity::find()
        .select_only()
        .column(menu::Column::Id)
        .filter(menu::Column::DispatchedAt.is_null())
        .filter(menu::Column::ReserveCutoffAt.lte(now))
        .limit(50)
        .into_tuple()
        .all(db)
        .await?;
    let mut queued = 0;
    for menu_id in due {
        let txn = write_txn(db).await?;
        let claimed = menu::Entity::update_many()
            .col_expr(menu::Column::DispatchedAt, Expr::value(Some(now)))
            .filter(menu::Column::Id.eq(&menu_id))
            .filter(menu::Column::DispatchedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        if claimed == 1 {
            enqueue(&txn, &menu_id, now).await?;
            queued += 1;
        }
        txn.commit().await?;
    }
    Ok(queued)
}

/// Assignments not accepted in time go back to `pending` and on to the next volunteer.
pub async fn expire_acceptances(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let late = delivery::Entity::find()
        .filter(delivery::Column::Status.eq("assigned"))
        .filter(delivery::Column::AcceptDeadline.lte(now))
        .limit(200)
        .all(db)
        .await?;
    let mut expired = 0;
    for d in late {
        let Some(volunteer) = d.volunteer_id.clone() else {
            continue;
        };
        let txn = write_txn(db).await?;
        if back_to_pending(&txn, &d, &volunteer, &["assigned"], "timed_out", now).await? {
            let notice = Notify::about(
                vec![volunteer],
                "delivery_timed_out",
                ("delivery", &d.id),
                "送餐任务未及时接受，已转给其他志愿者",
                format!("{} {}", d.date, d.slot),
            );
            outbox::emit(&txn, &notice, now).await?;
            expired += 1;
        }
        txn.commit().await?;
    }
    Ok(expired)
}

/// Takes a delivery from its volunteer (who never gets it again) and queues a new dispatch;
/// false when it was not in one of `from` with that volunteer any more.
pub async fn back_to_pending(
    txn: &DatabaseTransaction,
    d: &delivery::Model,
    volunteer_id: &str,
    from: &[&str],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let moved = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value("pending"))
        .col_expr(
            delivery::Column::VolunteerId,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            delivery::Column::AcceptDeadline,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            delivery::Column::AcceptedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            delivery::Column::PickedUpAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(delivery::Column::Id.eq(&d.id))
        .filter(delivery::Column::VolunteerId.eq(volunteer_id))
        .filter(delivery::Column::Status.is_in(from.iter().copied()))
        .exec(txn)
        .await?
        .rows_affected;
    if moved == 0 {
        return Ok(false);
    }
    // Handed to someone else: the old volunteer leaves the delivery's conversation.
    crate::conversations::context::remove(txn, (ContextType::Delivery, &d.id), volunteer_id, now)
        .await?;
    exclude(txn, &d.id, volunteer_id, reason, now).await?;
    if let Some(menu_id) = d.menu_id.as_deref() {
        enqueue(txn, menu_id, now).await?;
    }
    Ok(true)
}

pub async fn exclude(
    db: &impl ConnectionTrait,
    delivery_id: &str,
    volunteer_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    delivery_exclusion::Entity::insert(delivery_exclusion::ActiveModel {
        id: Set(new_id()),
        delivery_id: Set(delivery_id.to_owned()),
        volunteer_id: Set(volunteer_id.to_owned()),
        reason: Set(reason.to_owned()),
        at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            delivery_exclusion::Column::DeliveryId,
            delivery_exclusion::Column::VolunteerId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A volunteer who may take deliveries of this meal.
struct Candidate {
    id: String,
    estate: Option<String>,
    today: u32,
}

/// The estate above each grid node of the community.
async fn estates(
    db: &impl ConnectionTrait,
    community_id: &str,
) -> Result<HashMap<String, String>, AppError> {
    let nodes = grid_node::Entity::find()
        .filter(grid_node::Column::CommunityId.eq(community_id))
        .all(db)
        .await?;
    let by_id: HashMap<&str, &grid_node::Model> =
        nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut estate_of = HashMap::new();
    for node in &nodes {
        let mut at = Some(node);
        let mut hops = 0;
        while let Some(n) = at {
            if n.kind == "estate" || n.parent_id.is_none() || hops > 10 {
                estate_of.insert(node.id.clone(), n.id.clone());
                break;
            }
            at = n.parent_id.as_deref().and_then(|p| by_id.get(p).copied());
            hops += 1;
        }
    }
    Ok(estate_of)
}

/// Approved volunteers of the community available on the meal's date and slot, with how many
/// deliveries each already has that day.
async fn candidates(
    db: &impl ConnectionTrait,
    meal: &menu::Model,
    estate_of: &HashMap<String, String>,
) -> Result<Vec<Candidate>, AppError> {
    let volunteers: Vec<String> = role_grant::Entity::find()
        .select_only()
        .column(role_grant::Column::UserId)
        .filter(role_grant::Column::CommunityId.eq(&meal.community_id))
        .filter(role_grant::Column::Role.eq(Role::Volunteer.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    let weekday = i32::try_from(meal.date.weekday().number_from_monday()).unwrap_or(0);
    let available: HashSet<String> = availability::Entity::find()
        .select_only()
        .column(availability::Column::UserId)
        .filter(availability::Column::CommunityId.eq(&meal.community_id))
        .filter(availability::Column::UserId.is_in(volunteers))
        .filter(
            Condition::any()
                .add(availability::Column::Date.eq(meal.date))
                .add(
                    Condition::all()
                        .add(availability::Column::Weekday.eq(weekday))
                        .add(availability::Column::Slot.eq(&meal.slot)),
                ),
        )
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let homes: HashMap<String, Option<String>> = user::Entity::find()
        .filter(user::Column::Id.is_in(available.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.grid_unit_id))
        .collect();
    let mut today: HashMap<String, u32> = HashMap::new();
    let busy: Vec<Option<String>> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::VolunteerId)
        .filter(delivery::Column::CommunityId.eq(&meal.community_id))
        .filter(delivery::Column::Date.eq(meal.date))
        .filter(delivery::Column::VolunteerId.is_in(available.iter().cloned()))
        .filter(delivery::Column::Status.is_in(["assigned", "accepted", "picked_up", "delivered"]))
        .into_tuple()
        .all(db)
        .await?;
    for volunteer in busy.into_iter().flatten() {
        *today.entry(volunteer).or_default() += 1;
    }
    let mut all: Vec<Candidate> = available
        .into_iter()
        .map(|id| Candidate {
            estate: homes
                .get(&id)
                .cloned()
                .flatten()
                .and_then(|unit| estate_of.get(&unit).cloned()),
            today: today.get(&id).copied().unwrap_or(0),
            id,
        })
        .collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(all)
}

/// Holds the menu for the rest of the transaction, with every other menu of that day in the
/// community (in id order, so two dispatches cannot deadlock): a volunteer's cap is per day, so
/// lunch and dinner must not be dispatched side by side. SQLite's IMMEDIATE already serialises.
async fn hold(txn: &DatabaseTransaction, menu_id: &str) -> Result<Option<menu::Model>, AppError> {
    let Some(meal) = menu::Entity::find_by_id(menu_id.to_owned())
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        menu::Entity::find()
            .filter(menu::Column::CommunityId.eq(&meal.community_id))
            .filter(menu::Column::Date.eq(meal.date))
            .order_by_asc(menu::Column::Id)
            .lock_exclusive()
            .all(txn)
            .await?;
    }
    Ok(Some(meal))
}

/// What one dispatch did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dispatched {
    pub assigned: usize,
    pub unassigned: usize,
}

/// Assigns every pending delivery of the menu; the ones nobody can take are reported to staff.
pub async fn assign_pending(
    db: &DatabaseConnection,
    menu_id: &str,
    now: DateTime<Utc>,
) -> Result<Dispatched, AppError> {
    let txn = write_txn(db).await?;
    let Some(meal) = hold(&txn, menu_id).await? else {
        return Ok(Dispatched::default());
    };
    let pending = delivery::Entity::find()
        .filter(delivery::Column::MenuId.eq(menu_id))
        .filter(delivery::Column::Status.eq("pending"))
        .order_by_asc(delivery::Column::Id)
        .all(&txn)
        .await?;
    if pending.is_empty() {
        txn.commit().await?;
        return Ok(Dispatched::default());
    }
    let settings = community::service::settings_of(&txn, &meal.community_id).await?;
    let estate_of = estates(&txn, &meal.community_id).await?;
    let mut crew = candidates(&txn, &meal, &estate_of).await?;
    let excluded: HashSet<(String, String)> = delivery_exclusion::Entity::find()
        .filter(delivery_exclusion::Column::DeliveryId.is_in(pending.iter().map(|d| d.id.clone())))
        .all(&txn)
        .await?
        .into_iter()
        .map(|e| (e.delivery_id, e.volunteer_id))
        .collect();
    let homes: HashMap<String, Option<String>> = user::Entity::find()
        .filter(user::Column::Id.is_in(pending.iter().map(|d| d.recipient_id.clone())))
        .all(&txn)
        .await?
        .into_iter()
        .map(|u| (u.id, u.grid_unit_id))
        .collect();
    let deadline = now + Duration::minutes(i64::from(settings.accept_timeout_minutes));
    let mut outcome = Dispatched::default();
    let mut unassigned = Vec::new();
    for d in &pending {
        let estate = homes
            .get(&d.recipient_id)
            .cloned()
            .flatten()
            .and_then(|unit| estate_of.get(&unit).cloned());
        let chosen = crew
            .iter_mut()
            .filter(|c| c.today < settings.max_deliveries_per_volunteer)
            .filter(|c| !excluded.contains(&(d.id.clone(), c.id.clone())))
            .min_by_key(|c| {
                (
                    c.today,
                    estate.is_none() || c.estate != estate,
                    c.id.clone(),
                )
            });
        let Some(chosen) = chosen else {
            unassigned.push(d);
            continue;
        };
        let taken = delivery::Entity::update_many()
            .col_expr(delivery::Column::Status, Expr::value("assigned"))
            .col_expr(
                delivery::Column::VolunteerId,
                Expr::value(Some(chosen.id.clone())),
            )
            .col_expr(delivery::Column::AssignedAt, Expr::value(Some(now)))
            .col_expr(
                delivery::Column::AcceptDeadline,
                Expr::value(Some(deadline)),
            )
            .filter(delivery::Column::Id.eq(&d.id))
            .filter(delivery::Column::Status.eq("pending"))
            .exec(&txn)
            .await?
            .rows_affected;
        if taken == 1 {
            chosen.today += 1;
            outcome.assigned += 1;
            let notice = Notify::about(
                vec![chosen.id.clone()],
                "delivery_assigned",
                ("delivery", &d.id),
                "新的送餐任务，请确认接单",
                format!("{} {}", d.date, d.slot),
            );
            outbox::emit(&txn, &notice, now).await?;
        }
    }
    if !unassigned.is_empty() {
        let staff = community::service::staff_of(&txn, &meal.community_id).await?;
        for d in &unassigned {
            outcome.unassigned += 1;
            // Told once while it waits, not on every dispatch of the menu.
            let first_time = delivery::Entity::update_many()
                .col_expr(
                    delivery::Column::UnassignedAlertedAt,
                    Expr::value(Some(now)),
                )
                .filter(delivery::Column::Id.eq(&d.id))
                .filter(delivery::Column::UnassignedAlertedAt.is_null())
                .exec(&txn)
                .await?
                .rows_affected
                == 1;
            if !first_time || staff.is_empty() {
                continue;
            }
            let notice = Notify::about(
                staff.clone(),
                "delivery_unassigned",
                ("delivery", &d.id),
                "有送餐任务无人可派，请人工安排",
                format!("{} {}", d.date, d.slot),
            );
            outbox::emit(&txn, &notice, now).await?;
        }
    }
    txn.commit().await?;
    tracing::info!(
        menu_id,
        assigned = outcome.assigned,
        unassigned = outcome.unassigned,
        "deliveries dispatched"
    );
    Ok(outcome)
}
