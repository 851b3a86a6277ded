//! Conversations opened and changed by the domain, inside the caller's transaction: a wish's
//! claim opens one (poster, beneficiary, claimer), a delivery's acceptance another (recipient,
//! volunteer); a released claim or a reassigned delivery moves people out and in; the end of
//! the wish or delivery turns it read-only some days later. Every change queues a
//! `ConversationChanged` event, so the frames go out after the commit.
use chrono::{DateTime, Duration, Utc};
use entity::{
    conversation::{self, ContextType},
    conversation_member::{self, MemberRole},
};
use jobs::{
    outbox::{self, Event, Queue},
    runtime::{JobContext, JobError},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
    sea_query::{Expr, OnConflict},
};
use serde::{Deserialize, Serialize};

use crate::{community::service as community, error::AppError, state::new_id};

/// Tell the conversation's people (and those who just left it) what it is like now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationChanged {
    pub conversation_id: String,
    /// `conversation.created` for those who joined, `conversation.updated` for the others.
    pub joined: Vec<String>,
    pub left: Vec<String>,
}

impl Event for ConversationChanged {
    const KIND: &'static str = "conversation_changed";
    const QUEUE: Queue = Queue::Notify;
}

/// The unique key of a context's conversation.
pub fn context_key(kind: ContextType, id: &str) -> String {
    match kind {
        ContextType::Wish => format!("wish:{id}"),
        ContextType::Delivery => format!("delivery:{id}"),
        ContextType::Direct => format!("direct:{id}"),
    }
}

async fn by_key(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<conversation::Model>, AppError> {
    Ok(conversation::Entity::find()
        .filter(conversation::Column::ContextKey.eq(key))
        .one(db)
        .await?)
}

/// Opens the context's conversation (or finds it) and makes these people its members (again,
/// for one who had left). Idempotent.
pub async fn open(
    db: &impl ConnectionTrait,
    community_id: &str,
    (kind, context_id, key): (ContextType, &str, String),
    people: &[(&str, MemberRole)],
    now: DateTime<Utc>,
) -> Result<conversation::Model, AppError> {
    conversation::Entity::insert(conversation::ActiveModel {
        id: Set(new_id()),
        community_id: Set(community_id.to_owned()),
        context_type: Set(kind),
        context_id: Set(context_id.to_owned()),
        context_key: Set(key.clone()),
        last_seq: Set(0),
        last_activity_at: Set(now),
        read_only_at: Set(None),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(conversation::Column::ContextKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let found = by_key(db, &key)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("conversation vanished")))?;
    let current = current_members(db, &found.id).await?;
    let mut joined = Vec::new();
    for (user_id, role) in people {
        if current.iter().any(|m| m == user_id) {
            continue;
        }
        join(db, &found.id, user_id, *role, now).await?;
        joined.push((*user_id).to_owned());
    }
    if !joined.is_empty() {
        changed(db, &found.id, joined, Vec::new(), now).await?;
    }
    Ok(found)
}

async fn join(
    db: &impl ConnectionTrait,
    conversation_id: &str,
    user_id: &str,
    role: MemberRole,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    conversation_member::Entity::insert(conversation_member::ActiveModel {
        conversation_id: Set(conversation_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        role: Set(role),
        read_seq: Set(0),
        reminded_seq: Set(0),
        blocked_at: Set(None),
        joined_at: Set(now),
        left_at: Set(None),
    })
    .on_conflict(
        OnConflict::columns([
            conversation_member::Column::ConversationId,
            conversation_member::Column::UserId,
        ])
        .update_columns([
            conversation_member::Column::Role,
            conversation_member::Column::JoinedAt,
            conversation_member::Column::LeftAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The users in a conversation now.
pub async fn current_members(
    db: &impl ConnectionTrait,
    conversation_id: &str,
) -> Result<Vec<String>, AppError> {
    Ok(conversation_member::Entity::find()
        .select_only()
        .column(conversation_member::Column::UserId)
        .filter(conversation_member::Column::ConversationId.eq(conversation_id))
        .filter(conversation_member::Column::LeftAt.is_null())
        .into_tuple()
        .all(db)
        .await?)
}

/// Moves someone out of the context's conversation (they no longer read it), if it exists.
pub async fn remove(
    db: &impl ConnectionTrait,
    (kind, context_id): (ContextType, &str),
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let Some(found) = by_key(db, &context_key(kind, context_id)).await? else {
        return Ok(());
    };
    let left = conversation_member::Entity::update_many()
        .col_expr(conversation_member::Column::LeftAt, Expr::value(Some(now)))
        .filter(conversation_member::Column::ConversationId.eq(&found.id))
        .filter(conversation_member::Column::UserId.eq(user_id))
        .filter(conversation_member::Column::LeftAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    if left > 0 {
        changed(db, &found.id, Vec::new(), vec![user_id.to_owned()], now).await?;
    }
    Ok(())
}

/// The context ended (a wish completed or withdrawn, a delivery done, failed or cancelled):
/// the conversation turns read-only after `conversation_read_only_days`.
pub async fn end(
    db: &impl ConnectionTrait,
    (kind, context_id): (ContextType, &str),
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let Some(found) = by_key(db, &context_key(kind, context_id)).await? else {
        return Ok(());
    };
    let days = community::settings_of(db, &found.community_id)
        .await?
        .conversation_read_only_days;
    let ended = conversation::Entity::update_many()
        .col_expr(
            conversation::Column::ReadOnlyAt,
            Expr::value(Some(now + Duration::days(i64::from(days)))),
        )
        .filter(conversation::Column::Id.eq(&found.id))
        .filter(conversation::Column::ReadOnlyAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    if ended > 0 {
        changed(db, &found.id, Vec::new(), Vec::new(), now).await?;
    }
    Ok(())
}

async fn changed(
    db: &impl ConnectionTrait,
    conversation_id: &str,
    joined: Vec<String>,
    left: Vec<String>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let event = ConversationChanged {
        conversation_id: conversation_id.to_owned(),
        joined,
        left,
    };
    outbox::emit(db, &event, now).await?;
    Ok(())
}

/// The job: every member gets the conversation as they see it now; those who left get it too,
/// once more, so their phone drops it.
pub async fn handle(ctx: JobContext, event: ConversationChanged) -> Result<(), JobError> {
    super::live::conversation_changed(&ctx, &event)
        .await
        .map_err(|err| JobError::Retry(format!("conversation frames: {err}")))
}
