//! Micro-wishes: the lifecycle, its rules, concurrency and privacy.
use linli_tests::{Session, TestApp, spawn_app};
use serde_json::{Value, json};

struct Wall {
    community: String,
    staff: Session,
    elder: Session,
    volunteer: Session,
}

/// A community with staff, an elder with an address and phone, and an approved volunteer.
async fn wall(app: &TestApp, name: &str) -> Wall {
    linli_tests::wechat_accepts_everything(&app.wechat).await;
    let (community, staff) = app.community_with_staff(name).await;
    let elder = app.resident_of(&community, &format!("{name}-elder")).await;
    app.patch(
        "/me",
        Some(&elder.access_token),
        json!({"nickname": "王奶奶", "phone": "13800001234", "address_detail": "3栋2单元501"}),
    )
    .await
    .assert_status(200);
    let volunteer = app
        .volunteer_of(&staff, &community, &format!("{name}-volunteer"))
        .await;
    Wall {
        community,
        staff,
        elder,
        volunteer,
    }
}

fn wish_body(title: &str) -> Value {
    json!({"title": title, "description": "家里的收音机坏了", "category": "service", "budget_fen": 3000})
}

async fn post_wish(app: &TestApp, who: &Session, body: Value) -> Value {
    app.post("/wishes", Some(&who.access_token), body)
        .await
        .assert_status(201)
        .clone()
}

