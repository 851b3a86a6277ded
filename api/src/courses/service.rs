//! Courses and enrollment. An enrolment takes its seat (or waitlist place) by a conditional
//! update of the course row; changes that move the waitlist hold the row for their whole
//! transaction (SQLite `BEGIN IMMEDIATE`; PostgreSQL `SELECT … FOR UPDATE`). Either way seats go
//! in commit order, never beyond capacity, and a freed seat is filled before the answer.
//! Enrolments go through the instance's enrolment queue (`queue.rs`), which takes those that
//! arrive together in one transaction, each checked and taken as it would be alone.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{course, course_audit, course_session, dependent, enrollment};
use jobs::{notify::Notify, outbox};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};

use super::{
    dto::{
        AuditEntry, CourseQuery, CourseStatus, CourseView, CreateCourse, Enroll, EnrollmentView,
        Roster, UpdateCourse, status_at,
    },
    reminders,
};
use crate::{
    auth::CurrentUser,
    community::{
        service as community,
        users::{age_on, local_date},
    },
    db::write_txn,
    error::AppError,
    http::{Cursor, Page, PageParams},
    state::new_id,
};

const ACTIVE: [&str; 3] = ["applied", "enrolled", "waitlisted"];

async fn sessions_of(
    db: &impl ConnectionTrait,
    course_id: &str,
) -> Result<Vec<course_session::Model>, AppError> {
    Ok(course_session::Entity::find()
        .filter(course_session::Column::CourseId.eq(course_id))
        .order_by_asc(course_session::Column::StartsAt)
        .all(db)
        .await?)
}

/// The sessions of several courses in one query, by course, each in time order.
async fn sessions_of_all(
    db: &impl ConnectionTrait,
    course_ids: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, Vec<course_session::Model>>, AppError> {
    let mut by_course: HashMap<String, Vec<course_session::Model>> = Default::default();
    let rows = course_session::Entity::find()
        .filter(course_session::Column::CourseId.is_in(course_ids))
        .order_by_asc(course_session::Column::StartsAt)
        .all(db)
        .await?;
    for session in rows {
        by_course
            .entry(session.course_id.clone())
            .or_default()
            .push(session);
    }
    Ok(by_course)
}

/// A course of the caller's community (staff of it see theirs too); 404 otherwise.
pub(super) async fn visible(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    id: &str,
) -> Result<course::Model, AppError> {
    course::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .filter(|c| {
            actor.community_id() == Some(c.community_id.as_str())
                || actor.is_staff_of(&c.community_id)
        })
        .ok_or(AppError::NotFound)
}

/// Courses with their communities, by id, in one query.
async fn courses_with_communities(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, (course::Model, entity::community::Model)>, AppError> {
    let of_community = course::Entity::belongs_to(entity::community::Entity)
        .from(course::Column::CommunityId)
        .to(entity::community::Column::Id);
    let rows = course::Entity::find()
        .filter(course::Column::Id.is_in(ids))
        .select_also(entity::community::Entity)
        .join(JoinType::InnerJoin, of_community.into())
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(found, community)| Some((found.id.clone(), (found, community?))))
        .collect())
}

/// Holds the course for the rest of the transaction (SQLite's IMMEDIATE already does).
pub(super) async fn hold(txn: &DatabaseTransaction, id: &str) -> Result<course::Model, AppError> {
    let mut select = course::Entity::find_by_id(id.to_owned());
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        select = select.lock_exclusive();
    }
    select.one(txn).await?.ok_or(AppError::NotFound)
}

