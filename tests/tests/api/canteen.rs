//! Canteen: menus, reservations and their prices, capacity under a rush, standing orders, the
//! free-meal roster, the kitchen's list and the monthly report.
use chrono::{Datelike, Duration, NaiveDate};
use jobs::Clock;
use linli_tests::{Session, TestApp, spawn_app};
use serde_json::{Value, json};

/// A day a week or so ahead that is not the 8th (not a free-meal day).
pub(crate) fn ordinary_day(app: &TestApp) -> NaiveDate {
    let mut day = app.clock.now().date_naive() + Duration::days(7);
    if day.day() == 8 {
        day += Duration::days(1);
    }
    day
}

/// The next 8th at least two days ahead.
pub(crate) fn free_meal_day(app: &TestApp) -> NaiveDate {
    let mut day = app.clock.now().date_naive() + Duration::days(2);
    while day.day() != 8 {
        day += Duration::days(1);
    }
    day
}

pub(crate) fn menu_body(app: &TestApp, date: NaiveDate, slot: &str, capacity: i64) -> Value {
    json!({
        "date": date, "slot": slot, "dishes": ["红烧肉", "清炒时蔬", "米饭"],
        "price_fen": 1400, "capacity": capacity,
        "reserve_cutoff_at": app.clock.now() + Duration::days(1),
    })
}

pub(crate) async fn publish(app: &TestApp, staff: &Session, body: Value) -> Value {
    app.post("/canteen/menus", Some(&staff.access_token), body)
        .await
        .assert_status(201)
        .clone()
}

pub(crate) async fn reserve(
    app: &TestApp,
    who: &Session,
    menu: &str,
    mode: &str,
) -> linli_tests::Answer {
    app.post(
        &format!("/canteen/menus/{menu}/reservations"),
        Some(&who.access_token),
        json!({"mode": mode}),
    )
    .await
}

pub(crate) async fn set_me(app: &TestApp, who: &Session, body: Value) {
    app.patch("/me", Some(&who.access_token), body)
        .await
        .assert_status(200);
}

pub(crate) async fn set_care(
    app: &TestApp,
    staff: &Session,
    community: &str,
    who: &Session,
    care: Value,
) {
    app.patch(
        &format!("/communities/{community}/members/{}/care", who.user_id),
        Some(&staff.access_token),
        care,
    )
    .await
    .assert_status(200);
}

