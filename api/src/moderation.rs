//! Screening user text with WeChat's content security before it is stored: the mini-program's
//! owner answers for what users write (wishes, messages, nicknames).
use jobs::wechat::{ContentVerdict, WeChatError};

use crate::{error::AppError, state::AppState};

/// WeChat's scenes for `msg_sec_check`.
#[derive(Debug, Clone, Copy)]
pub enum Scene {
    Profile = 1,
    Comment = 2,
    Forum = 3,
}

/// What to do with the text: publish, or hold it for staff review. Risky text is refused with
/// 422 `content_rejected`. Without WeChat configured everything passes; when WeChat cannot be
/// asked, the text goes to review rather than being refused or published unchecked.
pub async fn screen(
    state: &AppState,
    openid: &str,
    scene: Scene,
    text: &str,
) -> Result<ContentVerdict, AppError> {
    if !state.wechat.is_configured() || text.trim().is_empty() {
        return Ok(ContentVerdict::Pass);
    }
    match state
        .wechat
        .check_text(&state.redis, openid, scene as u8, text)
        .await
    {
        Ok(ContentVerdict::Risky) => Err(AppError::unprocessable(
            "content_rejected",
            "this text cannot be published; please change it",
        )),
        Ok(verdict) => Ok(verdict),
        Err(err) => {
            if matches!(err, WeChatError::Configuration(_)) {
                tracing::error!(error = %err, "content security is misconfigured");
            } else {
                tracing::warn!(error = %err, "content security unavailable; holding for review");
            }
            Ok(ContentVerdict::Review)
        }
    }
}