pub async fn create(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    input: CreateCourse,
    now: DateTime<Utc>,
) -> Result<CourseView, AppError> {
    let community_id = actor
        .community_id()
        .ok_or_else(|| AppError::conflict("not_in_community", "join a community first"))?
        .to_owned();
    actor.require_staff_of(&community_id)?;
    let reminder_minutes = community::settings_of(db, &community_id)
        .await?
        .course_reminder_minutes;
    let txn = write_txn(db).await?;
    let created = course::ActiveModel {
        id: Set(new_id()),
        community_id: Set(community_id),
        title: Set(input.title.trim().to_owned()),
        category: Set(input.category.trim().to_owned()),
        description: Set(input.description),
        teacher: Set(input.teacher),
        location: Set(input.location),
        min_age: Set(input.min_age),
        max_age: Set(input.max_age),
        capacity: Set(input.capacity),
        waitlist_capacity: Set(input.waitlist_capacity),
        enrolled_count: Set(0),
        waitlist_count: Set(0),
        allocation: Set(input.allocation.as_str().to_owned()),
        registration_opens_at: Set(input.registration_opens_at),
        registration_closes_at: Set(input.registration_closes_at),
        cancelled_at: Set(None),
        draw_seed: Set(None),
        drawn_at: Set(None),
        last_place: Set(None),
        created_by: Set(actor.id().to_owned()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let mut sessions = Vec::with_capacity(input.sessions.len());
    for s in input.sessions {
        sessions.push(
            course_session::ActiveModel {
                id: Set(new_id()),
                course_id: Set(created.id.clone()),
                starts_at: Set(s.starts_at),
                ends_at: Set(s.ends_at),
                check_in_code: Set(None),
                check_in_expires_at: Set(None),
                remind_at: Set(Some(reminders::remind_at(s.starts_at, reminder_minutes))),
                reminded_at: Set(None),
            }
            .insert(&txn)
            .await?,
        );
    }
    txn.commit().await?;
    sessions.sort_by_key(|s| s.starts_at);
    Ok(CourseView::new(created, sessions, now))
}

pub async fn get(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<CourseView, AppError> {
    let found = visible(db, actor, id).await?;
    let sessions = sessions_of(db, id).await?;
    Ok(CourseView::new(found, sessions, now))
}

pub async fn list(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    query: &CourseQuery,
    now: DateTime<Utc>,
) -> Result<Page<CourseView>, AppError> {
    let Some(community_id) = actor.community_id() else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let limit = query.limit.unwrap_or(20);
    let mut select = course::Entity::find()
        .filter(course::Column::CommunityId.eq(community_id))
        .order_by_desc(course::Column::Id);
    if let Some(category) = query.category.as_deref() {
        select = select.filter(course::Column::Category.eq(category));
    }
    select = match query.status {
        None => select,
        Some(CourseStatus::Cancelled) => select.filter(course::Column::CancelledAt.is_not_null()),
        Some(CourseStatus::Upcoming) => select
            .filter(course::Column::CancelledAt.is_null())
            .filter(course::Column::RegistrationOpensAt.gt(now)),
        Some(CourseStatus::Open) => select
            .filter(course::Column::CancelledAt.is_null())
            .filter(course::Column::RegistrationOpensAt.lte(now))
            .filter(course::Column::RegistrationClosesAt.gt(now)),
        Some(CourseStatus::Closed) => select
            .filter(course::Column::CancelledAt.is_null())
            .filter(course::Column::RegistrationClosesAt.lte(now)),
    };
    if let Some(cursor) = query.cursor.as_deref() {
        select = select.filter(course::Column::Id.lt(Cursor::decode(cursor)?.0));
    }
    let rows = select.limit(limit + 1).all(db).await?;
    let page = Page::from_rows(rows, limit, |c| c.id.clone(), |c| c);
    let mut sessions = sessions_of_all(db, page.items.iter().map(|c| c.id.clone())).await?;
    let items = page
        .items
        .into_iter()
        .map(|c| {
            let own = sessions.remove(&c.id).unwrap_or_default();
            CourseView::new(c, own, now)
        })
        .collect();
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Who takes the seat: the caller, or one of their dependents.
struct Participant {
    kind: &'static str,
    id: String,
    name: String,
    birth_date: Option<chrono::NaiveDate>,
}

async fn participant(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    dependent_id: Option<&str>,
) -> Result<Participant, AppError> {
    match dependent_id {
        None => Ok(Participant {
            kind: "self",
            id: actor.id().to_owned(),
            name: actor.user.nickname.clone(),
            birth_date: actor.user.birth_date,
        }),
        Some(id) => {
            let child = dependent::Entity::find_by_id(id.to_owned())
                .one(db)
                .await?
                .filter(|d| d.user_id == actor.id())
                .ok_or_else(|| AppError::field("dependent_id", "not_found"))?;
            Ok(Participant {
                kind: "dependent",
                id: child.id,
                name: child.name,
                birth_date: Some(child.birth_date),
            })
        }
    }
}

/// Age on the first session day, in the community's time zone; inclusive range.
fn eligible(
    c: &course::Model,
    first_session: Option<DateTime<Utc>>,
    who: &Participant,
    timezone: &str,
) -> bool {
    if c.min_age.is_none() && c.max_age.is_none() {
        return true;
    }
    let (Some(birth), Some(first)) = (who.birth_date, first_session) else {
        return false;
    };
    let age = i32::try_from(age_on(birth, local_date(first, timezone))).unwrap_or(i32::MAX);
    c.min_age.is_none_or(|min| age >= min) && c.max_age.is_none_or(|max| age <= max)
}

async fn tell(
    db: &impl ConnectionTrait,
    user_id: &str,
    kind: &str,
    title: String,
    course: &course::Model,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    tell_all(db, vec![user_id.to_owned()], kind, &title, course, now).await
}

/// Enrols the caller or a dependent through the enrolment queue (`EnrolQueue`), which takes
/// the place together with the enrolments that arrive at the same moment.
pub async fn enroll(
    db: &DatabaseConnection,
    queue: &super::EnrolQueue,
    actor: CurrentUser,
    course_id: &str,
    input: Enroll,
    now: DateTime<Utc>,
) -> Result<EnrollmentView, AppError> {
    let who = participant(db, &actor, input.dependent_id.as_deref()).await?;
    let ask = PlaceAsk {
        course_id: course_id.to_owned(),
        actor,
        who,
        now,
    };
    Ok(queue.take(ask).await?.into())
}

/// An enrolment asked for: which course, by whom, for whom, when. Every rule is checked inside
/// the transaction that takes the place, so the course is read once for all the enrolments
/// that share it.
pub(super) struct PlaceAsk {
    course_id: String,
    actor: CurrentUser,
    who: Participant,
    now: DateTime<Utc>,
}

impl PlaceAsk {
    pub(super) fn course_id(&self) -> &str {
        &self.course_id
    }
}

/// A place that may be taken: the course is visible to the asker, open, and the participant
/// of an age it accepts; with the participant's live key and limit of places in the community.
struct Place<'a> {
    course: &'a course::Model,
    ask: &'a PlaceAsk,
    live_key: String,
    limit: u32,
}

/// Checks the rules that need no other enrolment: the course is the asker's community's (404
/// otherwise), open, and the participant's age on the first session day in its range.
fn admit<'a>(
    ask: &'a PlaceAsk,
    found: Option<&'a (course::Model, entity::community::Model)>,
    first_sessions: &HashMap<String, DateTime<Utc>>,
) -> Result<Place<'a>, AppError> {
    let (course, community) = found
        .filter(|(c, _)| {
            ask.actor.community_id() == Some(c.community_id.as_str())
                || ask.actor.is_staff_of(&c.community_id)
        })
        .ok_or(AppError::NotFound)?;
    refuse_unless_open(course, ask.now)?;
    let first_session = first_sessions.get(&course.id).copied();
    if !eligible(course, first_session, &ask.who, &community.timezone) {
        return Err(AppError::unprocessable(
            "not_eligible",
            "the participant's age is outside this course's range",
        ));
    }
    let settings = crate::community::settings::CommunitySettings::from_json(&community.settings);
    Ok(Place {
        course,
        ask,
        live_key: format!("{}:{}:{}", course.id, ask.who.kind, ask.who.id),
        limit: settings.max_active_enrollments,
    })
}

/// One enrolment inside a write transaction that holds its participant: one conditional update
/// takes a seat or a waitlist place only if the participant holds no place in the course and
/// fewer than the limit elsewhere. Why a place was refused is worked out only when none was
/// taken; a refusal writes nothing. The enrollment and its notice are returned for `Taken` to
/// insert.
async fn take_in(
    txn: &DatabaseTransaction,
    place: &Place<'_>,
) -> Result<(enrollment::Model, Notify), AppError> {
    let (status, position) = match take_place(txn, place).await? {
        Some(taken) => taken,
        None => return Err(why_refused(txn, place).await),
    };
    let (ask, course) = (place.ask, place.course);
    let created = enrollment::Model {
        id: new_id(),
        course_id: course.id.clone(),
        community_id: course.community_id.clone(),
        user_id: ask.actor.id().to_owned(),
        participant_kind: ask.who.kind.to_owned(),
        participant_id: ask.who.id.clone(),
        participant_name: ask.who.name.clone(),
        status: status.to_owned(),
        waitlist_position: position,
        live_key: Some(place.live_key.clone()),
        draw_rank: None,
        draw_result: None,
        created_at: ask.now,
        cancelled_at: None,
    };
    let name = &ask.who.name;
    let (kind, title) = match (status, position) {
        ("applied", _) => ("course_applied", format!("{name}已报名，截止后抽签")),
        (_, None) => ("course_enrolled", format!("{name}报名成功")),
        (_, Some(p)) => ("course_waitlisted", format!("{name}已进入候补，第{p}位")),
    };
    let notice = Notify::about(
        vec![ask.actor.id().to_owned()],
        kind,
        ("course", &course.id),
        title,
        course.title.clone(),
    );
    Ok((created, notice))
}

/// Places taken in a shared transaction whose rows are not yet written: they go in multi-row
/// inserts (`jobs::ROWS_PER_INSERT` rows each) instead of two inserts per enrolment. Only the
/// participant's own rows bear on a later enrolment's rules (a live place in the course, places
/// held), so they are written before the same participant's next enrolment in the transaction,
/// and at the end.
#[derive(Default)]
struct Taken {
    enrollments: Vec<enrollment::Model>,
    notices: Vec<Notify>,
    participants: HashSet<String>,
}

impl Taken {
    fn add(&mut self, created: enrollment::Model, notice: Notify) {
        self.participants.insert(created.participant_id.clone());
        self.enrollments.push(created);
        self.notices.push(notice);
    }

    fn unwritten_for(&self, participant: &str) -> bool {
        self.participants.contains(participant)
    }

    async fn write(
        &mut self,
        txn: &DatabaseTransaction,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        if self.enrollments.is_empty() {
            return Ok(());
        }
        for rows in self.enrollments.chunks(jobs::ROWS_PER_INSERT) {
            enrollment::Entity::insert_many(
                rows.iter().cloned().map(enrollment::ActiveModel::from),
            )
            .exec_without_returning(txn)
            .await?;
        }
        outbox::emit_all(txn, &self.notices, now).await?;
        self.enrollments.clear();
        self.notices.clear();
        self.participants.clear();
        Ok(())
    }
}

/// Several enrolments in one transaction, each checked and taken as it would be alone, in the
/// order given: the refused ones refused, the others committed together. `Err`: the
/// transaction failed and none was taken.
pub(super) async fn place_together(
    db: &DatabaseConnection,
    asks: &[&PlaceAsk],
) -> Result<Vec<Result<enrollment::Model, AppError>>, AppError> {
    let txn = write_txn(db).await?;
    hold_participants(&txn, asks.iter().copied()).await?;
    let courses = courses_with_communities(&*txn, asks.iter().map(|a| a.course_id.clone())).await?;
    let first_sessions = first_sessions_of_age_limited(&*txn, courses.values()).await?;
    let latest = asks.iter().map(|a| a.now).max().unwrap_or_else(Utc::now);
    let mut taken = Taken::default();
    let mut outcomes = Vec::with_capacity(asks.len());
    for ask in asks {
        if taken.unwritten_for(&ask.who.id) {
            taken.write(&txn, latest).await?;
        }
        let outcome = match admit(ask, courses.get(&ask.course_id), &first_sessions) {
            Ok(place) => take_in(&txn, &place).await,
            Err(refusal) => Err(refusal),
        };
        match outcome {
            Ok((created, notice)) => {
                taken.add(created.clone(), notice);
                outcomes.push(Ok(created));
            }
            // A database error may have spoilt the transaction (PostgreSQL aborts it).
            Err(AppError::Internal(err)) => return Err(AppError::Internal(err)),
            Err(refusal) => outcomes.push(Err(refusal)),
        }
    }
    taken.write(&txn, latest).await?;
    txn.commit().await?;
    Ok(outcomes)
}

/// One enrolment in a transaction of its own.
pub(super) async fn place_alone(
    db: &DatabaseConnection,
    ask: &PlaceAsk,
) -> Result<enrollment::Model, AppError> {
    let mut outcomes = place_together(db, &[ask]).await?;
    outcomes.pop().unwrap_or_else(|| {
        Err(AppError::Internal(anyhow::anyhow!(
            "a shared transaction answered no outcome"
        )))
    })
}

/// When the first session of each course with an age range starts (age is taken on that day).
async fn first_sessions_of_age_limited<'a>(
    db: &impl ConnectionTrait,
    courses: impl Iterator<Item = &'a (course::Model, entity::community::Model)>,
) -> Result<HashMap<String, DateTime<Utc>>, AppError> {
    let limited: Vec<String> = courses
        .filter(|(c, _)| c.min_age.is_some() || c.max_age.is_some())
        .map(|(c, _)| c.id.clone())
        .collect();
    if limited.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(sessions_of_all(db, limited)
        .await?
        .into_iter()
        .filter_map(|(course, sessions)| Some((course, sessions.first()?.starts_at)))
        .collect())
}

