//! The access token, shared by every instance through Redis.
//!
//! `stable_token` in normal mode hands every caller the same token, so instances cannot knock
//! each other's token out; the Redis cache and lock only keep a crowd of cold callers from all
//! asking WeChat at once. Redis is an optimisation here, never a dependency: without it each
//! call fetches the token itself.
//!
//! Nothing here logs the token, the secret, or a URL that carries either.
use std::time::Duration;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tokio::time::Instant;

use super::{WeChatClient, WeChatError};
use crate::{
    RedisStore,
    lock::{COMPARE_AND_DELETE, RedisLock},
};

const TOKEN_KEY: &str = "wechat:access_token";
const LOCK_KEY: &str = "wechat:access_token:lock";
/// Longer than a fetch can take (the client times out after 5 s), so the lock outlives its
/// holder's fetch, yet short enough that a crashed holder does not stall the others for long.
const LOCK_TTL_MS: u64 = 10_000;
/// Expire the cached copy before WeChat does, so no caller is handed a token about to die.
const EXPIRY_MARGIN_SECS: u64 = 300;
const MIN_CACHE_SECS: u64 = 60;
const POLL_INTERVAL: Duration = Duration::from_millis(50);
const POLL_FOR: Duration = Duration::from_secs(3);
/// Enough rounds of waiting (`POLL_FOR` each) for a crashed holder's lock to expire.
const LOCK_ROUNDS: usize = 4;

/// No `Debug`: the token must not end up in a log by way of `{:?}`.
#[derive(Deserialize)]
struct StableToken {
    access_token: String,
    expires_in: u64,
}

#[derive(Serialize)]
struct StableTokenRequest<'a> {
    grant_type: &'static str,
    appid: &'a str,
    secret: &'a str,
    /// A forced refresh is rationed (about 20 a day) and invalidates the token for everyone.
    force_refresh: bool,
}

impl WeChatClient {
    /// The current access token: from the Redis cache, or fetched by one instance behind a lock
    /// while the others wait for the cache.
    pub async fn access_token(&self, redis: &RedisStore) -> Result<String, WeChatError> {
        self.config()?;
        let cache = TokenCache::new(redis);
        for _ in 0..LOCK_ROUNDS {
            match cache.get().await {
                Ok(Some(token)) => return Ok(token),
                Ok(None) => {}
                Err(err) => return self.fetch_bypassing_redis(&err).await,
            }
            match cache.try_lock().await {
                Ok(Some(lock)) => return self.refresh_holding(&cache, lock).await,
                Ok(None) => {
                    if let Some(token) = cache.wait_for_refresh().await {
                        return Ok(token);
                    }
                }
                Err(err) => return self.fetch_bypassing_redis(&err).await,
            }
        }
        // Someone held the lock through every round without filling the cache: WeChat is
        // probably slow or down, and the caller's own retry is the better place to wait.
        Err(WeChatError::Transient)
    }

    /// Drops the cached token after WeChat rejected it, unless another caller already put a
    /// fresh one in its place.
    pub async fn invalidate_token(&self, redis: &RedisStore, failed: &str) {
        if let Err(err) = TokenCache::new(redis).remove_if(failed).await {
            tracing::warn!(error = %err, "could not drop the rejected WeChat access token from Redis");
        }
    }

