//! Roles belong to membership: a role counts only in its own community, leaving ends every
//! role, grid post and volunteer standing there, and the installation keeps an administrator.
use chrono::Utc;
use jobs::Clock;
use linli_tests::{ADMIN_OPENID, Answer, Session, TestApp, spawn_app, spawn_app_with};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};

use crate::canteen::{id_of, menu_body, ordinary_day, publish, reserve, set_care, set_me};

const ELDER_PHONE: &str = "13700001111";
const ELDER_ADDRESS: &str = "幸福小区7号楼101";

/// A staff member's reads and writes on community `c`, about its member `m`.
fn staff_requests(app: &TestApp, c: &str, m: &str) -> Vec<(&'static str, String, Value)> {
    let month = app.clock.now().format("%Y-%m").to_string();
    vec![
        ("GET", format!("/communities/{c}/members"), json!(null)),
        (
            "GET",
            format!("/communities/{c}/volunteer-applications"),
            json!(null),
        ),
        (
            "GET",
            format!("/communities/{c}/welfare-alerts"),
            json!(null),
        ),
        (
            "PUT",
            format!("/communities/{c}/members/{m}/standing-order"),
            json!({"items": [{"weekday": 1, "slot": "lunch", "mode": "dine_in"}]}),
        ),
        ("GET", "/deliveries".to_owned(), json!(null)),
        (
            "GET",
            format!("/canteen/reports/monthly?month={month}"),
            json!(null),
        ),
        ("GET", "/admin/jobs".to_owned(), json!(null)),
        (
            "PATCH",
            format!("/communities/{c}/members/{m}/care"),
            json!({"hardship": true}),
        ),
        (
            "PATCH",
            format!("/communities/{c}/settings"),
            json!({"claim_ttl_hours": 48}),
        ),
    ]
}

async fn call(app: &TestApp, who: &Session, method: &str, path: &str, body: Value) -> Answer {
    let token = Some(who.access_token.as_str());
    match method {
        "GET" => app.get(path, token).await,
        "PATCH" => app.patch(path, token, body).await,
        "PUT" => app.put(path, token, body).await,
        other => panic!("no helper for {other}"),
    }
}

async fn roles(app: &TestApp, who: &Session) -> Value {
    app.get("/me", Some(&who.access_token))
        .await
        .assert_status(200)["roles"]
        .clone()
}

/// An elder of the community with a phone, an address and a care flag.
async fn elder_of(app: &TestApp, staff: &Session, community: &str, openid: &str) -> Session {
    let elder = app.resident_of(community, openid).await;
    set_me(
        app,
        &elder,
        json!({"phone": ELDER_PHONE, "address_detail": ELDER_ADDRESS, "dietary_notes": "低盐"}),
    )
    .await;
    set_care(app, staff, community, &elder, json!({"lives_alone": true})).await;
    elder
}

#[tokio::test]
async fn a_staff_member_who_moves_loses_every_staff_endpoint_on_the_next_request() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("ms1").await;
    let elder = elder_of(&app, &staff, &community, "ms1-elder").await;
    let admin = app.login_as_admin().await;
    let elsewhere = app.create_community(&admin, "ms1-elsewhere").await;

    for (method, path, body) in staff_requests(&app, &community, &elder.user_id) {
        let answer = call(&app, &staff, method, &path, body).await;
        assert_eq!(
            answer.status, 200,
            "{method} {path} as staff: {:?}",
            answer.body
        );
    }

    app.join(&staff, &elsewhere).await;
    assert_eq!(roles(&app, &staff).await, json!(["resident"]));
    for (method, path, body) in staff_requests(&app, &community, &elder.user_id) {
        let answer = call(&app, &staff, method, &path, body).await;
        assert!(
            [403, 404].contains(&answer.status),
            "{method} {path} after moving: {} {:?}",
            answer.status,
            answer.body
        );
        let text = answer.body.to_string();
        assert!(!text.contains(ELDER_PHONE) && !text.contains(ELDER_ADDRESS));
    }

    // Coming back is coming back as a resident: the grant ended with the move.
    app.join(&staff, &community).await;
    assert_eq!(roles(&app, &staff).await, json!(["resident"]));
    app.get(
        &format!("/communities/{community}/members"),
        Some(&staff.access_token),
    )
    .await
    .assert_error(403, "forbidden");
}

