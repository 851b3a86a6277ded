//! Content security (`msg_sec_check` v2) for user text we publish: wishes, messages, nicknames.
//! The platform holds the mini-program's owner responsible for it.
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use super::{WeChatClient, WeChatError};
use crate::RedisStore;

/// WeChat's limit on `content`, in characters.
const MAX_CONTENT_CHARS: usize = 2_500;
/// The user has not opened the mini-program recently, so WeChat will not judge their text.
const USER_NOT_ACTIVE: i64 = 61010;

/// What to do with a piece of user text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentVerdict {
    /// Publish.
    Pass,
    /// Hold for staff moderation.
    Review,
    /// Reject (our 422 `content_rejected`).
    Risky,
}

#[derive(Serialize)]
struct CheckRequest<'a> {
    version: u8,
    openid: &'a str,
    scene: u8,
    content: &'a str,
}

#[derive(Deserialize)]
struct CheckAnswer {
    #[serde(default)]
    result: Option<CheckResult>,
}

#[derive(Deserialize)]
struct CheckResult {
    #[serde(default)]
    suggest: String,
}

impl WeChatClient {
    /// Checks user text. `scene`: 1 profile, 2 comment, 3 forum, 4 social log.
    pub async fn check_text(
        &self,
        redis: &RedisStore,
        openid: &str,
        scene: u8,
        content: &str,
    ) -> Result<ContentVerdict, WeChatError> {
        if !self.take_seccheck_budget(redis).await {
            return Err(WeChatError::RateLimited);
        }
        let request = CheckRequest {
            version: 2,
            openid,
            scene,
            content: truncate_chars(content, MAX_CONTENT_CHARS),
        };
        match self
            .post_with_token::<CheckAnswer>(redis, "wxa/msg_sec_check", &request)
            .await
        {
            Ok(answer) => Ok(verdict(answer)),
            Err(WeChatError::Business(USER_NOT_ACTIVE)) => Ok(ContentVerdict::Review),
            Err(err) => Err(err),
        }
    }
}

impl WeChatClient {
    /// Takes one check from this minute's budget, shared by every instance through Redis (one
    /// atomic round trip that also sets the counter's expiry). Without Redis the budget cannot
    /// be counted and the check goes ahead: WeChat's own limit still holds.
    async fn take_seccheck_budget(&self, redis: &RedisStore) -> bool {
        let minute = chrono::Utc::now().timestamp() / 60;
        let counter = format!("seccheck:{minute}");
        match redis
            .incr_expiring(&counter, std::time::Duration::from_secs(61))
            .await
        {
            Ok(count) => count <= u64::from(self.seccheck_per_minute),
            Err(err) => {
                tracing::debug!(error = %err, "content-check budget not counted (Redis)");
                true
            }
        }
    }
}

/// errcode 0 only says the check ran; `result.suggest` is the verdict. Anything we do not
/// recognise goes to staff rather than being published unchecked.
fn verdict(answer: CheckAnswer) -> ContentVerdict {
    let suggest = answer.result.map(|r| r.suggest).unwrap_or_default();
    match suggest.as_str() {
        "pass" => ContentVerdict::Pass,
        "risky" => ContentVerdict::Risky,
        "review" => ContentVerdict::Review,
        other => {
            tracing::warn!(
                suggest = other,
                "unexpected msg_sec_check suggestion; sending to review"
            );
            ContentVerdict::Review
        }
    }
}

/// At most `max` characters, cut between grapheme clusters.
fn truncate_chars(text: &str, max: usize) -> &str {
    let mut used = 0;
    for (at, grapheme) in text.grapheme_indices(true) {
        used += grapheme.chars().count();
        if used > max {
            return &text[..at];
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_cut_to_wechats_limit_between_graphemes() {
        let exact = "字".repeat(MAX_CONTENT_CHARS);
        assert_eq!(truncate_chars(&exact, MAX_CONTENT_CHARS), exact);
        let long = "字".repeat(MAX_CONTENT_CHARS + 1);
        assert_eq!(truncate_chars(&long, MAX_CONTENT_CHARS), exact);
        let accent_on_edge = format!("{}e\u{301}", "a".repeat(MAX_CONTENT_CHARS - 1));
        assert_eq!(
            truncate_chars(&accent_on_edge, MAX_CONTENT_CHARS),
            "a".repeat(MAX_CONTENT_CHARS - 1)
        );
    }

    #[test]
    fn suggest_decides_the_verdict() {
        let cases = [
            (
                r#"{"result": {"suggest": "pass", "label": 100}}"#,
                ContentVerdict::Pass,
            ),
            (
                r#"{"result": {"suggest": "review", "label": 20001}}"#,
                ContentVerdict::Review,
            ),
            (
                r#"{"result": {"suggest": "risky", "label": 20001}}"#,
                ContentVerdict::Risky,
            ),
            (
                r#"{"result": {"suggest": "maybe"}}"#,
                ContentVerdict::Review,
            ),
            (r#"{"errcode": 0}"#, ContentVerdict::Review),
        ];
        for (body, expected) in cases {
            let answer: CheckAnswer = serde_json::from_str(body).unwrap();
            assert_eq!(verdict(answer), expected, "{body}");
        }
    }
}
