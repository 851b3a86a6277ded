//! Sending a message. Its `seq` is taken in the transaction that publishes it, from the
//! conversation's row (`last_seq = last_seq + 1`), so numbers are gapless and in commit order
//! on both databases and across instances; a unique `(sender, conversation, client_msg_id)` makes
//! a retried send one message. Text passes WeChat's content check before anyone else sees it;
//! when the check cannot run now, the message waits as `pending` for a worker.
use chrono::{DateTime, Duration, Utc};
use entity::{
    conversation, conversation_member,
    message::{self, MessageStatus},
    user,
};
use jobs::{
    notify::Notify,
    outbox::{self, Event, Queue},
    runtime::{JobContext, JobError},
    wechat::{ContentVerdict, WeChatClient, WeChatError},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set, SqlErr, sea_query::Expr,
};
use serde::{Deserialize, Serialize};

use super::{
    context::current_members,
    dto::{ConversationState, ConversationView, MessageView, SendMessage},
    live,
    service::membership,
};
use crate::{
    auth::CurrentUser,
    community::service as community,
    db::write_txn,
    error::AppError,
    state::{AppState, new_id},
};

/// WeChat's scene for private messages (`msg_sec_check`: 2, comments and chat).
const MESSAGE_SCENE: u8 = 2;

/// What a send answered: a published message (201) or one waiting for the check (202).
pub enum Sent {
    Published(MessageView),
    Pending(MessageView),
}

impl Sent {
    fn of(m: message::Model) -> Self {
        match m.status {
            MessageStatus::Published => Self::Published(m.into()),
            MessageStatus::Pending | MessageStatus::Rejected => Self::Pending(m.into()),
        }
    }
}

/// The check could not run now: try again later.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckMessage {
    pub message_id: String,
}

impl Event for CheckMessage {
    const KIND: &'static str = "check_message";
    const QUEUE: Queue = Queue::Notify;
}

/// A message was published: remind offline recipients once per conversation until they read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessagePublished {
    pub conversation_id: String,
    pub seq: i64,
    pub sender_id: String,
}

impl Event for MessagePublished {
    const KIND: &'static str = "message_published";
    const QUEUE: Queue = Queue::Notify;
}

#[tracing::instrument(skip_all, fields(conversation_id = %id, user_id = %actor.id()))]
pub async fn send(
    state: &AppState,
    actor: &CurrentUser,
    id: &str,
    input: SendMessage,
) -> Result<Sent, AppError> {
    let db = &state.db;
    let now = state.now();
    let (found, _) = membership(db, actor, id).await?;
    if let Some(first) = earlier_send(db, actor.id(), id, &input.client_msg_id).await? {
        return Ok(Sent::of(first));
    }
    if ConversationView::state_of(&found, now) == ConversationState::ReadOnly {
        return Err(AppError::conflict(
            "conversation_read_only",
            "this conversation has ended; it can be read but not written to",
        ));
    }
    refuse_if_blocked(db, actor.id(), id).await?;
    refuse_over_rate(db, actor.id(), &found.community_id, now).await?;
    let text = input.text.trim().to_owned();
    let checked = match check(&state.wechat, &state.redis, &actor.user.openid, &text).await {
        Check::Pass => true,
        Check::Refused => {
            return Err(AppError::unprocessable(
                "content_rejected",
                "this message cannot be sent; please rephrase it",
            ));
        }
        Check::Later(_) => false,
    };
    let draft = Draft {
        conversation_id: id.to_owned(),
        sender_id: actor.id().to_owned(),
        client_msg_id: input.client_msg_id,
        text,
    };
    let stored = match store(db, draft, checked, now).await? {
        Stored::New(m) => m,
        Stored::Replay(m) => return Ok(Sent::of(m)),
    };
    if stored.status == MessageStatus::Published {
        live::message_created(&state.push, db, &stored).await;
    }
    Ok(Sent::of(stored))
}