#[tokio::test]
async fn a_grid_leader_sees_care_without_the_address_and_loses_the_subtree_on_moving() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("ms2").await;
    let estate = app
        .add_grid_node(&staff, &community, "estate", "幸福小区", None)
        .await;
    let building = app
        .add_grid_node(&staff, &community, "building", "7号楼", Some(&estate))
        .await;
    let unit = app
        .add_grid_node(&staff, &community, "unit", "1单元", Some(&building))
        .await;
    let leader = app.resident_of(&community, "ms2-leader").await;
    app.grant(
        &staff,
        &community,
        &leader,
        "grid_leader",
        json!({"grid_node_id": estate}),
    )
    .await
    .assert_status(204);
    let elder = elder_of(&app, &staff, &community, "ms2-elder").await;
    set_me(&app, &elder, json!({"grid_unit_id": unit})).await;

    let care = format!("/communities/{community}/members/{}/care", elder.user_id);
    let answer = app
        .patch(
            &care,
            Some(&leader.access_token),
            json!({"empty_nest": true}),
        )
        .await;
    let view = answer.assert_status(200);
    assert_eq!(view["care"]["empty_nest"], true);
    assert!(
        view.get("address_detail").is_none() && view.get("dietary_notes").is_none(),
        "a grid leader sees what the list shows them: {view:?}"
    );
    let as_staff = app.patch(&care, Some(&staff.access_token), json!({})).await;
    assert_eq!(as_staff.assert_status(200)["address_detail"], ELDER_ADDRESS);

    let admin = app.login_as_admin().await;
    let elsewhere = app.create_community(&admin, "ms2-elsewhere").await;
    app.join(&leader, &elsewhere).await;
    app.patch(&care, Some(&leader.access_token), json!({"hardship": true}))
        .await
        .assert_error(404, "not_found");
    app.join(&leader, &community).await;
    app.patch(&care, Some(&leader.access_token), json!({"hardship": true}))
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn a_role_counts_only_in_its_own_community() {
    let app = spawn_app().await;
    let (home, staff) = app.community_with_staff("ms3-home").await;
    let (other, _) = app.community_with_staff("ms3-other").await;
    let elder = elder_of(&app, &staff, &home, "ms3-elder").await;

    // A grant left in another community (however it got there) gives nothing there.
    entity::role_grant::ActiveModel {
        id: Set(uuid::Uuid::now_v7().simple().to_string()),
        user_id: Set(staff.user_id.clone()),
        community_id: Set(other.clone()),
        role: Set("staff".to_owned()),
        grid_node_id: Set(String::new()),
        granted_by: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    for (method, path, body) in staff_requests(&app, &other, &elder.user_id) {
        if !path.starts_with("/communities/") {
            continue;
        }
        let answer = call(&app, &staff, method, &path, body).await;
        answer.assert_error(404, "not_found");
    }
    assert_eq!(roles(&app, &staff).await, json!(["resident", "staff"]));
}

#[tokio::test]
async fn leaving_ends_volunteer_standing_and_hands_unfinished_deliveries_back() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("ms4").await;
    let volunteer = app.volunteer_of(&staff, &community, "ms4-volunteer").await;
    let elder = elder_of(&app, &staff, &community, "ms4-elder").await;
    set_me(&app, &elder, json!({"birth_date": "1940-01-01"})).await;
    let menu = id_of(
        &publish(
            &app,
            &staff,
            menu_body(&app, ordinary_day(&app), "lunch", 5),
        )
        .await,
    );
    let meal = reserve(&app, &elder, &menu, "delivery").await;
    let delivery = meal.assert_status(201)["delivery_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/deliveries/{delivery}/assign"),
        Some(&staff.access_token),
        json!({"volunteer_id": volunteer.user_id}),
    )
    .await
    .assert_status(200);
    app.post(
        &format!("/deliveries/{delivery}/accept"),
        Some(&volunteer.access_token),
        json!({}),
    )
    .await
    .assert_status(200);

    let admin = app.login_as_admin().await;
    let elsewhere = app.create_community(&admin, "ms4-elsewhere").await;
    app.join(&volunteer, &elsewhere).await;
    let me = app.get("/me", Some(&volunteer.access_token)).await;
    assert_eq!(me.assert_status(200)["volunteer_status"], "none");
    assert_eq!(me.body["roles"], json!(["resident"]));
    let read = app
        .get(
            &format!("/deliveries/{delivery}"),
            Some(&staff.access_token),
        )
        .await;
    assert_eq!(read.assert_status(200)["status"], "pending");
    assert!(read.body["volunteer_id"].is_null(), "{:?}", read.body);
    let applications = app
        .get(
            &format!("/communities/{community}/volunteer-applications?status=withdrawn"),
            Some(&staff.access_token),
        )
        .await;
    assert_eq!(
        applications.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Back home, one applies again like anyone else.
    app.join(&volunteer, &community).await;
    app.apply_as_volunteer(&volunteer, TestApp::volunteer_application("王五"))
        .await
        .assert_status(201);
}

