//! Raising, listing, taking and closing problems.
use chrono::{DateTime, Utc};
use entity::problem;
use jobs::{notify::Notify, outbox};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Expr, OnConflict},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::{
    auth::CurrentUser,
    community::service as community,
    db::write_txn,
    error::AppError,
    http::{Cursor, Page},
    state::new_id,
};

/// What a problem is about: its kind and the thing that caused it.
pub struct Cause<'a> {
    pub community_id: &'a str,
    pub kind: &'a str,
    pub ref_type: &'a str,
    pub ref_id: &'a str,
    /// Shown in lists: no personal data.
    pub summary: String,
    pub urgent: bool,
}

/// Raises the item for a cause inside the caller's transaction; raising it again changes
/// nothing.
pub async fn raise(
    db: &impl ConnectionTrait,
    cause: Cause<'_>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    problem::Entity::insert(problem::ActiveModel {
        id: Set(new_id()),
        community_id: Set(cause.community_id.to_owned()),
        kind: Set(cause.kind.to_owned()),
        ref_type: Set(cause.ref_type.to_owned()),
        ref_id: Set(cause.ref_id.to_owned()),
        summary: Set(cause.summary),
        urgent: Set(cause.urgent),
        status: Set(ProblemStatus::Open.as_str().to_owned()),
        taken_by: Set(None),
        taken_at: Set(None),
        closed_by: Set(None),
        closed_at: Set(None),
        close_note: Set(None),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            problem::Column::Kind,
            problem::Column::RefType,
            problem::Column::RefId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Closes the item of a cause that was dealt with through its own endpoint (by `by`).
pub async fn close_for(
    db: &impl ConnectionTrait,
    (kind, ref_type, ref_id): (&str, &str, &str),
    by: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    problem::Entity::update_many()
        .col_expr(
            problem::Column::Status,
            Expr::value(ProblemStatus::Closed.as_str()),
        )
        .col_expr(problem::Column::ClosedBy, Expr::value(by.to_owned()))
        .col_expr(problem::Column::ClosedAt, Expr::value(now))
        .col_expr(problem::Column::CloseNote, Expr::value(note.to_owned()))
        .filter(problem::Column::Kind.eq(kind))
        .filter(problem::Column::RefType.eq(ref_type))
        .filter(problem::Column::RefId.eq(ref_id))
        .filter(problem::Column::Status.ne(ProblemStatus::Closed.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemStatus {
    Open,
    Taken,
    Closed,
}

impl ProblemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Taken => "taken",
            Self::Closed => "closed",
        }
    }
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProblemQuery {
    pub status: Option<ProblemStatus>,
    /// `message_report`, `blocked_conversation`, …
    #[validate(length(min = 1, max = 40, code = "length"))]
    pub kind: Option<String>,
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseProblem {
    /// What was done, 1–200 characters.
    #[validate(length(min = 1, max = 200, code = "length"))]
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemRef {
    #[serde(rename = "type")]
    pub ref_type: String,
    pub id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemView {
    pub id: String,
    pub kind: String,
    #[serde(rename = "ref")]
    pub reference: ProblemRef,
    pub summary: String,
    pub urgent: bool,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub taken_by: Option<String>,
    pub taken_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub close_note: Option<String>,
}

impl From<problem::Model> for ProblemView {
    fn from(p: problem::Model) -> Self {
        Self {
            id: p.id,
            kind: p.kind,
            reference: ProblemRef {
                ref_type: p.ref_type,
                id: p.ref_id,
            },
            summary: p.summary,
            urgent: p.urgent,
            status: p.status,
            created_at: p.created_at,
            taken_by: p.taken_by,
            taken_at: p.taken_at,
            closed_by: p.closed_by,
            closed_at: p.closed_at,
            close_note: p.close_note,
        }
    }
}

/// The inbox: urgent first, then oldest. The cursor is the last item's (urgent, id).
pub async fn list(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    community_id: &str,
    query: &ProblemQuery,
) -> Result<Page<ProblemView>, AppError> {
    community::find(db, community_id).await?;
    actor.require_staff_of(community_id)?;
    let limit = query.limit.unwrap_or(20);
    let mut select = problem::Entity::find()
        .filter(problem::Column::CommunityId.eq(community_id))
        .order_by_desc(problem::Column::Urgent)
        .order_by_asc(problem::Column::Id);
    if let Some(status) = query.status {
        select = select.filter(problem::Column::Status.eq(status.as_str()));
    }
    if let Some(kind) = query.kind.as_deref() {
        select = select.filter(problem::Column::Kind.eq(kind));
    }
    if let Some(cursor) = query.cursor.as_deref().map(Cursor::decode).transpose()? {
        let [urgent, id] = cursor.parts()?;
        let urgent: bool = Cursor::parse(urgent)?;
        // Urgent first (descending), then oldest (ascending): past the cursor is a later item
        // of the same urgency, or any ordinary one after the urgent ones.
        let later_alike = Condition::all()
            .add(problem::Column::Urgent.eq(urgent))
            .add(problem::Column::Id.gt(id.to_owned()));
        select = select.filter(if urgent {
            Condition::any()
                .add(later_alike)
                .add(problem::Column::Urgent.eq(false))
        } else {
            later_alike
        });
    }
    let rows = select.limit(limit + 1).all(db).await?;
    Ok(Page::from_rows(
        rows,
        limit,
        |p| Cursor::of(&[&p.urgent.to_string(), &p.id]).0,
        ProblemView::from,
    ))
}

async fn staff_item(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    id: &str,
) -> Result<problem::Model, AppError> {
    let found = problem::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    actor.require_staff_of(&found.community_id)?;
    Ok(found)
}

/// "I'll handle it": taking an item someone else holds is allowed, and they are told.
pub async fn take(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<ProblemView, AppError> {
    let found = staff_item(db, actor, id).await?;
    let txn = write_txn(db).await?;
    let taken = problem::Entity::update_many()
        .col_expr(
            problem::Column::Status,
            Expr::value(ProblemStatus::Taken.as_str()),
        )
        .col_expr(problem::Column::TakenBy, Expr::value(actor.id().to_owned()))
        .col_expr(problem::Column::TakenAt, Expr::value(now))
        .filter(problem::Column::Id.eq(id))
        .filter(problem::Column::Status.ne(ProblemStatus::Closed.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    if taken == 0 {
        return Err(AppError::conflict(
            "invalid_state",
            "the item is already closed",
        ));
    }
    if let Some(holder) = found.taken_by.filter(|h| h != actor.id()) {
        let notice = Notify::about(
            vec![holder],
            "problem_taken_over",
            ("problem", id),
            "同事接手了你在处理的事项",
            found.summary.clone(),
        );
        outbox::emit(&txn, &notice, now).await?;
    }
    let item = staff_item(&txn, actor, id).await?;
    txn.commit().await?;
    Ok(item.into())
}

/// Closed by a person, with what was done.
pub async fn close(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    input: CloseProblem,
    now: DateTime<Utc>,
) -> Result<ProblemView, AppError> {
    staff_item(db, actor, id).await?;
    let txn = write_txn(db).await?;
    let closed = problem::Entity::update_many()
        .col_expr(
            problem::Column::Status,
            Expr::value(ProblemStatus::Closed.as_str()),
        )
        .col_expr(
            problem::Column::ClosedBy,
            Expr::value(actor.id().to_owned()),
        )
        .col_expr(problem::Column::ClosedAt, Expr::value(now))
        .col_expr(
            problem::Column::CloseNote,
            Expr::value(input.note.trim().to_owned()),
        )
        .filter(problem::Column::Id.eq(id))
        .filter(problem::Column::Status.ne(ProblemStatus::Closed.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    if closed == 0 {
        return Err(AppError::conflict(
            "invalid_state",
            "the item is already closed",
        ));
    }
    let item = staff_item(&txn, actor, id).await?;
    txn.commit().await?;
    Ok(item.into())
}
