//! Session reminders: `course_reminder_minutes` before every session its enrolled participants
//! (a child's parent) are reminded, exactly once. The due time is stored on the session; the
//! scheduler's tick sends what is due, and the conditional update that marks a session reminded
//! is what makes it once, however many instances tick.
use chrono::{DateTime, Duration, Utc};
use entity::{course, course_session, enrollment};
use jobs::{notify::Notify, outbox};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, Set, sea_query::Expr,
};

use crate::{
    community::{service as community, users::local_date},
    db::write_txn,
    error::AppError,
};

pub fn remind_at(starts_at: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
    starts_at - Duration::minutes(i64::from(minutes))
}

/// Sends every reminder that is due; returns how many sessions were reminded by this call.
pub async fn send_due(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    let due = course_session::Entity::find()
        .filter(course_session::Column::RemindedAt.is_null())
        .filter(course_session::Column::RemindAt.lte(now))
        .limit(100)
        .all(db)
        .await?;
    let mut sent = 0;
    for session in due {
        if remind(db, &session, now).await? {
            sent += 1;
        }
    }
    Ok(sent)
}

async fn remind(
    db: &DatabaseConnection,
    session: &course_session::Model,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let txn = write_txn(db).await?;
    let claimed = course_session::Entity::update_many()
        .col_expr(course_session::Column::RemindedAt, Expr::value(Some(now)))
        .filter(course_session::Column::Id.eq(&session.id))
        .filter(course_session::Column::RemindedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    // A session already begun (the scheduler was down) or of a cancelled course is marked
    // and skipped: a late reminder helps nobody.
    if claimed == 0 || session.starts_at <= now {
        txn.commit().await?;
        return Ok(false);
    }
    let Some(course) = course::Entity::find_by_id(session.course_id.clone())
        .one(&txn)
        .await?
        .filter(|c| c.cancelled_at.is_none())
    else {
        txn.commit().await?;
        return Ok(false);
    };
    let mut users: Vec<String> = enrollment::Entity::find()
        .select_only()
        .column(enrollment::Column::UserId)
        .filter(enrollment::Column::CourseId.eq(&course.id))
        .filter(enrollment::Column::Status.eq("enrolled"))
        .into_tuple()
        .all(&txn)
        .await?;
    users.sort();
    users.dedup();
    if !users.is_empty() {
        let timezone = community::find(&txn, &course.community_id).await?.timezone;
        outbox::emit(&txn, &reminder(&course, session, &timezone, users), now).await?;
    }
    txn.commit().await?;
    Ok(true)
}

fn reminder(
    course: &course::Model,
    session: &course_session::Model,
    timezone: &str,
    recipients: Vec<String>,
) -> Notify {
    let local = crate::community::users::timezone_of(timezone);
    let starts = session.starts_at.with_timezone(&local);
    let day = local_date(session.starts_at, timezone);
    let place = course.location.as_deref().unwrap_or("");
    let data = [
        ("session_id".to_owned(), session.id.clone()),
        ("starts_at".to_owned(), session.starts_at.to_rfc3339()),
    ]
    .into();
    Notify {
        data,
        ..Notify::about(
            recipients,
            "course_reminder",
            ("course", &course.id),
            format!("{}即将开始", course.title),
            format!("{day} {} {place}", starts.format("%H:%M")).trim(),
        )
    }
}

/// A community changed `course_reminder_minutes`: sessions not yet reminded move to the new time.
pub async fn reschedule(
    db: &impl ConnectionTrait,
    community_id: &str,
    minutes: u32,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let courses: Vec<String> = course::Entity::find()
        .select_only()
        .column(course::Column::Id)
        .filter(course::Column::CommunityId.eq(community_id))
        .into_tuple()
        .all(db)
        .await?;
    let pending = course_session::Entity::find()
        .filter(course_session::Column::CourseId.is_in(courses))
        .filter(course_session::Column::RemindedAt.is_null())
        .filter(course_session::Column::StartsAt.gt(now))
        .all(db)
        .await?;
    for session in pending {
        let at = remind_at(session.starts_at, minutes);
        let mut active: course_session::ActiveModel = session.into();
        active.remind_at = Set(Some(at));
        active.update(db).await?;
    }
    Ok(())
}
