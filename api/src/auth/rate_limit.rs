//! Per-client fixed-window limits kept in Redis, so every instance counts together.
//! If Redis is unreachable the request is let through: losing the limit briefly is better
//! than locking everybody out.
use std::time::Duration;

use crate::{error::AppError, http::ClientAddr, state::AppState};

/// A window's counter outlives the window by a second, so a late request still finds it.
const WINDOW_TTL: Duration = Duration::from_secs(61);

pub async fn check(
    state: &AppState,
    bucket: &str,
    client: ClientAddr,
    per_minute: u32,
) -> Result<(), AppError> {
    if per_minute == 0 {
        return Ok(());
    }
    let now = state.now().timestamp();
    let window = now / 60;
    let count = state
        .redis
        .incr_expiring(&format!("rl:{bucket}:{client}:{window}"), WINDOW_TTL)
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
