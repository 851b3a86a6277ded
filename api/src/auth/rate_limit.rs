//! Per-client fixed-window limits kept in Redis, so every instance counts together.
//! If Redis is unreachable the request is let through: losing the limit briefly is better
//! than locking everybody out.
use redis::AsyncCommands;

use crate::{error::AppError, state::AppState};

pub async fn check(
    state: &AppState,
    bucket: &str,
    client: &str,
    per_minute: u32,
) -> Result<(), AppError> {
    if per_minute == 0 {
        return Ok(());
    }
    let now = state.now().timestamp();
    let window = now / 60;
    let key = state.redis.key(&format!("rl:{bucket}:{client}:{window}"));
    let mut conn = state.redis.conn();
    let count: redis::RedisResult<u64> = async {
        let count: u64 = conn.incr(&key, 1).await?;
        if count == 1 {
            let _: () = conn.expire(&key, 61).await?;
        }
        Ok(count)
    }
    .await;
    match count {
        Ok(count) if count > u64::from(per_minute) => Err(AppError::RateLimited {
            retry_after_secs: u64::try_from(60 - now.rem_euclid(60)).unwrap_or(60).max(1),
        }),
        Ok(_) => Ok(()),
        Err(err) => {
            tracing::warn!(error = %err, "rate limit unavailable, letting the request through");
            Ok(())
        }
    }
}
