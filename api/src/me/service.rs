//! Changing one's profile (including joining a community and a grid unit) and dependents.
use chrono::{DateTime, Utc};
use entity::{dependent, grid_node, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{
    dto::{CreateDependent, ProfilePatch},
    membership,
};
use crate::{
    community::{
        service as community,
        users::{UserView, Viewer},
    },
    db::write_txn,
    error::AppError,
    http::{Cursor, PageParams},
    state::new_id,
};

/// A family can register this many dependents.
const MAX_DEPENDENTS: u64 = 10;

fn cleared(value: String) -> Option<String> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// A profile after a change, and whether the user changed community (which ends their open
/// sockets, so none keeps seeing the community they left).
pub struct ProfileChange {
    pub view: UserView,
    pub moved: bool,
}

/// Applies a profile change in one write transaction. A change of community ends every role,
/// grid post and volunteer standing the user held in the one they leave, in that transaction.
pub async fn update_profile(
    db: &DatabaseConnection,
    user_id: &str,
    patch: ProfilePatch,
    now: DateTime<Utc>,
) -> Result<ProfileChange, AppError> {
    let txn = write_txn(db).await?;
    let me = community::hold_user(&txn, user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let before = me.community_id.clone();
    let mut active = apply_patch(&txn, me, patch).await?;
    active.updated_at = Set(now);
    let moved = matches!(&active.community_id, ActiveValue::Set(after) if *after != before);
    if moved {
        active.volunteer_status = Set("none".to_owned());
    }
    let updated = active.update(&txn).await?;
    if moved && let Some(old) = before.as_deref() {
        membership::leave(&txn, user_id, old, now).await?;
    }
    txn.commit().await?;
    let view = UserView::load(db, updated, now, Viewer::SelfOrStaff).await?;
    Ok(ProfileChange { view, moved })
}

/// The user with the patch applied (not yet saved); community and unit checked.
async fn apply_patch(
    db: &impl ConnectionTrait,
    me: user::Model,
    patch: ProfilePatch,
) -> Result<user::ActiveModel, AppError> {
    let mut community_id = me.community_id.clone();
    let mut grid_unit_id = me.grid_unit_id.clone();
    if let Some(requested) = patch.community_id {
        let requested = cleared(requested);
        if let Some(id) = requested.as_deref() {
            community::find(db, id)
                .await
                .map_err(|_| AppError::field("community_id", "not_found"))?;
        }
        if requested != community_id {
            // A unit belongs to one community: moving out leaves it.
            grid_unit_id = None;
        }
        community_id = requested;
    }
    if let Some(requested) = patch.grid_unit_id {
        grid_unit_id = match cleared(requested) {
            None => None,
            Some(unit) => {
                let node = grid_node::Entity::find_by_id(unit.clone()).one(db).await?;
                let fits = node.is_some_and(|n| {
                    n.kind == "unit" && Some(n.community_id.as_str()) == community_id.as_deref()
                });
                if !fits {
                    return Err(AppError::field(
                        "grid_unit_id",
                        "not_a_unit_of_your_community",
                    ));
                }
                Some(unit)
            }
        };
    }
    let mut active: user::ActiveModel = me.into();
    if let Some(nickname) = patch.nickname {
        let nickname = cleared(nickname).ok_or_else(|| AppError::field("nickname", "length"))?;
        active.nickname = Set(nickname);
    }
    if let Some(birth_date) = patch.birth_date {
        active.birth_date = Set(Some(birth_date));
    }
    if let Some(phone) = patch.phone {
        active.phone = Set(cleared(phone));
    }
    if let Some(address) = patch.address_detail {
        active.address_detail = Set(cleared(address));
    }
    if let Some(notes) = patch.dietary_notes {
        active.dietary_notes = Set(cleared(notes));
    }
    active.community_id = Set(community_id);
    active.grid_unit_id = Set(grid_unit_id);
    Ok(active)
}

/// A page of the user's dependents, oldest first, with one row more than the page when there
/// are more (for `Page::from_rows`).
pub async fn dependents(
    db: &impl ConnectionTrait,
    user_id: &str,
    page: &PageParams,
) -> Result<Vec<dependent::Model>, AppError> {
    let mut select = dependent::Entity::find()
        .filter(dependent::Column::UserId.eq(user_id))
        .order_by_asc(dependent::Column::Id);
    if let Some(Cursor(after)) = page.after()? {
        select = select.filter(dependent::Column::Id.gt(after));
    }
    Ok(select.limit(page.limit() + 1).all(db).await?)
}

pub async fn add_dependent(
    db: &impl ConnectionTrait,
    user_id: &str,
    input: CreateDependent,
    now: DateTime<Utc>,
) -> Result<dependent::Model, AppError> {
    let count = dependent::Entity::find()
        .filter(dependent::Column::UserId.eq(user_id))
        .count(db)
        .await?;
    if count >= MAX_DEPENDENTS {
        return Err(AppError::conflict(
            "too_many_dependents",
            "a family can register at most 10 dependents",
        ));
    }
    let name = cleared(input.name).ok_or_else(|| AppError::field("name", "length"))?;
    Ok(dependent::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user_id.to_owned()),
        name: Set(name),
        birth_date: Set(input.birth_date),
        relation: Set(input.relation.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn remove_dependent(
    db: &impl ConnectionTrait,
    user_id: &str,
    dependent_id: &str,
) -> Result<(), AppError> {
    let deleted = dependent::Entity::delete_many()
        .filter(dependent::Column::Id.eq(dependent_id))
        .filter(dependent::Column::UserId.eq(user_id))
        .exec(db)
        .await?
        .rows_affected;
    if deleted == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}
