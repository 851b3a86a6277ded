//! Our thin client of WeChat's server API (see shared/WECHAT.md): one place that classifies
//! every failure, so callers decide on retries by class, never by errcode.
pub mod keywords;
mod login;
mod security;
mod subscribe;
mod token;

pub use keywords::{KeywordType, UnknownKeywordType, format_value};
pub use login::CodeSession;
pub use security::ContentVerdict;
pub use subscribe::{MINIPROGRAM_FORMAL, SubscribeMessage};

use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// How a failed call should be treated; see the table in WECHAT.md.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeChatError {
    #[error("WeChat is unavailable (transient)")]
    Transient,
    #[error("WeChat access token rejected (errcode {0})")]
    Token(i64),
    #[error("WeChat rate limit reached")]
    RateLimited,
    #[error("WeChat daily quota reached")]
    DailyQuota,
    #[error("WeChat configuration error (errcode {0})")]
    Configuration(i64),
    /// A user or business outcome: the errcode tells which; never retried.
    #[error("WeChat refused the request (errcode {0})")]
    Business(i64),
    #[error("WeChat is not configured")]
    NotConfigured,
}

impl WeChatError {
    pub fn classify(errcode: i64) -> Self {
        match errcode {
            -1 => Self::Transient,
            40001 | 40014 | 42001 => Self::Token(errcode),
            45011 => Self::RateLimited,
            45009 => Self::DailyQuota,
            40013 | 40125 | 41002 | 41004 | 48001 | 40037 | 41030 | 40002 | 40164 => {
                Self::Configuration(errcode)
            }
            other => Self::Business(other),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient | Self::Token(_) | Self::RateLimited)
    }
}

#[derive(Debug, Clone)]
pub struct WeChatConfig {
    pub base_url: Url,
    pub appid: String,
    pub secret: String,
}

#[derive(Clone)]
pub struct WeChatClient {
    http: reqwest::Client,
    config: Option<WeChatConfig>,
    /// `msg_sec_check` calls a minute for the whole installation (every instance, every kind
    /// of text), kept under WeChat's own limit per app.
    seccheck_per_minute: u32,
}

/// Every answer carries these; a missing errcode means 0.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    errcode: i64,
}

impl WeChatClient {
    /// `None` config: WeChat is off, and every call answers `NotConfigured`.
    pub fn new(config: Option<WeChatConfig>) -> Self {
        // reqwest has no time-outs by default; SDKs that forgot them hung forever.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            http,
            config,
            seccheck_per_minute: 3_600,
        }
    }

    /// The installation's content-check budget a minute.
    pub fn with_seccheck_budget(mut self, per_minute: u32) -> Self {
        self.seccheck_per_minute = per_minute;
        self
    }

    pub fn is_configured(&self) -> bool {
        self.config.is_some()
    }

    fn config(&self) -> Result<&WeChatConfig, WeChatError> {
        self.config.as_ref().ok_or(WeChatError::NotConfigured)
    }

    fn url(&self, path: &str) -> Result<Url, WeChatError> {
        self.config()?
            .base_url
            .join(path)
            .map_err(|_| WeChatError::Configuration(0))
    }

    /// Reads a WeChat answer: transport failures, 5xx and non-JSON bodies are transient;
    /// a non-zero errcode is classified; otherwise the body is parsed as `T`.
    async fn read<T: serde::de::DeserializeOwned>(
        response: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<T, WeChatError> {
        let response = response.map_err(|_| WeChatError::Transient)?;
        if response.status().is_server_error() {
            return Err(WeChatError::Transient);
        }
        let body = response.bytes().await.map_err(|_| WeChatError::Transient)?;
        let envelope: Envelope =
            serde_json::from_slice(&body).map_err(|_| WeChatError::Transient)?;
        if envelope.errcode != 0 {
            return Err(WeChatError::classify(envelope.errcode));
        }
        serde_json::from_slice(&body).map_err(|_| WeChatError::Transient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcodes_fall_into_their_classes() {
        let cases = [
            (-1, WeChatError::Transient),
            (40001, WeChatError::Token(40001)),
            (42001, WeChatError::Token(42001)),
            (45011, WeChatError::RateLimited),
            (45009, WeChatError::DailyQuota),
            (40013, WeChatError::Configuration(40013)),
            (40029, WeChatError::Business(40029)),
            (43101, WeChatError::Business(43101)),
        ];
        for (errcode, class) in cases {
            assert_eq!(WeChatError::classify(errcode), class, "errcode {errcode}");
        }
        assert!(WeChatError::Transient.is_retryable());
        assert!(!WeChatError::Business(43101).is_retryable());
    }
}
