//! Deliveries: dispatch, the volunteer's steps and hours, reassignment, privacy, and welfare
//! alerts with their escalation.
use chrono::Duration;
use jobs::Clock;
use linli_tests::{Session, TestApp, spawn_app};
use serde_json::{Value, json};

use crate::canteen::{
    free_meal_day, id_of, menu_body, ordinary_day, publish, reserve, set_care, set_me,
};

/// The whole story through the API: a delivered lunch reserved from a phone, the cut-off, the
/// dispatch, the volunteer's steps and the hours; on the 8th nobody touches anything; a door
/// that stays closed reaches the grid leaders up the tree and the staff within seconds.
#[tokio::test]
async fn a_delivered_lunch_from_reservation_to_the_door_and_a_door_that_stays_closed() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("m7").await;
    let estate = app
        .add_grid_node(&staff, &community, "estate", "幸福小区", None)
        .await;
    let building = app
        .add_grid_node(&staff, &community, "building", "3号楼", Some(&estate))
        .await;
    let unit = app
        .add_grid_node(&staff, &community, "unit", "2单元", Some(&building))
        .await;
    let mut leaders = Vec::new();
    for (name, node) in [("m7-lead-estate", &estate), ("m7-lead-unit", &unit)] {
        let leader = app.resident_of(&community, name).await;
        app.grant(
            &staff,
            &community,
            &leader,
            "grid_leader",
            json!({"grid_node_id": node}),
        )
        .await
        .assert_status(204);
        leaders.push(name);
    }
    let day = free_meal_day(&app);
    let elder = app.resident_of(&community, "m7-elder").await;
    set_me(
        &app,
        &elder,
        json!({"grid_unit_id": unit, "birth_date": "1944-02-01", "phone": "13912345678",
               "address_detail": "3号楼2单元501"}),
    )
    .await;
    set_care(
        &app,
        &staff,
        &community,
        &elder,
        json!({"empty_nest": true, "lives_alone": true}),
    )
    .await;
    let volunteer = app.volunteer_of(&staff, &community, "m7-volunteer").await;
    app.put(
        "/volunteer/availability",
        Some(&volunteer.access_token),
        json!({"weekly": [], "dates": [day]}),
    )
    .await
    .assert_status(200);

    // The elder reserves a delivered lunch from the phone.
    let menu = id_of(&publish(&app, &staff, menu_body(&app, day, "lunch", 20)).await);
    let meal = reserve(&app, &elder, &menu, "delivery").await;
    let meal = meal.assert_status(201).clone();
    assert_eq!(meal["free_meal"], true, "the 8th: the community pays");
    let delivery = meal["delivery_id"].as_str().unwrap().to_owned();

    // The cut-off passes: the roster and the dispatch run by themselves.
    app.clock.advance(Duration::days(1) + Duration::minutes(1));
    let volunteer = app.dev_login("m7-volunteer").await;
    let path = format!("/deliveries/{delivery}");
    app.eventually(10, "the delivery to be assigned", || async {
        let read = app.get(&path, Some(&volunteer.access_token)).await;
        read.status == 200 && read.body["status"] == "assigned"
    })
    .await;
    let read = app.get(&path, Some(&volunteer.access_token)).await;
    assert_eq!(
        (
            &read.body["recipient"]["phone"],
            &read.body["recipient"]["address"]
        ),
        (&json!("13912345678"), &json!("3号楼2单元501")),
        "the assigned volunteer sees where to go"
    );
    let mine = app
        .get("/me/deliveries", Some(&volunteer.access_token))
        .await;
    assert!(mine.assert_status(200).to_string().contains(&delivery));
    let neighbour = app.resident_of(&community, "m7-neighbour").await;
    let peek = app.get(&path, Some(&neighbour.access_token)).await;
    assert!([403, 404].contains(&peek.status));

    // Accept, pick up, and nobody opens the door.
    for step in ["accept", "pickup"] {
        app.post(
            &format!("{path}/{step}"),
            Some(&volunteer.access_token),
            json!({}),
        )
        .await
        .assert_status(200);
    }
    let stranger = app
        .post(
            &format!("{path}/complete"),
            Some(&neighbour.access_token),
            json!({}),
        )
        .await;
    assert!([403, 404].contains(&stranger.status));
    app.post(
        &format!("{path}/fail"),
        Some(&volunteer.access_token),
        json!({"reason": "not_home"}),
    )
    .await
    .assert_status(200);
    for who in [leaders[0], leaders[1], "staff-of-m7"] {
        let session = app.dev_login(who).await;
        app.eventually(5, "the welfare alert to reach everyone", || async {
            app.notifications(&session)
                .await
                .iter()
                .any(|n| n["kind"] == "welfare_check")
        })
        .await;
    }
    let staff = app.dev_login("staff-of-m7").await;
    let alerts = app
        .get(
            &format!("/communities/{community}/welfare-alerts?status=open"),
            Some(&staff.access_token),
        )
        .await;
    let alert = alerts.assert_status(200)["items"][0].clone();
    assert_eq!(alert["member"]["user_id"], json!(elder.user_id));
    let unit_leader = app.dev_login("m7-lead-unit").await;
    let acknowledged = app
        .post(
            &format!("/welfare-alerts/{}/acknowledge", id_of(&alert)),
            Some(&unit_leader.access_token),
            json!({}),
        )
        .await;
    assert_eq!(acknowledged.assert_status(200)["status"], "acknowledged");
    let resolved = app
        .post(
            &format!("/welfare-alerts/{}/resolve", id_of(&alert)),
            Some(&unit_leader.access_token),
            json!({"note": "老人在楼下晒太阳，已送到"}),
        )
        .await;
    assert_eq!(resolved.assert_status(200)["status"], "resolved");

    // Another day's delivery completes and credits the volunteer's hours once.
    let next_day = day + Duration::days(1);
    app.put(
        "/volunteer/availability",
        Some(&volunteer.access_token),
        json!({"weekly": [], "dates": [next_day]}),
    )
    .await
    .assert_status(200);
    let mut body = menu_body(&app, next_day, "lunch", 20);
    body["reserve_cutoff_at"] = json!(app.clock.now() + Duration::hours(2));
    let staff = app.dev_login("staff-of-m7").await;
    let menu = id_of(&publish(&app, &staff, body).await);
    let elder = app.dev_login("m7-elder").await;
    let meal = reserve(&app, &elder, &menu, "delivery").await;
    let delivery = meal.assert_status(201)["delivery_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/canteen/menus/{menu}/dispatch"),
        Some(&staff.access_token),
        json!({}),
    )
    .await
    .assert_status(202);
    let path = format!("/deliveries/{delivery}");
    let volunteer = app.dev_login("m7-volunteer").await;
    app.eventually(10, "the staff's dispatch", || async {
        let read = app.get(&path, Some(&volunteer.access_token)).await;
        read.status == 200 && read.body["status"] == "assigned"
    })
    .await;
    for step in ["accept", "pickup", "complete"] {
        app.post(
            &format!("{path}/{step}"),
            Some(&volunteer.access_token),
            json!({}),
        )
        .await
        .assert_status(200);
    }
    app.post(
        &format!("{path}/complete"),
        Some(&volunteer.access_token),
        json!({}),
    )
    .await
    .assert_error(409, "invalid_state");
    let hours = app.volunteer_hours(&volunteer).await;
    assert_eq!(hours["total_minutes"], 30);
    let served = app
        .get(
            &format!("/canteen/reservations/{}", id_of(&meal.body)),
            Some(&elder.access_token),
        )
        .await;
    assert_eq!(served.assert_status(200)["status"], "served");
}

