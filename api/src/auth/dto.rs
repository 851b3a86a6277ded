//! Request and response bodies of the auth endpoints.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::community::users::UserView;

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeChatLoginRequest {
    /// The code from `wx.login`.
    #[validate(length(min = 1, max = 128, code = "length"))]
    pub code: String,
    #[validate(length(min = 1, max = 32, code = "length"))]
    pub nickname: Option<String>,
    #[validate(url(code = "url"), length(max = 512, code = "length"))]
    pub avatar_url: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevLoginRequest {
    #[validate(length(min = 1, max = 64, code = "length"))]
    pub openid: String,
    #[validate(length(min = 1, max = 32, code = "length"))]
    pub nickname: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[validate(length(min = 1, max = 256, code = "length"))]
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: UserView,
}
