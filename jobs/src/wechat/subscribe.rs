//! Subscribe messages (订阅消息). Each send spends one of the user's grants for the template;
//! 43101 means none is left and comes back as `Business(43101)` for the caller to record.
use std::collections::BTreeMap;

use serde::{Serialize, de::IgnoredAny};

use super::{WeChatClient, WeChatError};
use crate::RedisStore;

/// Opens the released mini-program; `trial` and `developer` open the other versions.
pub const MINIPROGRAM_FORMAL: &str = "formal";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeMessage {
    /// The recipient's openid.
    pub touser: String,
    pub template_id: String,
    /// The mini-program page a tap opens; `None` opens none.
    pub page: Option<String>,
    /// Keyword name (`thing1`) and its value, already fitted by [`super::keywords::format_value`]:
    /// one value that breaks its rule makes WeChat refuse the whole message (47003).
    pub data: Vec<(String, String)>,
    pub miniprogram_state: String,
}

impl Default for SubscribeMessage {
    fn default() -> Self {
        Self {
            touser: String::new(),
            template_id: String::new(),
            page: None,
            data: Vec::new(),
            miniprogram_state: MINIPROGRAM_FORMAL.to_owned(),
        }
    }
}

#[derive(Serialize)]
struct SendRequest<'a> {
    touser: &'a str,
    template_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<&'a str>,
    data: BTreeMap<&'a str, KeywordValue<'a>>,
    miniprogram_state: &'a str,
    lang: &'static str,
}

#[derive(Serialize)]
struct KeywordValue<'a> {
    value: &'a str,
}

impl<'a> From<&'a SubscribeMessage> for SendRequest<'a> {
    fn from(msg: &'a SubscribeMessage) -> Self {
        let data = msg
            .data
            .iter()
            .map(|(keyword, value)| (keyword.as_str(), KeywordValue { value }))
            .collect();
        // Empty means the default rather than a value WeChat would refuse.
        let miniprogram_state = match msg.miniprogram_state.as_str() {
            "" => MINIPROGRAM_FORMAL,
            state => state,
        };
        Self {
            touser: &msg.touser,
            template_id: &msg.template_id,
            page: msg.page.as_deref(),
            data,
            miniprogram_state,
            lang: "zh_CN",
        }
    }
}

impl WeChatClient {
    /// Sends one subscribe message. Token errors are retried once inside; everything else is
    /// the caller's to handle (43101 → `Business(43101)`: no grant left, do not retry).
    pub async fn send_subscribe_message(
        &self,
        redis: &RedisStore,
        msg: &SubscribeMessage,
    ) -> Result<(), WeChatError> {
        let request = SendRequest::from(msg);
        let _: IgnoredAny = self
            .post_with_token(redis, "cgi-bin/message/subscribe/send", &request)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_has_wechats_shape() {
        let msg = SubscribeMessage {
            touser: "o-user".into(),
            template_id: "tpl".into(),
            data: vec![
                ("thing1".into(), "心愿已认领".into()),
                ("time2".into(), "15:01".into()),
            ],
            miniprogram_state: String::new(),
            ..SubscribeMessage::default()
        };
        let json = serde_json::to_value(SendRequest::from(&msg)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "touser": "o-user",
                "template_id": "tpl",
                "data": {"thing1": {"value": "心愿已认领"}, "time2": {"value": "15:01"}},
                "miniprogram_state": "formal",
                "lang": "zh_CN",
            })
        );
    }

    #[test]
    fn page_is_sent_when_set() {
        let msg = SubscribeMessage {
            page: Some("pages/wish/detail?id=1".into()),
            ..SubscribeMessage::default()
        };
        let json = serde_json::to_value(SendRequest::from(&msg)).unwrap();
        assert_eq!(json["page"], "pages/wish/detail?id=1");
        assert_eq!(json["miniprogram_state"], "formal");
    }
}