async fn earlier_send(
    db: &impl ConnectionTrait,
    sender: &str,
    conversation_id: &str,
    client_msg_id: &str,
) -> Result<Option<message::Model>, AppError> {
    Ok(message::Entity::find()
        .filter(message::Column::SenderId.eq(sender))
        .filter(message::Column::ConversationId.eq(conversation_id))
        .filter(message::Column::ClientMsgId.eq(client_msg_id))
        .one(db)
        .await?)
}

/// Another participant blocked the conversation: nobody else can write to them in it.
async fn refuse_if_blocked(
    db: &impl ConnectionTrait,
    sender: &str,
    conversation_id: &str,
) -> Result<(), AppError> {
    let blocked = conversation_member::Entity::find()
        .filter(conversation_member::Column::ConversationId.eq(conversation_id))
        .filter(conversation_member::Column::UserId.ne(sender))
        .filter(conversation_member::Column::LeftAt.is_null())
        .filter(conversation_member::Column::BlockedAt.is_not_null())
        .count(db)
        .await?;
    if blocked > 0 {
        return Err(AppError::ForbiddenCode {
            code: "blocked",
            message: "this conversation has been blocked",
        });
    }
    Ok(())
}

/// At most `message_rate_per_minute` messages a minute per user (replays create none, so they
/// do not count).
async fn refuse_over_rate(
    db: &impl ConnectionTrait,
    sender: &str,
    community_id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let limit = community::settings_of(db, community_id)
        .await?
        .message_rate_per_minute;
    let window_start = now - Duration::minutes(1);
    let recent = message::Entity::find()
        .filter(message::Column::SenderId.eq(sender))
        .filter(message::Column::CreatedAt.gt(window_start))
        .count(db)
        .await?;
    if recent >= u64::from(limit) {
        return Err(AppError::RateLimited {
            retry_after_secs: 60,
        });
    }
    Ok(())
}

enum Check {
    Pass,
    Refused,
    /// Why the check cannot run now (for the job's record; no personal data).
    Later(WeChatError),
}

/// WeChat's verdict on a message. `risky` and `review` are refused (the sender may rephrase);
/// when WeChat cannot be asked now (unreachable, or the installation's budget spent) the
/// message waits. Without WeChat configured at all, everything passes.
async fn check(wechat: &WeChatClient, redis: &jobs::RedisStore, openid: &str, text: &str) -> Check {
    if !wechat.is_configured() {
        return Check::Pass;
    }
    match wechat.check_text(redis, openid, MESSAGE_SCENE, text).await {
        Ok(ContentVerdict::Pass) => Check::Pass,
        Ok(ContentVerdict::Review | ContentVerdict::Risky) => Check::Refused,
        Err(WeChatError::Business(_)) => Check::Refused,
        Err(err) => {
            tracing::warn!(error = %err, "content check unavailable; the message waits");
            Check::Later(err)
        }
    }
}

struct Draft {
    conversation_id: String,
    sender_id: String,
    client_msg_id: String,
    text: String,
}

enum Stored {
    New(message::Model),
    Replay(message::Model),
}

/// Stores the message, published with the next `seq` when it passed the check, else pending
/// with a job to check it. A simultaneous send with the same `client_msg_id` loses at the
/// unique index, and its transaction (with the `seq` it took) is rolled back: no gap.
async fn store(
    db: &DatabaseConnection,
    draft: Draft,
    checked: bool,
    now: DateTime<Utc>,
) -> Result<Stored, AppError> {
    let (conversation_id, sender_id, client_msg_id) = (
        draft.conversation_id.clone(),
        draft.sender_id.clone(),
        draft.client_msg_id.clone(),
    );
    let txn = write_txn(db).await?;
    let written = if checked {
        publish_new(&txn, draft, now).await
    } else {
        hold(&txn, draft, now).await
    };
    match written {
        Ok(stored) => {
            txn.commit().await?;
            Ok(Stored::New(stored))
        }
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            drop(txn);
            earlier_send(db, &sender_id, &conversation_id, &client_msg_id)
                .await?
                .map(Stored::Replay)
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("duplicate send vanished")))
        }
        Err(err) => Err(err.into()),
    }
}

