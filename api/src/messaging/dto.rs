//! Bodies of notifications, subscriptions and the jobs admin.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::{notification, outbox};
use jobs::notify::SubscriptionChoice;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

use crate::http::extract::refuse_field;

#[derive(Debug, Serialize, ToSchema)]
pub struct RefView {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    #[serde(rename = "ref")]
    pub reference: Option<RefView>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<notification::Model> for NotificationView {
    fn from(n: notification::Model) -> Self {
        let reference = match (n.ref_type, n.ref_id) {
            (Some(kind), Some(id)) => Some(RefView { kind, id }),
            _ => None,
        };
        Self {
            id: n.id,
            kind: n.kind,
            title: n.title,
            body: n.body,
            reference,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// `true`: only unread ones.
    pub unread: Option<bool>,
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub count: u64,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "ids_or_all"))]
pub struct MarkRead {
    #[validate(length(min = 1, max = 100, code = "length"))]
    pub ids: Option<Vec<String>>,
    pub all: Option<bool>,
}

fn ids_or_all(body: &MarkRead) -> Result<(), ValidationError> {
    if body.ids.is_none() && body.all != Some(true) {
        return Err(refuse_field("ids", "ids_or_all_required"));
    }
    Ok(())
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionResults {
    /// What `wx.requestSubscribeMessage` returned, template id → `accept`, `reject` or `ban`.
    #[validate(
        length(min = 1, max = 20, code = "length"),
        custom(function = "template_ids")
    )]
    #[schema(value_type = Object)]
    pub results: BTreeMap<String, SubscriptionChoice>,
}

fn template_ids(results: &BTreeMap<String, SubscriptionChoice>) -> Result<(), ValidationError> {
    if results.keys().all(|k| (1..=64).contains(&k.len())) {
        Ok(())
    } else {
        Err(ValidationError::new("template_id"))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    /// The notification kind the template serves.
    pub kind: String,
    pub template_id: String,
    /// Messages the server may still send.
    pub remaining: i32,
    pub banned: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueStats {
    pub queue: String,
    /// Entries in the stream.
    pub depth: u64,
    /// Read by a worker and not yet acknowledged.
    pub in_flight: u64,
    /// Failed at least once, waiting for another attempt.
    pub retrying: u64,
    pub dead: u64,
    /// Committed, not yet handed to Redis.
    pub outbox_backlog: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadJob {
    /// Opaque: the id to retry it by.
    pub id: String,
    pub queue: String,
    pub kind: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub dead_at: Option<DateTime<Utc>>,
}

impl From<outbox::Model> for DeadJob {
    fn from(row: outbox::Model) -> Self {
        Self {
            id: row.id.to_string(),
            queue: row.queue,
            kind: row.kind,
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: row.created_at,
            dead_at: row.dead_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pushed `notification.created` carries the Notification exactly as the API lists it.
    #[test]
    fn a_pushed_notification_has_the_shape_of_a_listed_one() {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let row = |ref_type: Option<&str>, read_at| notification::Model {
            id: "0000000000000000001-u1".into(),
            user_id: "u1".into(),
            kind: "wish_claimed".into(),
            title: "有人认领".into(),
            body: "正文".into(),
            ref_type: ref_type.map(str::to_owned),
            ref_id: ref_type.map(|_| "w1".to_owned()),
            source_event: 1,
            wechat_status: "none".into(),
            created_at: at,
            read_at,
        };
        for model in [row(Some("wish"), None), row(None, Some(at))] {
            let pushed = jobs::push::notification_created(&model);
            assert_eq!(pushed.kind, "notification.created");
            let listed = serde_json::to_value(NotificationView::from(model)).ok();
            assert_eq!(Some(pushed.data), listed);
        }
    }
}
