//! Raising, acknowledging, resolving and escalating welfare alerts. Every transition is one
//! conditional update, so two leaders pressing "on my way" at once leave one acknowledgement,
//! and an escalation fires once per interval however many schedulers tick.
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{delivery, role_grant, user, welfare_alert};
use jobs::{
    notify::{Notify, NotifyUrgent},
    outbox,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, sea_query::Expr, sea_query::OnConflict,
};

use super::dto::{AlertQuery, Resolve, WelfareAlertView};
use crate::{
    auth::{CurrentUser, Role},
    community,
    db::write_txn,
    error::AppError,
    http::{Cursor, Page},
    state::new_id,
};

/// Grid leaders of these nodes, once each.
async fn leaders_of(
    db: &impl ConnectionTrait,
    community_id: &str,
    nodes: Option<Vec<String>>,
) -> Result<Vec<String>, AppError> {
    let mut select = role_grant::Entity::find()
        .select_only()
        .column(role_grant::Column::UserId)
        .filter(role_grant::Column::CommunityId.eq(community_id))
        .filter(role_grant::Column::Role.eq(Role::GridLeader.as_str()));
    if let Some(nodes) = nodes {
        select = select.filter(role_grant::Column::GridNodeId.is_in(nodes));
    }
    Ok(select.into_tuple().all(db).await?)
}

/// Who is told of an alert at once: the grid leaders of the member's unit and every node above
/// it, and the community's staff.
async fn first_responders(
    db: &impl ConnectionTrait,
    community_id: &str,
    unit: Option<&str>,
) -> Result<Vec<String>, AppError> {
    let mut people = community::service::staff_of(db, community_id).await?;
    if let Some(unit) = unit {
        let chain = community::service::unit_and_ancestors(db, unit).await?;
        people.extend(leaders_of(db, community_id, Some(chain.into_iter().collect())).await?);
    }
    people.sort();
    people.dedup();
    Ok(people)
}

/// Everyone who can act: every staff member and grid leader of the community.
async fn everyone(db: &impl ConnectionTrait, community_id: &str) -> Result<Vec<String>, AppError> {
    let mut people = community::service::staff_of(db, community_id).await?;
    people.extend(leaders_of(db, community_id, None).await?);
    people.sort();
    people.dedup();
    Ok(people)
}

fn alert_notice(
    recipients: Vec<String>,
    kind: &str,
    alert_id: &str,
    title: &str,
    member: &str,
) -> NotifyUrgent {
    // The name only: the address and phone are in the alert, for those who may open it.
    NotifyUrgent(Notify::about(
        recipients,
        kind,
        ("welfare_alert", alert_id),
        title,
        format!("{member} 送餐时无人应门"),
    ))
}