/// On PostgreSQL, holds the participants for the rest of the transaction, so that one
/// participant's enrolments in different courses count each other's places (the limit). The
/// locks are taken in one order everywhere, so two transactions never wait for each other.
/// SQLite's write transaction already holds everything.
async fn hold_participants<'a>(
    txn: &DatabaseTransaction,
    asks: impl IntoIterator<Item = &'a PlaceAsk>,
) -> Result<(), AppError> {
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    // Participant ids are ids of ours (no commas).
    let ids: Vec<&str> = asks.into_iter().map(|a| a.who.id.as_str()).collect();
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "WITH held AS MATERIALIZED (SELECT DISTINCT hashtext(id) AS k \
         FROM unnest(string_to_array($1, ',')) AS id ORDER BY k) \
         SELECT pg_advisory_xact_lock(k) FROM held",
        [ids.join(",").into()],
    ))
    .await?;
    Ok(())
}

fn refuse_unless_open(course: &course::Model, now: DateTime<Utc>) -> Result<(), AppError> {
    match status_at(course, now) {
        CourseStatus::Open => Ok(()),
        CourseStatus::Cancelled => Err(AppError::conflict(
            "course_cancelled",
            "this course was cancelled",
        )),
        _ => Err(AppError::conflict(
            "registration_not_open",
            "registration for this course is not open",
        )),
    }
}

