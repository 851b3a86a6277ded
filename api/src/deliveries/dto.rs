//! Bodies of the delivery endpoints.
use chrono::{DateTime, NaiveDate, Utc};
use entity::{delivery, user};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::canteen::dto::Slot;

/// Who is receiving: the address and phone only for the assigned volunteer while the delivery
/// is theirs and not finished, and for staff.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recipient {
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// What the member must not eat (低盐, 软食…), for the one who carries the meal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dietary_notes: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    /// `meal` or `wish`.
    pub kind: String,
    /// For a meal, the reservation's id.
    pub ref_id: String,
    pub date: NaiveDate,
    pub slot: String,
    pub recipient: Recipient,
    pub volunteer_id: Option<String>,
    /// `pending`, `assigned`, `accepted`, `picked_up`, `delivered`, `failed` or `cancelled`.
    pub status: String,
    pub accept_deadline: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub fail_reason: Option<String>,
}

/// Whether the viewer may see where the recipient lives.
pub fn sees_address(d: &delivery::Model, viewer_id: &str, staff: bool) -> bool {
    staff
        || (d.volunteer_id.as_deref() == Some(viewer_id)
            && matches!(d.status.as_str(), "assigned" | "accepted" | "picked_up"))
}

impl DeliveryView {
    pub fn new(d: delivery::Model, recipient: Option<&user::Model>, full: bool) -> Self {
        let private = |f: fn(&user::Model) -> Option<String>| {
            if full { recipient.and_then(f) } else { None }
        };
        Self {
            recipient: Recipient {
                display_name: recipient.map(|u| u.nickname.clone()).unwrap_or_default(),
                address: private(|u| u.address_detail.clone()),
                phone: private(|u| u.phone.clone()),
                dietary_notes: private(|u| u.dietary_notes.clone()),
            },
            id: d.id,
            kind: d.kind,
            ref_id: d.ref_id,
            date: d.date,
            slot: d.slot,
            volunteer_id: d.volunteer_id,
            status: d.status,
            accept_deadline: d.accept_deadline,
            delivered_at: d.delivered_at,
            fail_reason: d.fail_reason,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Assigned,
    Accepted,
    PickedUp,
    Delivered,
    Failed,
    Cancelled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Assigned => "assigned",
            Self::Accepted => "accepted",
            Self::PickedUp => "picked_up",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// Default: today in the community's time zone.
    pub date: Option<NaiveDate>,
    pub status: Option<DeliveryStatus>,
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decline {
    #[validate(length(max = 200, code = "length"))]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// Nobody opened the door: a welfare alert goes out at once.
    NotHome,
    Refused,
    Other,
}

impl FailReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotHome => "not_home",
            Self::Refused => "refused",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Fail {
    pub reason: FailReason,
    #[validate(length(max = 200, code = "length"))]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    #[validate(length(min = 1, max = 64, code = "length"))]
    pub volunteer_id: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reassign {
    #[validate(length(min = 1, max = 64, code = "length"))]
    pub volunteer_id: String,
    pub date: NaiveDate,
    pub slot: Slot,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reassigned {
    /// How many of the volunteer's deliveries went back through assignment.
    pub reassigned: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DispatchQueued {
    pub menu_id: String,
    /// Deliveries waiting for a volunteer when the job was queued.
    pub pending: u64,
}
