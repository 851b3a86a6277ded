//! Personal data never reaches the log. A binary of its own, so that it can install the one
//! global subscriber of its process (at debug, every target, both formats operators use) and
//! capture everything the server writes while a scenario carries personal data through every
//! area and through refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io,
    sync::{Arc, Mutex},
};

use chrono::Duration;
use jobs::Clock;
use linli_tests::{Session, TestApp, spawn_app, wechat_accepts_everything};
use serde_json::{Value, json};
use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// What the scenario says about people; none of it may appear in a log line.
const PHONE: &str = "13987654321";
const VOLUNTEER_PHONE: &str = "13712340099";
const ADDRESS: &str = "幸福路88号7栋1203";
const DIETARY_NOTES: &str = "忌花生过敏";
const NICKNAME: &str = "欧阳秀英";
const DEPENDENT: &str = "司马小龙";
const REAL_NAME: &str = "诸葛明亮";
const WISH_TITLE: &str = "请帮慕容奶奶修收音机";
const WISH_DESCRIPTION: &str = "慕容奶奶的收音机不响了";
const ELDER_OPENID: &str = "openid-ouyang-5521";
const VOLUNTEER_OPENID: &str = "openid-zhuge-8830";
const STRANGER_OPENID: &str = "openid-stranger-4417";
const MESSAGE_TEXT: &str = "钥匙放在门口的鞋柜里";
const REPORT_NOTE: &str = "他问我要银行卡密码";

const PERSONAL: [&str; 14] = [
    PHONE,
    VOLUNTEER_PHONE,
    ADDRESS,
    DIETARY_NOTES,
    NICKNAME,
    DEPENDENT,
    REAL_NAME,
    WISH_TITLE,
    WISH_DESCRIPTION,
    ELDER_OPENID,
    VOLUNTEER_OPENID,
    STRANGER_OPENID,
    MESSAGE_TEXT,
    REPORT_NOTE,
];

/// The captured log, shared by the subscriber's writers and the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Everything at debug, in the JSON of production and the text of development.
fn capture_logs() -> Captured {
    let captured = Captured::default();
    let (json, text) = (captured.clone(), captured.clone());
    tracing_subscriber::registry()
        .with(EnvFilter::new("debug"))
        .with(
            fmt::layer()
                .json()
                .flatten_event(true)
                .with_writer(move || json.clone()),
        )
        .with(
            fmt::layer()
                .compact()
                .with_ansi(false)
                .with_writer(move || text.clone()),
        )
        .init();
    captured
}

async fn patch_me(app: &TestApp, who: &Session, body: Value) -> linli_tests::Answer {
    app.patch("/me", Some(&who.access_token), body).await
}

/// Profile, dependents, care flags, a volunteer application, a wish and a meal, all carrying
/// personal data; the elder.
async fn live_through_every_area(app: &TestApp) -> Session {
    let (community, staff) = app.community_with_staff("日志社区").await;
    let elder = app.resident_of(&community, ELDER_OPENID).await;
    patch_me(
        app,
        &elder,
        json!({"nickname": NICKNAME, "phone": PHONE, "address_detail": ADDRESS,
               "dietary_notes": DIETARY_NOTES, "birth_date": "1948-05-01"}),
    )
    .await
    .assert_status(200);
    app.post(
        "/me/dependents",
        Some(&elder.access_token),
        json!({"name": DEPENDENT, "birth_date": "2018-06-01", "relation": "child"}),
    )
    .await
    .assert_status(201);
    app.patch(
        &format!("/communities/{community}/members/{}/care", elder.user_id),
        Some(&staff.access_token),
        json!({"lives_alone": true, "empty_nest": true, "hardship": true}),
    )
    .await
    .assert_status(200);

    let volunteer = app.resident_of(&community, VOLUNTEER_OPENID).await;
    let applied = app
        .apply_as_volunteer(
            &volunteer,
            json!({"real_name": REAL_NAME, "phone": VOLUNTEER_PHONE, "skills": ["维修"]}),
        )
        .await;
    let application = applied.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.approve_volunteer(&staff, &application)
        .await
        .assert_status(200);

    app.post(
        "/wishes",
        Some(&elder.access_token),
        json!({"title": WISH_TITLE, "description": WISH_DESCRIPTION,
               "category": "service", "budget_fen": 3000}),
    )
    .await
    .assert_status(201);

    let day = app.clock.now().date_naive() + Duration::days(7);
    let menu = app
        .post(
            "/canteen/menus",
            Some(&staff.access_token),
            json!({"date": day, "slot": "lunch", "dishes": ["米饭"], "price_fen": 1400,
                   "capacity": 10, "reserve_cutoff_at": app.clock.now() + Duration::days(1)}),
        )
        .await;
    let menu = menu.assert_status(201)["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/canteen/menus/{menu}/reservations"),
        Some(&elder.access_token),
        json!({"mode": "delivery"}),
    )
    .await
    .assert_status(201);

    // A conversation: staff and the elder, a message each way, a report with a note.
    let direct = app
        .post(
            "/conversations",
            Some(&staff.access_token),
            json!({"user_id": elder.user_id}),
        )
        .await;
    let direct = direct.assert_status(201)["id"].as_str().unwrap().to_owned();
    for (who, id) in [(&staff, "s-1"), (&elder, "e-1")] {
        app.post(
            &format!("/conversations/{direct}/messages"),
            Some(&who.access_token),
            json!({"text": MESSAGE_TEXT, "client_msg_id": id}),
        )
        .await
        .assert_status(201);
    }
    app.post(
        &format!("/conversations/{direct}/reports"),
        Some(&elder.access_token),
        json!({"reason": "fraud", "note": REPORT_NOTE}),
    )
    .await
    .assert_status(201);
    app.drain().await;

    be_refused_with_personal_data(app, &elder).await;
    elder
}

