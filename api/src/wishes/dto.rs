//! Bodies of the wish endpoints.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Goods,
    Service,
    Companionship,
    Other,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Goods => "goods",
            Self::Service => "service",
            Self::Companionship => "companionship",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WishStatus {
    PendingReview,
    Published,
    Claimed,
    Delivered,
    Completed,
    Rejected,
    Withdrawn,
}

impl WishStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingReview => "pending_review",
            Self::Published => "published",
            Self::Claimed => "claimed",
            Self::Delivered => "delivered",
            Self::Completed => "completed",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Counted against the three-open-wishes rule.
    pub const OPEN: [WishStatus; 4] = [
        Self::PendingReview,
        Self::Published,
        Self::Claimed,
        Self::Delivered,
    ];

    /// Seen by everyone in the community; the others only by staff and the wish's own people.
    pub const ON_THE_WALL: [WishStatus; 4] = [
        Self::Published,
        Self::Claimed,
        Self::Delivered,
        Self::Completed,
    ];
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWish {
    #[validate(length(min = 1, max = 40, code = "length"))]
    pub title: String,
    #[serde(default)]
    #[validate(length(max = 500, code = "length"))]
    pub description: String,
    pub category: Category,
    #[validate(range(min = 0, max = 50000, code = "range"))]
    pub budget_fen: i64,
    /// Posting on behalf of another member: staff, or the grid leader of that member's unit.
    #[validate(length(min = 1, max = 64, code = "length"))]
    pub beneficiary_user_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewWish {
    pub decision: Decision,
    #[validate(length(min = 1, max = 200, code = "length"))]
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliverWish {
    #[validate(length(max = 500, code = "length"))]
    pub note: Option<String>,
    #[validate(
        length(max = 9, code = "length"),
        custom(function = "valid_photo_urls")
    )]
    pub photo_urls: Option<Vec<String>>,
}

fn valid_photo_urls(urls: &[String]) -> Result<(), ValidationError> {
    let ok = urls.iter().all(|u| {
        u.len() <= 512
            && (u.starts_with("https://")
                || u.starts_with("http://")
                || u.starts_with("wxfile://")
                || u.starts_with("cloud://"))
    });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("url"))
    }
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmWish {
    #[validate(length(max = 200, code = "length"))]
    pub thanks_note: Option<String>,
}

/// An empty body.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WishQuery {
    pub status: Option<WishStatus>,
    pub category: Option<Category>,
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MyRole {
    Poster,
    Claimer,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MyWishesQuery {
    /// `poster` (the default: wishes I posted or that are for me) or `claimer`.
    #[serde(rename = "as")]
    #[param(rename = "as")]
    pub role: Option<MyRole>,
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BeneficiaryView {
    /// Masked: 王**.
    pub display_name: String,
    pub is_self: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimerView {
    pub id: String,
    pub nickname: String,
    /// `volunteer` or `partner`.
    pub kind: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WishView {
    pub id: String,
    pub community_id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub budget_fen: i64,
    pub status: String,
    pub poster_id: String,
    pub beneficiary: BeneficiaryView,
    pub claimer: Option<ClaimerView>,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub claim_expires_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub reject_reason: Option<String>,
    /// Only for the current claimer and staff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_address: Option<String>,
    /// Only for the current claimer and staff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beneficiary_phone: Option<String>,
    pub delivery_note: Option<String>,
    pub photo_urls: Vec<String>,
    pub thanks_note: Option<String>,
}