/// Raises the alert for a delivery that failed `not_home`, in the caller's transaction, and
/// sends it on the urgent queue. A second call for the same delivery changes nothing.
pub async fn raise(
    txn: &impl ConnectionTrait,
    failed: &delivery::Model,
    now: DateTime<Utc>,
) -> Result<Option<String>, AppError> {
    let member = user::Entity::find_by_id(failed.recipient_id.clone())
        .one(txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let settings = community::service::settings_of(txn, &failed.community_id).await?;
    let id = new_id();
    let inserted = welfare_alert::Entity::insert(welfare_alert::ActiveModel {
        id: Set(id.clone()),
        community_id: Set(failed.community_id.clone()),
        delivery_id: Set(failed.id.clone()),
        member_id: Set(member.id.clone()),
        grid_unit_id: Set(member.grid_unit_id.clone()),
        status: Set("open".to_owned()),
        raised_at: Set(now),
        acknowledged_by: Set(None),
        acknowledged_at: Set(None),
        resolved_by: Set(None),
        resolved_at: Set(None),
        resolution_note: Set(None),
        next_escalation_at: Set(Some(escalation_after(
            now,
            settings.welfare_escalation_minutes,
        ))),
        escalations: Set(0),
    })
    .on_conflict(
        OnConflict::column(welfare_alert::Column::DeliveryId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    if inserted == 0 {
        return Ok(None);
    }
    let recipients =
        first_responders(txn, &failed.community_id, member.grid_unit_id.as_deref()).await?;
    let notice = alert_notice(
        recipients,
        "welfare_check",
        &id,
        "无人应门，请立即上门查看",
        &member.nickname,
    );
    outbox::emit(txn, &notice, now).await?;
    tracing::warn!(alert_id = %id, delivery_id = %failed.id, "welfare alert raised");
    Ok(Some(id))
}

fn escalation_after(now: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
    now + Duration::minutes(i64::from(minutes.max(1)))
}

/// Sends every open alert whose time is up again to everyone, and sets the next time.
pub async fn escalate_due(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    let due = welfare_alert::Entity::find()
        .filter(welfare_alert::Column::Status.eq("open"))
        .filter(welfare_alert::Column::NextEscalationAt.lte(now))
        .limit(50)
        .all(db)
        .await?;
    let mut sent = 0;
    for alert in due {
        let settings = community::service::settings_of(db, &alert.community_id).await?;
        let txn = write_txn(db).await?;
        let claimed = welfare_alert::Entity::update_many()
            .col_expr(
                welfare_alert::Column::NextEscalationAt,
                Expr::value(Some(escalation_after(
                    now,
                    settings.welfare_escalation_minutes,
                ))),
            )
            .col_expr(
                welfare_alert::Column::Escalations,
                Expr::value(alert.escalations + 1),
            )
            .filter(welfare_alert::Column::Id.eq(&alert.id))
            .filter(welfare_alert::Column::Status.eq("open"))
            .filter(welfare_alert::Column::NextEscalationAt.eq(alert.next_escalation_at))
            .exec(&txn)
            .await?
            .rows_affected;
        if claimed == 1 {
            let member = user::Entity::find_by_id(alert.member_id.clone())
                .one(&txn)
                .await?
                .map(|m| m.nickname)
                .unwrap_or_default();
            let notice = alert_notice(
                everyone(&txn, &alert.community_id).await?,
                "welfare_check",
                &alert.id,
                "无人应门，仍无人响应，请立即上门查看",
                &member,
            );
            outbox::emit(&txn, &notice, now).await?;
            sent += 1;
            tracing::warn!(alert_id = %alert.id, escalations = alert.escalations + 1, "welfare alert escalated");
        }
        txn.commit().await?;
    }
    Ok(sent)
}

/// Staff of the community, or a grid leader of a node on the member's unit's chain; 403 for
/// other members of the community, 404 for outsiders.
async fn may_act(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    alert: &welfare_alert::Model,
) -> Result<(), AppError> {
    if leads_or_staffs(db, actor, alert).await? {
        return Ok(());
    }
    if actor.belongs_to(&alert.community_id) {
        Err(AppError::Forbidden(
            "only staff or the member's grid leaders may act on this alert",
        ))
    } else {
        Err(AppError::NotFound)
    }
}

async fn leads_or_staffs(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    alert: &welfare_alert::Model,
) -> Result<bool, AppError> {
    Ok(actor.is_staff_of(&alert.community_id)
        || community::service::leads_unit(
            db,
            actor,
            &alert.community_id,
            alert.grid_unit_id.as_deref(),
        )
        .await?)
}

async fn found(db: &impl ConnectionTrait, id: &str) -> Result<welfare_alert::Model, AppError> {
    welfare_alert::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

async fn view(
    db: &impl ConnectionTrait,
    alert: welfare_alert::Model,
) -> Result<WelfareAlertView, AppError> {
    let member = user::Entity::find_by_id(alert.member_id.clone())
        .one(db)
        .await?;
    Ok(WelfareAlertView::new(alert, member.as_ref()))
}

pub async fn list(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    community_id: &str,
    query: &AlertQuery,
) -> Result<Page<WelfareAlertView>, AppError> {
    community::service::find(db, community_id).await?;
    let staff = actor.is_staff_of(community_id);
    if !staff && actor.led_nodes(community_id).next().is_none() {
        actor.require_staff_of(community_id)?;
    }
    let limit = query.limit.unwrap_or(20);
    let mut select = welfare_alert::Entity::find()
        .filter(welfare_alert::Column::CommunityId.eq(community_id))
        .order_by_desc(welfare_alert::Column::Id);
    if let Some(status) = query.status {
        select = select.filter(welfare_alert::Column::Status.eq(status.as_str()));
    }
    if let Some(cursor) = query.cursor.as_deref() {
        select = select.filter(welfare_alert::Column::Id.lt(Cursor::decode(cursor)?.0));
    }
    // A grid leader sees the alerts of their own subtree: filter the newest few hundred, each
    // unit's chain looked up once.
    let rows = if staff {
        select.limit(limit + 1).all(db).await?
    } else {
        let mut theirs: HashMap<Option<String>, bool> = HashMap::new();
        let mut mine = Vec::new();
        for alert in select.limit(500).all(db).await? {
            let unit = alert.grid_unit_id.clone();
            let leads = match theirs.get(&unit) {
                Some(leads) => *leads,
                None => {
                    let leads = leads_or_staffs(db, actor, &alert).await?;
                    theirs.insert(unit, leads);
                    leads
                }
            };
            if leads {
                mine.push(alert);
                if mine.len() as u64 > limit {
                    break;
                }
            }
        }
        mine
    };
    let page = Page::from_rows(rows, limit, |a| a.id.clone(), |a| a);
    let members: HashMap<String, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(page.items.iter().map(|a| a.member_id.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|a| {
                let member = members.get(&a.member_id);
                WelfareAlertView::new(a, member)
            })
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// Someone is on the way: the alert stops escalating and the others are told.
pub async fn acknowledge(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<WelfareAlertView, AppError> {
    let alert = found(db, id).await?;
    may_act(db, actor, &alert).await?;
    let txn = write_txn(db).await?;
    let changed = welfare_alert::Entity::update_many()
        .col_expr(welfare_alert::Column::Status, Expr::value("acknowledged"))
        .col_expr(
            welfare_alert::Column::AcknowledgedBy,
            Expr::value(Some(actor.id().to_owned())),
        )
        .col_expr(
            welfare_alert::Column::AcknowledgedAt,
            Expr::value(Some(now)),
        )
        .col_expr(
            welfare_alert::Column::NextEscalationAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(welfare_alert::Column::Id.eq(id))
        .filter(welfare_alert::Column::Status.eq("open"))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed == 0 {
        return Err(AppError::conflict(
            "invalid_state",
            "this alert is no longer open",
        ));
    }
    tell_the_others(
        &txn,
        &alert,
        actor,
        "welfare_acknowledged",
        "已有人前往查看",
        now,
    )
    .await?;
    txn.commit().await?;
    view(db, found(db, id).await?).await
}

/// What was found; the alert is closed.
pub async fn resolve(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    input: Resolve,
    now: DateTime<Utc>,
) -> Result<WelfareAlertView, AppError> {
    let alert = found(db, id).await?;
    may_act(db, actor, &alert).await?;
    let txn = write_txn(db).await?;
    let changed = welfare_alert::Entity::update_many()
        .col_expr(welfare_alert::Column::Status, Expr::value("resolved"))
        .col_expr(
            welfare_alert::Column::ResolvedBy,
            Expr::value(Some(actor.id().to_owned())),
        )
        .col_expr(welfare_alert::Column::ResolvedAt, Expr::value(Some(now)))
        .col_expr(
            welfare_alert::Column::ResolutionNote,
            Expr::value(Some(input.note.trim().to_owned())),
        )
        .col_expr(
            welfare_alert::Column::NextEscalationAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(welfare_alert::Column::Id.eq(id))
        .filter(welfare_alert::Column::Status.is_in(["open", "acknowledged"]))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed == 0 {
        return Err(AppError::conflict(
            "invalid_state",
            "this alert is already resolved",
        ));
    }
    tell_the_others(
        &txn,
        &alert,
        actor,
        "welfare_resolved",
        "已上门查看，情况已处理",
        now,
    )
    .await?;
    txn.commit().await?;
    view(db, found(db, id).await?).await
}

async fn tell_the_others(
    txn: &impl ConnectionTrait,
    alert: &welfare_alert::Model,
    actor: &CurrentUser,
    kind: &str,
    title: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let mut others = if alert.escalations > 0 {
        everyone(txn, &alert.community_id).await?
    } else {
        first_responders(txn, &alert.community_id, alert.grid_unit_id.as_deref()).await?
    };
    others.retain(|u| u != actor.id());
    if others.is_empty() {
        return Ok(());
    }
    let event = Notify::about(
        others,
        kind,
        ("welfare_alert", &alert.id),
        title,
        actor.user.nickname.clone(),
    );
    outbox::emit(txn, &event, now).await?;
    Ok(())
}
