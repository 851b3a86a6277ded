//! Applications and their review, teams, availability, hours and the leaderboard.
//!
//! One live (pending or approved) application per person and community is held by a unique
//! index on `live_key`, not by a read-then-check, so simultaneous applications cannot both win.
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{
    availability, hours_entry, role_grant, team, user, volunteer_application as application,
};
use jobs::{notify::Notify, outbox};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
    sea_query::{Expr, OnConflict},
};

use super::{
    dto::{
        ApplicationQuery, ApplicationReview, ApplicationStatus, ApplicationView, Apply,
        Availability, CreateTeam, HoursEntryView, HoursView, LeaderboardQuery, LeaderboardRow,
        ManualCredit, MealSlot, TeamView, WeeklySlot,
    },
    hours::{self, Credit, Month, RankAfter, Source},
};
use crate::{
    auth::{CurrentUser, Role},
    community::{
        service::{self as community, member_of},
        users::{local_date, timezone_of},
    },
    db::write_txn,
    error::AppError,
    http::{Cursor, Page, PageParams, cursor_time},
    state::new_id,
};

/// How far ahead a volunteer may offer a date.
const AVAILABILITY_DAYS_AHEAD: i64 = 366;

fn invalid_state() -> AppError {
    AppError::conflict(
        "invalid_state",
        "the application is no longer waiting for review",
    )
}

/// The value of `live_key` while an application is pending or approved.
fn live_key(user_id: &str, community_id: &str) -> String {
    format!("{user_id}:{community_id}")
}

async fn notify_about(
    db: &impl ConnectionTrait,
    recipients: Vec<String>,
    kind: &str,
    title: String,
    body: String,
    application_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if recipients.is_empty() {
        return Ok(());
    }
    let notice = Notify::about(
        recipients,
        kind,
        ("volunteer_application", application_id),
        title,
        body,
    );
    outbox::emit(db, &notice, now).await?;
    Ok(())
}

// ------------------------------------------------------------------ applications

/// Applies to volunteer in the caller's community; its staff are told.
#[tracing::instrument(skip_all, fields(user_id = %actor.id()))]
pub async fn apply(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    input: Apply,
    now: DateTime<Utc>,
) -> Result<ApplicationView, AppError> {
    let community_id = actor
        .community_id()
        .ok_or_else(|| {
            AppError::conflict(
                "not_in_community",
                "join a community before applying to volunteer",
            )
        })?
        .to_owned();
    community::find(db, &community_id).await?;
    if let Some(team_id) = input.team_id.as_deref() {
        team_in(db, &community_id, team_id)
            .await?
            .ok_or_else(|| AppError::field("team_id", "not_found"))?;
    }
    let skills = serde_json::to_string(&input.skill_list()).map_err(AppError::internal)?;
    let model = application::ActiveModel {
        id: Set(new_id()),
        user_id: Set(actor.id().to_owned()),
        community_id: Set(community_id.clone()),
        real_name: Set(input.real_name.trim().to_owned()),
        phone: Set(input.phone),
        skills: Set(skills),
        team_id: Set(input.team_id),
        status: Set(ApplicationStatus::Pending.as_str().to_owned()),
        live_key: Set(Some(live_key(actor.id(), &community_id))),
        reason: Set(None),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
        created_at: Set(now),
    };

    let txn = write_txn(db).await?;
    let created = match model.insert(&txn).await {
        Ok(created) => created,
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(AppError::conflict(
                "application_exists",
                "you already have a pending or approved application in this community",
            ));
        }
        Err(err) => return Err(err.into()),
    };
    set_volunteer_status(&txn, actor.id(), &community_id, ApplicationStatus::Pending).await?;
    notify_about(
        &txn,
        crate::community::service::staff_of(&txn, &community_id).await?,
        "volunteer_applied",
        "有新的志愿者申请待审核".to_owned(),
        format!("{}申请成为志愿者。", actor.user.nickname),
        &created.id,
        now,
    )
    .await?;
    txn.commit().await?;
    tracing::info!(application_id = %created.id, "volunteer application submitted");
    Ok(created.into())
}

