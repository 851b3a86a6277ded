//! The wish lifecycle: pending_review → published → claimed → delivered → completed, and
//! rejected, withdrawn. Every step is one conditional update, so a step out of order or a
//! second simultaneous claim changes nothing and gets its 409.
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use entity::{conversation::ContextType, conversation_member::MemberRole, user, wish};
use jobs::{notify::Notify, outbox, wechat::ContentVerdict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, UpdateMany,
    sea_query::Expr,
};

use super::dto::{
    BeneficiaryView, ClaimerView, ConfirmWish, CreateWish, Decision, DeliverWish, MyRole,
    MyWishesQuery, ReviewWish, WishQuery, WishStatus, WishView,
};
use crate::{
    auth::{CurrentUser, Role},
    community::{
        service::{self as community},
        settings::WishReview,
    },
    conversations,
    db::write_txn,
    error::AppError,
    http::{Cursor, Page, mask},
    moderation::{self, Scene},
    state::{AppState, new_id},
    volunteers::hours::{self, Credit, Source},
};

const MAX_OPEN_WISHES: u64 = 3;

fn invalid_state() -> AppError {
    AppError::conflict(
        "invalid_state",
        "the wish is not in a state that allows this",
    )
}

fn statuses(list: &[WishStatus]) -> Vec<&'static str> {
    list.iter().map(|s| s.as_str()).collect()
}

// ------------------------------------------------------------------ reading

/// The wish, if the caller may see it: staff of its community see all; its members see those on
/// the wall and their own; everyone else gets 404.
async fn visible(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    id: &str,
) -> Result<wish::Model, AppError> {
    let found = wish::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if can_see(actor, &found) {
        Ok(found)
    } else {
        Err(AppError::NotFound)
    }
}

fn involved(actor: &CurrentUser, w: &wish::Model) -> bool {
    let me = Some(actor.id());
    me == Some(w.poster_id.as_str())
        || me == Some(w.beneficiary_id.as_str())
        || me == w.claimer_id.as_deref()
}

fn can_see(actor: &CurrentUser, w: &wish::Model) -> bool {
    if actor.is_staff_of(&w.community_id) {
        return true;
    }
    let member = actor.community_id() == Some(w.community_id.as_str()) || involved(actor, w);
    member
        && (statuses(&WishStatus::ON_THE_WALL).contains(&w.status.as_str()) || involved(actor, w))
}

/// The address and phone are for whoever is delivering now, and for staff.
fn sees_private(actor: &CurrentUser, w: &wish::Model) -> bool {
    let delivering = matches!(w.status.as_str(), "claimed" | "delivered");
    actor.is_staff_of(&w.community_id)
        || (delivering && w.claimer_id.as_deref() == Some(actor.id()))
}

async fn views(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    wishes: Vec<wish::Model>,
) -> Result<Vec<WishView>, AppError> {
    let ids: BTreeSet<String> = wishes
        .iter()
        .flat_map(|w| [Some(w.beneficiary_id.clone()), w.claimer_id.clone()])
        .flatten()
        .collect();
    let people: HashMap<String, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    Ok(wishes
        .into_iter()
        .map(|w| view(actor, w, &people))
        .collect())
}

fn view(actor: &CurrentUser, w: wish::Model, people: &HashMap<String, user::Model>) -> WishView {
    let private = sees_private(actor, &w);
    let beneficiary = people.get(&w.beneficiary_id);
    let claimer = w.claimer_id.as_ref().map(|id| ClaimerView {
        id: id.clone(),
        nickname: people
            .get(id)
            .map(|u| u.nickname.clone())
            .unwrap_or_default(),
        kind: w.claimer_kind.clone().unwrap_or_default(),
    });
    WishView {
        beneficiary: BeneficiaryView {
            display_name: mask::name(beneficiary.map_or("", |u| u.nickname.as_str())),
            is_self: w.poster_id == w.beneficiary_id,
        },
        claimer,
        delivery_address: beneficiary
            .filter(|_| private)
            .and_then(|u| u.address_detail.clone()),
        beneficiary_phone: beneficiary
            .filter(|_| private)
            .and_then(|u| u.phone.clone()),
        photo_urls: w
            .photo_urls
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default(),
        id: w.id,
        community_id: w.community_id,
        title: w.title,
        description: w.description,
        category: w.category,
        budget_fen: w.budget_fen,
        status: w.status,
        poster_id: w.poster_id,
        created_at: w.created_at,
        published_at: w.published_at,
        claimed_at: w.claimed_at,
        claim_expires_at: w.claim_expires_at,
        delivered_at: w.delivered_at,
        completed_at: w.completed_at,
        reject_reason: w.reject_reason,
        delivery_note: w.delivery_note,
        thanks_note: w.thanks_note,
    }
}

