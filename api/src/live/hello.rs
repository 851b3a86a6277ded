//! The `hello` frame every socket gets first: who it is and what to fetch.
use jobs::push::Frame;
use sea_orm::ConnectionTrait;
use serde::Serialize;

use crate::{error::AppError, messaging::service as notifications};

/// A conversation's position for the reader, so the client knows what to fetch.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConversationMark {
    pub id: String,
    pub last_seq: i64,
    pub read_seq: i64,
}

#[derive(Debug, Serialize)]
pub struct Hello {
    pub user_id: String,
    pub unread_notifications: u64,
    pub conversations: Vec<ConversationMark>,
}

/// The user's `hello`, read from the database (the truth a reconnecting client starts from).
pub async fn hello(db: &impl ConnectionTrait, user_id: &str) -> Result<Frame, AppError> {
    let hello = Hello {
        user_id: user_id.to_owned(),
        unread_notifications: notifications::unread_count(db, user_id).await?,
        conversations: conversation_marks(db, user_id).await?,
    };
    Ok(Frame::new("hello", hello))
}

/// `{id, last_seq, read_seq}` of each conversation the user takes part in.
pub async fn conversation_marks(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<ConversationMark>, AppError> {
    Ok(crate::conversations::live::marks(db, user_id)
        .await?
        .into_iter()
        .map(|(id, last_seq, read_seq)| ConversationMark {
            id,
            last_seq,
            read_seq,
        })
        .collect())
}
