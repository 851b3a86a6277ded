//! Live push, the sending half: frames for users' open WebSockets, and orders to close sockets,
//! published on one Redis pub/sub channel that every `linli serve` instance subscribes to.
//!
//! Publishing never makes a caller wait for Redis: `Publisher` queues the envelope for a task
//! of its own that sends them in order (pipelined), and drops them when Redis is down or slow.
//! Pub/sub is at most once anyway; the database is the truth a client catches up from.
use std::time::Duration;

use entity::notification;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::RedisStore;

/// Envelopes waiting for the sending task; beyond this Redis is not keeping up and new ones are
/// dropped (counted), so memory stays bounded while Redis is down.
const QUEUE: usize = 4096;
/// Envelopes sent in one pipelined round trip.
const BATCH: usize = 256;
/// A publish that takes longer than this is given up.
const SEND_TIMEOUT: Duration = Duration::from_secs(2);

/// One frame as a client sees it: `{"type": ..., "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
}

impl Frame {
    pub fn new(kind: &str, data: impl Serialize) -> Self {
        Self {
            kind: kind.to_owned(),
            // A value that cannot be serialised is a programming error; an empty object keeps
            // the frame well-formed rather than losing the push.
            data: serde_json::to_value(data).unwrap_or_else(|_| json!({})),
        }
    }
}

/// What travels on the channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Envelope {
    /// Deliver `frame` to every open socket of these users.
    Frame { users: Vec<String>, frame: Frame },
    /// Close every socket of these logins (logout, refresh-token reuse).
    CloseSessions { sessions: Vec<String> },
    /// Close every socket of these users (their access changed, e.g. a new community): the
    /// client reconnects and gets a fresh `hello`.
    CloseUsers { users: Vec<String> },
}

/// The installation's push channel.
pub fn channel(redis: &RedisStore) -> String {
    redis.key("push")
}

/// `notification.created`, with the Notification as the API shows it (`GET /notifications`).
pub fn notification_created(n: &notification::Model) -> Frame {
    let reference = match (&n.ref_type, &n.ref_id) {
        (Some(kind), Some(id)) => json!({"type": kind, "id": id}),
        _ => Value::Null,
    };
    Frame::new(
        "notification.created",
        json!({
            "id": n.id,
            "kind": n.kind,
            "title": n.title,
            "body": n.body,
            "ref": reference,
            "created_at": n.created_at,
            "read_at": n.read_at,
        }),
    )
}

/// A handle to publish with; cheap to clone. Call it only after the commit that made the news.
#[derive(Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Envelope>,
}

impl Publisher {
    /// Starts the sending task (on the current Tokio runtime); it ends when every handle is gone.
    pub fn start(redis: RedisStore) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(send_loop(redis, rx));
        Self { tx }
    }

    /// Pushes `frame` to every open socket of `users`, on every instance.
    pub fn publish(&self, users: Vec<String>, frame: Frame) {
        if users.is_empty() {
            return;
        }
        self.enqueue(Envelope::Frame { users, frame });
    }

    /// Closes every open socket of these logins, on every instance.
    pub fn close_sessions(&self, sessions: Vec<String>) {
        if !sessions.is_empty() {
            self.enqueue(Envelope::CloseSessions { sessions });
        }
    }

    /// Closes every open socket of these users, on every instance.
    pub fn close_users(&self, users: Vec<String>) {
        if !users.is_empty() {
            self.enqueue(Envelope::CloseUsers { users });
        }
    }

    fn enqueue(&self, envelope: Envelope) {
        if self.tx.try_send(envelope).is_err() {
            metrics::counter!("push_dropped_total", "reason" => "queue_full").increment(1);
            tracing::debug!("live push queue full; a frame is dropped (clients catch up)");
        }
    }
}