/// Takes the conversation's next `seq` (the row is held until commit).
async fn next_seq(
    txn: &DatabaseTransaction,
    conversation_id: &str,
    now: DateTime<Utc>,
) -> Result<i64, sea_orm::DbErr> {
    let rows = conversation::Entity::update_many()
        .col_expr(
            conversation::Column::LastSeq,
            Expr::col(conversation::Column::LastSeq).add(1),
        )
        .col_expr(conversation::Column::LastActivityAt, Expr::value(now))
        .filter(conversation::Column::Id.eq(conversation_id))
        .exec_with_returning(txn)
        .await?;
    rows.first()
        .map(|c| c.last_seq)
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("conversation".into()))
}

async fn publish_new(
    txn: &DatabaseTransaction,
    draft: Draft,
    now: DateTime<Utc>,
) -> Result<message::Model, sea_orm::DbErr> {
    let seq = next_seq(txn, &draft.conversation_id, now).await?;
    let stored = message::Entity::insert(message::ActiveModel {
        id: Set(new_id()),
        conversation_id: Set(draft.conversation_id),
        seq: Set(Some(seq)),
        sender_id: Set(draft.sender_id),
        text: Set(draft.text),
        client_msg_id: Set(draft.client_msg_id),
        status: Set(MessageStatus::Published),
        created_at: Set(now),
        published_at: Set(Some(now)),
    })
    .exec_with_returning(txn)
    .await?;
    after_publish(txn, &stored, seq, now).await?;
    Ok(stored)
}

/// What publishing also does, in its transaction: the sender has read up to their own message,
/// and offline recipients are reminded by a job.
async fn after_publish(
    txn: &DatabaseTransaction,
    stored: &message::Model,
    seq: i64,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    conversation_member::Entity::update_many()
        .col_expr(conversation_member::Column::ReadSeq, Expr::value(seq))
        .filter(conversation_member::Column::ConversationId.eq(&stored.conversation_id))
        .filter(conversation_member::Column::UserId.eq(&stored.sender_id))
        .filter(conversation_member::Column::ReadSeq.lt(seq))
        .exec(txn)
        .await?;
    let event = MessagePublished {
        conversation_id: stored.conversation_id.clone(),
        seq,
        sender_id: stored.sender_id.clone(),
    };
    outbox::emit(txn, &event, now).await?;
    Ok(())
}

async fn hold(
    txn: &DatabaseTransaction,
    draft: Draft,
    now: DateTime<Utc>,
) -> Result<message::Model, sea_orm::DbErr> {
    let stored = message::Entity::insert(message::ActiveModel {
        id: Set(new_id()),
        conversation_id: Set(draft.conversation_id),
        seq: Set(None),
        sender_id: Set(draft.sender_id),
        text: Set(draft.text),
        client_msg_id: Set(draft.client_msg_id),
        status: Set(MessageStatus::Pending),
        created_at: Set(now),
        published_at: Set(None),
    })
    .exec_with_returning(txn)
    .await?;
    let event = CheckMessage {
        message_id: stored.id.clone(),
    };
    outbox::emit(txn, &event, now).await?;
    Ok(stored)
}

/// The job for a pending message: checked now, then published with the next `seq` or rejected
/// (the sender is told). WeChat still unreachable: try again later.
pub async fn check_pending(ctx: JobContext, event: CheckMessage) -> Result<(), JobError> {
    let retry = |err: String| JobError::Retry(format!("check message: {err}"));
    let Some(found) = message::Entity::find_by_id(event.message_id.clone())
        .one(&ctx.db)
        .await
        .map_err(|e| retry(e.to_string()))?
        .filter(|m| m.status == MessageStatus::Pending)
    else {
        return Ok(());
    };
    let openid: Option<String> = user::Entity::find_by_id(found.sender_id.clone())
        .select_only()
        .column(user::Column::Openid)
        .into_tuple()
        .one(&ctx.db)
        .await
        .map_err(|e| retry(e.to_string()))?;
    let openid = openid.unwrap_or_default();
    let now = ctx.clock.now();
    match check(&ctx.wechat, &ctx.redis, &openid, &found.text).await {
        Check::Later(err) => Err(retry(format!("content check unavailable: {err}"))),
        Check::Pass => {
            if let Some(published) = publish_pending(&ctx.db, &found, now)
                .await
                .map_err(|e| retry(e.to_string()))?
            {
                live::message_created(&ctx.push, &ctx.db, &published).await;
            }
            Ok(())
        }
        Check::Refused => {
            let rejected = message::Entity::update_many()
                .col_expr(
                    message::Column::Status,
                    Expr::value(MessageStatus::Rejected),
                )
                .filter(message::Column::Id.eq(&found.id))
                .filter(message::Column::Status.eq(MessageStatus::Pending))
                .exec(&ctx.db)
                .await
                .map_err(|e| retry(e.to_string()))?
                .rows_affected;
            if rejected > 0 {
                live::message_rejected(&ctx.push, &found);
            }
            Ok(())
        }
    }
}