/// `users.volunteer_status` follows the application of the user's current community only.
async fn set_volunteer_status(
    db: &impl ConnectionTrait,
    user_id: &str,
    community_id: &str,
    status: ApplicationStatus,
) -> Result<(), DbErr> {
    user::Entity::update_many()
        .col_expr(user::Column::VolunteerStatus, Expr::value(status.as_str()))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::CommunityId.eq(community_id))
        .exec(db)
        .await?;
    Ok(())
}

/// A community's applications, oldest first (the review queue), for its staff.
pub async fn applications(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    community_id: &str,
    query: &ApplicationQuery,
) -> Result<Page<ApplicationView>, AppError> {
    community::find(db, community_id).await?;
    actor.require_staff_of(community_id)?;
    let limit = query.limit.unwrap_or(20);
    let mut select = application::Entity::find()
        .filter(application::Column::CommunityId.eq(community_id))
        .order_by_asc(application::Column::Id);
    if let Some(status) = query.status {
        select = select.filter(application::Column::Status.eq(status.as_str()));
    }
    if let Some(cursor) = query.cursor.as_deref() {
        select = select.filter(application::Column::Id.gt(Cursor::decode(cursor)?.0));
    }
    let rows = select.limit(limit + 1).all(db).await?;
    Ok(Page::from_rows(
        rows,
        limit,
        |a| a.id.clone(),
        ApplicationView::from,
    ))
}

/// The application, for staff of its community (403 for its other members, 404 for the rest).
async fn reviewable(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    id: &str,
) -> Result<application::Model, AppError> {
    let found = application::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    actor.require_staff_of(&found.community_id)?;
    Ok(found)
}