/// A course row still open for registration at `now`.
fn while_open(
    update: sea_orm::UpdateMany<course::Entity>,
    course_id: &str,
    now: DateTime<Utc>,
) -> sea_orm::UpdateMany<course::Entity> {
    update
        .filter(course::Column::Id.eq(course_id))
        .filter(course::Column::CancelledAt.is_null())
        .filter(course::Column::RegistrationOpensAt.lte(now))
        .filter(course::Column::RegistrationClosesAt.gt(now))
}

/// Takes a seat if one is left, else a waitlist place (with its position), by one conditional
/// update of the course that also records which it took (`last_place`: every right-hand side
/// of the update sees the row as it was); a lottery course only takes applications. `None`:
/// nothing was taken.
async fn take_place(
    txn: &DatabaseTransaction,
    place: &Place<'_>,
) -> Result<Option<(&'static str, Option<i32>)>, AppError> {
    if place.course.allocation == "lottery" {
        // Seats wait for the draw at the close: no race for faster thumbs.
        let still_open = hold(txn, &place.course.id).await?;
        refuse_unless_open(&still_open, place.ask.now)?;
        if let Some(refusal) = places_refusal(txn, place).await? {
            return Err(refusal);
        }
        return Ok(Some(("applied", None)));
    }
    let seat_left =
        || Expr::col(course::Column::EnrolledCount).lt(Expr::col(course::Column::Capacity));
    let one_if = |taken: bool| Expr::case(seat_left(), i32::from(taken)).finally(i32::from(!taken));
    let taken = while_open(
        course::Entity::update_many(),
        &place.course.id,
        place.ask.now,
    )
    .col_expr(
        course::Column::EnrolledCount,
        Expr::col(course::Column::EnrolledCount).add(one_if(true)),
    )
    .col_expr(
        course::Column::WaitlistCount,
        Expr::col(course::Column::WaitlistCount).add(one_if(false)),
    )
    .col_expr(
        course::Column::LastPlace,
        Expr::case(seat_left(), "enrolled")
            .finally("waitlisted")
            .into(),
    )
    .filter(
        Condition::any()
            .add(seat_left())
            .add(course::Column::WaitlistCapacity.is_null())
            .add(
                Expr::col(course::Column::WaitlistCount)
                    .lt(Expr::col(course::Column::WaitlistCapacity)),
            ),
    )
    .filter(Expr::exists(live_place(&place.live_key)).not())
    .filter(Expr::expr(places_held(place)).lt(i64::from(place.limit)))
    .exec_with_returning(txn)
    .await?;
    Ok(taken.first().map(|row| match row.last_place.as_deref() {
        Some("enrolled") => ("enrolled", None),
        _ => ("waitlisted", Some(row.waitlist_count)),
    }))
}

