//! Reports and staff oversight. A participant's report keeps a copy of the messages it names
//! and goes to the problems inbox. Staff never read a conversation they are not in, except the
//! one of an open report, and every such read is written to an access log admins can read.
use chrono::{DateTime, Utc};
use entity::{
    conversation_access, conversation_report,
    message::{self, MessageStatus},
};
use jobs::{notify::Notify, outbox};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::Expr,
};

use super::{
    dto::{
        AccessLogEntry, CreateReport, MessageView, ReportCreated, ReportQuery, ReportStatus,
        ReportView, ReportedMessages, ResolveReport,
    },
    service::membership,
};
use crate::{
    auth::CurrentUser,
    community::service as community,
    db::write_txn,
    error::AppError,
    http::{Cursor, Page, PageParams},
    problems,
    state::new_id,
};

/// How many of the conversation's latest messages staff see with a report.
const MESSAGES_SHOWN: u64 = 200;

fn report_problem(r: &conversation_report::Model) -> (&'static str, &'static str, String) {
    ("message_report", "conversation_report", r.id.clone())
}

pub async fn report(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    conversation_id: &str,
    input: CreateReport,
    now: DateTime<Utc>,
) -> Result<ReportCreated, AppError> {
    let (found, _) = membership(db, actor, conversation_id).await?;
    let named = input.message_ids.unwrap_or_default();
    let copies: Vec<MessageView> = if named.is_empty() {
        Vec::new()
    } else {
        message::Entity::find()
            .filter(message::Column::ConversationId.eq(&found.id))
            .filter(message::Column::Id.is_in(named.clone()))
            .filter(message::Column::Status.eq(MessageStatus::Published))
            .order_by_asc(message::Column::Seq)
            .all(db)
            .await?
            .into_iter()
            .map(MessageView::from)
            .collect()
    };
    if copies.len() != named.len() {
        return Err(AppError::field("message_ids", "not_found"));
    }
    let copies = serde_json::to_string(&copies).map_err(AppError::internal)?;
    let txn = write_txn(db).await?;
    let created = conversation_report::ActiveModel {
        id: Set(new_id()),
        community_id: Set(found.community_id.clone()),
        conversation_id: Set(found.id.clone()),
        reporter_id: Set(actor.id().to_owned()),
        reason: Set(input.reason.as_str().to_owned()),
        note: Set(input
            .note
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())),
        messages: Set(copies),
        status: Set(ReportStatus::Open.as_str().to_owned()),
        outcome: Set(None),
        resolve_note: Set(None),
        resolved_by: Set(None),
        resolved_at: Set(None),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let (kind, ref_type, ref_id) = report_problem(&created);
    let cause = problems::Cause {
        community_id: &found.community_id,
        kind,
        ref_type,
        ref_id: &ref_id,
        summary: format!("私信举报：{}", input.reason.as_str()),
        urgent: false,
    };
    problems::raise(&txn, cause, now).await?;
    txn.commit().await?;
    tracing::info!(report_id = %created.id, "conversation reported");
    Ok(ReportCreated {
        id: created.id,
        status: ReportStatus::Open,
    })
}

pub async fn reports(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    community_id: &str,
    query: &ReportQuery,
) -> Result<Page<ReportView>, AppError> {
    community::find(db, community_id).await?;
    actor.require_staff_of(community_id)?;
    let limit = query.limit.unwrap_or(20);
    let mut select = conversation_report::Entity::find()
        .filter(conversation_report::Column::CommunityId.eq(community_id))
        .order_by_desc(conversation_report::Column::Id);
    if let Some(status) = query.status {
        select = select.filter(conversation_report::Column::Status.eq(status.as_str()));
    }
    if let Some(cursor) = query.cursor.as_deref() {
        select = select.filter(conversation_report::Column::Id.lt(Cursor::decode(cursor)?.0));
    }
    let rows = select.limit(limit + 1).all(db).await?;
    Ok(Page::from_rows(
        rows,
        limit,
        |r| r.id.clone(),
        ReportView::from,
    ))
}

