//! `jscode2session`: a `wx.login` code for the user's openid. The `session_key` it also
//! returns is dropped here: it must never leave the server and we have no use for it.
use serde::Deserialize;

use super::{WeChatClient, WeChatError};

#[derive(Debug, Clone, Deserialize)]
pub struct CodeSession {
    pub openid: String,
    #[serde(default)]
    pub unionid: Option<String>,
}

impl WeChatClient {
    /// Never retried once WeChat answered: the code may already be spent.
    pub async fn code_to_session(&self, code: &str) -> Result<CodeSession, WeChatError> {
        let config = self.config()?;
        let url = self.url("sns/jscode2session")?;
        let response = self
            .http
            .get(url)
            .query(&[
                ("appid", config.appid.as_str()),
                ("secret", config.secret.as_str()),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await;
        let session: CodeSession = Self::read(response).await?;
        if session.openid.is_empty() {
            return Err(WeChatError::Transient);
        }
        Ok(session)
    }
}
