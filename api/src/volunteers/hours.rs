//! The service-hours ledger: entries are never edited; a correction is a new entry.
use chrono::{DateTime, Utc};
use entity::hours_entry;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set, sea_query::OnConflict};

use crate::state::new_id;

/// Where a credit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Wish,
    Delivery,
    Manual,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wish => "wish",
            Self::Delivery => "delivery",
            Self::Manual => "manual",
        }
    }
}

/// One credit to the ledger.
#[derive(Debug, Clone)]
pub struct Credit<'a> {
    pub user_id: &'a str,
    pub community_id: &'a str,
    pub source: Source,
    /// The wish or delivery; for a manual credit, leave `None` and the entry's own id is used.
    pub ref_id: Option<&'a str>,
    pub minutes: i32,
    pub reason: Option<String>,
    pub created_by: Option<String>,
}

/// Credits minutes once per (source, ref, user): crediting the same wish or delivery twice
/// changes nothing. Returns whether this call credited.
pub async fn credit(
    db: &impl ConnectionTrait,
    credit: Credit<'_>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let id = new_id();
    let inserted = hours_entry::Entity::insert(hours_entry::ActiveModel {
        ref_id: Set(credit.ref_id.map_or_else(|| id.clone(), str::to_owned)),
        id: Set(id),
        user_id: Set(credit.user_id.to_owned()),
        community_id: Set(credit.community_id.to_owned()),
        source: Set(credit.source.as_str().to_owned()),
        minutes: Set(credit.minutes),
        reason: Set(credit.reason),
        created_by: Set(credit.created_by),
        at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            hours_entry::Column::Source,
            hours_entry::Column::RefId,
            hours_entry::Column::UserId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted == 1)
}
