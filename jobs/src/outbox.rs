//! The outbox: service functions write events here inside their own transaction; the relay
//! moves them to Redis Streams. A row is done only when its handler has finished, so nothing
//! depends on Redis keeping its data.
use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use entity::outbox;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};
use serde::{Serialize, de::DeserializeOwned};

/// One stream per queue, each with its own consumers, so a backlog in one never delays another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    Notify,
    Dispatch,
    /// Welfare alerts: must never wait behind other work.
    Urgent,
}

impl Queue {
    pub const ALL: [Queue; 3] = [Queue::Urgent, Queue::Notify, Queue::Dispatch];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notify => "notify",
            Self::Dispatch => "dispatch",
            Self::Urgent => "urgent",
        }
    }
}

impl fmt::Display for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Queue {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "notify" => Ok(Self::Notify),
            "dispatch" => Ok(Self::Dispatch),
            "urgent" => Ok(Self::Urgent),
            _ => Err(()),
        }
    }
}

/// A typed event: its kind names its handler, its queue where it runs.
pub trait Event: Serialize + DeserializeOwned {
    const KIND: &'static str;
    const QUEUE: Queue;
}

/// Writes an event into the outbox on the caller's connection or transaction.
pub async fn emit<E: Event>(
    db: &impl ConnectionTrait,
    event: &E,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    emit_raw(
        db,
        E::QUEUE,
        E::KIND,
        &serde_json::to_string(event).map_err(|e| DbErr::Custom(e.to_string()))?,
        now,
    )
    .await
}

/// Writes several events of one type into the outbox, `ROWS_PER_INSERT` to a statement.
pub async fn emit_all<E: Event>(
    db: &impl ConnectionTrait,
    events: &[E],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events
        .iter()
        .map(|event| {
            let payload = serde_json::to_string(event).map_err(|e| DbErr::Custom(e.to_string()))?;
            Ok(new_row(E::QUEUE, E::KIND, payload, now))
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    for chunk in rows.chunks(crate::ROWS_PER_INSERT) {
        outbox::Entity::insert_many(chunk.iter().cloned())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub async fn emit_raw(
    db: &impl ConnectionTrait,
    queue: Queue,
    kind: &str,
    payload: &str,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    // Insert only: the id comes back with the insert, no read of the row afterwards.
    let inserted = outbox::Entity::insert(new_row(queue, kind, payload.to_owned(), now))
        .exec(db)
        .await?;
    Ok(inserted.last_insert_id)
}

/// A new outbox row, due now.
fn new_row(queue: Queue, kind: &str, payload: String, now: DateTime<Utc>) -> outbox::ActiveModel {
    outbox::ActiveModel {
        queue: Set(queue.as_str().to_owned()),
        kind: Set(kind.to_owned()),
        payload: Set(payload),
        created_at: Set(now),
        published_at: Set(None),
        done_at: Set(None),
        available_at: Set(None),
        dead_at: Set(None),
        attempts: Set(0),
        last_error: Set(None),
        ..Default::default()
    }
}
