//! Presence: which users have a socket open on some instance, kept in Redis (a sorted set per
//! user of instance → until when), so a job on any instance can tell who is offline and remind
//! them. Each instance renews its users every few seconds; a crashed instance's word lapses.
use std::{sync::LazyLock, time::Duration};

use jobs::RedisStore;

use super::Registry;

/// Renewed well within `jobs::push::PRESENCE_TTL_MS`.
const EVERY: Duration = Duration::from_secs(3);

/// This process among the instances.
static INSTANCE: LazyLock<String> = LazyLock::new(crate::state::new_id);

/// Marks one user online now (a socket just opened); a failure only delays it to the next tick.
pub async fn arrived(redis: &RedisStore, user_id: &str) {
    if let Err(err) = jobs::push::mark_online(redis, &INSTANCE, &[user_id.to_owned()]).await {
        tracing::debug!(error = %err, "presence not recorded (Redis)");
    }
}

/// Renews the presence of every user with a socket here, until the process ends.
pub async fn run(redis: RedisStore, registry: Registry) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut users: Vec<String> = registry
            .owners()
            .into_iter()
            .map(|(_, owner)| owner.user_id)
            .collect();
        users.sort_unstable();
        users.dedup();
        for chunk in users.chunks(1000) {
            if let Err(err) = jobs::push::mark_online(&redis, &INSTANCE, chunk).await {
                tracing::debug!(error = %err, "presence not renewed (Redis)");
                break;
            }
        }
    }
}
