//! Canteen benchmark: the free-meal day of a large community. `members` empty-nest elders get the
//! free meal at their door (the roster), `volunteers` volunteers are available; at the cut-off
//! the scheduler dispatches through the `dispatch` queue. Measured:
//! - the time from the cut-off to every delivery assigned, and the spread of deliveries per
//!   volunteer; beside it a minimal handler that only assigns the same number of deliveries
//!   round-robin with one update each (no availability, no fairness, no queue);
//! - the latency from a `not_home` failure to the welfare alert stored for every recipient (the
//!   unit's, building's and estate's grid leaders and the staff); beside it a minimal handler
//!   that only inserts those notifications.
//!
//! `cargo run --release -p linli-tests --bin canteen_bench -- [members] [volunteers] [alerts]`
//! On PostgreSQL: `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run …`
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The service's own allocator (see `api/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use chrono::{Datelike, NaiveDate};
use entity::{delivery, notification, welfare_alert};
use futures_util::{StreamExt, stream};
use jobs::Clock;
use linli_tests::{
    Session, TestApp,
    bench::{ms, percentile},
    spawn_app_with,
};
use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Set, sea_query::Expr,
};
use serde_json::json;

/// The next 8th at least two days ahead.
fn free_meal_day(app: &TestApp) -> NaiveDate {
    let mut day = app.clock.now().date_naive() + chrono::Duration::days(2);
    while day.day() != 8 {
        day += chrono::Duration::days(1);
    }
    day
}

struct Grid {
    /// Each unit with the leaders above it (unit, building, estate).
    units: Vec<String>,
    leaders: Vec<Session>,
}

