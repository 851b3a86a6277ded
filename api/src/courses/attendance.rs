//! Check-in at the door: staff show a short-lived code per session; enrolled participants (or
//! their parents) check in with it; staff see attendance per course.
use chrono::{DateTime, Duration, Utc};
use entity::{attendance, check_in_attempt, course_session, enrollment};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::OnConflict,
};

use super::{
    dto::{AttendanceView, CheckIn, CheckInCode},
    service::visible,
};
use crate::{
    auth::CurrentUser,
    db::write_txn,
    error::AppError,
    http::{Cursor, Page, PageParams, after_pair, cursor_time},
    state::new_id,
};

/// How long a code shown at the door stays good, and the window wrong codes are counted in.
const CODE_MINUTES: i64 = 15;
/// Wrong codes a user may enter for one session within the window.
const MAX_WRONG_CODES: i32 = 10;

async fn session_of(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
) -> Result<(course_session::Model, entity::course::Model), AppError> {
    let session = course_session::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let course = visible(db, actor, &session.course_id).await?;
    Ok((session, course))
}

pub async fn new_code(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<CheckInCode, AppError> {
    let (session, course) = session_of(db, actor, session_id).await?;
    actor.require_staff_of(&course.community_id)?;
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000));
    let expires_at = now + Duration::minutes(CODE_MINUTES);
    let mut active: course_session::ActiveModel = session.into();
    active.check_in_code = Set(Some(code.clone()));
    active.check_in_expires_at = Set(Some(expires_at));
    active.update(db).await?;
    Ok(CheckInCode { code, expires_at })
}

/// Counts a check-in attempt: after `MAX_WRONG_CODES` wrong codes in a window of
/// `CODE_MINUTES` the user is refused (429) for that session even with the right code. The
/// counter's row is held while the code is judged, so simultaneous guesses count one by one.
async fn guard_attempt(
    db: &DatabaseConnection,
    session_id: &str,
    user_id: &str,
    code_is_right: bool,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let window = Duration::minutes(CODE_MINUTES);
    let txn = write_txn(db).await?;
    let mut attempts = hold_attempts(&txn, session_id, user_id, now).await?;
    if attempts.window_started_at + window <= now {
        attempts.failures = 0;
        attempts.window_started_at = now;
    }
    if attempts.failures >= MAX_WRONG_CODES {
        let retry_after = (attempts.window_started_at + window - now).num_seconds();
        return Err(AppError::RateLimited {
            retry_after_secs: u64::try_from(retry_after).unwrap_or(1).max(1),
        });
    }
    if code_is_right {
        return Ok(());
    }
    attempts.failures += 1;
    check_in_attempt::ActiveModel {
        session_id: Set(attempts.session_id),
        user_id: Set(attempts.user_id),
        failures: Set(attempts.failures),
        window_started_at: Set(attempts.window_started_at),
    }
    .update(&txn)
    .await?;
    txn.commit().await?;
    Err(AppError::unprocessable(
        "check_in_code_invalid",
        "the code is wrong or has expired",
    ))
}

/// The user's attempts on a session, created at zero the first time and locked on PostgreSQL
/// (SQLite's IMMEDIATE transaction already holds the file).
async fn hold_attempts(
    txn: &DatabaseTransaction,
    session_id: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<check_in_attempt::Model, AppError> {
    check_in_attempt::Entity::insert(check_in_attempt::ActiveModel {
        session_id: Set(session_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        failures: Set(0),
        window_started_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            check_in_attempt::Column::SessionId,
            check_in_attempt::Column::UserId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    let mut select =
        check_in_attempt::Entity::find_by_id((session_id.to_owned(), user_id.to_owned()));
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        select = select.lock_exclusive();
    }
    select
        .one(txn)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("check-in attempts row vanished")))
}

pub async fn check_in(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    session_id: &str,
    input: CheckIn,
    now: DateTime<Utc>,
) -> Result<Vec<AttendanceView>, AppError> {
    let (session, course) = session_of(db, actor, session_id).await?;
    let valid = session.check_in_code.as_deref() == Some(input.code.as_str())
        && session.check_in_expires_at.is_some_and(|at| now < at);
    guard_attempt(db, &session.id, actor.id(), valid, now).await?;
    let mut mine = enrollment::Entity::find()
        .filter(enrollment::Column::CourseId.eq(&course.id))
        .filter(enrollment::Column::UserId.eq(actor.id()))
        .filter(enrollment::Column::Status.eq("enrolled"));
    if let Some(child) = input.dependent_id.as_deref() {
        mine = mine.filter(enrollment::Column::ParticipantId.eq(child));
    }
    let mine = mine.all(db).await?;
    if mine.is_empty() {
        return Err(AppError::ForbiddenCode {
            code: "not_enrolled",
            message: "only enrolled participants can check in",
        });
    }
    for e in &mine {
        // Checking in twice keeps the first time.
        attendance::Entity::insert(attendance::ActiveModel {
            id: Set(new_id()),
            session_id: Set(session.id.clone()),
            course_id: Set(course.id.clone()),
            enrollment_id: Set(e.id.clone()),
            participant_name: Set(e.participant_name.clone()),
            checked_in_by: Set(actor.id().to_owned()),
            checked_in_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                attendance::Column::SessionId,
                attendance::Column::EnrollmentId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    let ids: Vec<String> = mine.into_iter().map(|e| e.id).collect();
    Ok(attendance::Entity::find()
        .filter(attendance::Column::SessionId.eq(&session.id))
        .filter(attendance::Column::EnrollmentId.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(AttendanceView::from)
        .collect())
}

/// Who checked in to the course, in the order they did; the cursor is the last (time, id) seen.
pub async fn of_course(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    course_id: &str,
    page: &PageParams,
) -> Result<Page<AttendanceView>, AppError> {
    let course = visible(db, actor, course_id).await?;
    actor.require_staff_of(&course.community_id)?;
    let mut select = attendance::Entity::find()
        .filter(attendance::Column::CourseId.eq(course_id))
        .order_by_asc(attendance::Column::CheckedInAt)
        .order_by_asc(attendance::Column::Id);
    if let Some(cursor) = page.after()? {
        let [at, id] = cursor.parts::<2>()?;
        let at: DateTime<Utc> = Cursor::parse(at)?;
        select = select.filter(after_pair(
            attendance::Column::CheckedInAt,
            at,
            attendance::Column::Id,
            id,
            false,
        ));
    }
    let rows = select.limit(page.limit() + 1).all(db).await?;
    Ok(Page::from_rows(
        rows,
        page.limit(),
        |a| Cursor::of(&[cursor_time(a.checked_in_at).as_str(), a.id.as_str()]).0,
        AttendanceView::from,
    ))
}
