//! Bodies of the canteen endpoints.
use chrono::{DateTime, NaiveDate, Utc};
use entity::{menu, reservation};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

use crate::http::extract::refuse_field;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    Lunch,
    Dinner,
}

impl Slot {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lunch => "lunch",
            Self::Dinner => "dinner",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    DineIn,
    Delivery,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DineIn => "dine_in",
            Self::Delivery => "delivery",
        }
    }
}

fn dish_names(dishes: &[String]) -> Result<(), ValidationError> {
    if dishes
        .iter()
        .any(|d| d.trim().is_empty() || d.chars().count() > 40)
    {
        return Err(ValidationError::new("dish"));
    }
    Ok(())
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMenu {
    /// The day, in the community's time zone.
    pub date: NaiveDate,
    pub slot: Slot,
    #[validate(
        length(min = 1, max = 20, code = "length"),
        custom(function = "dish_names")
    )]
    pub dishes: Vec<String>,
    #[validate(range(min = 0, max = 10000, code = "range"))]
    pub price_fen: i32,
    #[validate(range(min = 1, max = 10000, code = "range"))]
    pub capacity: i32,
    pub reserve_cutoff_at: DateTime<Utc>,
    /// Default true.
    pub delivery_available: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MenuView {
    pub id: String,
    pub community_id: String,
    pub date: NaiveDate,
    /// `lunch` or `dinner`.
    pub slot: String,
    pub dishes: Vec<String>,
    pub price_fen: i32,
    pub capacity: i32,
    pub reserved_count: i32,
    pub remaining: i32,
    pub reserve_cutoff_at: DateTime<Utc>,
    pub delivery_available: bool,
    pub free_meal_day: bool,
}

impl From<menu::Model> for MenuView {
    fn from(m: menu::Model) -> Self {
        Self {
            dishes: serde_json::from_str(&m.dishes).unwrap_or_default(),
            remaining: (m.capacity - m.reserved_count).max(0),
            id: m.id,
            community_id: m.community_id,
            date: m.date,
            slot: m.slot,
            price_fen: m.price_fen,
            capacity: m.capacity,
            reserved_count: m.reserved_count,
            reserve_cutoff_at: m.reserve_cutoff_at,
            delivery_available: m.delivery_available,
            free_meal_day: m.free_meal_day,
        }
    }
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
#[validate(schema(function = "a_short_range"))]
pub struct MenuQuery {
    /// First day, included.
    pub from: NaiveDate,
    /// Last day, included; at most 62 days after `from`.
    pub to: NaiveDate,
    /// 1–100, default 20.
    #[validate(range(min = 1, max = 100, code = "range"))]
    pub limit: Option<u64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

fn a_short_range(q: &MenuQuery) -> Result<(), ValidationError> {
    let days = (q.to - q.from).num_days();
    if !(0..=62).contains(&days) {
        return Err(refuse_field("to", "date_range"));
    }
    Ok(())
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reserve {
    pub mode: Mode,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationView {
    pub id: String,
    pub menu_id: String,
    pub user_id: String,
    pub date: NaiveDate,
    pub slot: String,
    /// `dine_in` or `delivery`.
    pub mode: String,
    pub price_fen: i32,
    pub subsidy_fen: i32,
    pub payable_fen: i32,
    pub free_meal: bool,
    /// `reserved`, `cancelled` or `served`.
    pub status: String,
    pub delivery_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<reservation::Model> for ReservationView {
    fn from(r: reservation::Model) -> Self {
        Self {
            id: r.id,
            menu_id: r.menu_id,
            user_id: r.user_id,
            date: r.date,
            slot: r.slot,
            mode: r.mode,
            price_fen: r.price_fen,
            subsidy_fen: r.subsidy_fen,
            payable_fen: r.payable_fen,
            free_meal: r.free_meal,
            status: r.status,
            delivery_id: r.delivery_id,
            created_at: r.created_at,
        }
    }
}

/// A line of the kitchen's list: the reservation with who eats it and what they must not.
#[derive(Debug, Serialize, ToSchema)]
pub struct KitchenLine {
    #[serde(flatten)]
    pub reservation: ReservationView,
    pub display_name: String,
    pub dietary_notes: Option<String>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct KitchenTotals {
    pub dine_in: i64,
    pub delivery: i64,
    pub payable_fen: i64,
    pub subsidy_fen: i64,
}

/// A page of the kitchen's list (by reservation id); the totals are the whole meal's.
#[derive(Debug, Serialize, ToSchema)]
pub struct KitchenList {
    pub items: Vec<KitchenLine>,
    pub next_cursor: Option<String>,
    pub totals: KitchenTotals,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StandingItem {
    /// 1 (Monday) – 7 (Sunday).
    #[validate(range(min = 1, max = 7, code = "range"))]
    pub weekday: u32,
    pub slot: Slot,
    pub mode: Mode,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "consistent_standing_order"))]
pub struct PutStandingOrder {
    #[validate(length(max = 14, code = "length"), nested)]
    pub items: Vec<StandingItem>,
    pub paused_from: Option<NaiveDate>,
    pub paused_until: Option<NaiveDate>,
}

fn consistent_standing_order(s: &PutStandingOrder) -> Result<(), ValidationError> {
    let mut meals: Vec<(u32, Slot)> = s.items.iter().map(|i| (i.weekday, i.slot)).collect();
    meals.sort_by_key(|(w, slot)| (*w, slot.as_str()));
    if meals.windows(2).any(|w| w[0] == w[1]) {
        return Err(refuse_field("items", "duplicate_meal"));
    }
    if let (Some(from), Some(until)) = (s.paused_from, s.paused_until)
        && until < from
    {
        return Err(refuse_field("paused_until", "pause_range"));
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StandingOrderView {
    pub user_id: String,
    pub items: Vec<StandingItem>,
    pub paused_from: Option<NaiveDate>,
    pub paused_until: Option<NaiveDate>,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::standing_order::Model> for StandingOrderView {
    fn from(s: entity::standing_order::Model) -> Self {
        Self {
            items: serde_json::from_str(&s.items).unwrap_or_default(),
            user_id: s.user_id,
            paused_from: s.paused_from,
            paused_until: s.paused_until,
            updated_at: s.updated_at,
        }
    }
}

/// What a roster run did.
#[derive(Debug, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct RosterOutcome {
    pub created: u32,
    pub existing: u32,
    pub skipped_no_capacity: u32,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `YYYY-MM`.
    #[validate(length(min = 7, max = 7, code = "length"))]
    pub month: String,
}

#[derive(Debug, Default, Serialize, ToSchema, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub date: NaiveDate,
    pub slot: String,
    pub dine_in: i64,
    pub delivered: i64,
    pub free_meals: i64,
    pub payable_fen: i64,
    pub subsidy_fen: i64,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ReportTotals {
    pub dine_in: i64,
    pub delivered: i64,
    pub free_meals: i64,
    pub payable_fen: i64,
    pub subsidy_fen: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlyReport {
    pub month: String,
    pub rows: Vec<ReportRow>,
    pub totals: ReportTotals,
}
