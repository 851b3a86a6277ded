//! The frames of conversations pushed to phones (`message.created`, `message.rejected`,
//! `conversation.created` / `.updated`, `conversation.read`), after the commit. Pushing is at
//! most once: a frame lost is found again over HTTP, so a failed push is only logged.
use std::collections::HashSet;

use entity::{conversation, conversation_member, message};
use jobs::{
    RedisStore,
    push::{Frame, Publisher},
    runtime::JobContext,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::{
    context::{ConversationChanged, current_members},
    dto::MessageView,
    service::{Viewer, view_for},
};
use crate::error::AppError;

fn push(publisher: &Publisher, users: Vec<String>, kind: &str, data: Value) {
    publisher.publish(users, Frame::new(kind, data));
}

/// A published message, to every participant's sockets (the sender's other phones too).
pub async fn message_created(publisher: &Publisher, db: &impl ConnectionTrait, m: &message::Model) {
    let users = match current_members(db, &m.conversation_id).await {
        Ok(users) => users,
        Err(err) => {
            tracing::warn!(error = %err, "could not read who to push a message to");
            return;
        }
    };
    let view = MessageView::from(m.clone());
    push(publisher, users, "message.created", json!(view));
}

/// A message that waited for the check and was refused, to its sender.
pub fn message_rejected(publisher: &Publisher, m: &message::Model) {
    let data = json!({"conversation_id": m.conversation_id, "client_msg_id": m.client_msg_id});
    push(
        publisher,
        vec![m.sender_id.clone()],
        "message.rejected",
        data,
    );
}

/// A read marker moved: to the other participants and the reader's other sockets.
pub async fn conversation_read(
    publisher: &Publisher,
    db: &impl ConnectionTrait,
    conversation_id: &str,
    reader: &str,
    read_seq: i64,
) {
    let users = current_members(db, conversation_id)
        .await
        .unwrap_or_default();
    let data = json!({"conversation_id": conversation_id, "user_id": reader, "read_seq": read_seq});
    push(publisher, users, "conversation.read", data);
}

/// Each member gets the conversation as they see it now (`conversation.created` for those who
/// just joined); those who left get the frame once more, so their phone drops it.
pub async fn conversation_changed(
    ctx: &JobContext,
    event: &ConversationChanged,
) -> Result<(), AppError> {
    let db = &ctx.db;
    let Some(found) = conversation::Entity::find_by_id(event.conversation_id.clone())
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let now = ctx.clock.now();
    let members = conversation_member::Entity::find()
        .filter(conversation_member::Column::ConversationId.eq(&found.id))
        .all(db)
        .await?;
    for member in members {
        let left = member.left_at.is_some();
        if left && !event.left.contains(&member.user_id) {
            continue;
        }
        let kind = if event.joined.contains(&member.user_id) {
            "conversation.created"
        } else {
            "conversation.updated"
        };
        let viewer = Viewer::load(db, &member.user_id, &found.community_id).await?;
        let mut view = json!(view_for(db, &viewer, found.clone(), &member, now).await?);
        if left {
            view["left"] = json!(true);
        }
        push(&ctx.push, vec![member.user_id.clone()], kind, view);
    }
    Ok(())
}

/// Which of these users have a socket open on some instance now.
pub async fn online_users(redis: &RedisStore, users: &[String]) -> HashSet<String> {
    match jobs::push::online(redis, users).await {
        Ok(online) => online,
        Err(err) => {
            // Unknown: remind everyone, as if offline (a reminder too many beats none).
            tracing::debug!(error = %err, "presence unknown");
            HashSet::new()
        }
    }
}

/// `hello`'s list: every conversation the user is in, as `(id, last_seq, read_seq)`, so the
/// phone knows at once what to fetch.
pub async fn marks(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<(String, i64, i64)>, sea_orm::DbErr> {
    let mine = conversation_member::Entity::find()
        .filter(conversation_member::Column::UserId.eq(user_id))
        .filter(conversation_member::Column::LeftAt.is_null())
        .all(db)
        .await?;
    let ids: Vec<String> = mine.iter().map(|m| m.conversation_id.clone()).collect();
    let last: std::collections::HashMap<String, i64> = conversation::Entity::find()
        .filter(conversation::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.last_seq))
        .collect();
    Ok(mine
        .into_iter()
        .filter_map(|m| {
            let last_seq = *last.get(&m.conversation_id)?;
            Some((m.conversation_id, last_seq, m.read_seq))
        })
        .collect())
}
