//! Menus and reservations. A place is taken by one conditional update of the menu
//! (`reserved_count < capacity`) inside a write transaction, and a unique live key allows one
//! reservation per member and meal: the capacity holds across instances on both databases.
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entity::{care_flag, menu, reservation, user};
use jobs::{notify::Notify, outbox};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr,
    sea_query::{Expr, ExprTrait, Func},
};

use super::{
    dto::{
        CreateMenu, KitchenLine, KitchenList, KitchenTotals, MenuQuery, MenuView, Mode,
        ReservationView, Reserve,
    },
    pricing::{self, Diner},
    standing,
};
use crate::{
    auth::CurrentUser,
    community::{self, settings::CommunitySettings},
    db::write_txn,
    deliveries,
    error::AppError,
    http::{Cursor, Page, PageParams, after_pair},
    state::new_id,
};

/// Where a reservation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Member,
    StandingOrder,
    FreeMealRoster,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::Member => "self",
            Self::StandingOrder => "standing_order",
            Self::FreeMealRoster => "free_meal_roster",
        }
    }
}

/// Why a place could not be taken.
#[derive(Debug)]
pub enum Refusal {
    SoldOut,
    AlreadyReserved,
    Closed,
    DeliveryNotAvailable,
    DeliveryNotEligible,
    /// Not a refusal: something broke.
    Failed(AppError),
}

impl From<DbErr> for Refusal {
    fn from(err: DbErr) -> Self {
        Self::Failed(err.into())
    }
}

impl From<AppError> for Refusal {
    fn from(err: AppError) -> Self {
        Self::Failed(err)
    }
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::SoldOut => AppError::conflict("sold_out", "no places are left for this meal"),
            Refusal::AlreadyReserved => {
                AppError::conflict("already_reserved", "already reserved for this meal")
            }
            Refusal::Closed => AppError::conflict(
                "reservation_closed",
                "reservations for this meal have closed",
            ),
            Refusal::DeliveryNotAvailable => {
                AppError::unprocessable("delivery_not_available", "this meal is not delivered")
            }
            Refusal::DeliveryNotEligible => AppError::unprocessable(
                "delivery_not_eligible",
                "delivery is for members who live alone, the very old, and on the free-meal day",
            ),
            Refusal::Failed(err) => err,
        }
    }
}

pub async fn diner_of(db: &impl ConnectionTrait, member: &user::Model) -> Result<Diner, DbErr> {
    let care = care_flag::Entity::find_by_id(member.id.clone())
        .one(db)
        .await?;
    Ok(Diner {
        birth_date: member.birth_date,
        lives_alone: care.as_ref().is_some_and(|c| c.lives_alone),
        empty_nest: care.as_ref().is_some_and(|c| c.empty_nest),
        hardship: care.as_ref().is_some_and(|c| c.hardship),
    })
}

/// A menu of the caller's community (staff of it see theirs too); 404 otherwise.
pub(super) async fn visible(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    id: &str,
) -> Result<menu::Model, AppError> {
    menu::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .filter(|m| actor.belongs_to(&m.community_id))
        .ok_or(AppError::NotFound)
}