/// A community with two estates (a unit in each), its staff, and a lunch menu a week ahead
/// whose cut-off is two hours away.
struct Meal {
    community: String,
    staff: Session,
    units: [String; 2],
    /// Each unit's building and estate, in that order.
    above: [[String; 2]; 2],
    day: chrono::NaiveDate,
    menu: String,
}

async fn meal(app: &TestApp, name: &str) -> Meal {
    let (community, staff) = app.community_with_staff(name).await;
    let mut units = Vec::new();
    let mut above = Vec::new();
    for estate in ["东区", "西区"] {
        let e = app
            .add_grid_node(&staff, &community, "estate", estate, None)
            .await;
        let b = app
            .add_grid_node(&staff, &community, "building", "1号楼", Some(&e))
            .await;
        units.push(
            app.add_grid_node(&staff, &community, "unit", "1单元", Some(&b))
                .await,
        );
        above.push([b, e]);
    }
    let day = ordinary_day(app);
    let mut body = menu_body(app, day, "lunch", 50);
    body["reserve_cutoff_at"] = json!(app.clock.now() + Duration::hours(2));
    let menu = id_of(&publish(app, &staff, body).await);
    Meal {
        community,
        staff,
        units: [units[0].clone(), units[1].clone()],
        above: [above[0].clone(), above[1].clone()],
        day,
        menu,
    }
}