async fn staff_report(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    id: &str,
) -> Result<conversation_report::Model, AppError> {
    let found = conversation_report::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    actor.require_staff_of(&found.community_id)?;
    Ok(found)
}

/// The reported conversation, for staff while the report is open; the read is logged.
pub async fn reported_messages(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    report_id: &str,
    now: DateTime<Utc>,
) -> Result<ReportedMessages, AppError> {
    let found = staff_report(db, actor, report_id).await?;
    if found.status != ReportStatus::Open.as_str() {
        return Err(AppError::conflict(
            "invalid_state",
            "the report is resolved: its conversation is private again",
        ));
    }
    conversation_access::ActiveModel {
        id: Set(new_id()),
        community_id: Set(found.community_id.clone()),
        conversation_id: Set(found.conversation_id.clone()),
        report_id: Set(found.id.clone()),
        reader_id: Set(actor.id().to_owned()),
        at: Set(now),
    }
    .insert(db)
    .await?;
    let mut messages: Vec<MessageView> = message::Entity::find()
        .filter(message::Column::ConversationId.eq(&found.conversation_id))
        .filter(message::Column::Status.eq(MessageStatus::Published))
        .order_by_desc(message::Column::Seq)
        .limit(MESSAGES_SHOWN)
        .all(db)
        .await?
        .into_iter()
        .map(MessageView::from)
        .collect();
    messages.reverse();
    let reported = serde_json::from_str(&found.messages).unwrap_or_default();
    Ok(ReportedMessages {
        report: found.into(),
        reported,
        messages,
    })
}

/// Resolved with an outcome; the reporter is told and the inbox item closes.
pub async fn resolve(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    report_id: &str,
    input: ResolveReport,
    now: DateTime<Utc>,
) -> Result<ReportView, AppError> {
    let found = staff_report(db, actor, report_id).await?;
    let note = input.note.trim().to_owned();
    let txn = write_txn(db).await?;
    let resolved = conversation_report::Entity::update_many()
        .col_expr(
            conversation_report::Column::Status,
            Expr::value(ReportStatus::Resolved.as_str()),
        )
        .col_expr(
            conversation_report::Column::Outcome,
            Expr::value(Some(input.outcome.as_str())),
        )
        .col_expr(
            conversation_report::Column::ResolveNote,
            Expr::value(Some(note.clone())),
        )
        .col_expr(
            conversation_report::Column::ResolvedBy,
            Expr::value(Some(actor.id().to_owned())),
        )
        .col_expr(
            conversation_report::Column::ResolvedAt,
            Expr::value(Some(now)),
        )
        .filter(conversation_report::Column::Id.eq(report_id))
        .filter(conversation_report::Column::Status.eq(ReportStatus::Open.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    if resolved == 0 {
        return Err(AppError::conflict(
            "invalid_state",
            "the report is already resolved",
        ));
    }
    let (kind, ref_type, ref_id) = report_problem(&found);
    problems::close_for(&txn, (kind, ref_type, &ref_id), actor.id(), &note, now).await?;
    let notice = Notify::about(
        vec![found.reporter_id.clone()],
        "report_resolved",
        ("conversation", &found.conversation_id),
        "你的举报已处理",
        "感谢你的反馈，社区工作人员已处理你的举报。",
    );
    outbox::emit(&txn, &notice, now).await?;
    let updated = staff_report(&txn, actor, report_id).await?;
    txn.commit().await?;
    Ok(updated.into())
}

/// Who read which conversation, when, for which report (admins).
pub async fn access_log(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    community_id: &str,
    page: &PageParams,
) -> Result<Page<AccessLogEntry>, AppError> {
    community::find(db, community_id).await?;
    actor.require_admin()?;
    let limit = page.limit();
    let mut select = conversation_access::Entity::find()
        .filter(conversation_access::Column::CommunityId.eq(community_id))
        .order_by_desc(conversation_access::Column::Id);
    if let Some(Cursor(after)) = page.after()? {
        select = select.filter(conversation_access::Column::Id.lt(after));
    }
    let rows = select.limit(limit + 1).all(db).await?;
    Ok(Page::from_rows(
        rows,
        limit,
        |a| a.id.clone(),
        AccessLogEntry::from,
    ))
}