/// The participant's live place in this course, if any.
fn live_place(live_key: &str) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .expr(Expr::val(1))
        .from(enrollment::Entity)
        .and_where(enrollment::Column::LiveKey.eq(live_key))
        .to_owned()
}

/// How many places the participant holds in the course's community.
fn places_held(place: &Place<'_>) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .expr(Expr::col(enrollment::Column::Id).count())
        .from(enrollment::Entity)
        .and_where(enrollment::Column::ParticipantId.eq(&place.ask.who.id))
        .and_where(enrollment::Column::CommunityId.eq(&place.course.community_id))
        .and_where(enrollment::Column::Status.is_in(ACTIVE))
        .to_owned()
}

/// Why the participant may hold no more places: one in this course already, or the limit.
async fn places_refusal(
    txn: &DatabaseTransaction,
    place: &Place<'_>,
) -> Result<Option<AppError>, AppError> {
    let places: Vec<String> = enrollment::Entity::find()
        .select_only()
        .column(enrollment::Column::CourseId)
        .filter(enrollment::Column::ParticipantId.eq(&place.ask.who.id))
        .filter(enrollment::Column::CommunityId.eq(&place.course.community_id))
        .filter(enrollment::Column::Status.is_in(ACTIVE))
        .into_tuple()
        .all(txn)
        .await?;
    if places.contains(&place.course.id) {
        return Ok(Some(AppError::conflict(
            "already_enrolled",
            "already enrolled or waitlisted in this course",
        )));
    }
    if places.len() as u64 >= u64::from(place.limit) {
        return Ok(Some(AppError::conflict(
            "enrollment_limit_reached",
            "the participant has as many places as allowed",
        )));
    }
    Ok(None)
}

/// Why no place was taken: the participant's places, the course closed or cancelled meanwhile,
/// or a full waitlist.
async fn why_refused(txn: &DatabaseTransaction, place: &Place<'_>) -> AppError {
    match places_refusal(txn, place).await {
        Ok(Some(refusal)) | Err(refusal) => return refusal,
        Ok(None) => {}
    }
    let current = match hold(txn, &place.course.id).await {
        Ok(current) => current,
        Err(err) => return err,
    };
    if let Err(refusal) = refuse_unless_open(&current, place.ask.now) {
        return refusal;
    }
    AppError::conflict("waitlist_full", "the course and its waitlist are full")
}