#[tokio::test]
async fn staff_can_revoke_a_role_of_someone_who_has_left() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("ms5").await;
    let partner = app.resident_of(&community, "ms5-partner").await;
    app.grant(&staff, &community, &partner, "partner", json!({}))
        .await
        .assert_status(204);
    let admin = app.login_as_admin().await;
    let elsewhere = app.create_community(&admin, "ms5-elsewhere").await;
    app.join(&partner, &elsewhere).await;

    let revoke = |user: &str| format!("/communities/{community}/members/{user}/roles/partner");
    app.delete(&revoke(&partner.user_id), Some(&staff.access_token))
        .await
        .assert_status(204);
    app.delete(&revoke("no-such-user"), Some(&staff.access_token))
        .await
        .assert_error(404, "not_found");
    // Granting still needs a member.
    app.grant(&staff, &community, &partner, "partner", json!({}))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn admins_are_listed_and_removed_but_never_the_last() {
    let app = spawn_app_with(|vars| {
        vars.insert(
            "LINLI_BOOTSTRAP_ADMINS".into(),
            format!("{ADMIN_OPENID},second-admin,third-admin"),
        );
    })
    .await;
    let first = app.login_as_admin().await;
    let second = app.dev_login("second-admin").await;
    let third = app.dev_login("third-admin").await;
    let resident = app.dev_login("ms6-resident").await;

    let list = app.get("/admins?limit=2", Some(&first.access_token)).await;
    let page = list.assert_status(200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let rest = app
        .get(
            &format!("/admins?limit=2&cursor={cursor}"),
            Some(&first.access_token),
        )
        .await;
    assert_eq!(
        rest.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );
    app.get("/admins", Some(&resident.access_token))
        .await
        .assert_error(403, "forbidden");
    app.delete(
        &format!("/admins/{}", first.user_id),
        Some(&resident.access_token),
    )
    .await
    .assert_error(403, "forbidden");

    app.delete(
        &format!("/admins/{}", third.user_id),
        Some(&first.access_token),
    )
    .await
    .assert_status(204);
    app.get("/admins", Some(&third.access_token))
        .await
        .assert_error(403, "forbidden");
    // Admin was given at the first login only: logging in again does not bring it back.
    let third = app.dev_login("third-admin").await;
    assert_eq!(roles(&app, &third).await, json!(["resident"]));
    app.delete(
        &format!("/admins/{}", third.user_id),
        Some(&first.access_token),
    )
    .await
    .assert_status(204);
    app.delete("/admins/no-such-user", Some(&first.access_token))
        .await
        .assert_error(404, "not_found");

    // Two admins removing each other at once leave exactly one of them.
    let (remove_second, remove_first) = (
        format!("/admins/{}", second.user_id),
        format!("/admins/{}", first.user_id),
    );
    let (a, b) = tokio::join!(
        app.delete(&remove_second, Some(&first.access_token)),
        app.delete(&remove_first, Some(&second.access_token)),
    );
    // The loser is refused as the last admin, or, when the winner committed before it was even
    // read, as no admin any more.
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert!(
        statuses == [204, 409] || statuses == [204, 403],
        "{a:?} {b:?}"
    );
    let mut left = 0;
    for who in [&first, &second] {
        if app.get("/admins", Some(&who.access_token)).await.status == 200 {
            left += 1;
            app.delete(&format!("/admins/{}", who.user_id), Some(&who.access_token))
                .await
                .assert_error(409, "last_admin");
        }
    }
    assert_eq!(left, 1, "exactly one administrator is left");
}
