//! The `CurrentUser` extractor: a valid access token of a live login, with the user and their
//! role grants read fresh on every request (a change of roles or community applies at once).
use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use entity::{login_session, role_grant, user};
use sea_orm::{
    ColumnTrait, EntityTrait, JoinType, QueryFilter, QuerySelect,
    sea_query::{Expr, Query},
};

use super::roles::Role;
use crate::{error::AppError, state::AppState};

#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: user::Model,
    pub session_id: String,
    /// The user's grants in the community they belong to now: a role counts only in its own
    /// community, so a grant left elsewhere (however it came to be) gives nothing.
    pub grants: Vec<role_grant::Model>,
}

impl CurrentUser {
    pub fn id(&self) -> &str {
        &self.user.id
    }

    pub fn community_id(&self) -> Option<&str> {
        self.user.community_id.as_deref()
    }

    pub fn is_admin(&self) -> bool {
        self.user.is_admin
    }

    pub fn has_role_in(&self, community_id: &str, role: Role) -> bool {
        match role {
            Role::Resident => true,
            Role::Admin => self.is_admin(),
            _ => self
                .grants
                .iter()
                .any(|g| g.community_id == community_id && g.role == role.as_str()),
        }
    }

    pub fn is_staff_of(&self, community_id: &str) -> bool {
        self.is_admin() || self.has_role_in(community_id, Role::Staff)
    }

    /// Whether the user belongs to the community: is a member of it (or an administrator).
    pub fn belongs_to(&self, community_id: &str) -> bool {
        self.is_admin() || self.community_id() == Some(community_id)
    }

    /// Staff of the community (or admin); 403 for its other members, 404 for outsiders, so
    /// nothing about another community leaks.
    pub fn require_staff_of(&self, community_id: &str) -> Result<(), AppError> {
        if self.is_staff_of(community_id) {
            Ok(())
        } else if self.belongs_to(community_id) {
            Err(AppError::Forbidden("only community staff may do this"))
        } else {
            Err(AppError::NotFound)
        }
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden("only an administrator may do this"))
        }
    }

    /// The grid nodes this user leads in a community.
    pub fn led_nodes<'a>(&'a self, community_id: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.grants
            .iter()
            .filter(move |g| g.community_id == community_id && g.role == Role::GridLeader.as_str())
            .map(|g| g.grid_node_id.as_str())
    }

    /// The roles shown on the user: resident, those granted in their current community, admin.
    pub fn roles(&self) -> Vec<Role> {
        roles_of(&self.user, &self.grants)
    }
}

pub fn roles_of(user: &user::Model, grants: &[role_grant::Model]) -> Vec<Role> {
    let mut roles = vec![Role::Resident];
    if let Some(community) = user.community_id.as_deref() {
        roles.extend(
            grants
                .iter()
                .filter(|g| g.community_id == community)
                .filter_map(|g| g.role.parse::<Role>().ok()),
        );
    }
    if user.is_admin {
        roles.push(Role::Admin);
    }
    roles.sort();
    roles.dedup();
    roles
}

/// Whether the login `session_id` is the user's and not revoked.
pub async fn login_is_live(
    db: &impl sea_orm::ConnectionTrait,
    user_id: &str,
    session_id: &str,
) -> Result<bool, sea_orm::DbErr> {
    use sea_orm::PaginatorTrait;
    let live = login_session::Entity::find_by_id(session_id.to_owned())
        .filter(login_session::Column::UserId.eq(user_id))
        .filter(login_session::Column::RevokedAt.is_null())
        .count(db)
        .await?;
    Ok(live > 0)
}

/// The user with their grants, if the login `session_id` is theirs and not revoked. Every
/// request pays for this, so it is one query.
async fn live_user(
    db: &impl sea_orm::ConnectionTrait,
    user_id: &str,
    session_id: &str,
) -> Result<Option<(user::Model, Vec<role_grant::Model>)>, sea_orm::DbErr> {
    let live_session = Query::select()
        .expr(Expr::val(1))
        .from(login_session::Entity)
        .and_where(login_session::Column::Id.eq(session_id))
        .and_where(login_session::Column::UserId.eq(user_id))
        .and_where(login_session::Column::RevokedAt.is_null())
        .to_owned();
    let with_grants = user::Entity::belongs_to(role_grant::Entity)
        .from(user::Column::Id)
        .to(role_grant::Column::UserId);
    let rows = user::Entity::find_by_id(user_id.to_owned())
        .filter(Expr::exists(live_session))
        .select_also(role_grant::Entity)
        .join(JoinType::LeftJoin, with_grants.into())
        .all(db)
        .await?;
    let mut rows = rows.into_iter();
    let Some((user, first)) = rows.next() else {
        return Ok(None);
    };
    let grants = first
        .into_iter()
        .chain(rows.filter_map(|(_, g)| g))
        .filter(|g| user.community_id.as_deref() == Some(g.community_id.as_str()))
        .collect();
    Ok(Some((user, grants)))
}

pub async fn grants_of(
    db: &impl sea_orm::ConnectionTrait,
    user_id: &str,
) -> Result<Vec<role_grant::Model>, sea_orm::DbErr> {
    role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(user_id))
        .all(db)
        .await
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req).map(str::to_owned);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal(anyhow::anyhow!("no state")))?;
            let token = token.ok_or(AppError::Unauthorized)?;
            let claims = state
                .jwt
                .verify(&token, state.now().timestamp())
                .ok_or(AppError::Unauthorized)?;
            let (user, grants) = live_user(&state.db, &claims.sub, &claims.sid)
                .await?
                .ok_or(AppError::Unauthorized)?;
            Ok(CurrentUser {
                user,
                session_id: claims.sid,
                grants,
            })
        })
    }
}