/// Cancels an enrollment; a freed seat goes to the first on the waitlist in the same
/// transaction, and the positions behind close up.
pub async fn cancel(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    enrollment_id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let found = enrollment::Entity::find_by_id(enrollment_id.to_owned())
        .one(db)
        .await?
        .filter(|e| e.user_id == actor.id() || actor.is_staff_of(&e.community_id))
        .ok_or(AppError::NotFound)?;
    let txn = write_txn(db).await?;
    let course = hold(&txn, &found.course_id).await?;
    let current = enrollment::Entity::find_by_id(enrollment_id.to_owned())
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if current.status == "cancelled" {
        return Ok(());
    }
    ended(now)
        .filter(enrollment::Column::Id.eq(enrollment_id))
        .exec(&txn)
        .await?;
    if current.user_id != actor.id() {
        let detail = format!("removed {} ({})", current.participant_name, current.status);
        audit(
            &txn,
            &course.id,
            actor,
            AuditLine {
                action: "remove",
                enrollment_id: Some(enrollment_id),
                reason: None,
                detail,
            },
            now,
        )
        .await?;
    }
    match (current.status.as_str(), current.waitlist_position) {
        ("enrolled", _) => fill_freed_seat(&txn, &course, now).await?,
        ("waitlisted", Some(position)) => leave_waitlist(&txn, &course.id, position).await?,
        _ => {}
    }
    txn.commit().await?;
    Ok(())
}

/// An update that ends enrollments: cancelled, out of line, its live key freed for a new one.
fn ended(now: DateTime<Utc>) -> sea_orm::UpdateMany<enrollment::Entity> {
    enrollment::Entity::update_many()
        .col_expr(enrollment::Column::Status, Expr::value("cancelled"))
        .col_expr(
            enrollment::Column::LiveKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            enrollment::Column::WaitlistPosition,
            Expr::value(Option::<i32>::None),
        )
        .col_expr(enrollment::Column::CancelledAt, Expr::value(Some(now)))
}

