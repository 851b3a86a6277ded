//! Bodies of the welfare-alert endpoints.
use chrono::{DateTime, Utc};
use entity::{user, welfare_alert};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    pub status: Option<AlertStatus>,
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// What was found.
    #[validate(length(min = 1, max = 500, code = "length"))]
    pub note: String,
}

/// The member to go and see: only staff and grid leaders of their unit read alerts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertMember {
    pub user_id: String,
    pub display_name: String,
    pub address: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WelfareAlertView {
    pub id: String,
    pub community_id: String,
    pub delivery_id: String,
    pub member: AlertMember,
    pub grid_unit_id: Option<String>,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    pub raised_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_note: Option<String>,
    /// How many times it has been sent again to everyone.
    pub escalations: i32,
}

impl WelfareAlertView {
    pub fn new(a: welfare_alert::Model, member: Option<&user::Model>) -> Self {
        Self {
            member: AlertMember {
                user_id: a.member_id.clone(),
                display_name: member.map(|m| m.nickname.clone()).unwrap_or_default(),
                address: member.and_then(|m| m.address_detail.clone()),
                phone: member.and_then(|m| m.phone.clone()),
            },
            id: a.id,
            community_id: a.community_id,
            delivery_id: a.delivery_id,
            grid_unit_id: a.grid_unit_id,
            status: a.status,
            raised_at: a.raised_at,
            acknowledged_by: a.acknowledged_by,
            acknowledged_at: a.acknowledged_at,
            resolved_at: a.resolved_at,
            resolution_note: a.resolution_note,
            escalations: a.escalations,
        }
    }
}