pub(crate) fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_elder_reserves_lunch_with_the_subsidy_and_cancels_before_the_cutoff() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("m1").await;
    let day = ordinary_day(&app);
    let menu = publish(&app, &staff, menu_body(&app, day, "lunch", 30)).await;
    assert_eq!(
        (
            &menu["remaining"],
            &menu["free_meal_day"],
            &menu["delivery_available"]
        ),
        (&json!(30), &json!(false), &json!(true))
    );
    let menu_id = id_of(&menu);
    app.post(
        "/canteen/menus",
        Some(&staff.access_token),
        menu_body(&app, day, "lunch", 10),
    )
    .await
    .assert_error(409, "menu_exists");
    for bad in [
        json!({"price_fen": 10001}),
        json!({"dishes": []}),
        json!({"capacity": 0}),
        json!({"slot": "breakfast"}),
        json!({"date": "2026-02-30"}),
        json!({"reserve_cutoff_at": "2020-01-01T00:00:00Z"}),
    ] {
        let mut body = menu_body(&app, day + Duration::days(1), "dinner", 10);
        for (k, v) in bad.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = app
            .post("/canteen/menus", Some(&staff.access_token), body)
            .await;
        assert!(
            [400, 422].contains(&answer.status),
            "{bad}: {}",
            answer.status
        );
    }

    let elder = app.resident_of(&community, "m1-elder").await;
    set_me(
        &app,
        &elder,
        json!({"birth_date": "1950-03-01", "dietary_notes": "少盐"}),
    )
    .await;
    app.post(
        "/canteen/menus",
        Some(&elder.access_token),
        menu_body(&app, day, "dinner", 10),
    )
    .await
    .assert_error(403, "forbidden");
    let listed = app
        .get(
            &format!("/canteen/menus?from={day}&to={day}"),
            Some(&elder.access_token),
        )
        .await;
    assert_eq!(listed.assert_status(200)["items"][0]["id"], json!(menu_id));
    app.get(
        &format!("/canteen/menus?from={day}&to={}", day - Duration::days(1)),
        Some(&elder.access_token),
    )
    .await
    .assert_error(422, "validation_failed");

    let reserved = reserve(&app, &elder, &menu_id, "dine_in").await;
    let reserved = reserved.assert_status(201).clone();
    assert_eq!(
        (
            &reserved["price_fen"],
            &reserved["subsidy_fen"],
            &reserved["payable_fen"],
            &reserved["status"]
        ),
        (&json!(1400), &json!(400), &json!(1000), &json!("reserved"))
    );
    reserve(&app, &elder, &menu_id, "dine_in")
        .await
        .assert_error(409, "already_reserved");
    reserve(&app, &elder, &menu_id, "delivery")
        .await
        .assert_error(422, "delivery_not_eligible");
    app.post(
        &format!("/canteen/menus/{menu_id}/reservations"),
        Some(&elder.access_token),
        json!({"mode": "takeaway"}),
    )
    .await
    .assert_error(422, "validation_failed");

    // A change of settings later does not change a frozen price.
    app.patch(
        &format!("/communities/{community}/settings"),
        Some(&staff.access_token),
        json!({"elder_subsidy_fen": 800}),
    )
    .await
    .assert_status(200);
    let read = app
        .get(
            &format!("/canteen/reservations/{}", id_of(&reserved)),
            Some(&elder.access_token),
        )
        .await;
    assert_eq!(read.assert_status(200)["subsidy_fen"], 400);

    // The kitchen's list: names, dietary notes and totals, for staff only.
    let young = app.resident_of(&community, "m1-young").await;
    reserve(&app, &young, &menu_id, "dine_in")
        .await
        .assert_status(201);
    let kitchen = app
        .get(
            &format!("/canteen/menus/{menu_id}/reservations"),
            Some(&staff.access_token),
        )
        .await;
    let kitchen = kitchen.assert_status(200).clone();
    assert_eq!(kitchen["items"].as_array().unwrap().len(), 2);
    assert_eq!(kitchen["items"][0]["dietary_notes"], "少盐");
    assert_eq!(
        kitchen["totals"],
        json!({"dine_in": 2, "delivery": 0, "payable_fen": 2400, "subsidy_fen": 400})
    );
    app.get(
        &format!("/canteen/menus/{menu_id}/reservations"),
        Some(&young.access_token),
    )
    .await
    .assert_error(403, "forbidden");
    app.get(
        &format!("/canteen/reservations/{}", id_of(&reserved)),
        Some(&young.access_token),
    )
    .await
    .assert_error(404, "not_found");

    // Another community sees nothing.
    let (_, other_staff) = app.community_with_staff("m1-other").await;
    app.get(
        &format!("/canteen/menus/{menu_id}"),
        Some(&other_staff.access_token),
    )
    .await
    .assert_error(404, "not_found");
    app.delete(
        &format!("/canteen/reservations/{}", id_of(&reserved)),
        Some(&other_staff.access_token),
    )
    .await
    .assert_error(404, "not_found");

    // Cancelled before the cut-off: the place is free again, and the kitchen no longer counts it.
    app.delete(
        &format!("/canteen/reservations/{}", id_of(&reserved)),
        Some(&elder.access_token),
    )
    .await
    .assert_status(204);
    let read = app
        .get(
            &format!("/canteen/menus/{menu_id}"),
            Some(&elder.access_token),
        )
        .await;
    assert_eq!(read.assert_status(200)["remaining"], 29);
    let mine = app.get("/me/reservations", Some(&elder.access_token)).await;
    assert_eq!(mine.assert_status(200)["items"][0]["status"], "cancelled");

    // After the cut-off nothing is reserved or cancelled.
    app.clock.advance(Duration::days(1) + Duration::minutes(1));
    let elder = app.dev_login("m1-elder").await;
    let young = app.dev_login("m1-young").await;
    reserve(&app, &elder, &menu_id, "dine_in")
        .await
        .assert_error(409, "reservation_closed");
    let theirs = app.get("/me/reservations", Some(&young.access_token)).await;
    let theirs = id_of(&theirs.assert_status(200)["items"][0]);
    app.delete(
        &format!("/canteen/reservations/{theirs}"),
        Some(&young.access_token),
    )
    .await
    .assert_error(409, "reservation_closed");
}

