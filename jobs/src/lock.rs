//! A short Redis lock: `SET NX PX` with a random token, released only by its holder (a
//! compare-and-delete script), so a holder that overran its time never frees another's lock.
use std::sync::LazyLock;

use rand::RngCore;

use crate::RedisStore;

/// Deletes a key only while it still holds the given value: releases our lock without
/// releasing someone else's, and drops a stale value without dropping its replacement.
pub(crate) static COMPARE_AND_DELETE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
    )
});

pub struct RedisLock {
    key: String,
    token: String,
}

impl RedisLock {
    /// `Ok(None)`: someone else holds it. `Err`: Redis could not be asked.
    pub async fn try_acquire(
        redis: &RedisStore,
        name: &str,
        ttl_ms: u64,
    ) -> redis::RedisResult<Option<Self>> {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let key = redis.key(name);
        let mut conn = redis.conn();
        let set: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut conn)
            .await?;
        Ok(set.map(|_| Self { key, token }))
    }

    /// Releasing can fail only with Redis; the lock then expires on its own.
    pub async fn release(self, redis: &RedisStore) {
        let released: redis::RedisResult<i64> = COMPARE_AND_DELETE
            .key(&self.key)
            .arg(&self.token)
            .invoke_async(&mut redis.conn())
            .await;
        if let Err(err) = released {
            tracing::warn!(error = %err, key = %self.key, "could not release a lock");
        }
    }
}
