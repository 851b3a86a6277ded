//! Communities, their settings and grid, role grants, care flags and member lists.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{care_flag, community, grid_node, role_grant, user};
use jobs::{notify::Notify, outbox};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
    sea_query::OnConflict,
};

use super::{
    dto::{CarePatch, CreateCommunity, CreateGridNode, GridKind, GridTree, MemberQuery},
    settings::{CommunitySettings, SettingsPatch},
    users::{UserView, Viewer},
};
use crate::{
    auth::{CurrentUser, Role},
    db::write_txn,
    error::AppError,
    http::{Cursor, Page},
    state::new_id,
};

pub async fn create(
    db: &impl ConnectionTrait,
    input: CreateCommunity,
    now: DateTime<Utc>,
) -> Result<community::Model, AppError> {
    let model = community::ActiveModel {
        id: Set(new_id()),
        name: Set(input.name.trim().to_owned()),
        timezone: Set(input.timezone.unwrap_or_else(|| "Asia/Shanghai".to_owned())),
        settings: Set(CommunitySettings::default().to_json()),
        created_at: Set(now),
    };
    Ok(model.insert(db).await?)
}

pub async fn list(
    db: &impl ConnectionTrait,
    limit: u64,
    after: Option<Cursor>,
) -> Result<Page<community::Model>, AppError> {
    let mut query = community::Entity::find().order_by_asc(community::Column::Id);
    if let Some(Cursor(after)) = after {
        query = query.filter(community::Column::Id.gt(after));
    }
    let rows = query.limit(limit + 1).all(db).await?;
    Ok(Page::from_rows(rows, limit, |c| c.id.clone(), |c| c))
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<community::Model, AppError> {
    community::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn settings_of(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<CommunitySettings, AppError> {
    Ok(CommunitySettings::from_json(&find(db, id).await?.settings))
}

/// Applies the patch; work already scheduled by a changed setting (session reminders) moves.
pub async fn update_settings(
    db: &sea_orm::DatabaseConnection,
    id: &str,
    patch: SettingsPatch,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<community::Model, AppError> {
    let txn = crate::db::write_txn(db).await?;
    let found = find(&txn, id).await?;
    let before = CommunitySettings::from_json(&found.settings);
    let mut settings = before.clone();
    patch.apply(&mut settings);
    let mut active: community::ActiveModel = found.into();
    active.settings = Set(settings.to_json());
    let updated = active.update(&txn).await?;
    if settings.course_reminder_minutes != before.course_reminder_minutes {
        crate::courses::reminders::reschedule(&txn, id, settings.course_reminder_minutes, now)
            .await?;
    }
    txn.commit().await?;
    Ok(updated)
}

async fn node_in(
    db: &impl ConnectionTrait,
    community_id: &str,
    node_id: &str,
) -> Result<Option<grid_node::Model>, DbErr> {
    Ok(grid_node::Entity::find_by_id(node_id.to_owned())
        .one(db)
        .await?
        .filter(|n| n.community_id == community_id))
}

pub async fn create_grid_node(
    db: &impl ConnectionTrait,
    community_id: &str,
    input: CreateGridNode,
    now: DateTime<Utc>,
) -> Result<grid_node::Model, AppError> {
    let parent = match input.parent_id.as_deref() {
        Some(id) => Some(
            node_in(db, community_id, id)
                .await?
                .ok_or_else(|| AppError::field("parent_id", "not_found"))?,
        ),
        None => None,
    };
    let parent_kind = parent.as_ref().map(|p| p.kind.as_str());
    if input.kind.parent_kind().map(GridKind::as_str) != parent_kind {
        return Err(AppError::field("parent_id", "wrong_parent_kind"));
    }
    let model = grid_node::ActiveModel {
        id: Set(new_id()),
        community_id: Set(community_id.to_owned()),
        parent_id: Set(parent.map(|p| p.id)),
        kind: Set(input.kind.as_str().to_owned()),
        name: Set(input.name.trim().to_owned()),
        created_at: Set(now),
    };
    Ok(model.insert(db).await?)
}

pub async fn grid_tree(
    db: &impl ConnectionTrait,
    community_id: &str,
) -> Result<Vec<GridTree>, AppError> {
    let nodes = grid_node::Entity::find()
        .filter(grid_node::Column::CommunityId.eq(community_id))
        .order_by_asc(grid_node::Column::Id)
        .all(db)
        .await?;
    let mut children: HashMap<Option<String>, Vec<grid_node::Model>> = HashMap::new();
    for node in nodes {
        children
            .entry(node.parent_id.clone())
            .or_default()
            .push(node);
    }
    fn build(
        parent: Option<String>,
        children: &mut HashMap<Option<String>, Vec<grid_node::Model>>,
    ) -> Vec<GridTree> {
        children
            .remove(&parent)
            .unwrap_or_default()
            .into_iter()
            .map(|n| GridTree {
                children: build(Some(n.id.clone()), children),
                id: n.id,
                kind: n.kind,
                name: n.name,
            })
            .collect()
    }
    Ok(build(None, &mut children))
}

/// A unit and every node above it (building, estate).
pub async fn unit_and_ancestors(
    db: &impl ConnectionTrait,
    unit_id: &str,
) -> Result<HashSet<String>, DbErr> {
    let mut chain = HashSet::new();
    let mut next = Some(unit_id.to_owned());
    while let Some(id) = next.take() {
        if !chain.insert(id.clone()) {
            break;
        }
        next = grid_node::Entity::find_by_id(id)
            .one(db)
            .await?
            .and_then(|n| n.parent_id);
    }
    Ok(chain)
}

/// The community's staff, once each.
pub async fn staff_of(db: &impl ConnectionTrait, community_id: &str) -> Result<Vec<String>, DbErr> {
    let mut staff: Vec<String> = role_grant::Entity::find()
        .select_only()
        .column(role_grant::Column::UserId)
        .filter(role_grant::Column::CommunityId.eq(community_id))
        .filter(role_grant::Column::Role.eq(Role::Staff.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    staff.sort();
    staff.dedup();
    Ok(staff)
}

/// A member of the community, as seen by someone acting on them (404 otherwise).
pub async fn member_of(
    db: &impl ConnectionTrait,
    community_id: &str,
    user_id: &str,
) -> Result<user::Model, AppError> {
    user::Entity::find_by_id(user_id.to_owned())
        .one(db)
        .await?
        .filter(|u| u.community_id.as_deref() == Some(community_id))
        .ok_or(AppError::NotFound)
}

/// The user's row, held for the rest of the transaction (SQLite's IMMEDIATE already holds the
/// file), so a grant and a move of the same user happen one after the other.
pub async fn hold_user(txn: &DatabaseTransaction, id: &str) -> Result<Option<user::Model>, DbErr> {
    let mut select = user::Entity::find_by_id(id.to_owned());
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        select = select.lock_exclusive();
    }
    select.one(txn).await
}

/// A member of the community, held for the rest of the transaction (404 otherwise).
async fn hold_member(
    txn: &DatabaseTransaction,
    community_id: &str,
    user_id: &str,
) -> Result<user::Model, AppError> {
    hold_user(txn, user_id)
        .await?
        .filter(|u| u.community_id.as_deref() == Some(community_id))
        .ok_or(AppError::NotFound)
}

/// Who may grant a role: admin grants staff; staff grant grid leaders and partners.
fn authorise_grant(actor: &CurrentUser, community_id: &str, role: Role) -> Result<(), AppError> {
    match role {
        Role::Staff => {
            if actor.is_admin() {
                Ok(())
            } else {
                actor.require_staff_of(community_id)?;
                Err(AppError::Forbidden("only an administrator may grant staff"))
            }
        }
        Role::GridLeader | Role::Partner => actor.require_staff_of(community_id),
        _ => {
            actor.require_staff_of(community_id)?;
            Err(AppError::field("role", "not_grantable"))
        }
    }
}

pub async fn grant_role(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    community_id: &str,
    user_id: &str,
    role: Role,
    grid_node_id: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let community = find(db, community_id).await?;
    authorise_grant(actor, community_id, role)?;
    let grid_node_id = match (role, grid_node_id) {
        (Role::GridLeader, Some(node)) => {
            node_in(db, community_id, &node)
                .await?
                .ok_or_else(|| AppError::field("grid_node_id", "not_found"))?;
            node
        }
        (Role::GridLeader, None) => return Err(AppError::field("grid_node_id", "required")),
        (_, _) => String::new(),
    };
    let grant = role_grant::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user_id.to_owned()),
        community_id: Set(community_id.to_owned()),
        role: Set(role.as_str().to_owned()),
        grid_node_id: Set(grid_node_id),
        granted_by: Set(Some(actor.id().to_owned())),
        created_at: Set(now),
    };
    let txn = write_txn(db).await?;
    // The member is held while the grant is made, so a move out of the community cannot slip
    // in between the check and the grant (the move ends every grant it finds).
    hold_member(&txn, community_id, user_id).await?;
    // Granting what is already granted changes nothing (PUT is idempotent) and tells no one.
    let inserted = role_grant::Entity::insert(grant)
        .on_conflict(
            OnConflict::columns([
                role_grant::Column::UserId,
                role_grant::Column::CommunityId,
                role_grant::Column::Role,
                role_grant::Column::GridNodeId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    if inserted == 1 {
        let notice = Notify::about(
            vec![user_id.to_owned()],
            "role_granted",
            ("community", community_id),
            format!("你在{}有了新角色", community.name),
            format!("你现在是{}。", role_name(role)),
        );
        outbox::emit(&txn, &notice, now).await?;
    }
    txn.commit().await?;
    Ok(())
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Staff => "社区工作人员",
        Role::GridLeader => "网格长",
        Role::Partner => "共建单位",
        Role::Volunteer => "志愿者",
        Role::Resident => "居民",
        Role::Admin => "管理员",
    }
}

pub async fn revoke_role(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    community_id: &str,
    user_id: &str,
    role: Role,
    grid_node_id: Option<String>,
) -> Result<(), AppError> {
    find(db, community_id).await?;
    authorise_grant(actor, community_id, role)?;
    // Someone who has left has no role here any more: revoking it is already done (204).
    user::Entity::find_by_id(user_id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut delete = role_grant::Entity::delete_many()
        .filter(role_grant::Column::UserId.eq(user_id))
        .filter(role_grant::Column::CommunityId.eq(community_id))
        .filter(role_grant::Column::Role.eq(role.as_str()));
    if let Some(node) = grid_node_id {
        delete = delete.filter(role_grant::Column::GridNodeId.eq(node));
    }
    delete.exec(db).await?;
    Ok(())
}

/// Whether the actor leads a grid node at or above `unit` (网格长 of that unit's chain).
pub async fn leads_unit(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    community_id: &str,
    unit: Option<&str>,
) -> Result<bool, DbErr> {
    let Some(unit) = unit else {
        return Ok(false);
    };
    if actor.led_nodes(community_id).next().is_none() {
        return Ok(false);
    }
    let chain = unit_and_ancestors(db, unit).await?;
    Ok(actor.led_nodes(community_id).any(|n| chain.contains(n)))
}

/// Staff, or a grid leader of a node at or above the member's unit; and what they are shown
/// of the member afterwards (a grid leader sees what their list shows, not the address).
async fn authorise_care(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    community_id: &str,
    member: &user::Model,
) -> Result<Viewer, AppError> {
    if actor.is_staff_of(community_id) {
        return Ok(Viewer::SelfOrStaff);
    }
    if leads_unit(db, actor, community_id, member.grid_unit_id.as_deref()).await? {
        return Ok(Viewer::Other);
    }
    if actor.belongs_to(community_id) {
        Err(AppError::Forbidden(
            "only staff or the member's grid leader may set care flags",
        ))
    } else {
        Err(AppError::NotFound)
    }
}

pub async fn set_care(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    community_id: &str,
    user_id: &str,
    patch: CarePatch,
    now: DateTime<Utc>,
) -> Result<UserView, AppError> {
    find(db, community_id).await?;
    let member = match member_of(db, community_id, user_id).await {
        Ok(member) => member,
        // An outsider learns nothing; an insider learns that the member is not here.
        Err(err) => {
            if !actor.belongs_to(community_id) {
                return Err(AppError::NotFound);
            }
            return Err(err);
        }
    };
    let viewer = authorise_care(db, actor, community_id, &member).await?;
    let current = care_flag::Entity::find_by_id(user_id.to_owned())
        .one(db)
        .await?;
    let flags = care_flag::ActiveModel {
        user_id: Set(user_id.to_owned()),
        lives_alone: Set(patch
            .lives_alone
            .unwrap_or(current.as_ref().is_some_and(|c| c.lives_alone))),
        empty_nest: Set(patch
            .empty_nest
            .unwrap_or(current.as_ref().is_some_and(|c| c.empty_nest))),
        hardship: Set(patch
            .hardship
            .unwrap_or(current.as_ref().is_some_and(|c| c.hardship))),
        updated_by: Set(Some(actor.id().to_owned())),
        updated_at: Set(now),
    };
    care_flag::Entity::insert(flags)
        .on_conflict(
            OnConflict::column(care_flag::Column::UserId)
                .update_columns([
                    care_flag::Column::LivesAlone,
                    care_flag::Column::EmptyNest,
                    care_flag::Column::Hardship,
                    care_flag::Column::UpdatedBy,
                    care_flag::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(UserView::load(db, member, now, viewer).await?)
}

pub async fn members(
    db: &impl ConnectionTrait,
    community_id: &str,
    query: &MemberQuery,
    now: DateTime<Utc>,
) -> Result<Page<UserView>, AppError> {
    find(db, community_id).await?;
    let limit = query.limit.unwrap_or(20);
    let mut select = user::Entity::find()
        .filter(user::Column::CommunityId.eq(community_id))
        .order_by_asc(user::Column::Id);
    match query.role {
        None | Some(Role::Resident) => {}
        Some(Role::Admin) => select = select.filter(user::Column::IsAdmin.eq(true)),
        Some(role) => {
            let holders = role_grant::Entity::find()
                .select_only()
                .column(role_grant::Column::UserId)
                .filter(role_grant::Column::CommunityId.eq(community_id))
                .filter(role_grant::Column::Role.eq(role.as_str()))
                .into_query();
            select = select.filter(user::Column::Id.in_subquery(holders));
        }
    }
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        select = select.filter(
            Condition::any()
                .add(user::Column::Nickname.contains(q))
                .add(user::Column::Phone.eq(q)),
        );
    }
    if let Some(cursor) = query.cursor.as_deref() {
        select = select.filter(user::Column::Id.gt(Cursor::decode(cursor)?.0));
    }
    let rows = select.limit(limit + 1).all(db).await?;
    let page = Page::from_rows(rows, limit, |u| u.id.clone(), |u| u);
    let mut items = Vec::with_capacity(page.items.len());
    for member in page.items {
        items.push(UserView::load(db, member, now, Viewer::SelfOrStaff).await?);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}