    /// POSTs `body` as JSON to `path?access_token=…` and reads the answer. On a token error the
    /// token is dropped and the call made once more with a fresh one; a second token error is
    /// returned as is, so a broken deployment cannot loop.
    pub(super) async fn post_with_token<T: DeserializeOwned>(
        &self,
        redis: &RedisStore,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, WeChatError> {
        let token = self.access_token(redis).await?;
        match self.post_authorized(path, &token, body).await {
            Err(WeChatError::Token(_)) => {
                self.invalidate_token(redis, &token).await;
                let fresh = self.access_token(redis).await?;
                self.post_authorized(path, &fresh, body).await
            }
            other => other,
        }
    }

    async fn post_authorized<T: DeserializeOwned>(
        &self,
        path: &str,
        token: &str,
        body: &impl Serialize,
    ) -> Result<T, WeChatError> {
        let mut url = self.url(path)?;
        url.query_pairs_mut().append_pair("access_token", token);
        let response = self.http.post(url).json(body).send().await;
        Self::read(response).await
    }

    async fn refresh_holding(
        &self,
        cache: &TokenCache<'_>,
        lock: RedisLock,
    ) -> Result<String, WeChatError> {
        // The previous holder may have filled the cache between our miss and our lock.
        if let Ok(Some(token)) = cache.get().await {
            lock.release(cache.redis).await;
            return Ok(token);
        }
        let fetched = self.fetch_stable_token().await;
        if let Ok(token) = &fetched
            && let Err(err) = cache.put(token).await
        {
            tracing::warn!(error = %err, "could not cache the WeChat access token in Redis");
        }
        lock.release(cache.redis).await;
        fetched.map(|token| token.access_token)
    }

    async fn fetch_bypassing_redis(&self, err: &redis::RedisError) -> Result<String, WeChatError> {
        tracing::warn!(error = %err, "Redis unavailable; fetching the WeChat access token directly");
        self.fetch_stable_token()
            .await
            .map(|token| token.access_token)
    }

    async fn fetch_stable_token(&self) -> Result<StableToken, WeChatError> {
        let config = self.config()?;
        let url = self.url("cgi-bin/stable_token")?;
        let request = StableTokenRequest {
            grant_type: "client_credential",
            appid: &config.appid,
            secret: &config.secret,
            force_refresh: false,
        };
        let response = self.http.post(url).json(&request).send().await;
        let token: StableToken = Self::read(response).await?;
        if token.access_token.is_empty() {
            return Err(WeChatError::Transient);
        }
        tracing::info!(
            expires_in = token.expires_in,
            "fetched a WeChat access token"
        );
        Ok(token)
    }
}

/// How long the cached copy may live: a few minutes less than WeChat's own expiry.
fn cache_ttl_secs(expires_in: u64) -> u64 {
    expires_in
        .saturating_sub(EXPIRY_MARGIN_SECS)
        .max(MIN_CACHE_SECS)
}

/// The token's cache and its refresh lock in Redis.
struct TokenCache<'a> {
    redis: &'a RedisStore,
    token_key: String,
    lock_key: String,
}

impl<'a> TokenCache<'a> {
    fn new(redis: &'a RedisStore) -> Self {
        Self {
            redis,
            token_key: redis.key(TOKEN_KEY),
            lock_key: redis.key(LOCK_KEY),
        }
    }

    async fn get(&self) -> redis::RedisResult<Option<String>> {
        redis::cmd("GET")
            .arg(&self.token_key)
            .query_async(&mut self.redis.conn())
            .await
    }

    async fn put(&self, token: &StableToken) -> redis::RedisResult<()> {
        redis::cmd("SET")
            .arg(&self.token_key)
            .arg(&token.access_token)
            .arg("EX")
            .arg(cache_ttl_secs(token.expires_in))
            .query_async(&mut self.redis.conn())
            .await
    }

    async fn remove_if(&self, value: &str) -> redis::RedisResult<()> {
        let _: i64 = COMPARE_AND_DELETE
            .key(&self.token_key)
            .arg(value)
            .invoke_async(&mut self.redis.conn())
            .await?;
        Ok(())
    }

    /// `Ok(None)`: another caller holds the lock.
    async fn try_lock(&self) -> redis::RedisResult<Option<RedisLock>> {
        RedisLock::try_acquire(self.redis, LOCK_KEY, LOCK_TTL_MS).await
    }

    /// Waits for the lock's holder to fill the cache. `None` once the lock is gone with the
    /// cache still empty (the holder failed), after `POLL_FOR`, or if Redis fails: the caller
    /// then goes back to contending for the lock.
    async fn wait_for_refresh(&self) -> Option<String> {
        let deadline = Instant::now() + POLL_FOR;
        while Instant::now() < deadline {
            tokio::time::sleep(POLL_INTERVAL).await;
            let (token, lock): (Option<String>, Option<String>) = redis::cmd("MGET")
                .arg(&self.token_key)
                .arg(&self.lock_key)
                .query_async(&mut self.redis.conn())
                .await
                .ok()?;
            if token.is_some() || lock.is_none() {
                return token;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lives_shorter_than_the_token_but_not_too_short() {
        let cases = [(7200, 6900), (600, 300), (360, 60), (300, 60), (0, 60)];
        for (expires_in, ttl) in cases {
            assert_eq!(cache_ttl_secs(expires_in), ttl, "expires_in {expires_in}");
        }
    }
}