#[tokio::test]
async fn forty_simultaneous_reservations_on_ten_places_leave_exactly_ten() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("m2").await;
    let menu = publish(
        &app,
        &staff,
        menu_body(&app, ordinary_day(&app), "lunch", 10),
    )
    .await;
    let menu_id = id_of(&menu);
    let mut people = Vec::new();
    for i in 0..40 {
        people.push(app.resident_of(&community, &format!("m2-{i}")).await);
    }
    let answers = futures_util::future::join_all(
        people
            .iter()
            .map(|who| reserve(&app, who, &menu_id, "dine_in")),
    )
    .await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    let sold_out = answers
        .iter()
        .filter(|a| a.status == 409 && a.body["error"]["code"] == "sold_out")
        .count();
    assert_eq!((created, sold_out), (10, 30));
    let read = app
        .get(
            &format!("/canteen/menus/{menu_id}"),
            Some(&staff.access_token),
        )
        .await;
    assert_eq!(
        (&read.body["reserved_count"], &read.body["remaining"]),
        (&json!(10), &json!(0))
    );
    let kitchen = app
        .get(
            &format!("/canteen/menus/{menu_id}/reservations"),
            Some(&staff.access_token),
        )
        .await;
    assert_eq!(
        kitchen.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}

#[tokio::test]
async fn delivery_goes_to_those_who_may_have_it() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("m3").await;
    let day = ordinary_day(&app);
    let delivered = id_of(&publish(&app, &staff, menu_body(&app, day, "lunch", 10)).await);
    let mut no_delivery = menu_body(&app, day, "dinner", 10);
    no_delivery["delivery_available"] = json!(false);
    let no_delivery = id_of(&publish(&app, &staff, no_delivery).await);

    let alone = app.resident_of(&community, "m3-alone").await;
    set_care(
        &app,
        &staff,
        &community,
        &alone,
        json!({"lives_alone": true}),
    )
    .await;
    let very_old = app.resident_of(&community, "m3-old").await;
    set_me(&app, &very_old, json!({"birth_date": "1940-01-01"})).await;
    let hardship = app.resident_of(&community, "m3-hardship").await;
    set_care(
        &app,
        &staff,
        &community,
        &hardship,
        json!({"hardship": true}),
    )
    .await;

    let meal = reserve(&app, &alone, &delivered, "delivery").await;
    let meal = meal.assert_status(201).clone();
    assert!(
        meal["delivery_id"].is_string(),
        "a delivery waits for a volunteer"
    );
    assert_eq!(
        meal["payable_fen"], 1400,
        "delivery is free, the meal is not"
    );
    let old_meal = reserve(&app, &very_old, &delivered, "delivery").await;
    assert_eq!(old_meal.assert_status(201)["subsidy_fen"], 400);
    reserve(&app, &hardship, &delivered, "delivery")
        .await
        .assert_error(422, "delivery_not_eligible");
    let hardship_meal = reserve(&app, &hardship, &delivered, "dine_in").await;
    assert_eq!(hardship_meal.assert_status(201)["payable_fen"], 0);
    reserve(&app, &alone, &no_delivery, "delivery")
        .await
        .assert_error(422, "delivery_not_available");

    let kitchen = app
        .get(
            &format!("/canteen/menus/{delivered}/reservations"),
            Some(&staff.access_token),
        )
        .await;
    assert_eq!(
        kitchen.assert_status(200)["totals"],
        json!({"dine_in": 1, "delivery": 2, "payable_fen": 2400, "subsidy_fen": 400})
    );
    // Cancelling the meal cancels its delivery.
    app.delete(
        &format!("/canteen/reservations/{}", id_of(&meal)),
        Some(&staff.access_token),
    )
    .await
    .assert_status(204);
    let read = app
        .get(
            &format!("/canteen/reservations/{}", id_of(&meal)),
            Some(&alone.access_token),
        )
        .await;
    assert_eq!(read.assert_status(200)["status"], "cancelled");
}