impl Meal {
    /// A volunteer living in `unit`, available on the meal's day.
    async fn volunteer(&self, app: &TestApp, openid: &str, unit: usize) -> Session {
        let who = app.volunteer_of(&self.staff, &self.community, openid).await;
        set_me(app, &who, json!({"grid_unit_id": self.units[unit]})).await;
        app.put(
            "/volunteer/availability",
            Some(&who.access_token),
            json!({"weekly": [], "dates": [self.day]}),
        )
        .await
        .assert_status(200);
        who
    }

    /// A member living alone in `unit` who reserves a delivered lunch; the delivery's id.
    async fn delivered_to(&self, app: &TestApp, openid: &str, unit: usize) -> String {
        let who = app.resident_of(&self.community, openid).await;
        set_me(
            app,
            &who,
            json!({"grid_unit_id": self.units[unit], "phone": "13700000000", "address_detail": "1号楼1单元101"}),
        )
        .await;
        set_care(
            app,
            &self.staff,
            &self.community,
            &who,
            json!({"lives_alone": true}),
        )
        .await;
        let reserved = reserve(app, &who, &self.menu, "delivery").await;
        reserved.assert_status(201)["delivery_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn dispatch(&self, app: &TestApp) {
        let staff = app
            .dev_login(&format!("staff-of-{}", self.community_name(app).await))
            .await;
        app.post(
            &format!("/canteen/menus/{}/dispatch", self.menu),
            Some(&staff.access_token),
            json!({}),
        )
        .await
        .assert_status(202);
        app.drain().await;
    }

    async fn community_name(&self, app: &TestApp) -> String {
        app.get(&format!("/communities/{}", self.community), None)
            .await
            .body["name"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The delivery as staff see it.
    async fn read(&self, app: &TestApp, delivery: &str) -> Value {
        let staff = app
            .dev_login(&format!("staff-of-{}", self.community_name(app).await))
            .await;
        app.get(
            &format!("/deliveries/{delivery}"),
            Some(&staff.access_token),
        )
        .await
        .assert_status(200)
        .clone()
    }
}

async fn step(app: &TestApp, who: &Session, delivery: &str, what: &str) -> linli_tests::Answer {
    app.post(
        &format!("/deliveries/{delivery}/{what}"),
        Some(&who.access_token),
        json!({}),
    )
    .await
}

async fn kinds_of(app: &TestApp, who: &Session) -> Vec<String> {
    app.notifications(who)
        .await
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn dispatch_is_fair_prefers_the_estate_and_keeps_to_the_cap() {
    let app = spawn_app().await;
    let m = meal(&app, "d1").await;
    app.patch(
        &format!("/communities/{}/settings", m.community),
        Some(&m.staff.access_token),
        json!({"max_deliveries_per_volunteer": 2}),
    )
    .await
    .assert_status(200);
    let east = m.volunteer(&app, "d1-v-east", 0).await;
    let west = m.volunteer(&app, "d1-v-west", 1).await;
    // Not available that day: never assigned.
    app.volunteer_of(&m.staff, &m.community, "d1-v-away").await;
    let mut deliveries = Vec::new();
    for (i, unit) in [0, 1, 0, 1, 0].into_iter().enumerate() {
        deliveries.push((m.delivered_to(&app, &format!("d1-m{i}"), unit).await, unit));
    }
    m.dispatch(&app).await;

    let mut per_volunteer = std::collections::HashMap::new();
    for (delivery, unit) in &deliveries[..4] {
        let read = m.read(&app, delivery).await;
        assert_eq!(read["status"], "assigned");
        let volunteer = read["volunteer_id"].as_str().unwrap().to_owned();
        let expected = if *unit == 0 {
            &east.user_id
        } else {
            &west.user_id
        };
        assert_eq!(&volunteer, expected, "the recipient's estate is preferred");
        *per_volunteer.entry(volunteer).or_insert(0) += 1;
    }
    assert_eq!(per_volunteer.values().copied().collect::<Vec<_>>(), [2, 2]);
    let last = m.read(&app, &deliveries[4].0).await;
    assert_eq!(
        (&last["status"], &last["volunteer_id"]),
        (&json!("pending"), &Value::Null),
        "beyond everyone's cap"
    );
    // Dispatching again does not tell staff a second time about the same delivery.
    m.dispatch(&app).await;
    let staff = app.dev_login("staff-of-d1").await;
    let told = kinds_of(&app, &staff)
        .await
        .into_iter()
        .filter(|k| k == "delivery_unassigned")
        .count();
    assert_eq!(told, 1);
    assert!(
        kinds_of(&app, &east)
            .await
            .contains(&"delivery_assigned".to_owned())
    );

    // The board shows the day; a resident may not see it.
    let board = app
        .get(
            &format!("/deliveries?date={}&limit=3", m.day),
            Some(&staff.access_token),
        )
        .await;
    let board = board.assert_status(200).clone();
    assert_eq!(board["items"].as_array().unwrap().len(), 3);
    let rest = app
        .get(
            &format!(
                "/deliveries?date={}&limit=3&cursor={}",
                m.day,
                board["next_cursor"].as_str().unwrap()
            ),
            Some(&staff.access_token),
        )
        .await;
    let rest = rest.assert_status(200);
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert_eq!(rest["next_cursor"], Value::Null);
    let pending = app
        .get(
            &format!("/deliveries?date={}&status=pending", m.day),
            Some(&staff.access_token),
        )
        .await;
    assert_eq!(
        pending.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.get("/deliveries", Some(&east.access_token))
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn a_declined_or_unanswered_assignment_goes_to_the_next_volunteer() {
    let app = spawn_app().await;
    let m = meal(&app, "d2").await;
    let mut crew = std::collections::HashMap::new();
    for name in ["d2-a", "d2-b", "d2-c"] {
        let who = m.volunteer(&app, name, 0).await;
        crew.insert(who.user_id.clone(), name);
    }
    let delivery = m.delivered_to(&app, "d2-elder", 0).await;
    m.dispatch(&app).await;
    let first = m.read(&app, &delivery).await["volunteer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_session = app.dev_login(crew[&first]).await;
    let declined = app
        .post(
            &format!("/deliveries/{delivery}/decline"),
            Some(&first_session.access_token),
            json!({"reason": "临时有事"}),
        )
        .await;
    declined.assert_status(200);
    app.drain().await;
    let second = m.read(&app, &delivery).await;
    assert_eq!(second["status"], "assigned");
    let second = second["volunteer_id"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    app.get(
        &format!("/deliveries/{delivery}"),
        Some(&first_session.access_token),
    )
    .await
    .assert_error(404, "not_found");

    // The second does not answer within `accept_timeout_minutes` (20).
    app.clock.advance(Duration::minutes(21));
    app.eventually(10, "the time-out to move it on", || async {
        let read = m.read(&app, &delivery).await;
        read["status"] == "assigned"
            && read["volunteer_id"] != json!(second)
            && read["volunteer_id"] != json!(first)
    })
    .await;
    let third = m.read(&app, &delivery).await["volunteer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let late = app.dev_login(crew[&second]).await;
    app.drain().await;
    assert!(
        kinds_of(&app, &late)
            .await
            .contains(&"delivery_timed_out".to_owned())
    );

    // The third declines too: nobody is left, and staff are told.
    let third_session = app.dev_login(crew[&third]).await;
    step(&app, &third_session, &delivery, "decline")
        .await
        .assert_status(200);
    app.drain().await;
    let read = m.read(&app, &delivery).await;
    assert_eq!(read["status"], "pending");
    let staff = app.dev_login("staff-of-d2").await;
    assert!(
        kinds_of(&app, &staff)
            .await
            .contains(&"delivery_unassigned".to_owned())
    );
}

#[tokio::test]
async fn a_repeated_dispatch_never_puts_two_volunteers_on_one_delivery() {
    let app = spawn_app().await;
    let m = meal(&app, "d3").await;
    for i in 0..5 {
        m.volunteer(&app, &format!("d3-v{i}"), i % 2).await;
    }
    let mut deliveries = Vec::new();
    for i in 0..10 {
        deliveries.push(m.delivered_to(&app, &format!("d3-m{i}"), i % 2).await);
    }
    let now = app.clock.now();
    let runs = (0..6)
        .map(|_| linli_api::deliveries::dispatch::assign_pending(&app.state.db, &m.menu, now));
    let outcomes = futures_util::future::join_all(runs).await;
    let assigned: usize = outcomes.into_iter().map(|o| o.unwrap().assigned).sum();
    assert_eq!(assigned, 10, "each delivery assigned by exactly one run");
    m.dispatch(&app).await;
    let mut per_volunteer = std::collections::HashMap::new();
    for d in &deliveries {
        let read = m.read(&app, d).await;
        assert_eq!(read["status"], "assigned");
        *per_volunteer
            .entry(read["volunteer_id"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    assert!(per_volunteer.values().all(|n| *n == 2), "{per_volunteer:?}");
    let staff = app.dev_login("staff-of-d3").await;
    let notices = app
        .notifications(&staff)
        .await
        .into_iter()
        .filter(|n| n["kind"] == "delivery_unassigned")
        .count();
    assert_eq!(notices, 0);
}

#[tokio::test]
async fn steps_out_of_order_staff_overrides_and_a_no_show() {
    let app = spawn_app().await;
    let m = meal(&app, "d4").await;
    let a = m.volunteer(&app, "d4-a", 0).await;
    let b = m.volunteer(&app, "d4-b", 1).await;
    let resident = app.resident_of(&m.community, "d4-resident").await;
    // Both of a's recipients live in a's estate; b is busy elsewhere.
    let first = m.delivered_to(&app, "d4-m1", 0).await;
    m.dispatch(&app).await;
    let read = m.read(&app, &first).await;
    let (mine, other) = if read["volunteer_id"] == json!(a.user_id) {
        (&a, &b)
    } else {
        (&b, &a)
    };
    for what in ["pickup", "complete"] {
        step(&app, mine, &first, what)
            .await
            .assert_error(409, "invalid_state");
    }
    app.post(
        &format!("/deliveries/{first}/fail"),
        Some(&mine.access_token),
        json!({"reason": "not_home"}),
    )
    .await
    .assert_error(409, "invalid_state");
    app.post(
        &format!("/deliveries/{first}/fail"),
        Some(&mine.access_token),
        json!({"reason": "lost"}),
    )
    .await
    .assert_error(422, "validation_failed");
    step(&app, other, &first, "accept")
        .await
        .assert_error(404, "not_found");
    step(&app, &m.staff, &first, "accept")
        .await
        .assert_error(403, "forbidden");
    step(&app, mine, &first, "accept").await.assert_status(200);
    step(&app, mine, &first, "accept")
        .await
        .assert_error(409, "invalid_state");

    // Staff move it by hand; only to a volunteer.
    app.post(
        &format!("/deliveries/{first}/assign"),
        Some(&m.staff.access_token),
        json!({"volunteer_id": resident.user_id}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.post(
        &format!("/deliveries/{first}/assign"),
        Some(&resident.access_token),
        json!({"volunteer_id": other.user_id}),
    )
    .await
    .assert_error(404, "not_found");
    let moved = app
        .post(
            &format!("/deliveries/{first}/assign"),
            Some(&m.staff.access_token),
            json!({"volunteer_id": other.user_id}),
        )
        .await;
    assert_eq!(
        moved.assert_status(200)["volunteer_id"],
        json!(other.user_id)
    );
    step(&app, mine, &first, "pickup")
        .await
        .assert_error(404, "not_found");

    // `other` accepts two deliveries and does not turn up: both go back, never to them.
    let second = m.delivered_to(&app, "d4-m2", 0).await;
    app.post(
        &format!("/deliveries/{second}/assign"),
        Some(&m.staff.access_token),
        json!({"volunteer_id": other.user_id}),
    )
    .await
    .assert_status(200);
    step(&app, other, &first, "accept").await.assert_status(200);
    step(&app, other, &second, "accept")
        .await
        .assert_status(200);
    let reassigned = app
        .post(
            &format!("/communities/{}/deliveries/reassign", m.community),
            Some(&m.staff.access_token),
            json!({"volunteer_id": other.user_id, "date": m.day, "slot": "lunch"}),
        )
        .await;
    assert_eq!(reassigned.assert_status(200)["reassigned"], 2);
    app.drain().await;
    for d in [&first, &second] {
        let read = m.read(&app, d).await;
        assert_eq!(
            (&read["status"], &read["volunteer_id"]),
            (&json!("assigned"), &json!(mine.user_id))
        );
    }
    app.post(
        &format!("/communities/{}/deliveries/reassign", m.community),
        Some(&resident.access_token),
        json!({"volunteer_id": other.user_id, "date": m.day, "slot": "lunch"}),
    )
    .await
    .assert_error(403, "forbidden");
}

#[tokio::test]
async fn only_the_assigned_volunteer_while_it_is_theirs_and_staff_see_the_address() {
    let app = spawn_app().await;
    let m = meal(&app, "d5").await;
    let v = m.volunteer(&app, "d5-v", 0).await;
    let delivery = m.delivered_to(&app, "d5-elder", 0).await;
    m.dispatch(&app).await;
    let path = format!("/deliveries/{delivery}");
    let seen = app.get(&path, Some(&v.access_token)).await;
    assert_eq!(
        seen.assert_status(200)["recipient"]["address"],
        "1号楼1单元101"
    );
    let mine = app.get("/me/deliveries", Some(&v.access_token)).await;
    assert_eq!(
        mine.assert_status(200)["items"][0]["recipient"]["phone"],
        "13700000000"
    );
    let staff_view = m.read(&app, &delivery).await;
    assert_eq!(staff_view["recipient"]["phone"], "13700000000");

    let elder = app.dev_login("d5-elder").await;
    app.get(&path, Some(&elder.access_token))
        .await
        .assert_error(404, "not_found");
    let (_, elsewhere) = app.community_with_staff("d5-elsewhere").await;
    app.get(&path, Some(&elsewhere.access_token))
        .await
        .assert_error(404, "not_found");

    for what in ["accept", "pickup", "complete"] {
        step(&app, &v, &delivery, what).await.assert_status(200);
    }
    let after = app.get(&path, Some(&v.access_token)).await;
    let after = after.assert_status(200);
    assert_eq!(after["status"], "delivered");
    assert!(
        after["recipient"].get("address").is_none() && after["recipient"].get("phone").is_none(),
        "finished: no longer theirs to visit"
    );
    let mine = app.get("/me/deliveries", Some(&v.access_token)).await;
    assert!(
        mine.assert_status(200)["items"][0]["recipient"]
            .get("phone")
            .is_none()
    );
}

#[tokio::test]
async fn a_welfare_alert_reaches_the_chain_and_escalates_until_acknowledged() {
    let app = spawn_app().await;
    let m = meal(&app, "d6").await;
    // Leaders: the elder's unit, building and estate (east), and the west estate.
    let mut leaders = Vec::new();
    let chain = [&m.units[0], &m.above[0][0], &m.above[0][1]];
    for (i, node) in chain.into_iter().enumerate() {
        let leader = app.resident_of(&m.community, &format!("d6-lead-{i}")).await;
        app.grant(
            &m.staff,
            &m.community,
            &leader,
            "grid_leader",
            json!({"grid_node_id": node}),
        )
        .await
        .assert_status(204);
        leaders.push(format!("d6-lead-{i}"));
    }
    let outsider = app.resident_of(&m.community, "d6-lead-west").await;
    app.grant(
        &m.staff,
        &m.community,
        &outsider,
        "grid_leader",
        json!({"grid_node_id": m.above[1][1]}),
    )
    .await
    .assert_status(204);

    let v = m.volunteer(&app, "d6-v", 0).await;
    let delivery = m.delivered_to(&app, "d6-elder", 0).await;
    m.dispatch(&app).await;
    for what in ["accept", "pickup"] {
        step(&app, &v, &delivery, what).await.assert_status(200);
    }
    app.post(
        &format!("/deliveries/{delivery}/fail"),
        Some(&v.access_token),
        json!({"reason": "not_home", "note": "敲门十分钟无人应答"}),
    )
    .await
    .assert_status(200);
    app.drain().await;
    let alerted = |openid: String| {
        let app = &app;
        async move {
            let who = app.dev_login(&openid).await;
            app.notifications(&who)
                .await
                .into_iter()
                .filter(|n| n["kind"] == "welfare_check")
                .count()
        }
    };
    for openid in leaders.iter().chain(["staff-of-d6".to_owned()].iter()) {
        assert_eq!(alerted(openid.clone()).await, 1, "{openid}");
    }
    assert_eq!(alerted("d6-lead-west".into()).await, 0, "not their subtree");
    let path = format!("/communities/{}/welfare-alerts", m.community);
    let theirs = app.get(&path, Some(&outsider.access_token)).await;
    assert!(
        theirs.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let unit_leader = app.dev_login(&leaders[0]).await;
    let listed = app
        .get(
            &format!("{path}?status=open"),
            Some(&unit_leader.access_token),
        )
        .await;
    let alert = listed.assert_status(200)["items"][0].clone();
    assert_eq!(alert["member"]["phone"], "13700000000");
    let alert_id = id_of(&alert);
    app.post(
        &format!("/welfare-alerts/{alert_id}/acknowledge"),
        Some(&outsider.access_token),
        json!({}),
    )
    .await
    .assert_error(403, "forbidden");
    app.get(&path, Some(&v.access_token))
        .await
        .assert_error(403, "forbidden");

    // Nobody acknowledges within 15 minutes: everyone is told, again each interval.
    app.clock.advance(Duration::minutes(16));
    app.eventually(10, "the escalation", || async {
        alerted("d6-lead-west".into()).await == 1
    })
    .await;
    assert_eq!(alerted(leaders[0].clone()).await, 2);
    app.clock.advance(Duration::minutes(16));
    app.eventually(10, "the second escalation", || async {
        alerted("d6-lead-west".into()).await == 2
    })
    .await;

    let building_leader = app.dev_login(&leaders[1]).await;
    let acknowledged = app
        .post(
            &format!("/welfare-alerts/{alert_id}/acknowledge"),
            Some(&building_leader.access_token),
            json!({}),
        )
        .await;
    let acknowledged = acknowledged.assert_status(200);
    assert_eq!(
        acknowledged["acknowledged_by"],
        json!(building_leader.user_id)
    );
    app.post(
        &format!("/welfare-alerts/{alert_id}/acknowledge"),
        Some(&building_leader.access_token),
        json!({}),
    )
    .await
    .assert_error(409, "invalid_state");
    app.clock.advance(Duration::minutes(16));
    app.drain().await;
    assert_eq!(
        alerted("d6-lead-west".into()).await,
        2,
        "acknowledged: no more"
    );
    let staff = app.dev_login("staff-of-d6").await;
    assert!(
        kinds_of(&app, &staff)
            .await
            .contains(&"welfare_acknowledged".to_owned())
    );

    let resolve = format!("/welfare-alerts/{alert_id}/resolve");
    app.post(&resolve, Some(&staff.access_token), json!({"note": ""}))
        .await
        .assert_error(422, "validation_failed");
    let resolved = app
        .post(
            &resolve,
            Some(&staff.access_token),
            json!({"note": "老人在邻居家，平安"}),
        )
        .await;
    assert_eq!(resolved.assert_status(200)["status"], "resolved");
    app.post(
        &resolve,
        Some(&staff.access_token),
        json!({"note": "again"}),
    )
    .await
    .assert_error(409, "invalid_state");
}
