//! One shared, lazily connected Redis handle with the installation's key prefix.
//! Connecting lazily lets the service start (and report not ready) while Redis is down.
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

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

    pub async fn ping(&self) -> redis::RedisResult<()> {
        let mut conn = self.conn();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
    }
}