pub async fn get(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
) -> Result<WishView, AppError> {
    let found = visible(db, actor, id).await?;
    one_view(db, actor, found).await
}

async fn one_view(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    w: wish::Model,
) -> Result<WishView, AppError> {
    views(db, actor, vec![w])
        .await?
        .pop()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("a wish view went missing")))
}

/// The caller's community's wall, newest first.
pub async fn list(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    query: &WishQuery,
) -> Result<Page<WishView>, AppError> {
    let Some(community_id) = actor.community_id() else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let limit = query.limit.unwrap_or(20);
    let mut select = wish::Entity::find()
        .filter(wish::Column::CommunityId.eq(community_id))
        .order_by_desc(wish::Column::Id);
    if !actor.is_staff_of(community_id) {
        select = select.filter(
            Condition::any()
                .add(wish::Column::Status.is_in(statuses(&WishStatus::ON_THE_WALL)))
                .add(wish::Column::PosterId.eq(actor.id()))
                .add(wish::Column::BeneficiaryId.eq(actor.id())),
        );
    }
    if let Some(status) = query.status {
        select = select.filter(wish::Column::Status.eq(status.as_str()));
    }
    if let Some(category) = query.category {
        select = select.filter(wish::Column::Category.eq(category.as_str()));
    }
    if let Some(cursor) = query.cursor.as_deref() {
        select = select.filter(wish::Column::Id.lt(Cursor::decode(cursor)?.0));
    }
    page(db, actor, select.limit(limit + 1).all(db).await?, limit).await
}

async fn page(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    rows: Vec<wish::Model>,
    limit: u64,
) -> Result<Page<WishView>, AppError> {
    let page = Page::from_rows(rows, limit, |w| w.id.clone(), |w| w);
    Ok(Page {
        items: views(db, actor, page.items).await?,
        next_cursor: page.next_cursor,
    })
}

/// Wishes I posted or that are for me (`poster`), or that I claimed (`claimer`).
pub async fn mine(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    query: &MyWishesQuery,
) -> Result<Page<WishView>, AppError> {
    let limit = query.limit.unwrap_or(20);
    let mut select = wish::Entity::find().order_by_desc(wish::Column::Id);
    select = match query.role.unwrap_or(MyRole::Poster) {
        MyRole::Poster => select.filter(
            Condition::any()
                .add(wish::Column::PosterId.eq(actor.id()))
                .add(wish::Column::BeneficiaryId.eq(actor.id())),
        ),
        MyRole::Claimer => select.filter(wish::Column::ClaimerId.eq(actor.id())),
    };
    if let Some(cursor) = query.cursor.as_deref() {
        select = select.filter(wish::Column::Id.lt(Cursor::decode(cursor)?.0));
    }
    page(db, actor, select.limit(limit + 1).all(db).await?, limit).await
}

// ------------------------------------------------------------------ notifications

async fn notify(
    db: &impl ConnectionTrait,
    recipients: impl IntoIterator<Item = String>,
    kind: &str,
    title: String,
    body: String,
    wish_id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let recipients: BTreeSet<String> = recipients.into_iter().collect();
    if recipients.is_empty() {
        return Ok(());
    }
    let event = Notify::about(
        recipients.into_iter().collect(),
        kind,
        ("wish", wish_id),
        title,
        body,
    );
    outbox::emit(db, &event, now).await?;
    Ok(())
}