/// Refusals whose requests carry personal data in bodies, field names, paths and queries.
async fn be_refused_with_personal_data(app: &TestApp, elder: &Session) {
    let token = Some(elder.access_token.as_str());
    patch_me(app, elder, json!({"phone": format!("{PHONE}{ADDRESS}")}))
        .await
        .assert_error(422, "validation_failed");
    patch_me(
        app,
        elder,
        json!({"address_detail": ADDRESS, NICKNAME: PHONE}),
    )
    .await
    .assert_error(422, "validation_failed");
    patch_me(app, elder, json!({"dietary_notes": [DIETARY_NOTES]}))
        .await
        .assert_error(422, "validation_failed");
    let malformed = format!("{{\"name\": \"{DEPENDENT}\", \"relation\": \"{ADDRESS}");
    app.post_raw(
        "/me/dependents",
        token,
        "application/json",
        malformed.into(),
    )
    .await
    .assert_error(400, "bad_request");
    app.post(
        "/me/dependents",
        token,
        json!({"name": DEPENDENT, "birth_date": "2018-06-01", "relation": REAL_NAME}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.apply_as_volunteer(elder, json!({"real_name": REAL_NAME, "phone": ADDRESS}))
        .await
        .assert_error(422, "validation_failed");
    app.post(
        "/wishes",
        token,
        json!({"title": WISH_TITLE, "description": WISH_DESCRIPTION, "category": PHONE}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.get(&format!("/wishes/{PHONE}"), token)
        .await
        .assert_error(404, "not_found");
    app.get(&format!("/wishes?q={NICKNAME}&phone={PHONE}"), None)
        .await
        .assert_error(401, "unauthorized");
    app.patch("/me", None, json!({"nickname": NICKNAME}))
        .await
        .assert_error(401, "unauthorized");
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": format!("{STRANGER_OPENID}{PHONE}")}),
    )
    .await
    .assert_error(401, "refresh_token_invalid");
    app.post(
        "/auth/dev/login",
        None,
        json!({"openid": STRANGER_OPENID, "nickname": NICKNAME}),
    )
    .await
    .assert_status(200);
    app.post(
        "/auth/dev/login",
        None,
        json!({"openid": 5521, "nickname": NICKNAME}),
    )
    .await
    .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn no_personal_data_reaches_the_log() {
    let captured = capture_logs();
    let app = spawn_app().await;
    wechat_accepts_everything(&app.wechat).await;

    let elder = live_through_every_area(&app).await;
    // A 500: the database goes away under the next request.
    app.state.db.close_by_ref().await.unwrap();
    let failed = app.get("/me", Some(&elder.access_token)).await;
    failed.assert_error(500, "internal");
    let failed_request = failed.body["error"]["request_id"].as_str().unwrap();

    let log = captured.text();
    let errors_of_failed: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with('{') && l.contains(failed_request))
        .filter(|l| l.contains("\"level\":\"ERROR\""))
        .collect();
    assert_eq!(
        errors_of_failed.len(),
        1,
        "a 5xx is logged once, at error, with its cause: {errors_of_failed:#?}"
    );
    assert!(errors_of_failed[0].contains("\"error\":"));
    assert!(
        log.contains("\"route\":\"/api/v1/me\"") && log.contains("\"message\":\"request\""),
        "the log holds request lines: {log}"
    );
    assert!(log.contains("latency_ms") && log.contains("client"));
    for personal in PERSONAL {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(personal)).collect();
        assert!(lines.is_empty(), "`{personal}` was logged: {lines:#?}");
    }
}