#[tokio::test]
async fn standing_orders_are_served_first_and_skipped_while_paused() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("m4").await;
    let day = ordinary_day(&app);
    let weekday = day.weekday().number_from_monday();

    let regular = app.resident_of(&community, "m4-regular").await;
    let away = app.resident_of(&community, "m4-away").await;
    let late = app.resident_of(&community, "m4-late").await;
    let walk_in = app.resident_of(&community, "m4-walk-in").await;
    let item = json!([{"weekday": weekday, "slot": "lunch", "mode": "dine_in"}]);
    let saved = app
        .put(
            "/me/standing-order",
            Some(&regular.access_token),
            json!({"items": item}),
        )
        .await;
    assert_eq!(saved.assert_status(200)["items"], item);
    app.put(
        "/me/standing-order",
        Some(&away.access_token),
        json!({"items": item, "paused_from": day - Duration::days(1), "paused_until": day}),
    )
    .await
    .assert_status(200);
    // Staff say it for an elder who does not use the phone.
    app.put(
        &format!(
            "/communities/{community}/members/{}/standing-order",
            late.user_id
        ),
        Some(&staff.access_token),
        json!({"items": item}),
    )
    .await
    .assert_status(200);
    app.put(
        &format!(
            "/communities/{community}/members/{}/standing-order",
            late.user_id
        ),
        Some(&walk_in.access_token),
        json!({"items": item}),
    )
    .await
    .assert_error(403, "forbidden");
    for bad in [
        json!({"items": [{"weekday": 8, "slot": "lunch", "mode": "dine_in"}]}),
        json!({"items": [{"weekday": 1, "slot": "lunch", "mode": "dine_in"}, {"weekday": 1, "slot": "lunch", "mode": "delivery"}]}),
        json!({"items": [], "paused_from": "2026-12-10", "paused_until": "2026-12-01"}),
    ] {
        app.put("/me/standing-order", Some(&walk_in.access_token), bad)
            .await
            .assert_error(422, "validation_failed");
    }
    app.get("/me/standing-order", Some(&walk_in.access_token))
        .await
        .assert_error(404, "not_found");

    // One place: the older standing order gets it; the other is told; nobody else can reserve.
    let menu = publish(&app, &staff, menu_body(&app, day, "lunch", 1)).await;
    assert_eq!(menu["remaining"], 0);
    let menu_id = id_of(&menu);
    let mine = app
        .get("/me/reservations", Some(&regular.access_token))
        .await;
    assert_eq!(
        mine.assert_status(200)["items"][0]["menu_id"],
        json!(menu_id)
    );
    let away_has = app.get("/me/reservations", Some(&away.access_token)).await;
    assert!(
        away_has.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    reserve(&app, &walk_in, &menu_id, "dine_in")
        .await
        .assert_error(409, "sold_out");
    app.drain().await;
    let told: Vec<_> = app
        .notifications(&late)
        .await
        .into_iter()
        .filter(|n| n["kind"] == "standing_order_skipped")
        .collect();
    assert_eq!(told.len(), 1);
    assert!(
        app.notifications(&away)
            .await
            .iter()
            .all(|n| n["kind"] != "standing_order_skipped"),
        "a paused order is not a skipped one"
    );

    // Without a standing order, nothing happens for the member; deleting one works.
    app.delete("/me/standing-order", Some(&regular.access_token))
        .await
        .assert_status(204);
    let dinner = publish(&app, &staff, menu_body(&app, day, "dinner", 5)).await;
    assert_eq!(dinner["reserved_count"], 0);
}

