//! HTTP endpoints of communities, the grid, roles, care flags and member lists.
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    admins::{self, AdminView},
    dto::{
        CarePatch, CommunityView, CreateCommunity, CreateGridNode, GridNodeView, GridTree,
        MemberQuery, RoleBody,
    },
    service,
    settings::SettingsPatch,
    users::UserView,
};
use crate::{
    auth::{CurrentUser, Role},
    error::{AppError, ErrorEnvelope},
    http::{Json, Page, PageParams, Query},
    state::AppState,
};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_community)
        .service(list_communities)
        .service(get_community)
        .service(update_settings)
        .service(create_grid_node)
        .service(get_grid)
        .service(grant_role)
        .service(revoke_role)
        .service(set_care)
        .service(list_members)
        .service(list_admins)
        .service(remove_admin);
}

/// The installation's administrators.
#[utoipa::path(
    tag = "roles",
    params(PageParams),
    responses(
        (status = 200, body = Page<AdminView>),
        (status = 403, description = "not an administrator", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[get("/admins")]
async fn list_admins(
    state: web::Data<AppState>,
    user: CurrentUser,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    user.require_admin()?;
    let found = admins::list(&state.db, page.limit(), page.after()?).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Take admin away from an administrator; never from the last one.
#[utoipa::path(
    tag = "roles",
    params(("user_id" = String, Path)),
    responses(
        (status = 204, description = "no longer an administrator"),
        (status = 403, description = "not an administrator", body = ErrorEnvelope),
        (status = 404, description = "no such user", body = ErrorEnvelope),
        (status = 409, description = "`last_admin`", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[delete("/admins/{user_id}")]
async fn remove_admin(
    state: web::Data<AppState>,
    user: CurrentUser,
    user_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_admin()?;
    admins::remove(&state.db, &user_id).await?;
    // What their sockets were sent under admin ends now; the phone reconnects afresh.
    crate::live::close_users(&state, vec![user_id.into_inner()]);
    Ok(HttpResponse::NoContent().finish())
}

/// Create a community.
#[utoipa::path(
    tag = "communities",
    request_body = CreateCommunity,
    responses(
        (status = 201, body = CommunityView),
        (status = 403, description = "not an administrator", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/communities")]
async fn create_community(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<CreateCommunity>,
) -> Result<HttpResponse, AppError> {
    user.require_admin()?;
    let community = service::create(&state.db, body.0, state.now()).await?;
    Ok(HttpResponse::Created().json(CommunityView::from(community)))
}

/// List communities (public).
#[utoipa::path(tag = "communities", params(PageParams), responses((status = 200, body = Page<CommunityView>)))]
#[get("/communities")]
async fn list_communities(
    state: web::Data<AppState>,
    page: Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    let found = service::list(&state.db, page.limit(), page.after()?).await?;
    Ok(HttpResponse::Ok().json(Page {
        items: found
            .items
            .into_iter()
            .map(CommunityView::from)
            .collect::<Vec<_>>(),
        next_cursor: found.next_cursor,
    }))
}

/// One community (public).
#[utoipa::path(
    tag = "communities",
    params(("id" = String, Path, description = "community id")),
    responses((status = 200, body = CommunityView), (status = 404, body = ErrorEnvelope))
)]
#[get("/communities/{id}")]
async fn get_community(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let community = service::find(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(CommunityView::from(community)))
}

/// Change the community's rules; only the settings named change.
#[utoipa::path(
    tag = "communities",
    params(("id" = String, Path, description = "community id")),
    request_body = SettingsPatch,
    responses(
        (status = 200, body = CommunityView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[patch("/communities/{id}/settings")]
async fn update_settings(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    body: Json<SettingsPatch>,
) -> Result<HttpResponse, AppError> {
    service::find(&state.db, &id).await?;
    user.require_staff_of(&id)?;
    let community = service::update_settings(&state.db, &id, body.0, state.now()).await?;
    Ok(HttpResponse::Ok().json(CommunityView::from(community)))
}

/// Add an estate, building or unit to the grid.
#[utoipa::path(
    tag = "grid",
    params(("id" = String, Path, description = "community id")),
    request_body = CreateGridNode,
    responses(
        (status = 201, body = GridNodeView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[post("/communities/{id}/grid")]
async fn create_grid_node(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    body: Json<CreateGridNode>,
) -> Result<HttpResponse, AppError> {
    service::find(&state.db, &id).await?;
    user.require_staff_of(&id)?;
    let node = service::create_grid_node(&state.db, &id, body.0, state.now()).await?;
    Ok(HttpResponse::Created().json(GridNodeView::from(node)))
}

/// The grid as a tree: estates, their buildings, their units.
#[utoipa::path(
    tag = "grid",
    params(("id" = String, Path, description = "community id")),
    responses((status = 200, body = Vec<GridTree>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = []))
)]
#[get("/communities/{id}/grid")]
async fn get_grid(
    state: web::Data<AppState>,
    _user: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    service::find(&state.db, &id).await?;
    Ok(HttpResponse::Ok().json(service::grid_tree(&state.db, &id).await?))
}

fn parse_role(raw: &str) -> Result<Role, AppError> {
    raw.parse().map_err(|()| AppError::NotFound)
}

/// Grant a role: admin grants `staff`; staff grant `grid_leader` (with `grid_node_id`) and `partner`.
#[utoipa::path(
    tag = "roles",
    params(
        ("id" = String, Path, description = "community id"),
        ("user_id" = String, Path),
        ("role" = Role, Path),
    ),
    request_body(content = RoleBody, description = "may be empty"),
    responses(
        (status = 204, description = "granted"),
        (status = 403, body = ErrorEnvelope),
        (status = 404, description = "no such community, member or role", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[put("/communities/{id}/members/{user_id}/roles/{role}")]
async fn grant_role(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String, String)>,
    body: Json<RoleBody>,
) -> Result<HttpResponse, AppError> {
    let (community_id, user_id, role) = path.into_inner();
    let role = parse_role(&role)?;
    service::grant_role(
        &state.db,
        &user,
        &community_id,
        &user_id,
        role,
        body.0.grid_node_id,
        state.now(),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Take a role back (a `grid_node_id` narrows a grid leader's revocation to that node).
#[utoipa::path(
    tag = "roles",
    params(
        ("id" = String, Path, description = "community id"),
        ("user_id" = String, Path),
        ("role" = Role, Path),
    ),
    request_body(content = RoleBody, description = "may be empty"),
    responses(
        (status = 204, description = "revoked"),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[delete("/communities/{id}/members/{user_id}/roles/{role}")]
async fn revoke_role(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String, String)>,
    body: Json<RoleBody>,
) -> Result<HttpResponse, AppError> {
    let (community_id, user_id, role) = path.into_inner();
    let role = parse_role(&role)?;
    service::revoke_role(
        &state.db,
        &user,
        &community_id,
        &user_id,
        role,
        body.0.grid_node_id,
    )
    .await?;
    // A role taken away ends the access its sockets had: they reconnect with what is left.
    crate::live::close_users(&state, vec![user_id]);
    Ok(HttpResponse::NoContent().finish())
}

/// Set a member's care flags (staff, or a grid leader of the member's unit or above).
#[utoipa::path(
    tag = "members",
    params(("id" = String, Path, description = "community id"), ("user_id" = String, Path)),
    request_body = CarePatch,
    responses(
        (status = 200, body = UserView),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[patch("/communities/{id}/members/{user_id}/care")]
async fn set_care(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
    body: Json<CarePatch>,
) -> Result<HttpResponse, AppError> {
    let (community_id, user_id) = path.into_inner();
    let view = service::set_care(
        &state.db,
        &user,
        &community_id,
        &user_id,
        body.0,
        state.now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The community's members, by role or by name or phone (staff).
#[utoipa::path(
    tag = "members",
    params(("id" = String, Path, description = "community id"), MemberQuery),
    responses(
        (status = 200, body = Page<UserView>),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[get("/communities/{id}/members")]
async fn list_members(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    query: Query<MemberQuery>,
) -> Result<HttpResponse, AppError> {
    service::find(&state.db, &id).await?;
    user.require_staff_of(&id)?;
    let page = service::members(&state.db, &id, &query, state.now()).await?;
    Ok(HttpResponse::Ok().json(page))
}
