//! Bodies of `/me` and `/me/dependents`.
use chrono::{DateTime, NaiveDate, Utc};
use entity::dependent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use crate::community::users::age_on;

/// Only the fields given change; an empty string clears a text field.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[validate(length(min = 1, max = 32, code = "length"))]
    pub nickname: Option<String>,
    #[validate(custom(function = "plausible_birth_date"))]
    pub birth_date: Option<NaiveDate>,
    #[validate(custom(function = "phone_number"))]
    pub phone: Option<String>,
    #[validate(length(max = 64, code = "length"))]
    pub community_id: Option<String>,
    #[validate(length(max = 64, code = "length"))]
    pub grid_unit_id: Option<String>,
    #[validate(length(max = 200, code = "length"))]
    pub address_detail: Option<String>,
    /// 低盐, 软食, 糖尿病… (≤ 100 characters): on the kitchen list and for the delivering volunteer.
    #[validate(length(max = 100, code = "length"))]
    pub dietary_notes: Option<String>,
}

fn plausible_birth_date(date: &NaiveDate) -> Result<(), ValidationError> {
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    if *date < earliest || *date > Utc::now().date_naive() {
        return Err(ValidationError::new("out_of_range"));
    }
    Ok(())
}

/// Digits with an optional leading `+`, 5–20 long; empty clears the phone.
fn phone_number(phone: &str) -> Result<(), ValidationError> {
    if phone.is_empty() {
        return Ok(());
    }
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    let ok = (5..=20).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("phone"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Child,
    Grandchild,
    Spouse,
    Parent,
    Other,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Child => "child",
            Self::Grandchild => "grandchild",
            Self::Spouse => "spouse",
            Self::Parent => "parent",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDependent {
    #[validate(length(min = 1, max = 20, code = "length"))]
    pub name: String,
    #[validate(custom(function = "plausible_birth_date"))]
    pub birth_date: NaiveDate,
    pub relation: Relation,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DependentView {
    pub id: String,
    pub name: String,
    pub birth_date: NaiveDate,
    pub age: u32,
    pub relation: String,
    pub created_at: DateTime<Utc>,
}

impl DependentView {
    pub fn new(d: dependent::Model, today: NaiveDate) -> Self {
        Self {
            age: age_on(d.birth_date, today),
            id: d.id,
            name: d.name,
            birth_date: d.birth_date,
            relation: d.relation,
            created_at: d.created_at,
        }
    }
}