#[tokio::test]
async fn the_free_meal_roster_reserves_once_and_runs_by_itself() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("m5").await;
    let day = free_meal_day(&app);
    let mut people = Vec::new();
    for (name, care) in [
        ("m5-nest-a", json!({"empty_nest": true})),
        ("m5-nest-b", json!({"empty_nest": true})),
        ("m5-hardship", json!({"hardship": true})),
        ("m5-other", json!({"lives_alone": true})),
    ] {
        let who = app.resident_of(&community, name).await;
        set_care(&app, &staff, &community, &who, care).await;
        people.push(who);
    }
    let lunch = publish(&app, &staff, menu_body(&app, day, "lunch", 2)).await;
    assert_eq!(lunch["free_meal_day"], true);
    let lunch_id = id_of(&lunch);
    let ordinary = publish(
        &app,
        &staff,
        menu_body(&app, ordinary_day(&app), "lunch", 5),
    )
    .await;
    app.post(
        &format!("/canteen/menus/{}/free-meal-roster", id_of(&ordinary)),
        Some(&staff.access_token),
        json!({}),
    )
    .await
    .assert_error(409, "not_free_meal_day");
    app.post(
        &format!("/canteen/menus/{lunch_id}/free-meal-roster"),
        Some(&people[0].access_token),
        json!({}),
    )
    .await
    .assert_error(403, "forbidden");

    let roster = format!("/canteen/menus/{lunch_id}/free-meal-roster");
    let first = app
        .post(&roster, Some(&staff.access_token), json!({}))
        .await;
    assert_eq!(
        first.assert_status(200),
        &json!({"created": 2, "existing": 0, "skipped_no_capacity": 1})
    );
    let again = app
        .post(&roster, Some(&staff.access_token), json!({}))
        .await;
    assert_eq!(
        again.assert_status(200),
        &json!({"created": 0, "existing": 2, "skipped_no_capacity": 1})
    );
    let meal = app
        .get("/me/reservations", Some(&people[0].access_token))
        .await;
    let meal = meal.assert_status(200)["items"][0].clone();
    assert_eq!(
        (
            &meal["mode"],
            &meal["payable_fen"],
            &meal["subsidy_fen"],
            &meal["free_meal"]
        ),
        (&json!("delivery"), &json!(0), &json!(0), &json!(true))
    );

    // The dinner's roster runs by itself `free_meal_roster_hours` (3) before the cut-off.
    let dinner = publish(&app, &staff, menu_body(&app, day, "dinner", 10)).await;
    let dinner_id = id_of(&dinner);
    app.clock
        .advance(Duration::hours(21) + Duration::minutes(1));
    let staff = app.dev_login("staff-of-m5").await;
    app.eventually(10, "the roster to run by itself", || async {
        let read = app
            .get(
                &format!("/canteen/menus/{dinner_id}"),
                Some(&staff.access_token),
            )
            .await;
        read.body["reserved_count"] == 3
    })
    .await;
    app.drain().await;
    let kinds: Vec<_> = app
        .notifications(&staff)
        .await
        .into_iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"free_meal_roster".to_owned()), "{kinds:?}");
    let other = app.dev_login("m5-other").await;
    let theirs = app.get("/me/reservations", Some(&other.access_token)).await;
    assert!(
        theirs.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "living alone is not on the free-meal roster"
    );
}

