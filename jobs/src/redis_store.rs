//! One shared, lazily connected Redis handle with the installation's key prefix.
//! Connecting lazily lets the service start (and report not ready) while Redis is down.
use std::{sync::LazyLock, time::Duration};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Counts one more in `KEYS[1]` and gives it an expiry of `ARGV[1]` ms if it has none, in one
/// script: Redis runs it whole, so no client that dies between the two steps (nor a key left by
/// one that did) leaves a counter that never expires.
static INCR_EXPIRING: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "local n = redis.call('INCR', KEYS[1]) \
         if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end \
         return n",
    )
});

#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
}

impl RedisStore {
    pub fn new(url: &str, prefix: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self {
            client,
            conn,
            prefix: prefix.to_owned(),
        })
    }

    /// The shared multiplexed connection; cheap to clone. Not for blocking commands.
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// A dedicated connection, for blocking reads that must not hold up the shared one.
    pub async fn dedicated(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        // Longer than any BLOCK we issue, so a blocking read is not cut off as a time-out.
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(10)));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    /// A connection of its own for SUBSCRIBE (a subscribed connection can do nothing else).
    pub async fn pubsub(&self) -> redis::RedisResult<redis::aio::PubSub> {
        self.client.get_async_pubsub().await
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `prefix:part`: every key Linli touches goes through here.
    pub fn key(&self, part: &str) -> String {
        format!("{}:{part}", self.prefix)
    }

    /// Adds one to the counter at `prefix:part` and returns the new count; the counter expires
    /// `ttl` after its first count. One round trip, atomic (see `INCR_EXPIRING`).
    pub async fn incr_expiring(&self, part: &str, ttl: Duration) -> redis::RedisResult<u64> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        INCR_EXPIRING
            .key(self.key(part))
            .arg(ttl_ms)
            .invoke_async(&mut self.conn())
            .await
    }

    pub async fn ping(&self) -> redis::RedisResult<()> {
        let mut conn = self.conn();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
    }
}
