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
    assert_eq!(
        mine.assert_status(200).to_string().contains(&delivery),
        true
    );
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