#[tokio::test]
async fn the_monthly_report_in_json_and_csv() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("m6").await;
    let day = ordinary_day(&app);
    let menu = id_of(&publish(&app, &staff, menu_body(&app, day, "lunch", 10)).await);
    let elder = app.resident_of(&community, "m6-elder").await;
    set_me(&app, &elder, json!({"birth_date": "1950-01-01"})).await;
    set_care(
        &app,
        &staff,
        &community,
        &elder,
        json!({"lives_alone": true}),
    )
    .await;
    let young = app.resident_of(&community, "m6-young").await;
    reserve(&app, &elder, &menu, "delivery")
        .await
        .assert_status(201);
    let cancelled = reserve(&app, &young, &menu, "dine_in").await;
    let cancelled = id_of(cancelled.assert_status(201));
    app.delete(
        &format!("/canteen/reservations/{cancelled}"),
        Some(&young.access_token),
    )
    .await
    .assert_status(204);
    reserve(&app, &young, &menu, "dine_in")
        .await
        .assert_status(201);

    let month = format!("{:04}-{:02}", day.year(), day.month());
    let path = format!("/canteen/reports/monthly?month={month}");
    let report = app.get(&path, Some(&staff.access_token)).await;
    let report = report.assert_status(200).clone();
    assert_eq!(
        report["rows"],
        json!([{"date": day, "slot": "lunch", "dine_in": 1, "delivered": 1, "free_meals": 0,
                "payable_fen": 2400, "subsidy_fen": 400}])
    );
    assert_eq!(report["totals"]["payable_fen"], 2400);

    let csv = app
        .http
        .get(app.url(&path))
        .bearer_auth(&staff.access_token)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    assert_eq!(
        text,
        format!(
            "date,slot,dine_in,delivered,free_meals,payable_fen,subsidy_fen\n{day},lunch,1,1,0,2400,400\ntotal,,1,1,0,2400,400\n"
        )
    );

    app.get(&path, Some(&young.access_token))
        .await
        .assert_error(403, "forbidden");
    app.get(
        "/canteen/reports/monthly?month=2026-13",
        Some(&staff.access_token),
    )
    .await
    .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn an_idempotency_key_replays_a_reservation_and_an_enrolment() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("m8").await;
    let menu = id_of(
        &publish(
            &app,
            &staff,
            menu_body(&app, ordinary_day(&app), "lunch", 5),
        )
        .await,
    );
    let elder = app.resident_of(&community, "m8-elder").await;
    let send = |path: String, key: &'static str| {
        app.http
            .post(app.url(&path))
            .bearer_auth(&elder.access_token)
            .header("idempotency-key", key)
            .json(&json!({"mode": "dine_in"}))
    };
    let path = format!("/canteen/menus/{menu}/reservations");
    let first = app.send(send(path.clone(), "meal-1")).await;
    first.assert_status(201);
    let again = app.send(send(path, "meal-1")).await;
    assert_eq!((again.status, &again.body), (201, &first.body));
    let read = app
        .get(&format!("/canteen/menus/{menu}"), Some(&elder.access_token))
        .await;
    assert_eq!(read.assert_status(200)["reserved_count"], 1);

    let now = app.clock.now();
    let course = app
        .post(
            "/courses",
            Some(&staff.access_token),
            json!({"title": "书法", "category": "calligraphy", "capacity": 3,
                   "registration_opens_at": now - Duration::hours(1),
                   "registration_closes_at": now + Duration::days(1),
                   "sessions": [{"starts_at": now + Duration::days(2), "ends_at": now + Duration::days(2) + Duration::hours(1)}]}),
        )
        .await;
    let course = id_of(course.assert_status(201));
    let enrol = || {
        app.http
            .post(app.url(&format!("/courses/{course}/enrollments")))
            .bearer_auth(&elder.access_token)
            .header("idempotency-key", "seat-1")
            .json(&json!({}))
    };
    let first = app.send(enrol()).await;
    first.assert_status(201);
    let again = app.send(enrol()).await;
    assert_eq!((again.status, &again.body), (201, &first.body));
    let read = app
        .get(&format!("/courses/{course}"), Some(&elder.access_token))
        .await;
    assert_eq!(read.assert_status(200)["enrolled_count"], 1);
}
