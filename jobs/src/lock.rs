//! A short Redis lock: `SET NX PX` with a random token, released only by its holder (a
//! compare-and-delete script), so a holder that overran its time never frees another's lock.
use rand::RngCore;

use crate::RedisStore;

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

    pub async fn release(self, redis: &RedisStore) {
        let script = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
        );
        let mut conn = redis.conn();
        let _: redis::RedisResult<i64> = script
            .key(&self.key)
            .arg(&self.token)
            .invoke_async(&mut conn)
            .await;
    }
}