/// Publishes a pending message with the conversation's next `seq`, once.
async fn publish_pending(
    db: &DatabaseConnection,
    pending: &message::Model,
    now: DateTime<Utc>,
) -> Result<Option<message::Model>, sea_orm::DbErr> {
    let txn = write_txn(db).await?;
    let seq = next_seq(&txn, &pending.conversation_id, now).await?;
    let published = message::Entity::update_many()
        .col_expr(message::Column::Seq, Expr::value(Some(seq)))
        .col_expr(
            message::Column::Status,
            Expr::value(MessageStatus::Published),
        )
        .col_expr(message::Column::PublishedAt, Expr::value(Some(now)))
        .filter(message::Column::Id.eq(&pending.id))
        .filter(message::Column::Status.eq(MessageStatus::Pending))
        .exec_with_returning(&txn)
        .await?;
    let Some(published) = published.into_iter().next() else {
        // Someone else published or rejected it: the seq taken above is rolled back.
        return Ok(None);
    };
    after_publish(&txn, &published, seq, now).await?;
    txn.commit().await?;
    Ok(Some(published))
}

/// The job after a publish: every other participant without an open socket gets one WeChat
/// subscribe message (`message_received`) per conversation until they have read it. The
/// conditional update on `reminded_seq` makes a repeated job remind nobody twice.
pub async fn remind_offline(ctx: JobContext, event: MessagePublished) -> Result<(), JobError> {
    let retry = |err: String| JobError::Retry(format!("message reminders: {err}"));
    let others: Vec<String> = current_members(&ctx.db, &event.conversation_id)
        .await
        .map_err(|e| retry(e.to_string()))?
        .into_iter()
        .filter(|u| *u != event.sender_id)
        .collect();
    let online = live::online_users(&ctx.redis, &others).await;
    let offline: Vec<String> = others.into_iter().filter(|u| !online.contains(u)).collect();
    if offline.is_empty() {
        return Ok(());
    }
    let now = ctx.clock.now();
    let txn = write_txn(&ctx.db).await.map_err(|e| retry(e.to_string()))?;
    let mut due = Vec::new();
    for user_id in offline {
        let marked = conversation_member::Entity::update_many()
            .col_expr(
                conversation_member::Column::RemindedSeq,
                Expr::value(event.seq),
            )
            .filter(conversation_member::Column::ConversationId.eq(&event.conversation_id))
            .filter(conversation_member::Column::UserId.eq(&user_id))
            .filter(conversation_member::Column::LeftAt.is_null())
            .filter(
                Expr::col(conversation_member::Column::RemindedSeq)
                    .lte(Expr::col(conversation_member::Column::ReadSeq)),
            )
            .filter(conversation_member::Column::ReadSeq.lt(event.seq))
            .exec(&txn)
            .await
            .map_err(|e| retry(e.to_string()))?
            .rows_affected;
        if marked > 0 {
            due.push(user_id);
        }
    }
    if !due.is_empty() {
        let notice = Notify::about(
            due,
            "message_received",
            ("conversation", &event.conversation_id),
            "你有一条新私信",
            "打开邻里查看",
        );
        outbox::emit(&txn, &notice, now)
            .await
            .map_err(|e| retry(e.to_string()))?;
    }
    txn.commit().await.map_err(|e| retry(e.to_string()))?;
    Ok(())
}
