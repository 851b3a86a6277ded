//! The monthly report the subsidy account is claimed with: per meal, dine-in and delivered
//! reservations, free meals, what members paid and what the subsidy covered.
use std::collections::BTreeMap;

use chrono::NaiveDate;
use entity::reservation;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::dto::{MonthlyReport, ReportRow, ReportTotals};
use crate::{auth::CurrentUser, error::AppError};

/// The first day of `YYYY-MM` and of the month after.
pub fn month_bounds(month: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (year, m) = month.split_once('-')?;
    if year.len() != 4 || m.len() != 2 {
        return None;
    }
    let (year, m): (i32, u32) = (year.parse().ok()?, m.parse().ok()?);
    let first = NaiveDate::from_ymd_opt(year, m, 1)?;
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, m + 1, 1)?
    };
    Some((first, next))
}

pub async fn monthly(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    month: &str,
) -> Result<MonthlyReport, AppError> {
    let (first, next) = month_bounds(month).ok_or_else(|| AppError::field("month", "format"))?;
    let community_id = actor
        .community_id()
        .ok_or_else(|| AppError::conflict("not_in_community", "join a community first"))?;
    actor.require_staff_of(community_id)?;
    let rows = reservation::Entity::find()
        .filter(reservation::Column::CommunityId.eq(community_id))
        .filter(reservation::Column::Date.gte(first))
        .filter(reservation::Column::Date.lt(next))
        .filter(reservation::Column::Status.ne("cancelled"))
        .all(db)
        .await?;
    Ok(summarise(month, &rows))
}

pub fn summarise(month: &str, reservations: &[reservation::Model]) -> MonthlyReport {
    let mut by_meal: BTreeMap<(NaiveDate, String), ReportRow> = BTreeMap::new();
    let mut totals = ReportTotals::default();
    for r in reservations {
        let row = by_meal
            .entry((r.date, r.slot.clone()))
            .or_insert_with(|| ReportRow {
                date: r.date,
                slot: r.slot.clone(),
                ..ReportRow::default()
            });
        let delivered = i64::from(r.mode == "delivery");
        let free = i64::from(r.free_meal);
        row.dine_in += 1 - delivered;
        row.delivered += delivered;
        row.free_meals += free;
        row.payable_fen += i64::from(r.payable_fen);
        row.subsidy_fen += i64::from(r.subsidy_fen);
        totals.dine_in += 1 - delivered;
        totals.delivered += delivered;
        totals.free_meals += free;
        totals.payable_fen += i64::from(r.payable_fen);
        totals.subsidy_fen += i64::from(r.subsidy_fen);
    }
    MonthlyReport {
        month: month.to_owned(),
        rows: by_meal.into_values().collect(),
        totals,
    }
}

/// The rows as CSV, with a header and a totals line.
pub fn to_csv(report: &MonthlyReport) -> String {
    let mut out = String::from("date,slot,dine_in,delivered,free_meals,payable_fen,subsidy_fen\n");
    for r in &report.rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            r.date, r.slot, r.dine_in, r.delivered, r.free_meals, r.payable_fen, r.subsidy_fen
        ));
    }
    let t = &report.totals;
    out.push_str(&format!(
        "total,,{},{},{},{},{}\n",
        t.dine_in, t.delivered, t.free_meals, t.payable_fen, t.subsidy_fen
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_read_strictly() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            month_bounds("2026-12"),
            Some((d("2026-12-01"), d("2027-01-01")))
        );
        assert_eq!(
            month_bounds("2026-02"),
            Some((d("2026-02-01"), d("2026-03-01")))
        );
        for bad in [
            "2026-13", "2026-00", "26-12", "2026-1", "2026/12", "abcd-ef", "",
        ] {
            assert_eq!(month_bounds(bad), None, "{bad}");
        }
    }
}
