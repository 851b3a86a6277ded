//! A community's rules, one typed struct with a default for every setting. Stored as JSON on the
//! community; settings a later release adds take their default on communities made before it.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WishReview {
    Manual,
    Auto,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct CommunitySettings {
    /// Wishes wait for staff review (`manual`) or publish when clean (`auto`).
    pub wish_review: WishReview,
    pub claim_ttl_hours: u32,
    pub wish_hours_minutes: u32,
    pub max_active_enrollments: u32,
    pub course_reminder_minutes: u32,
    pub elder_age: u32,
    pub elder_subsidy_fen: i64,
    pub hardship_free: bool,
    pub free_meal_day: u32,
    pub delivery_min_age: u32,
    pub free_meal_roster_hours: u32,
    pub max_deliveries_per_volunteer: u32,
    pub accept_timeout_minutes: u32,
    pub delivery_minutes: u32,
    pub welfare_escalation_minutes: u32,
    /// Days after its wish or delivery ends that a conversation turns read-only.
    pub conversation_read_only_days: u32,
    /// Messages a user may send a minute.
    pub message_rate_per_minute: u32,
}

impl Default for CommunitySettings {
    fn default() -> Self {
        Self {
            wish_review: WishReview::Manual,
            claim_ttl_hours: 72,
            wish_hours_minutes: 60,
            max_active_enrollments: 3,
            course_reminder_minutes: 120,
            elder_age: 60,
            elder_subsidy_fen: 400,
            hardship_free: true,
            free_meal_day: 8,
            delivery_min_age: 80,
            free_meal_roster_hours: 3,
            max_deliveries_per_volunteer: 6,
            accept_timeout_minutes: 20,
            delivery_minutes: 30,
            welfare_escalation_minutes: 15,
            conversation_read_only_days: 7,
            message_rate_per_minute: 30,
        }
    }
}

impl CommunitySettings {
    /// Reads stored settings; a row that cannot be read falls back to the defaults field by field.
    pub fn from_json(raw: &str) -> Self {
        serde_json::from_str(raw).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// `PATCH /communities/{id}/settings`: only the settings named change.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub wish_review: Option<WishReview>,
    #[validate(range(min = 1, max = 720, code = "range"))]
    pub claim_ttl_hours: Option<u32>,
    #[validate(range(min = 0, max = 1440, code = "range"))]
    pub wish_hours_minutes: Option<u32>,
    #[validate(range(min = 1, max = 50, code = "range"))]
    pub max_active_enrollments: Option<u32>,
    #[validate(range(min = 0, max = 10080, code = "range"))]
    pub course_reminder_minutes: Option<u32>,
    #[validate(range(min = 40, max = 100, code = "range"))]
    pub elder_age: Option<u32>,
    #[validate(range(min = 0, max = 10000, code = "range"))]
    pub elder_subsidy_fen: Option<i64>,
    pub hardship_free: Option<bool>,
    #[validate(range(min = 1, max = 28, code = "range"))]
    pub free_meal_day: Option<u32>,
    #[validate(range(min = 40, max = 120, code = "range"))]
    pub delivery_min_age: Option<u32>,
    #[validate(range(min = 0, max = 48, code = "range"))]
    pub free_meal_roster_hours: Option<u32>,
    #[validate(range(min = 1, max = 50, code = "range"))]
    pub max_deliveries_per_volunteer: Option<u32>,
    #[validate(range(min = 1, max = 240, code = "range"))]
    pub accept_timeout_minutes: Option<u32>,
    #[validate(range(min = 0, max = 600, code = "range"))]
    pub delivery_minutes: Option<u32>,
    #[validate(range(min = 1, max = 240, code = "range"))]
    pub welfare_escalation_minutes: Option<u32>,
    #[validate(range(min = 0, max = 365, code = "range"))]
    pub conversation_read_only_days: Option<u32>,
    #[validate(range(min = 1, max = 600, code = "range"))]
    pub message_rate_per_minute: Option<u32>,
}

impl SettingsPatch {
    pub fn apply(self, s: &mut CommunitySettings) {
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { s.$field = v; } )* };
        }
        set!(
            wish_review,
            claim_ttl_hours,
            wish_hours_minutes,
            max_active_enrollments,
            course_reminder_minutes,
            elder_age,
            elder_subsidy_fen,
            hardship_free,
            free_meal_day,
            delivery_min_age,
            free_meal_roster_hours,
            max_deliveries_per_volunteer,
            accept_timeout_minutes,
            delivery_minutes,
            welfare_escalation_minutes,
            conversation_read_only_days,
            message_rate_per_minute
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_settings_missing_a_field_take_its_default() {
        let s = CommunitySettings::from_json(r#"{"claim_ttl_hours": 24}"#);
        assert_eq!(s.claim_ttl_hours, 24);
        assert_eq!(s.free_meal_day, 8);
        assert_eq!(
            CommunitySettings::from_json("garbage"),
            CommunitySettings::default()
        );
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let mut s = CommunitySettings::default();
        SettingsPatch {
            wish_review: Some(WishReview::Auto),
            free_meal_day: Some(10),
            ..Default::default()
        }
        .apply(&mut s);
        assert_eq!(s.wish_review, WishReview::Auto);
        assert_eq!(s.free_meal_day, 10);
        assert_eq!(s.elder_age, 60);
    }
}