/// Takes a place at `meal` for `member` in the caller's transaction, with the price frozen.
pub async fn place(
    txn: &impl ConnectionTrait,
    meal: &menu::Model,
    member: &user::Model,
    mode: Mode,
    source: Source,
    settings: &CommunitySettings,
    now: DateTime<Utc>,
) -> Result<reservation::Model, Refusal> {
    if now >= meal.reserve_cutoff_at {
        return Err(Refusal::Closed);
    }
    let diner = diner_of(txn, member).await?;
    if mode == Mode::Delivery {
        let free_meal_delivery = source == Source::FreeMealRoster;
        if !meal.delivery_available && !free_meal_delivery {
            return Err(Refusal::DeliveryNotAvailable);
        }
        if !pricing::may_have_delivered(meal.date, &diner, settings) {
            return Err(Refusal::DeliveryNotEligible);
        }
    }
    let live_key = format!("{}:{}", meal.id, member.id);
    let existing = reservation::Entity::find()
        .filter(reservation::Column::LiveKey.eq(&live_key))
        .one(txn)
        .await?;
    if existing.is_some() {
        return Err(Refusal::AlreadyReserved);
    }
    let taken = menu::Entity::update_many()
        .col_expr(
            menu::Column::ReservedCount,
            Expr::col(menu::Column::ReservedCount).add(1),
        )
        .filter(menu::Column::Id.eq(&meal.id))
        .filter(Expr::col(menu::Column::ReservedCount).lt(Expr::col(menu::Column::Capacity)))
        .exec(txn)
        .await?
        .rows_affected;
    if taken == 0 {
        return Err(Refusal::SoldOut);
    }
    let price = pricing::price(meal.price_fen, meal.date, &diner, settings);
    let mut created = reservation::Model {
        id: new_id(),
        menu_id: meal.id.clone(),
        community_id: meal.community_id.clone(),
        user_id: member.id.clone(),
        date: meal.date,
        slot: meal.slot.clone(),
        mode: mode.as_str().to_owned(),
        price_fen: price.price_fen,
        subsidy_fen: price.subsidy_fen,
        payable_fen: price.payable_fen,
        free_meal: price.free_meal,
        source: source.as_str().to_owned(),
        status: "reserved".to_owned(),
        delivery_id: None,
        live_key: Some(live_key),
        created_at: now,
        cancelled_at: None,
    };
    if mode == Mode::Delivery {
        created.delivery_id = Some(deliveries::service::create_for_meal(txn, &created, now).await?);
    }
    match reservation::Entity::insert(reservation::ActiveModel::from(created.clone()))
        .exec_without_returning(txn)
        .await
    {
        Ok(_) => Ok(created),
        // A simultaneous reservation by the same member won (PostgreSQL): this one rolls back.
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(Refusal::AlreadyReserved)
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn create_menu(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    input: CreateMenu,
    now: DateTime<Utc>,
) -> Result<MenuView, AppError> {
    let community_id = actor
        .community_id()
        .ok_or_else(|| AppError::conflict("not_in_community", "join a community first"))?
        .to_owned();
    actor.require_staff_of(&community_id)?;
    if input.reserve_cutoff_at <= now {
        return Err(AppError::field("reserve_cutoff_at", "in_the_past"));
    }
    let settings = community::service::settings_of(db, &community_id).await?;
    let free_meal_day = pricing::is_free_meal_day(input.date, &settings);
    let txn = write_txn(db).await?;
    let exists = menu::Entity::find()
        .filter(menu::Column::CommunityId.eq(&community_id))
        .filter(menu::Column::Date.eq(input.date))
        .filter(menu::Column::Slot.eq(input.slot.as_str()))
        .one(&txn)
        .await?;
    if exists.is_some() {
        return Err(AppError::conflict(
            "menu_exists",
            "there is already a menu for that date and slot",
        ));
    }
    let dishes: Vec<String> = input.dishes.iter().map(|d| d.trim().to_owned()).collect();
    let created = menu::Model {
        id: new_id(),
        community_id: community_id.clone(),
        date: input.date,
        slot: input.slot.as_str().to_owned(),
        dishes: serde_json::to_string(&dishes).unwrap_or_else(|_| "[]".to_owned()),
        price_fen: input.price_fen,
        capacity: input.capacity,
        reserved_count: 0,
        reserve_cutoff_at: input.reserve_cutoff_at,
        delivery_available: input.delivery_available.unwrap_or(true),
        free_meal_day,
        roster_at: free_meal_day.then(|| {
            input.reserve_cutoff_at
                - chrono::Duration::hours(i64::from(settings.free_meal_roster_hours))
        }),
        roster_ran_at: None,
        dispatched_at: None,
        created_by: actor.id().to_owned(),
        created_at: now,
    };
    match menu::Entity::insert(menu::ActiveModel::from(created.clone()))
        .exec_without_returning(&txn)
        .await
    {
        Ok(_) => {}
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(AppError::conflict(
                "menu_exists",
                "there is already a menu for that date and slot",
            ));
        }
        Err(err) => return Err(err.into()),
    }
    // Standing orders are served before the menu is visible to anyone: same transaction.
    let served = standing::serve(&txn, &created, &settings, now).await?;
    txn.commit().await?;
    Ok(menu::Model {
        reserved_count: served,
        ..created
    }
    .into())
}

/// The community's menus from `from` to `to`, by date then slot; the cursor is the last
/// (date, slot) seen, unique in a community.
pub async fn list_menus(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    query: &MenuQuery,
) -> Result<Page<MenuView>, AppError> {
    let page = PageParams::of(query.limit, query.cursor.as_deref());
    let Some(community_id) = actor.community_id() else {
        return Ok(Page::from_rows(
            Vec::new(),
            page.limit(),
            menu_key,
            MenuView::from,
        ));
    };
    let mut select = menu::Entity::find()
        .filter(menu::Column::CommunityId.eq(community_id))
        .filter(menu::Column::Date.gte(query.from))
        .filter(menu::Column::Date.lte(query.to))
        .order_by_asc(menu::Column::Date)
        .order_by_asc(menu::Column::Slot);
    if let Some(cursor) = page.after()? {
        let [date, slot] = cursor.parts::<2>()?;
        let date: NaiveDate = Cursor::parse(date)?;
        select = select.filter(after_pair(
            menu::Column::Date,
            date,
            menu::Column::Slot,
            slot,
            false,
        ));
    }
    let rows = select.limit(page.limit() + 1).all(db).await?;
    Ok(Page::from_rows(
        rows,
        page.limit(),
        menu_key,
        MenuView::from,
    ))
}

fn menu_key(m: &menu::Model) -> String {
    Cursor::of(&[m.date.to_string().as_str(), m.slot.as_str()]).0
}

pub async fn get_menu(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
) -> Result<MenuView, AppError> {
    Ok(visible(db, actor, id).await?.into())
}

pub async fn reserve(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    menu_id: &str,
    input: Reserve,
    now: DateTime<Utc>,
) -> Result<ReservationView, AppError> {
    let found = visible(db, actor, menu_id).await?;
    if actor.community_id() != Some(found.community_id.as_str()) {
        // Staff of another community may read its menus, but one eats where one lives.
        return Err(AppError::conflict(
            "not_in_community",
            "reserve meals in your own community",
        ));
    }
    let settings = community::service::settings_of(db, &found.community_id).await?;
    let txn = write_txn(db).await?;
    let created = place(
        &txn,
        &found,
        &actor.user,
        input.mode,
        Source::Member,
        &settings,
        now,
    )
    .await?;
    txn.commit().await?;
    tracing::info!(reservation_id = %created.id, menu_id, "meal reserved");
    Ok(created.into())
}

/// A reservation its owner or the community's staff may see; 404 for anyone else.
async fn own_or_staff(
    db: &impl ConnectionTrait,
    actor: &CurrentUser,
    id: &str,
) -> Result<reservation::Model, AppError> {
    reservation::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .filter(|r| r.user_id == actor.id() || actor.is_staff_of(&r.community_id))
        .ok_or(AppError::NotFound)
}

pub async fn get_reservation(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
) -> Result<ReservationView, AppError> {
    Ok(own_or_staff(db, actor, id).await?.into())
}

/// The caller's reservations, latest meal first (then newest); the cursor is the last
/// (date, id) seen.
pub async fn my_reservations(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    page: &PageParams,
) -> Result<Page<ReservationView>, AppError> {
    let mut select = reservation::Entity::find()
        .filter(reservation::Column::UserId.eq(actor.id()))
        .order_by_desc(reservation::Column::Date)
        .order_by_desc(reservation::Column::Id);
    if let Some(cursor) = page.after()? {
        let [date, id] = cursor.parts::<2>()?;
        let date: NaiveDate = Cursor::parse(date)?;
        select = select.filter(after_pair(
            reservation::Column::Date,
            date,
            reservation::Column::Id,
            id,
            true,
        ));
    }
    let rows = select.limit(page.limit() + 1).all(db).await?;
    Ok(Page::from_rows(
        rows,
        page.limit(),
        |r| Cursor::of(&[r.date.to_string().as_str(), r.id.as_str()]).0,
        ReservationView::from,
    ))
}

/// Cancels before the cut-off: the place is freed and the delivery (if any) cancelled, its
/// volunteer told.
pub async fn cancel(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let found = own_or_staff(db, actor, id).await?;
    let meal = menu::Entity::find_by_id(found.menu_id.clone())
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if now >= meal.reserve_cutoff_at {
        return Err(Refusal::Closed.into());
    }
    let txn = write_txn(db).await?;
    let cancelled = reservation::Entity::update_many()
        .col_expr(reservation::Column::Status, Expr::value("cancelled"))
        .col_expr(
            reservation::Column::LiveKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(reservation::Column::CancelledAt, Expr::value(Some(now)))
        .filter(reservation::Column::Id.eq(id))
        .filter(reservation::Column::Status.eq("reserved"))
        .exec(&txn)
        .await?
        .rows_affected;
    if cancelled == 1 {
        menu::Entity::update_many()
            .col_expr(
                menu::Column::ReservedCount,
                Expr::col(menu::Column::ReservedCount).sub(1),
            )
            .filter(menu::Column::Id.eq(&meal.id))
            .exec(&txn)
            .await?;
        if let Some(delivery_id) = found.delivery_id.as_deref()
            && let Some(volunteer) =
                deliveries::service::cancel_for_meal(&txn, delivery_id, now).await?
        {
            let event = Notify::about(
                vec![volunteer],
                "delivery_cancelled",
                ("delivery", delivery_id),
                "送餐任务已取消",
                format!("{} {}", meal.date, meal.slot),
            );
            outbox::emit(&txn, &event, now).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// The kitchen's list: live reservations with the diner's name and dietary notes, a page at a
/// time by reservation id, and the whole meal's totals.
pub async fn kitchen_list(
    db: &DatabaseConnection,
    actor: &CurrentUser,
    menu_id: &str,
    page: &PageParams,
) -> Result<KitchenList, AppError> {
    let meal = visible(db, actor, menu_id).await?;
    actor.require_staff_of(&meal.community_id)?;
    let live = || {
        reservation::Entity::find()
            .filter(reservation::Column::MenuId.eq(menu_id))
            .filter(reservation::Column::Status.ne("cancelled"))
    };
    let mut select = live().order_by_asc(reservation::Column::Id);
    if let Some(Cursor(after)) = page.after()? {
        select = select.filter(reservation::Column::Id.gt(after));
    }
    let rows = select.limit(page.limit() + 1).all(db).await?;
    let totals = kitchen_totals(db, live()).await?;
    let diners: std::collections::HashMap<String, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(rows.iter().map(|r| r.user_id.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let lines = Page::from_rows(
        rows,
        page.limit(),
        |r| r.id.clone(),
        |r| {
            let diner = diners.get(&r.user_id);
            KitchenLine {
                display_name: diner.map(|u| u.nickname.clone()).unwrap_or_default(),
                dietary_notes: diner.and_then(|u| u.dietary_notes.clone()),
                reservation: r.into(),
            }
        },
    );
    Ok(KitchenList {
        items: lines.items,
        next_cursor: lines.next_cursor,
        totals,
    })
}

/// Places per mode and the money of a meal's live reservations, summed by the database.
async fn kitchen_totals(
    db: &DatabaseConnection,
    live: sea_orm::Select<reservation::Entity>,
) -> Result<KitchenTotals, AppError> {
    let sum = |column: reservation::Column| -> Expr { Func::sum(Expr::col(column)).into() };
    let per_mode: Vec<(String, i64, Option<i64>, Option<i64>)> = live
        .select_only()
        .column(reservation::Column::Mode)
        .column_as(
            Expr::from(Func::count(Expr::col(reservation::Column::Id))),
            "places",
        )
        .column_as(sum(reservation::Column::PayableFen), "payable_fen")
        .column_as(sum(reservation::Column::SubsidyFen), "subsidy_fen")
        .group_by(reservation::Column::Mode)
        .into_tuple()
        .all(db)
        .await?;
    let mut totals = KitchenTotals::default();
    for (mode, places, payable_fen, subsidy_fen) in per_mode {
        if mode == Mode::Delivery.as_str() {
            totals.delivery += places;
        } else {
            totals.dine_in += places;
        }
        totals.payable_fen += payable_fen.unwrap_or(0);
        totals.subsidy_fen += subsidy_fen.unwrap_or(0);
    }
    Ok(totals)
}

/// The weekday of a menu, 1 (Monday) – 7.
pub fn weekday_of(meal: &menu::Model) -> u32 {
    meal.date.weekday().number_from_monday()
}