fn people_of(w: &wish::Model) -> [String; 2] {
    [w.poster_id.clone(), w.beneficiary_id.clone()]
}

// ------------------------------------------------------------------ posting

/// Who the wish is for: oneself, or a member one may post for (staff, or a grid leader of the
/// member's unit or above).
async fn beneficiary_for(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    community_id: &str,
    requested: Option<&str>,
) -> Result<user::Model, AppError> {
    let Some(id) = requested.filter(|id| *id != actor.id()) else {
        return Ok(actor.user.clone());
    };
    let member = community::member_of(db, community_id, id)
        .await
        .map_err(|_| AppError::field("beneficiary_user_id", "not_a_member"))?;
    if actor.is_staff_of(community_id)
        || community::leads_unit(db, actor, community_id, member.grid_unit_id.as_deref()).await?
    {
        return Ok(member);
    }
    Err(AppError::Forbidden(
        "only staff or the member's grid leader may post a wish for them",
    ))
}

pub async fn create(
    state: &AppState,
    actor: &CurrentUser,
    input: CreateWish,
) -> Result<WishView, AppError> {
    let community_id = actor
        .community_id()
        .ok_or_else(|| {
            AppError::conflict("not_in_community", "join a community before posting a wish")
        })?
        .to_owned();
    let settings = community::settings_of(&state.db, &community_id).await?;
    let beneficiary = beneficiary_for(
        &state.db,
        actor,
        &community_id,
        input.beneficiary_user_id.as_deref(),
    )
    .await?;
    let title = input.title.trim().to_owned();
    if title.is_empty() {
        return Err(AppError::field("title", "length"));
    }
    let description = input.description.trim().to_owned();
    let verdict = moderation::screen(
        state,
        &actor.user.openid,
        Scene::Forum,
        &format!("{title}\n{description}"),
    )
    .await?;
    let publish = settings.wish_review == WishReview::Auto && verdict == ContentVerdict::Pass;
    let now = state.now();

    let txn = write_txn(&state.db).await?;
    // Serialise posts for one beneficiary on PostgreSQL too, so the three-wish rule holds
    // under simultaneous posts (SQLite's BEGIN IMMEDIATE already serialises writers).
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        user::Entity::find_by_id(beneficiary.id.clone())
            .lock_exclusive()
            .one(&txn)
            .await?;
    }
    let open = wish::Entity::find()
        .filter(wish::Column::BeneficiaryId.eq(&beneficiary.id))
        .filter(wish::Column::Status.is_in(statuses(&WishStatus::OPEN)))
        .count(&txn)
        .await?;
    if open >= MAX_OPEN_WISHES {
        return Err(AppError::conflict(
            "too_many_open_wishes",
            "a person can have at most three open wishes",
        ));
    }
    let status = if publish {
        WishStatus::Published
    } else {
        WishStatus::PendingReview
    };
    let created = wish::ActiveModel {
        id: Set(new_id()),
        community_id: Set(community_id.clone()),
        title: Set(title.clone()),
        description: Set(description),
        category: Set(input.category.as_str().to_owned()),
        budget_fen: Set(input.budget_fen),
        status: Set(status.as_str().to_owned()),
        poster_id: Set(actor.id().to_owned()),
        beneficiary_id: Set(beneficiary.id.clone()),
        claimer_id: Set(None),
        claimer_kind: Set(None),
        created_at: Set(now),
        published_at: Set(publish.then_some(now)),
        claimed_at: Set(None),
        claim_expires_at: Set(None),
        delivered_at: Set(None),
        completed_at: Set(None),
        reject_reason: Set(None),
        delivery_note: Set(None),
        photo_urls: Set(None),
        thanks_note: Set(None),
    }
    .insert(&txn)
    .await?;
    if !publish {
        let staff = crate::community::service::staff_of(&txn, &community_id).await?;
        notify(
            &txn,
            staff,
            "wish_pending_review",
            "有新的微心愿待审核".into(),
            title,
            &created.id,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    one_view(&state.db, actor, created).await
}

// ------------------------------------------------------------------ transitions

/// Applies `change` to the wish if its status is one of `from`; false if it was not.
async fn transition(
    db: &impl ConnectionTrait,
    id: &str,
    from: &[WishStatus],
    change: impl FnOnce(UpdateMany<wish::Entity>) -> UpdateMany<wish::Entity>,
) -> Result<bool, AppError> {
    let update = wish::Entity::update_many()
        .filter(wish::Column::Id.eq(id))
        .filter(wish::Column::Status.is_in(statuses(from)));
    Ok(change(update).exec(db).await?.rows_affected == 1)
}

async fn reload(db: &impl ConnectionTrait, id: &str) -> Result<wish::Model, AppError> {
    wish::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

fn set_status(update: UpdateMany<wish::Entity>, status: WishStatus) -> UpdateMany<wish::Entity> {
    update.col_expr(wish::Column::Status, Expr::value(status.as_str()))
}

pub async fn review(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    input: ReviewWish,
    now: DateTime<Utc>,
) -> Result<WishView, AppError> {
    let found = visible(db, actor, id).await?;
    actor.require_staff_of(&found.community_id)?;
    let txn = write_txn(db).await?;
    let (moved, kind, title) = match input.decision {
        Decision::Approve => (
            transition(&txn, id, &[WishStatus::PendingReview], |u| {
                set_status(u, WishStatus::Published)
                    .col_expr(wish::Column::PublishedAt, Expr::value(Some(now)))
            })
            .await?,
            "wish_published",
            "你的微心愿已发布",
        ),
        Decision::Reject => (
            transition(&txn, id, &[WishStatus::PendingReview], |u| {
                set_status(u, WishStatus::Rejected).col_expr(
                    wish::Column::RejectReason,
                    Expr::value(input.reason.clone()),
                )
            })
            .await?,
            "wish_rejected",
            "你的微心愿未通过审核",
        ),
    };
    if !moved {
        return Err(invalid_state());
    }
    let body = input.reason.clone().unwrap_or_else(|| found.title.clone());
    notify(&txn, people_of(&found), kind, title.into(), body, id, now).await?;
    txn.commit().await?;
    one_view(db, actor, reload(db, id).await?).await
}

pub async fn claim(state: &AppState, actor: &CurrentUser, id: &str) -> Result<WishView, AppError> {
    let db = &state.db;
    let found = visible(db, actor, id).await?;
    let kind = if actor.has_role_in(&found.community_id, Role::Volunteer) {
        "volunteer"
    } else if actor.has_role_in(&found.community_id, Role::Partner) {
        "partner"
    } else {
        return Err(AppError::Forbidden(
            "only volunteers and partners may claim wishes",
        ));
    };
    if found.poster_id == actor.id() || found.beneficiary_id == actor.id() {
        return Err(AppError::ForbiddenCode {
            code: "cannot_claim_own_wish",
            message: "you cannot claim your own wish",
        });
    }
    let settings = community::settings_of(db, &found.community_id).await?;
    let now = state.now();
    let expires = now + Duration::hours(i64::from(settings.claim_ttl_hours));
    let txn = write_txn(db).await?;
    let won = transition(&txn, id, &[WishStatus::Published], |u| {
        set_status(u, WishStatus::Claimed)
            .col_expr(
                wish::Column::ClaimerId,
                Expr::value(Some(actor.id().to_owned())),
            )
            .col_expr(wish::Column::ClaimerKind, Expr::value(Some(kind)))
            .col_expr(wish::Column::ClaimedAt, Expr::value(Some(now)))
            .col_expr(wish::Column::ClaimExpiresAt, Expr::value(Some(expires)))
    })
    .await?;
    if !won {
        let current = reload(&txn, id).await?;
        return Err(if current.status == WishStatus::Claimed.as_str() {
            AppError::conflict("already_claimed", "someone else has claimed this wish")
        } else {
            invalid_state()
        });
    }
    open_conversation(&txn, &found, actor.id(), now).await?;
    let body = format!("{}认领了「{}」", actor.user.nickname, found.title);
    notify(
        &txn,
        people_of(&found),
        "wish_claimed",
        "你的微心愿有人认领了".into(),
        body,
        id,
        now,
    )
    .await?;
    txn.commit().await?;
    one_view(db, actor, reload(db, id).await?).await
}

/// The claim opens the wish's conversation: the poster, the beneficiary (when it is someone
/// else) and the claimer (a new claimer joins the one a released claim left).
async fn open_conversation(
    txn: &impl ConnectionTrait,
    w: &wish::Model,
    claimer: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let mut people = vec![(w.poster_id.as_str(), MemberRole::Poster)];
    if w.beneficiary_id != w.poster_id {
        people.push((w.beneficiary_id.as_str(), MemberRole::Beneficiary));
    }
    people.push((claimer, MemberRole::Claimer));
    let key = conversations::context::context_key(ContextType::Wish, &w.id);
    conversations::context::open(
        txn,
        &w.community_id,
        (ContextType::Wish, &w.id, key),
        &people,
        now,
    )
    .await?;
    Ok(())
}

fn require_claimer(actor: &CurrentUser, w: &wish::Model) -> Result<(), AppError> {
    if w.claimer_id.as_deref() == Some(actor.id()) {
        Ok(())
    } else {
        Err(AppError::Forbidden("only the wish's claimer may do this"))
    }
}

fn back_on_the_wall(update: UpdateMany<wish::Entity>) -> UpdateMany<wish::Entity> {
    set_status(update, WishStatus::Published)
        .col_expr(wish::Column::ClaimerId, Expr::value(Option::<String>::None))
        .col_expr(
            wish::Column::ClaimerKind,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            wish::Column::ClaimedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            wish::Column::ClaimExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
}

pub async fn release(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<WishView, AppError> {
    let found = visible(db, actor, id).await?;
    require_claimer(actor, &found)?;
    let txn = write_txn(db).await?;
    let me = actor.id().to_owned();
    let moved = transition(&txn, id, &[WishStatus::Claimed], |u| {
        back_on_the_wall(u.filter(wish::Column::ClaimerId.eq(me)))
    })
    .await?;
    if !moved {
        return Err(invalid_state());
    }
    conversations::context::remove(&txn, (ContextType::Wish, id), actor.id(), now).await?;
    notify(
        &txn,
        people_of(&found),
        "wish_released",
        "认领已取消，心愿重新上墙".into(),
        found.title.clone(),
        id,
        now,
    )
    .await?;
    txn.commit().await?;
    one_view(db, actor, reload(db, id).await?).await
}

pub async fn deliver(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    input: DeliverWish,
    now: DateTime<Utc>,
) -> Result<WishView, AppError> {
    let found = visible(db, actor, id).await?;
    require_claimer(actor, &found)?;
    let photos = input
        .photo_urls
        .map(|p| serde_json::to_string(&p).unwrap_or_default());
    let txn = write_txn(db).await?;
    let me = actor.id().to_owned();
    let moved = transition(&txn, id, &[WishStatus::Claimed], |u| {
        set_status(
            u.filter(wish::Column::ClaimerId.eq(me)),
            WishStatus::Delivered,
        )
        .col_expr(wish::Column::DeliveredAt, Expr::value(Some(now)))
        .col_expr(wish::Column::DeliveryNote, Expr::value(input.note))
        .col_expr(wish::Column::PhotoUrls, Expr::value(photos))
    })
    .await?;
    if !moved {
        return Err(invalid_state());
    }
    notify(
        &txn,
        people_of(&found),
        "wish_delivered",
        "你的微心愿已送达，请确认".into(),
        found.title.clone(),
        id,
        now,
    )
    .await?;
    txn.commit().await?;
    one_view(db, actor, reload(db, id).await?).await
}

pub async fn confirm(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    input: ConfirmWish,
    now: DateTime<Utc>,
) -> Result<WishView, AppError> {
    let found = visible(db, actor, id).await?;
    if found.claimer_id.as_deref() == Some(actor.id()) {
        return Err(AppError::Forbidden(
            "a claimer cannot confirm their own delivery",
        ));
    }
    let allowed = found.beneficiary_id == actor.id()
        || found.poster_id == actor.id()
        || actor.is_staff_of(&found.community_id);
    if !allowed {
        return Err(AppError::Forbidden(
            "only the beneficiary, the poster or staff may confirm",
        ));
    }
    let settings = community::settings_of(db, &found.community_id).await?;
    let txn = write_txn(db).await?;
    let moved = transition(&txn, id, &[WishStatus::Delivered], |u| {
        set_status(u, WishStatus::Completed)
            .col_expr(wish::Column::CompletedAt, Expr::value(Some(now)))
            .col_expr(
                wish::Column::ThanksNote,
                Expr::value(input.thanks_note.clone()),
            )
    })
    .await?;
    if !moved {
        return Err(invalid_state());
    }
    conversations::context::end(&txn, (ContextType::Wish, id), now).await?;
    if let (Some(claimer), Some("volunteer")) =
        (found.claimer_id.as_deref(), found.claimer_kind.as_deref())
    {
        hours::credit(
            &txn,
            Credit {
                user_id: claimer,
                community_id: &found.community_id,
                source: Source::Wish,
                ref_id: Some(id),
                minutes: i32::try_from(settings.wish_hours_minutes).unwrap_or(60),
                reason: None,
                created_by: None,
            },
            now,
        )
        .await?;
    }
    if let Some(claimer) = found.claimer_id.clone() {
        let body = input
            .thanks_note
            .clone()
            .unwrap_or_else(|| found.title.clone());
        notify(
            &txn,
            [claimer],
            "wish_completed",
            "对方已确认收到，谢谢你！".into(),
            body,
            id,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    one_view(db, actor, reload(db, id).await?).await
}

pub async fn withdraw(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<WishView, AppError> {
    let found = visible(db, actor, id).await?;
    if found.poster_id != actor.id() && !actor.is_staff_of(&found.community_id) {
        return Err(AppError::Forbidden(
            "only the poster or staff may withdraw a wish",
        ));
    }
    let txn = write_txn(db).await?;
    let moved = transition(
        &txn,
        id,
        &[WishStatus::PendingReview, WishStatus::Published],
        |u| set_status(u, WishStatus::Withdrawn),
    )
    .await?;
    if !moved {
        return Err(invalid_state());
    }
    // A claim released before may have left a conversation: it ends with the wish.
    conversations::context::end(&txn, (ContextType::Wish, id), now).await?;
    txn.commit().await?;
    one_view(db, actor, reload(db, id).await?).await
}

/// Claims not delivered by their deadline go back on the wall, and their claimers are told.
/// Run by the scheduler; each claim expires once, whichever instance gets there.
pub async fn expire_claims(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    let due = wish::Entity::find()
        .filter(wish::Column::Status.eq(WishStatus::Claimed.as_str()))
        .filter(wish::Column::ClaimExpiresAt.lte(now))
        .limit(200)
        .all(db)
        .await?;
    let mut expired = 0;
    for w in due {
        let txn = write_txn(db).await?;
        let moved = transition(&txn, &w.id, &[WishStatus::Claimed], |u| {
            back_on_the_wall(u.filter(wish::Column::ClaimExpiresAt.lte(now)))
        })
        .await?;
        if moved {
            if let Some(claimer) = w.claimer_id.clone() {
                conversations::context::remove(&txn, (ContextType::Wish, &w.id), &claimer, now)
                    .await?;
                notify(
                    &txn,
                    [claimer],
                    "wish_claim_expired",
                    "认领已过期，心愿重新上墙".into(),
                    w.title.clone(),
                    &w.id,
                    now,
                )
                .await?;
            }
            notify(
                &txn,
                people_of(&w),
                "wish_released",
                "认领已过期，心愿重新上墙".into(),
                w.title.clone(),
                &w.id,
                now,
            )
            .await?;
            expired += 1;
        }
        txn.commit().await?;
    }
    Ok(expired)
}