async fn send_loop(redis: RedisStore, mut rx: mpsc::Receiver<Envelope>) {
    let channel = channel(&redis);
    let mut batch = Vec::with_capacity(BATCH);
    let mut healthy = true;
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let sent = send_batch(&redis, &channel, &batch).await;
        report(sent, batch.len(), &mut healthy);
        batch.clear();
    }
}

/// PUBLISHes a batch in one pipelined round trip.
async fn send_batch(redis: &RedisStore, channel: &str, batch: &[Envelope]) -> Result<(), String> {
    let mut pipe = redis::pipe();
    for envelope in batch {
        let payload = serde_json::to_string(envelope).map_err(|e| e.to_string())?;
        pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
    }
    let mut conn = redis.conn();
    match tokio::time::timeout(SEND_TIMEOUT, pipe.query_async::<()>(&mut conn)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// Counts the outcome; warns once when Redis starts failing and once when it recovers, so a
/// long outage does not flood the log. Only counts and the Redis error are logged, never a frame.
fn report(sent: Result<(), String>, count: usize, healthy: &mut bool) {
    let count = count as u64;
    match sent {
        Ok(()) => {
            metrics::counter!("push_published_total").increment(count);
            if !*healthy {
                tracing::info!("live push publishing again");
            }
            *healthy = true;
        }
        Err(error) => {
            metrics::counter!("push_dropped_total", "reason" => "redis").increment(count);
            if *healthy {
                tracing::warn!(%error, frames = count, "live push could not publish; clients catch up over HTTP");
            } else {
                tracing::debug!(%error, frames = count, "live push still cannot publish");
            }
            *healthy = false;
        }
    }
}

/// How long an instance's word that a user is online holds without being renewed.
pub const PRESENCE_TTL_MS: i64 = 10_000;

fn presence_key(redis: &RedisStore, user_id: &str) -> String {
    redis.key(&format!("presence:{user_id}"))
}

/// Marks these users online on `instance` for `PRESENCE_TTL_MS`: each instance renews its own
/// users' entries every few seconds, so a crashed instance's entries lapse by themselves.
pub async fn mark_online(
    redis: &RedisStore,
    instance: &str,
    users: &[String],
) -> redis::RedisResult<()> {
    if users.is_empty() {
        return Ok(());
    }
    let until = chrono::Utc::now().timestamp_millis() + PRESENCE_TTL_MS;
    let mut pipe = redis::pipe();
    for user in users {
        let key = presence_key(redis, user);
        pipe.zadd(&key, instance, until).ignore();
        pipe.pexpire(&key, PRESENCE_TTL_MS * 2).ignore();
    }
    pipe.query_async::<()>(&mut redis.conn()).await
}

/// Which of these users have a socket open on some instance now.
pub async fn online(
    redis: &RedisStore,
    users: &[String],
) -> redis::RedisResult<std::collections::HashSet<String>> {
    if users.is_empty() {
        return Ok(Default::default());
    }
    let now = chrono::Utc::now().timestamp_millis();
    let mut pipe = redis::pipe();
    for user in users {
        pipe.zcount(presence_key(redis, user), now, "+inf");
    }
    let counts: Vec<u64> = pipe.query_async(&mut redis.conn()).await?;
    Ok(users
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(u, _)| u.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_travel_as_tagged_json() {
        let frame = Frame::new("pong", json!({}));
        let envelope = Envelope::Frame {
            users: vec!["u1".into()],
            frame: frame.clone(),
        };
        let text = serde_json::to_string(&envelope).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"op":"frame","users":["u1"],"frame":{"type":"pong","data":{}}}"#
        );
        let back: Option<Envelope> = serde_json::from_str(&text).ok();
        assert_eq!(back, Some(envelope));
        let close = Envelope::CloseSessions {
            sessions: vec!["s1".into()],
        };
        assert_eq!(
            serde_json::to_string(&close).unwrap_or_default(),
            r#"{"op":"close_sessions","sessions":["s1"]}"#
        );
    }
}