async fn set_auto_review(app: &TestApp, w: &Wall) {
    app.patch(
        &format!("/communities/{}/settings", w.community),
        Some(&w.staff.access_token),
        json!({"wish_review": "auto"}),
    )
    .await
    .assert_status(200);
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn kinds(app: &TestApp, who: &Session) -> Vec<String> {
    app.notifications(who)
        .await
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_wish_goes_from_staff_on_an_elders_behalf_to_a_confirmed_delivery() {
    let app = spawn_app().await;
    let w = wall(&app, "w1").await;
    let mut body = wish_body("修收音机");
    body["beneficiary_user_id"] = json!(w.elder.user_id);
    let wish = post_wish(&app, &w.staff, body).await;
    assert_eq!(wish["status"], "pending_review");
    assert_eq!(
        wish["beneficiary"],
        json!({"display_name": "王**", "is_self": false})
    );
    let wish_id = id(&wish);
    let path = |step: &str| format!("/wishes/{wish_id}/{step}");

    let reviewed = app
        .post(
            &path("review"),
            Some(&w.staff.access_token),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(reviewed.assert_status(200)["status"], "published");

    let claimed = app
        .post(&path("claim"), Some(&w.volunteer.access_token), json!({}))
        .await;
    let claimed = claimed.assert_status(200).clone();
    assert_eq!(claimed["status"], "claimed");
    assert_eq!(claimed["claimer"]["id"], json!(w.volunteer.user_id));
    assert_eq!(claimed["claimer"]["kind"], "volunteer");
    assert_eq!(claimed["delivery_address"], "3栋2单元501");
    assert_eq!(claimed["beneficiary_phone"], "13800001234");
    assert!(claimed["claim_expires_at"].is_string());

    let delivered = app
        .post(
            &path("deliver"),
            Some(&w.volunteer.access_token),
            json!({"note": "修好了", "photo_urls": ["https://img.example/1.jpg"]}),
        )
        .await;
    assert_eq!(delivered.assert_status(200)["status"], "delivered");

    let confirmed = app
        .post(
            &path("confirm"),
            Some(&w.elder.access_token),
            json!({"thanks_note": "谢谢小李"}),
        )
        .await;
    let confirmed = confirmed.assert_status(200).clone();
    assert_eq!(confirmed["status"], "completed");
    assert_eq!(confirmed["thanks_note"], "谢谢小李");
    assert!(
        confirmed.get("delivery_address").is_none(),
        "the address is gone once it is done"
    );

    let hours = app
        .get("/volunteer/hours", Some(&w.volunteer.access_token))
        .await;
    let hours = hours.assert_status(200).clone();
    assert_eq!(hours["total_minutes"], 60);
    assert_eq!(hours["entries"][0]["source"], "wish");
    assert_eq!(hours["entries"][0]["ref_id"], json!(wish_id));

    app.drain().await;
    assert!(
        kinds(&app, &w.staff)
            .await
            .contains(&"wish_pending_review".to_owned())
    );
    let elder = kinds(&app, &w.elder).await;
    for kind in ["wish_published", "wish_claimed", "wish_delivered"] {
        assert!(
            elder.contains(&kind.to_owned()),
            "the beneficiary is told: {kind}"
        );
    }
    let staff = kinds(&app, &w.staff).await;
    assert!(
        staff.contains(&"wish_claimed".to_owned()),
        "the poster is told"
    );
    assert!(
        kinds(&app, &w.volunteer)
            .await
            .contains(&"wish_completed".to_owned())
    );

    // Confirming twice credits once.
    app.post(&path("confirm"), Some(&w.staff.access_token), json!({}))
        .await
        .assert_error(409, "invalid_state");
    let hours = app
        .get("/volunteer/hours", Some(&w.volunteer.access_token))
        .await;
    assert_eq!(hours.assert_status(200)["total_minutes"], 60);
}

#[tokio::test]
async fn fifty_simultaneous_claims_leave_exactly_one_claimer() {
    let app = spawn_app().await;
    let w = wall(&app, "w2").await;
    set_auto_review(&app, &w).await;
    let wish = post_wish(&app, &w.elder, wish_body("想要一本书")).await;
    assert_eq!(wish["status"], "published");
    let wish_id = id(&wish);
    let mut partners = Vec::new();
    for i in 0..50 {
        let partner = app.resident_of(&w.community, &format!("partner-{i}")).await;
        app.grant(&w.staff, &w.community, &partner, "partner", json!({}))
            .await
            .assert_status(204);
        partners.push(partner);
    }
    let claim_path = format!("/wishes/{wish_id}/claim");
    let claims = partners
        .iter()
        .map(|p| app.post(&claim_path, Some(&p.access_token), json!({})));
    let answers = futures_util::future::join_all(claims).await;
    let won = answers.iter().filter(|a| a.status == 200).count();
    let lost = answers
        .iter()
        .filter(|a| a.status == 409 && a.code() == "already_claimed")
        .count();
    assert_eq!(
        (won, lost),
        (1, 49),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let winner = answers.iter().find(|a| a.status == 200).unwrap();
    let current = app
        .get(&format!("/wishes/{wish_id}"), Some(&w.staff.access_token))
        .await;
    assert_eq!(
        current.assert_status(200)["claimer"]["id"],
        winner.body["claimer"]["id"]
    );
}

#[tokio::test]
async fn every_step_out_of_order_is_invalid_state() {
    let app = spawn_app().await;
    let w = wall(&app, "w3").await;
    let wish = post_wish(&app, &w.elder, wish_body("陪我聊天")).await;
    let wish_id = id(&wish);
    let step = |name: &str| format!("/wishes/{wish_id}/{name}");
    let staff = Some(w.staff.access_token.as_str());
    let volunteer = Some(w.volunteer.access_token.as_str());

    // pending_review: nothing but review or withdraw (and it is not on the wall to claim).
    app.post(&step("claim"), volunteer, json!({}))
        .await
        .assert_error(404, "not_found");
    app.post(&step("confirm"), staff, json!({}))
        .await
        .assert_error(409, "invalid_state");
    app.post(&step("review"), staff, json!({"decision": "approve"}))
        .await
        .assert_status(200);
    app.post(&step("review"), staff, json!({"decision": "approve"}))
        .await
        .assert_error(409, "invalid_state");
    // published: no delivering or confirming before a claim.
    app.post(&step("deliver"), volunteer, json!({}))
        .await
        .assert_error(403, "forbidden");
    app.post(&step("confirm"), staff, json!({}))
        .await
        .assert_error(409, "invalid_state");
    app.post(&step("claim"), volunteer, json!({}))
        .await
        .assert_status(200);
    app.post(&step("claim"), volunteer, json!({}))
        .await
        .assert_error(409, "already_claimed");
    app.post(&step("withdraw"), staff, json!({}))
        .await
        .assert_error(409, "invalid_state");
    app.post(&step("confirm"), staff, json!({}))
        .await
        .assert_error(409, "invalid_state");
    app.post(&step("deliver"), volunteer, json!({}))
        .await
        .assert_status(200);
    app.post(&step("deliver"), volunteer, json!({}))
        .await
        .assert_error(409, "invalid_state");
    app.post(&step("release"), volunteer, json!({}))
        .await
        .assert_error(409, "invalid_state");
    // The claimer cannot confirm their own delivery.
    app.post(&step("confirm"), volunteer, json!({}))
        .await
        .assert_error(403, "forbidden");
    app.post(&step("confirm"), Some(&w.elder.access_token), json!({}))
        .await
        .assert_status(200);
    app.post(&step("review"), staff, json!({"decision": "reject"}))
        .await
        .assert_error(409, "invalid_state");
}

#[tokio::test]
async fn who_may_do_what() {
    let app = spawn_app().await;
    let w = wall(&app, "w4").await;
    set_auto_review(&app, &w).await;
    let neighbour = app.resident_of(&w.community, "w4-neighbour").await;
    let wish = post_wish(&app, &w.elder, wish_body("买个台灯")).await;
    let wish_id = id(&wish);
    let step = |name: &str| format!("/wishes/{wish_id}/{name}");

    app.post(
        &step("review"),
        Some(&neighbour.access_token),
        json!({"decision": "approve"}),
    )
    .await
    .assert_error(403, "forbidden");
    app.post(&step("claim"), Some(&neighbour.access_token), json!({}))
        .await
        .assert_error(403, "forbidden");
    app.post(&step("withdraw"), Some(&neighbour.access_token), json!({}))
        .await
        .assert_error(403, "forbidden");
    // A volunteer's own wish is not theirs to claim.
    let own = post_wish(&app, &w.volunteer, wish_body("我自己的心愿")).await;
    app.post(
        &format!("/wishes/{}/claim", id(&own)),
        Some(&w.volunteer.access_token),
        json!({}),
    )
    .await
    .assert_error(403, "cannot_claim_own_wish");
    // Only the claimer releases or delivers.
    app.post(&step("claim"), Some(&w.volunteer.access_token), json!({}))
        .await
        .assert_status(200);
    app.post(&step("release"), Some(&w.staff.access_token), json!({}))
        .await
        .assert_error(403, "forbidden");
    app.post(&step("deliver"), Some(&neighbour.access_token), json!({}))
        .await
        .assert_error(403, "forbidden");

    // Posting for someone else: staff, or that member's grid leader; not a neighbour.
    let mut for_elder = wish_body("代发");
    for_elder["beneficiary_user_id"] = json!(w.elder.user_id);
    app.post("/wishes", Some(&neighbour.access_token), for_elder.clone())
        .await
        .assert_error(403, "forbidden");
    let estate = app
        .add_grid_node(&w.staff, &w.community, "estate", "e", None)
        .await;
    let building = app
        .add_grid_node(&w.staff, &w.community, "building", "b", Some(&estate))
        .await;
    let unit = app
        .add_grid_node(&w.staff, &w.community, "unit", "u", Some(&building))
        .await;
    app.patch(
        "/me",
        Some(&w.elder.access_token),
        json!({"grid_unit_id": unit}),
    )
    .await
    .assert_status(200);
    app.grant(
        &w.staff,
        &w.community,
        &neighbour,
        "grid_leader",
        json!({"grid_node_id": building}),
    )
    .await
    .assert_status(204);
    let posted = post_wish(&app, &neighbour, for_elder).await;
    assert_eq!(posted["poster_id"], json!(neighbour.user_id));
}

#[tokio::test]
async fn three_open_wishes_at_most_per_beneficiary() {
    let app = spawn_app().await;
    let w = wall(&app, "w5").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(id(&post_wish(
            &app,
            &w.elder,
            wish_body(&format!("心愿{i}")),
        )
        .await));
    }
    app.post("/wishes", Some(&w.elder.access_token), wish_body("第四个"))
        .await
        .assert_error(409, "too_many_open_wishes");
    // Staff cannot exceed it on the elder's behalf either.
    let mut for_elder = wish_body("代发第四个");
    for_elder["beneficiary_user_id"] = json!(w.elder.user_id);
    app.post("/wishes", Some(&w.staff.access_token), for_elder)
        .await
        .assert_error(409, "too_many_open_wishes");
    // A withdrawn wish no longer counts.
    app.post(
        &format!("/wishes/{}/withdraw", ids[0]),
        Some(&w.elder.access_token),
        json!({}),
    )
    .await
    .assert_status(200);
    post_wish(&app, &w.elder, wish_body("第四个")).await;
}

#[tokio::test]
async fn nobody_outside_the_community_sees_or_touches_a_wish() {
    let app = spawn_app().await;
    let w = wall(&app, "w6").await;
    set_auto_review(&app, &w).await;
    let other = wall(&app, "w6-other").await;
    let wish = post_wish(&app, &w.elder, wish_body("本社区的心愿")).await;
    let wish_id = id(&wish);
    for who in [&other.staff, &other.elder, &other.volunteer] {
        let token = Some(who.access_token.as_str());
        app.get(&format!("/wishes/{wish_id}"), token)
            .await
            .assert_error(404, "not_found");
        app.post(&format!("/wishes/{wish_id}/claim"), token, json!({}))
            .await
            .assert_error(404, "not_found");
        app.post(
            &format!("/wishes/{wish_id}/review"),
            token,
            json!({"decision": "reject"}),
        )
        .await
        .assert_error(404, "not_found");
        let wall = app.get("/wishes", token).await;
        assert!(
            wall.assert_status(200)["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["id"] != json!(wish_id))
        );
    }
}

#[tokio::test]
async fn the_address_is_shown_only_to_the_current_claimer_and_staff() {
    let app = spawn_app().await;
    let w = wall(&app, "w7").await;
    set_auto_review(&app, &w).await;
    let neighbour = app.resident_of(&w.community, "w7-neighbour").await;
    let second = app.volunteer_of(&w.staff, &w.community, "w7-second").await;
    let wish = post_wish(&app, &w.elder, wish_body("送一袋米")).await;
    let wish_id = id(&wish);
    let wish_path = format!("/wishes/{wish_id}");
    let get = |who: &Session| {
        let token = who.access_token.clone();
        let (app, wish_path) = (&app, &wish_path);
        async move { app.get(wish_path, Some(&token)).await }
    };
    let hidden =
        |v: &Value| v.get("delivery_address").is_none() && v.get("beneficiary_phone").is_none();

    assert!(
        hidden(get(&w.volunteer).await.assert_status(200)),
        "not before a claim"
    );
    app.post(
        &format!("/wishes/{wish_id}/claim"),
        Some(&w.volunteer.access_token),
        json!({}),
    )
    .await
    .assert_status(200);
    assert!(!hidden(get(&w.volunteer).await.assert_status(200)));
    assert!(!hidden(get(&w.staff).await.assert_status(200)));
    for who in [&neighbour, &second, &w.elder] {
        let seen = get(who).await;
        assert!(hidden(seen.assert_status(200)), "hidden from {who:?}");
        assert!(!seen.body.to_string().contains("13800001234"));
    }
    let wall = app.get("/wishes", Some(&neighbour.access_token)).await;
    let wall_text = wall.assert_status(200).to_string();
    assert!(!wall_text.contains("3栋2单元501") && !wall_text.contains("13800001234"));
    assert!(
        !wall_text.contains("王奶奶"),
        "the name is masked on the wall"
    );

    app.post(
        &format!("/wishes/{wish_id}/release"),
        Some(&w.volunteer.access_token),
        json!({}),
    )
    .await
    .assert_status(200);
    assert!(
        hidden(get(&w.volunteer).await.assert_status(200)),
        "gone once released"
    );

    // A claim that expires goes back to the wall, and the address with it.
    app.post(
        &format!("/wishes/{wish_id}/claim"),
        Some(&second.access_token),
        json!({}),
    )
    .await
    .assert_status(200);
    app.clock.advance(chrono::Duration::hours(73));
    // Tokens live 15 minutes on the clock just moved: log in again.
    let second = app.dev_login("w7-second").await;
    let staff = app.dev_login("staff-of-w7").await;
    app.eventually(10, "the claim to expire", || async {
        get(&staff).await.body["status"] == "published"
    })
    .await;
    let after = app
        .get(&format!("/wishes/{wish_id}"), Some(&second.access_token))
        .await;
    let after = after.assert_status(200).clone();
    assert_eq!(after["claimer"], json!(null));
    assert!(hidden(&after));
    app.drain().await;
    assert!(
        kinds(&app, &second)
            .await
            .contains(&"wish_claim_expired".to_owned())
    );
}

#[tokio::test]
async fn content_security_and_the_review_setting_decide_publication() {
    use wiremock::{
        Mock, ResponseTemplate,
        matchers::{body_string_contains, method, path},
    };
    let app = spawn_app().await;
    let verdict = |suggest: &str| {
        ResponseTemplate::new(200)
            .set_body_json(json!({"errcode": 0, "result": {"suggest": suggest, "label": 100}}))
    };
    Mock::given(method("POST"))
        .and(path("/wxa/msg_sec_check"))
        .and(body_string_contains("危险"))
        .respond_with(verdict("risky"))
        .mount(&app.wechat)
        .await;
    Mock::given(method("POST"))
        .and(path("/wxa/msg_sec_check"))
        .and(body_string_contains("可疑"))
        .respond_with(verdict("review"))
        .mount(&app.wechat)
        .await;
    Mock::given(method("POST"))
        .and(path("/wxa/msg_sec_check"))
        .respond_with(verdict("pass"))
        .with_priority(10)
        .mount(&app.wechat)
        .await;
    let w = wall(&app, "w8").await;
    set_auto_review(&app, &w).await;

    app.post(
        "/wishes",
        Some(&w.elder.access_token),
        wish_body("危险的东西"),
    )
    .await
    .assert_error(422, "content_rejected");
    let held = post_wish(&app, &w.elder, wish_body("可疑的东西")).await;
    assert_eq!(
        held["status"], "pending_review",
        "review sends it to staff even in auto mode"
    );
    let clean = post_wish(&app, &w.elder, wish_body("一把雨伞")).await;
    assert_eq!(clean["status"], "published");
    assert!(clean["published_at"].is_string());

    // A pending wish is for staff and its own people, not the wall.
    let neighbour = app.resident_of(&w.community, "w8-neighbour").await;
    app.get(
        &format!("/wishes/{}", id(&held)),
        Some(&neighbour.access_token),
    )
    .await
    .assert_error(404, "not_found");
    let wall = app.get("/wishes", Some(&neighbour.access_token)).await;
    assert_eq!(
        wall.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );
    let staff_wall = app
        .get("/wishes?status=pending_review", Some(&w.staff.access_token))
        .await;
    assert_eq!(
        staff_wall.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let mine = app.get("/me/wishes", Some(&w.elder.access_token)).await;
    assert_eq!(
        mine.assert_status(200)["items"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn bad_wish_input_is_refused_and_creates_nothing() {
    let app = spawn_app().await;
    let w = wall(&app, "w9").await;
    let token = Some(w.elder.access_token.as_str());
    let cases = [
        (
            json!({"title": "", "category": "goods", "budget_fen": 0}),
            "title",
        ),
        (
            json!({"title": "长".repeat(41), "category": "goods", "budget_fen": 0}),
            "title",
        ),
        (
            json!({"title": "x", "description": "长".repeat(501), "category": "goods", "budget_fen": 0}),
            "description",
        ),
        (
            json!({"title": "x", "category": "money", "budget_fen": 0}),
            "category",
        ),
        (
            json!({"title": "x", "category": "goods", "budget_fen": 50001}),
            "budget_fen",
        ),
        (
            json!({"title": "x", "category": "goods", "budget_fen": -1}),
            "budget_fen",
        ),
        (json!({"title": "x", "category": "goods"}), "budget_fen"),
        (
            json!({"title": "x", "category": "goods", "budget_fen": "ten"}),
            "budget_fen",
        ),
    ];
    for (body, field) in cases {
        let answer = app.post("/wishes", token, body.clone()).await;
        answer.assert_error(422, "validation_failed");
        assert!(
            answer.body["error"]["details"].get(field).is_some(),
            "{body}: {:?}",
            answer.body
        );
    }
    app.get("/wishes?status=lost", token)
        .await
        .assert_error(400, "bad_request");
    app.get("/me/wishes?as=thief", token)
        .await
        .assert_error(400, "bad_request");
    let mine = app.get("/me/wishes", token).await;
    assert_eq!(mine.assert_status(200)["items"], json!([]));
    app.get("/wishes/nope", token)
        .await
        .assert_error(404, "not_found");
    let newcomer = app.dev_login("w9-newcomer").await;
    app.post("/wishes", Some(&newcomer.access_token), wish_body("无社区"))
        .await
        .assert_error(409, "not_in_community");
}