/// 3 estates × 2 buildings × 5 units, a grid leader on every node.
async fn grid(app: &TestApp, staff: &Session, community: &str) -> Grid {
    let mut units = Vec::new();
    let mut leaders = Vec::new();
    let lead = |node: String, name: String| {
        let app = &app;
        let staff = staff.clone();
        async move {
            let leader = app.resident_of(community, &name).await;
            app.grant(
                &staff,
                community,
                &leader,
                "grid_leader",
                json!({"grid_node_id": node}),
            )
            .await
            .assert_status(204);
            leader
        }
    };
    for e in 0..3 {
        let estate = app
            .add_grid_node(staff, community, "estate", &format!("小区{e}"), None)
            .await;
        leaders.push(lead(estate.clone(), format!("lead-e{e}")).await);
        for b in 0..2 {
            let building = app
                .add_grid_node(
                    staff,
                    community,
                    "building",
                    &format!("{b}号楼"),
                    Some(&estate),
                )
                .await;
            leaders.push(lead(building.clone(), format!("lead-e{e}b{b}")).await);
            for u in 0..5 {
                let unit = app
                    .add_grid_node(
                        staff,
                        community,
                        "unit",
                        &format!("{u}单元"),
                        Some(&building),
                    )
                    .await;
                leaders.push(lead(unit.clone(), format!("lead-e{e}b{b}u{u}")).await);
                units.push(unit);
            }
        }
    }
    Grid { units, leaders }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let members: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    let volunteers: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(60);
    let alerts: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(20);
    let database = if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        "postgresql"
    } else {
        "sqlite"
    };
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_JOB_POLL_MS".into(), "10".into());
    })
    .await;
    linli_tests::wechat_accepts_everything(&app.wechat).await;
    let (community, staff) = app.community_with_staff("bench").await;
    let grid = grid(&app, &staff, &community).await;
    let day = free_meal_day(&app);
    println!(
        "canteen benchmark on {database}, {} cores: {members} empty-nest members, {volunteers} volunteers, free meal on {day}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // The members, spread over the units, and the volunteers, available that day.
    let units = &grid.units;
    let elders: Vec<Session> = stream::iter(0..members)
        .map(|i| {
            let (app, community, staff) = (&app, &community, &staff);
            async move {
                let who = app.resident_of(community, &format!("elder-{i}")).await;
                app.patch(
                    "/me",
                    Some(&who.access_token),
                    json!({"grid_unit_id": units[i % units.len()], "birth_date": "1945-05-01",
                           "phone": "13800000000", "address_detail": "1号楼101"}),
                )
                .await
                .assert_status(200);
                app.patch(
                    &format!("/communities/{community}/members/{}/care", who.user_id),
                    Some(&staff.access_token),
                    json!({"empty_nest": true}),
                )
                .await
                .assert_status(200);
                who
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    // Volunteers by user id, with the openid they log in with.
    let crew: HashMap<String, String> = stream::iter(0..volunteers)
        .map(|i| {
            let (app, community, staff) = (&app, &community, &staff);
            async move {
                let openid = format!("volunteer-{i}");
                let who = app.volunteer_of(staff, community, &openid).await;
                app.patch(
                    "/me",
                    Some(&who.access_token),
                    json!({"grid_unit_id": units[(i * 7) % units.len()]}),
                )
                .await
                .assert_status(200);
                app.put(
                    "/volunteer/availability",
                    Some(&who.access_token),
                    json!({"weekly": [], "dates": [day]}),
                )
                .await
                .assert_status(200);
                (who.user_id.clone(), openid)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(elders.len(), members);

    let cutoff_in = chrono::Duration::days(1);
    let menu = |slot: &str, cutoff: chrono::Duration| {
        json!({"date": day, "slot": slot, "dishes": ["爱心餐"], "price_fen": 1500,
               "capacity": members + 10, "reserve_cutoff_at": app.clock.now() + cutoff})
    };
    let lunch = app
        .post(
            "/canteen/menus",
            Some(&staff.access_token),
            menu("lunch", cutoff_in),
        )
        .await;
    let lunch = lunch.assert_status(201)["id"].as_str().unwrap().to_owned();
    let dinner = app
        .post(
            "/canteen/menus",
            Some(&staff.access_token),
            menu("dinner", chrono::Duration::days(3)),
        )
        .await;
    let dinner = dinner.assert_status(201)["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let roster = app
        .post(
            &format!("/canteen/menus/{lunch}/free-meal-roster"),
            Some(&staff.access_token),
            json!({}),
        )
        .await;
    println!(
        "roster: {} in {:.0} ms",
        roster.assert_status(200),
        ms(started.elapsed())
    );
    app.post(
        &format!("/canteen/menus/{dinner}/free-meal-roster"),
        Some(&staff.access_token),
        json!({}),
    )
    .await
    .assert_status(200);
    app.drain().await;

    // The cut-off passes: the scheduler dispatches by itself.
    let assigned_of = |menu_id: String| {
        let db = app.state.db.clone();
        async move {
            delivery::Entity::find()
                .filter(delivery::Column::MenuId.eq(menu_id))
                .filter(delivery::Column::Status.eq("assigned"))
                .count(&db)
                .await
                .unwrap() as usize
        }
    };
    app.clock.advance(cutoff_in + chrono::Duration::seconds(1));
    let started = Instant::now();
    while assigned_of(lunch.clone()).await < members && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let linli_dispatch = started.elapsed();
    let rows = delivery::Entity::find()
        .filter(delivery::Column::MenuId.eq(&lunch))
        .all(&app.state.db)
        .await
        .unwrap();
    let mut per_volunteer: HashMap<String, usize> = crew.keys().map(|id| (id.clone(), 0)).collect();
    for d in &rows {
        if let Some(v) = &d.volunteer_id {
            *per_volunteer.entry(v.clone()).or_default() += 1;
        }
    }
    let (least, most) = (
        per_volunteer.values().min().copied().unwrap_or(0),
        per_volunteer.values().max().copied().unwrap_or(0),
    );
    let assigned = rows.iter().filter(|d| d.status == "assigned").count();

    // The minimal handler: the same number of deliveries, round-robin, one update each.
    let pending: Vec<String> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .filter(delivery::Column::MenuId.eq(&dinner))
        .into_tuple()
        .all(&app.state.db)
        .await
        .unwrap();
    let ids: Vec<&String> = crew.keys().collect();
    let started = Instant::now();
    for (i, id) in pending.iter().enumerate() {
        delivery::Entity::update_many()
            .col_expr(delivery::Column::Status, Expr::value("assigned"))
            .col_expr(
                delivery::Column::VolunteerId,
                Expr::value(Some(ids[i % ids.len()].clone())),
            )
            .filter(delivery::Column::Id.eq(id))
            .filter(delivery::Column::Status.eq("pending"))
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    let minimal_dispatch = started.elapsed();
    println!(
        "dispatch: {assigned}/{members} assigned {:.0} ms after the cut-off (target ≤ 5,000 ms); per volunteer {least}–{most} (target: at most one apart); minimal round-robin {:.0} ms; ratio linli/minimal time {:.1}",
        ms(linli_dispatch),
        ms(minimal_dispatch),
        linli_dispatch.as_secs_f64() / minimal_dispatch.as_secs_f64().max(1e-9)
    );

    // Welfare alerts: the volunteer knocks, nobody opens.
    let staff_count = 1;
    let recipients = 3 + staff_count;
    let mut linli_latency = Vec::new();
    for d in rows
        .iter()
        .filter(|d| d.volunteer_id.is_some())
        .take(alerts)
    {
        let volunteer_id = d.volunteer_id.clone().unwrap();
        let who = app.dev_login(&crew[&volunteer_id]).await;
        for step in ["accept", "pickup"] {
            app.post(
                &format!("/deliveries/{}/{step}", d.id),
                Some(&who.access_token),
                json!({}),
            )
            .await
            .assert_status(200);
        }
        let started = Instant::now();
        app.post(
            &format!("/deliveries/{}/fail", d.id),
            Some(&who.access_token),
            json!({"reason": "not_home"}),
        )
        .await
        .assert_status(200);
        loop {
            let stored = stored_alert_notices(&app, &d.id).await;
            if stored >= recipients || started.elapsed() > Duration::from_secs(10) {
                assert!(stored >= recipients, "every recipient got the alert");
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        linli_latency.push(started.elapsed());
    }
    let mut minimal_latency = Vec::new();
    for i in 0..alerts {
        let started = Instant::now();
        for r in 0..recipients {
            notification::Entity::insert(notification::ActiveModel {
                id: Set(uuid::Uuid::now_v7().simple().to_string()),
                user_id: Set(grid.leaders[r].user_id.clone()),
                kind: Set("welfare_check".into()),
                title: Set("无人应门".into()),
                body: Set("请上门查看".into()),
                ref_type: Set(Some("welfare_alert".into())),
                ref_id: Set(Some(format!("minimal-{i}"))),
                source_event: Set(-(i as i64) * 100 - r as i64 - 1),
                wechat_status: Set("none".into()),
                created_at: Set(chrono::Utc::now()),
                read_at: Set(None),
            })
            .exec_without_returning(&app.state.db)
            .await
            .unwrap();
        }
        minimal_latency.push(started.elapsed());
    }
    let p = |v: &[Duration], q: f64| ms(percentile(v, q));
    println!(
        "welfare alert to {recipients} recipients, {alerts} alerts: linli p50 {:.1} ms, max {:.1} ms (target ≤ 1,000 ms); minimal inserts p50 {:.1} ms, max {:.1} ms",
        p(&linli_latency, 0.5),
        p(&linli_latency, 1.0),
        p(&minimal_latency, 0.5),
        p(&minimal_latency, 1.0),
    );
}

/// How many welfare-check notifications the alert of this delivery has stored.
async fn stored_alert_notices(app: &TestApp, delivery_id: &str) -> usize {
    let alert: Option<(String,)> = welfare_alert::Entity::find()
        .select_only()
        .column(welfare_alert::Column::Id)
        .filter(welfare_alert::Column::DeliveryId.eq(delivery_id))
        .into_tuple()
        .one(&app.state.db)
        .await
        .unwrap();
    let Some((alert_id,)) = alert else {
        return 0;
    };
    notification::Entity::find()
        .filter(notification::Column::Kind.eq("welfare_check"))
        .filter(notification::Column::RefId.eq(alert_id))
        .count(&app.state.db)
        .await
        .unwrap() as usize
}