/// Positions behind `position` move up one; the course's waitlist shrinks by one.
async fn leave_waitlist(
    txn: &DatabaseTransaction,
    course_id: &str,
    position: i32,
) -> Result<(), AppError> {
    enrollment::Entity::update_many()
        .col_expr(
            enrollment::Column::WaitlistPosition,
            Expr::col(enrollment::Column::WaitlistPosition).sub(1),
        )
        .filter(enrollment::Column::CourseId.eq(course_id))
        .filter(enrollment::Column::Status.eq("waitlisted"))
        .filter(enrollment::Column::WaitlistPosition.gt(position))
        .exec(txn)
        .await?;
    course::Entity::update_many()
        .col_expr(
            course::Column::WaitlistCount,
            Expr::col(course::Column::WaitlistCount).sub(1),
        )
        .filter(course::Column::Id.eq(course_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// A seat was freed: the first on the waitlist takes it, unless staff promotions already put
/// the course over capacity.
async fn fill_freed_seat(
    txn: &DatabaseTransaction,
    course: &course::Model,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    course::Entity::update_many()
        .col_expr(
            course::Column::EnrolledCount,
            Expr::col(course::Column::EnrolledCount).sub(1),
        )
        .filter(course::Column::Id.eq(&course.id))
        .exec(txn)
        .await?;
    if course.enrolled_count <= course.capacity {
        promote_first(txn, course, now).await?;
    }
    Ok(())
}

/// The caller's enrollments (their own and their dependents'), newest first.
pub async fn mine(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    page: &PageParams,
) -> Result<Page<EnrollmentView>, AppError> {
    let mut select = enrollment::Entity::find()
        .filter(enrollment::Column::UserId.eq(actor.id()))
        .order_by_desc(enrollment::Column::Id);
    if let Some(Cursor(before)) = page.after()? {
        select = select.filter(enrollment::Column::Id.lt(before));
    }
    let rows = select.limit(page.limit() + 1).all(db).await?;
    Ok(Page::from_rows(
        rows,
        page.limit(),
        |e| e.id.clone(),
        EnrollmentView::from,
    ))
}

pub async fn roster(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    course_id: &str,
) -> Result<Roster, AppError> {
    let found = visible(db, actor, course_id).await?;
    actor.require_staff_of(&found.community_id)?;
    let rows = enrollment::Entity::find()
        .filter(enrollment::Column::CourseId.eq(course_id))
        .filter(enrollment::Column::Status.is_in(["enrolled", "waitlisted"]))
        .order_by_asc(enrollment::Column::WaitlistPosition)
        .order_by_asc(enrollment::Column::Id)
        .all(db)
        .await?;
    let (enrolled, waitlist): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|e| e.status == "enrolled");
    Ok(Roster {
        enrolled: enrolled.into_iter().map(EnrollmentView::from).collect(),
        waitlist: waitlist.into_iter().map(EnrollmentView::from).collect(),
    })
}

/// What a staff action did, for the course's audit log.
struct AuditLine<'a> {
    action: &'a str,
    enrollment_id: Option<&'a str>,
    reason: Option<String>,
    detail: String,
}

/// One line in the course's audit log, in the caller's transaction.
async fn audit(
    db: &impl ConnectionTrait,
    course_id: &str,
    actor: &CurrentUser,
    line: AuditLine<'_>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    course_audit::ActiveModel {
        id: Set(new_id()),
        course_id: Set(course_id.to_owned()),
        actor_id: Set(actor.id().to_owned()),
        action: Set(line.action.to_owned()),
        enrollment_id: Set(line.enrollment_id.map(str::to_owned)),
        reason: Set(line.reason),
        detail: Set(line.detail),
        at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The users behind the course's live enrollments (parents for children), once each.
async fn participants_of(
    db: &impl ConnectionTrait,
    course_id: &str,
) -> Result<Vec<String>, AppError> {
    let mut users: Vec<String> = enrollment::Entity::find()
        .filter(enrollment::Column::CourseId.eq(course_id))
        .filter(enrollment::Column::Status.is_in(ACTIVE))
        .all(db)
        .await?
        .into_iter()
        .map(|e| e.user_id)
        .collect();
    users.sort();
    users.dedup();
    Ok(users)
}

async fn tell_all(
    db: &impl ConnectionTrait,
    users: Vec<String>,
    kind: &str,
    title: &str,
    course: &course::Model,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if users.is_empty() {
        return Ok(());
    }
    let event = Notify::about(
        users,
        kind,
        ("course", &course.id),
        title.to_owned(),
        course.title.clone(),
    );
    outbox::emit(db, &event, now).await?;
    Ok(())
}

pub async fn update(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    patch: UpdateCourse,
    now: DateTime<Utc>,
) -> Result<CourseView, AppError> {
    let found = visible(db, actor, id).await?;
    actor.require_staff_of(&found.community_id)?;
    let txn = write_txn(db).await?;
    let course = hold(&txn, id).await?;
    if course.cancelled_at.is_some() {
        return Err(AppError::conflict(
            "course_cancelled",
            "this course was cancelled",
        ));
    }
    if patch.capacity.is_some_and(|c| c < course.enrolled_count) {
        return Err(AppError::conflict(
            "capacity_below_enrolled",
            "more participants are enrolled than that capacity",
        ));
    }
    let opens = patch
        .registration_opens_at
        .unwrap_or(course.registration_opens_at);
    let closes = patch
        .registration_closes_at
        .unwrap_or(course.registration_closes_at);
    if closes <= opens {
        return Err(AppError::field(
            "registration_closes_at",
            "registration_window",
        ));
    }
    let mut changed = Vec::new();
    let mut active: course::ActiveModel = course.clone().into();
    // `plain` fields take the value; `optional` ones are nullable columns.
    macro_rules! apply {
        (plain: $($p:ident),*; optional: $($o:ident),*) => {
            $( if let Some(value) = patch.$p { changed.push(stringify!($p)); active.$p = Set(value); } )*
            $( if let Some(value) = patch.$o { changed.push(stringify!($o)); active.$o = Set(Some(value)); } )*
        };
    }
    apply!(
        plain: title, category, capacity, registration_opens_at, registration_closes_at;
        optional: description, teacher, location, waitlist_capacity
    );
    let updated = active.update(&txn).await?;
    // A larger capacity seats the first on the waitlist, as many as the new seats.
    let mut seats = Ord::max(updated.capacity - updated.enrolled_count, 0);
    while seats > 0 {
        let held = hold(&txn, id).await?;
        if !promote_first(&txn, &held, now).await? {
            break;
        }
        seats -= 1;
    }
    audit(
        &txn,
        id,
        actor,
        AuditLine {
            action: "edit",
            enrollment_id: None,
            reason: None,
            detail: format!("changed {}", changed.join(", ")),
        },
        now,
    )
    .await?;
    let everyone = participants_of(&txn, id).await?;
    tell_all(
        &txn,
        everyone,
        "course_changed",
        "课程信息有变动",
        &updated,
        now,
    )
    .await?;
    txn.commit().await?;
    get(db, actor, id, now).await
}

/// Seats the first waitlisted participant (the freed or added seat is already counted free);
/// false when nobody waits.
async fn promote_first(
    txn: &DatabaseTransaction,
    course: &course::Model,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let first = enrollment::Entity::find()
        .filter(enrollment::Column::CourseId.eq(&course.id))
        .filter(enrollment::Column::Status.eq("waitlisted"))
        .order_by_asc(enrollment::Column::WaitlistPosition)
        .one(txn)
        .await?;
    let Some(first) = first else {
        return Ok(false);
    };
    seat(txn, course, &first, now).await?;
    Ok(true)
}

/// Moves a waitlisted enrollment to a seat: one more enrolled, the waitlist closes up.
async fn seat(
    txn: &DatabaseTransaction,
    course: &course::Model,
    waiting: &enrollment::Model,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    enrollment::Entity::update_many()
        .col_expr(enrollment::Column::Status, Expr::value("enrolled"))
        .col_expr(
            enrollment::Column::WaitlistPosition,
            Expr::value(Option::<i32>::None),
        )
        .filter(enrollment::Column::Id.eq(&waiting.id))
        .exec(txn)
        .await?;
    course::Entity::update_many()
        .col_expr(
            course::Column::EnrolledCount,
            Expr::col(course::Column::EnrolledCount).add(1),
        )
        .filter(course::Column::Id.eq(&course.id))
        .exec(txn)
        .await?;
    leave_waitlist(txn, &course.id, waiting.waitlist_position.unwrap_or(1)).await?;
    tell(
        txn,
        &waiting.user_id,
        "course_promoted",
        format!("{}候补转正，报名成功", waiting.participant_name),
        course,
        now,
    )
    .await
}

/// Cancels the course: every enrollment ends and everyone is told.
pub async fn cancel_course(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<CourseView, AppError> {
    let found = visible(db, actor, id).await?;
    actor.require_staff_of(&found.community_id)?;
    let txn = write_txn(db).await?;
    let course = hold(&txn, id).await?;
    if course.cancelled_at.is_some() {
        return Err(AppError::conflict(
            "course_cancelled",
            "this course was already cancelled",
        ));
    }
    let everyone = participants_of(&txn, id).await?;
    ended(now)
        .filter(enrollment::Column::CourseId.eq(id))
        .filter(enrollment::Column::Status.is_in(ACTIVE))
        .exec(&txn)
        .await?;
    course::Entity::update_many()
        .col_expr(course::Column::CancelledAt, Expr::value(Some(now)))
        .col_expr(course::Column::EnrolledCount, Expr::value(0))
        .col_expr(course::Column::WaitlistCount, Expr::value(0))
        .filter(course::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    audit(
        &txn,
        id,
        actor,
        AuditLine {
            action: "cancel",
            enrollment_id: None,
            reason: None,
            detail: format!("cancelled; {} people told", everyone.len()),
        },
        now,
    )
    .await?;
    tell_all(
        &txn,
        everyone,
        "course_cancelled",
        "课程已取消",
        &course,
        now,
    )
    .await?;
    txn.commit().await?;
    get(db, actor, id, now).await
}

/// Staff seat a waitlisted participant ahead of the queue, beyond capacity if need be.
pub async fn promote(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    enrollment_id: &str,
    reason: String,
    now: DateTime<Utc>,
) -> Result<EnrollmentView, AppError> {
    let found = enrollment::Entity::find_by_id(enrollment_id.to_owned())
        .one(db)
        .await?
        .filter(|e| actor.belongs_to(&e.community_id))
        .ok_or(AppError::NotFound)?;
    actor.require_staff_of(&found.community_id)?;
    let txn = write_txn(db).await?;
    let course = hold(&txn, &found.course_id).await?;
    let current = enrollment::Entity::find_by_id(enrollment_id.to_owned())
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if current.status != "waitlisted" {
        return Err(AppError::conflict(
            "invalid_state",
            "only a waitlisted participant can be promoted",
        ));
    }
    seat(&txn, &course, &current, now).await?;
    let detail = format!(
        "promoted {} from waitlist position {}",
        current.participant_name,
        current.waitlist_position.unwrap_or(0)
    );
    audit(
        &txn,
        &course.id,
        actor,
        AuditLine {
            action: "promote",
            enrollment_id: Some(enrollment_id),
            reason: Some(reason),
            detail,
        },
        now,
    )
    .await?;
    txn.commit().await?;
    let promoted = enrollment::Entity::find_by_id(enrollment_id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(promoted.into())
}

/// The course's audit log, oldest first (staff).
pub async fn audit_log(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    course_id: &str,
    page: &PageParams,
) -> Result<Page<AuditEntry>, AppError> {
    let found = visible(db, actor, course_id).await?;
    actor.require_staff_of(&found.community_id)?;
    let mut select = course_audit::Entity::find()
        .filter(course_audit::Column::CourseId.eq(course_id))
        .order_by_asc(course_audit::Column::Id);
    if let Some(Cursor(after)) = page.after()? {
        select = select.filter(course_audit::Column::Id.gt(after));
    }
    let rows = select.limit(page.limit() + 1).all(db).await?;
    Ok(Page::from_rows(
        rows,
        page.limit(),
        |a| a.id.clone(),
        AuditEntry::from,
    ))
}