async fn reload(db: &impl ConnectionTrait, id: &str) -> Result<application::Model, AppError> {
    application::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Approves a pending application: the applicant becomes a volunteer of that community and is
/// told, all in one transaction.
#[tracing::instrument(skip_all, fields(application_id = %id, user_id = %actor.id()))]
pub async fn approve(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    input: ApplicationReview,
    now: DateTime<Utc>,
) -> Result<ApplicationView, AppError> {
    let found = reviewable(db, actor, id).await?;
    let community = community::find(db, &found.community_id).await?;
    let txn = write_txn(db).await?;
    let decided = application::Entity::update_many()
        .col_expr(
            application::Column::Status,
            Expr::value(ApplicationStatus::Approved.as_str()),
        )
        .col_expr(application::Column::Reason, Expr::value(input.reason()))
        .col_expr(
            application::Column::ReviewedBy,
            Expr::value(actor.id().to_owned()),
        )
        .col_expr(application::Column::ReviewedAt, Expr::value(now))
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::Status.eq(ApplicationStatus::Pending.as_str()))
        .exec(&txn)
        .await?;
    if decided.rows_affected != 1 {
        return Err(invalid_state());
    }
    // A volunteer granted by hand before keeps that one grant.
    role_grant::Entity::insert(role_grant::ActiveModel {
        id: Set(new_id()),
        user_id: Set(found.user_id.clone()),
        community_id: Set(found.community_id.clone()),
        role: Set(Role::Volunteer.as_str().to_owned()),
        grid_node_id: Set(String::new()),
        granted_by: Set(Some(actor.id().to_owned())),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            role_grant::Column::UserId,
            role_grant::Column::CommunityId,
            role_grant::Column::Role,
            role_grant::Column::GridNodeId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    set_volunteer_status(
        &txn,
        &found.user_id,
        &found.community_id,
        ApplicationStatus::Approved,
    )
    .await?;
    notify_about(
        &txn,
        vec![found.user_id.clone()],
        "volunteer_approved",
        "志愿者申请已通过".to_owned(),
        format!("欢迎加入{}志愿者队伍。", community.name),
        id,
        now,
    )
    .await?;
    let approved = reload(&txn, id).await?;
    txn.commit().await?;
    tracing::info!("volunteer application approved");
    Ok(approved.into())
}

/// Rejects a pending application with an optional reason, which the applicant is told. They
/// may apply again.
#[tracing::instrument(skip_all, fields(application_id = %id, user_id = %actor.id()))]
pub async fn reject(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    input: ApplicationReview,
    now: DateTime<Utc>,
) -> Result<ApplicationView, AppError> {
    let found = reviewable(db, actor, id).await?;
    let community = community::find(db, &found.community_id).await?;
    let reason = input.reason();
    let txn = write_txn(db).await?;
    let decided = application::Entity::update_many()
        .col_expr(
            application::Column::Status,
            Expr::value(ApplicationStatus::Rejected.as_str()),
        )
        .col_expr(application::Column::LiveKey, Expr::value(None::<String>))
        .col_expr(application::Column::Reason, Expr::value(reason.clone()))
        .col_expr(
            application::Column::ReviewedBy,
            Expr::value(actor.id().to_owned()),
        )
        .col_expr(application::Column::ReviewedAt, Expr::value(now))
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::Status.eq(ApplicationStatus::Pending.as_str()))
        .exec(&txn)
        .await?;
    if decided.rows_affected != 1 {
        return Err(invalid_state());
    }
    set_volunteer_status(
        &txn,
        &found.user_id,
        &found.community_id,
        ApplicationStatus::Rejected,
    )
    .await?;
    let body = match reason.as_deref() {
        Some(reason) => format!("原因：{reason}"),
        None => format!("如有疑问，请联系{}工作人员。", community.name),
    };
    notify_about(
        &txn,
        vec![found.user_id.clone()],
        "volunteer_rejected",
        "志愿者申请未通过".to_owned(),
        body,
        id,
        now,
    )
    .await?;
    let rejected = reload(&txn, id).await?;
    txn.commit().await?;
    tracing::info!("volunteer application rejected");
    Ok(rejected.into())
}

// ------------------------------------------------------------------ teams

async fn team_in(
    db: &impl ConnectionTrait,
    community_id: &str,
    team_id: &str,
) -> Result<Option<team::Model>, DbErr> {
    Ok(team::Entity::find_by_id(team_id.to_owned())
        .one(db)
        .await?
        .filter(|t| t.community_id == community_id))
}

pub async fn create_team(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    community_id: &str,
    input: CreateTeam,
    now: DateTime<Utc>,
) -> Result<TeamView, AppError> {
    community::find(db, community_id).await?;
    actor.require_staff_of(community_id)?;
    let description = input
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let created = team::ActiveModel {
        id: Set(new_id()),
        community_id: Set(community_id.to_owned()),
        name: Set(input.name.trim().to_owned()),
        description: Set(description),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(created.into())
}

/// A community's teams, oldest first, for anyone who belongs to it.
pub async fn teams(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    community_id: &str,
    page: &PageParams,
) -> Result<Page<TeamView>, AppError> {
    community::find(db, community_id).await?;
    if !actor.belongs_to(community_id) {
        return Err(AppError::NotFound);
    }
    let limit = page.limit();
    let mut select = team::Entity::find()
        .filter(team::Column::CommunityId.eq(community_id))
        .order_by_asc(team::Column::Id);
    if let Some(Cursor(after)) = page.after()? {
        select = select.filter(team::Column::Id.gt(after));
    }
    let rows = select.limit(limit + 1).all(db).await?;
    Ok(Page::from_rows(
        rows,
        limit,
        |t| t.id.clone(),
        TeamView::from,
    ))
}

// ------------------------------------------------------------------ availability

/// The community the caller volunteers in: their current one, where they must hold the role.
fn volunteer_community(actor: &CurrentUser) -> Result<&str, AppError> {
    actor
        .community_id()
        .filter(|c| actor.has_role_in(c, Role::Volunteer))
        .ok_or(AppError::Forbidden(
            "only approved volunteers of your community may do this",
        ))
}

/// Replaces the caller's availability (delete and insert in one transaction).
#[tracing::instrument(skip_all, fields(user_id = %actor.id()))]
pub async fn set_availability(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    input: Availability,
    now: DateTime<Utc>,
) -> Result<Availability, AppError> {
    let community_id = volunteer_community(actor)?;
    let found = community::find(db, community_id).await?;
    let today = local_date(now, &found.timezone);
    let weekly: BTreeSet<WeeklySlot> = input.weekly.into_iter().collect();
    let dates: BTreeSet<NaiveDate> = input.dates.into_iter().collect();
    if dates.iter().any(|d| *d < today) {
        return Err(AppError::field("dates", "past"));
    }
    if dates
        .iter()
        .any(|d| *d > today + Duration::days(AVAILABILITY_DAYS_AHEAD))
    {
        return Err(AppError::field("dates", "too_far"));
    }
    let row = |weekday: Option<i32>, date: Option<NaiveDate>, slot: Option<MealSlot>| {
        availability::ActiveModel {
            id: Set(new_id()),
            user_id: Set(actor.id().to_owned()),
            community_id: Set(community_id.to_owned()),
            weekday: Set(weekday),
            date: Set(date),
            slot: Set(slot.map(|s| s.as_str().to_owned())),
        }
    };
    let rows: Vec<_> = weekly
        .iter()
        .map(|w| row(Some(i32::from(w.weekday)), None, Some(w.slot)))
        .chain(dates.iter().map(|d| row(None, Some(*d), None)))
        .collect();

    let txn = write_txn(db).await?;
    availability::Entity::delete_many()
        .filter(availability::Column::UserId.eq(actor.id()))
        .exec(&txn)
        .await?;
    if !rows.is_empty() {
        availability::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(Availability {
        weekly: weekly.into_iter().collect(),
        dates: dates.into_iter().collect(),
    })
}

/// The caller's availability in their community; dates already past are left out.
pub async fn availability_of(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    now: DateTime<Utc>,
) -> Result<Availability, AppError> {
    let community_id = volunteer_community(actor)?;
    let found = community::find(db, community_id).await?;
    let today = local_date(now, &found.timezone);
    let rows = availability::Entity::find()
        .filter(availability::Column::UserId.eq(actor.id()))
        .filter(availability::Column::CommunityId.eq(community_id))
        .all(db)
        .await?;
    let mut weekly = BTreeSet::new();
    let mut dates = BTreeSet::new();
    for r in rows {
        match (
            r.weekday,
            r.slot.as_deref().and_then(MealSlot::parse),
            r.date,
        ) {
            (Some(weekday), Some(slot), _) => {
                if let Ok(weekday) = u8::try_from(weekday) {
                    weekly.insert(WeeklySlot { weekday, slot });
                }
            }
            (_, _, Some(date)) if date >= today => {
                dates.insert(date);
            }
            _ => {}
        }
    }
    Ok(Availability {
        weekly: weekly.into_iter().collect(),
        dates: dates.into_iter().collect(),
    })
}

// ------------------------------------------------------------------ hours

/// The caller's ledger in every community they served, newest first.
/// A ledger's cursor: the last entry's time and id.
fn entry_after(cursor: &Cursor) -> Result<(DateTime<Utc>, String), AppError> {
    let [at, id] = cursor.parts::<2>()?;
    Ok((Cursor::parse(at)?, id.to_owned()))
}

/// One's total and a page of one's ledger, newest first; the cursor is the last (at, id) seen.
pub async fn my_hours(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    page: &PageParams,
) -> Result<HoursView, AppError> {
    volunteer_community(actor)?;
    let after = page.after()?.as_ref().map(entry_after).transpose()?;
    let rows = hours::entries_of(db, actor.id(), after, page.limit() + 1).await?;
    let entries = Page::from_rows(
        rows,
        page.limit(),
        |e| Cursor::of(&[cursor_time(e.at).as_str(), e.id.as_str()]).0,
        HoursEntryView::from,
    );
    Ok(HoursView {
        total_minutes: hours::total_of(db, actor.id()).await?,
        entries: entries.items,
        next_cursor: entries.next_cursor,
    })
}

/// Staff credit a member by hand; the member is told.
#[tracing::instrument(skip_all, fields(community_id = %community_id, user_id = %input.user_id))]
pub async fn credit_manually(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    community_id: &str,
    input: ManualCredit,
    now: DateTime<Utc>,
) -> Result<HoursEntryView, AppError> {
    community::find(db, community_id).await?;
    actor.require_staff_of(community_id)?;
    member_of(db, community_id, &input.user_id).await?;
    let credit = Credit {
        user_id: &input.user_id,
        community_id,
        source: Source::Manual,
        ref_id: None,
        minutes: input.minutes,
        reason: Some(input.reason.trim().to_owned()),
        created_by: Some(actor.id().to_owned()),
    };
    let txn = write_txn(db).await?;
    let stored = hours::credit(&txn, credit, now).await?;
    let entry = match stored {
        Some(id) => hours_entry::Entity::find_by_id(id).one(&txn).await?,
        None => None,
    }
    .ok_or_else(|| AppError::internal(anyhow::anyhow!("a manual credit was not stored")))?;
    let notice = Notify::about(
        vec![input.user_id.clone()],
        "hours_credited",
        ("hours_entry", &entry.id),
        "志愿服务时长已记录",
        format!(
            "{}分钟：{}",
            entry.minutes,
            entry.reason.as_deref().unwrap_or("")
        ),
    );
    outbox::emit(&txn, &notice, now).await?;
    txn.commit().await?;
    Ok(entry.into())
}

/// Minutes per user in a month of the community's time zone, most first, top 50.
/// A leaderboard's cursor: the last row's minutes and user id.
fn rank_after(cursor: &Cursor) -> Result<RankAfter, AppError> {
    let [minutes, user_id] = cursor.parts::<2>()?;
    Ok(RankAfter {
        minutes: Cursor::parse(minutes)?,
        user_id: user_id.to_owned(),
    })
}

pub async fn leaderboard(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    community_id: &str,
    query: &LeaderboardQuery,
    now: DateTime<Utc>,
) -> Result<Page<LeaderboardRow>, AppError> {
    let found = community::find(db, community_id).await?;
    if !actor.belongs_to(community_id) {
        return Err(AppError::NotFound);
    }
    let tz = timezone_of(&found.timezone);
    let month = match query.month.as_deref() {
        Some(raw) => Month::parse(raw).ok_or_else(|| AppError::field("month", "month"))?,
        None => Month::containing(now, tz),
    };
    let (from, until) = month
        .bounds(tz)
        .ok_or_else(|| AppError::field("month", "month"))?;
    let page = PageParams::of(query.limit, query.cursor.as_deref());
    let after = page.after()?.as_ref().map(rank_after).transpose()?;
    let totals =
        hours::totals_between(db, community_id, (from, until), after, page.limit() + 1).await?;
    let ids: Vec<&str> = totals.iter().map(|(id, _)| id.as_str()).collect();
    let nicknames: HashMap<String, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.nickname))
        .collect();
    Ok(Page::from_rows(
        totals,
        page.limit(),
        |(user_id, minutes)| Cursor::of(&[minutes.to_string().as_str(), user_id.as_str()]).0,
        |(user_id, minutes)| LeaderboardRow {
            nickname: nicknames.get(&user_id).cloned().unwrap_or_default(),
            user_id,
            minutes,
        },
    ))
}
