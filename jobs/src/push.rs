//! Live push across instances: frames are published on one Redis pub/sub channel after the
//! commit, and each instance hands them to its own sockets. Presence (who has a socket open on
//! some instance) is kept in Redis too, for reminders to those who are offline.
use std::collections::HashSet;

use redis::AsyncCommands;
use serde_json::{Value, json};

use crate::RedisStore;

/// The channel every instance subscribes to.
pub fn channel(redis: &RedisStore) -> String {
    redis.key("push")
}

/// Publishes a frame for these users; at most once, so callers only log a failure.
pub async fn publish(
    redis: &RedisStore,
    users: &[String],
    frame: &Value,
) -> redis::RedisResult<()> {
    let envelope = json!({"users": users, "frame": frame}).to_string();
    let mut conn = redis.conn();
    conn.publish::<_, _, ()>(channel(redis), envelope).await
}

fn presence_key(redis: &RedisStore, user_id: &str) -> String {
    redis.key(&format!("presence:{user_id}"))
}

/// Which of these users have a socket open on some instance: each instance keeps its users'
/// entries alive with an expiry, so a crashed instance's entries lapse by themselves.
pub async fn online(redis: &RedisStore, users: &[String]) -> redis::RedisResult<HashSet<String>> {
    if users.is_empty() {
        return Ok(HashSet::new());
    }
    let now = chrono::Utc::now().timestamp_millis();
    let mut pipe = redis::pipe();
    for user in users {
        pipe.zcount(presence_key(redis, user), now, "+inf");
    }
    let mut conn = redis.conn();
    let counts: Vec<u64> = pipe.query_async(&mut conn).await?;
    Ok(users
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(u, _)| u.clone())
        .collect())
}
