use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use linli_tests::{JWT_SECRET, session_of, spawn_app, spawn_app_with};
use serde_json::json;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{method, path, query_param},
};

async fn wechat_answers(app: &linli_tests::TestApp, code: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .and(query_param("js_code", code))
        .and(query_param("appid", "wx-test-app"))
        .and(query_param("grant_type", "authorization_code"))
        .respond_with(response)
        .mount(&app.wechat)
        .await;
}

#[tokio::test]
async fn dev_login_creates_a_user_once_per_openid() {
    let app = spawn_app().await;
    let first = app
        .post(
            "/auth/dev/login",
            None,
            json!({"openid": "o-1", "nickname": "王小明"}),
        )
        .await;
    let body = first.assert_status(200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["nickname"], "王小明");
    assert_eq!(body["user"]["roles"], json!(["resident"]));
    assert_eq!(body["user"]["volunteer_status"], "none");

    let again = app.dev_login("o-1").await;
    assert_eq!(again.user_id, body["user"]["id"].as_str().unwrap());
}

#[tokio::test]
async fn wechat_login_exchanges_the_code_and_keeps_the_session_key() {
    let app = spawn_app().await;
    wechat_answers(
        &app,
        "good-code",
        ResponseTemplate::new(200).set_body_json(json!({
            "openid": "wx-openid-1", "session_key": "SESSION-KEY-SECRET"
        })),
    )
    .await;
    let answer = app
        .post(
            "/auth/wechat/login",
            None,
            json!({"code": "good-code", "nickname": "李奶奶"}),
        )
        .await;
    answer.assert_status(200);
    assert!(!answer.body.to_string().contains("SESSION-KEY-SECRET"));
    let me = app
        .get("/me", Some(answer.body["access_token"].as_str().unwrap()))
        .await;
    assert_eq!(me.assert_status(200)["nickname"], "李奶奶");
}

#[tokio::test]
async fn wechat_failures_map_to_stable_codes() {
    let app = spawn_app().await;
    let errcode = |code: i64| {
        ResponseTemplate::new(200).set_body_json(json!({"errcode": code, "errmsg": "x"}))
    };
    wechat_answers(&app, "invalid", errcode(40029)).await;
    wechat_answers(&app, "used", errcode(40163)).await;
    wechat_answers(&app, "blocked", errcode(40226)).await;
    wechat_answers(&app, "busy", errcode(-1)).await;
    wechat_answers(&app, "limited", errcode(45011)).await;
    wechat_answers(
        &app,
        "gateway",
        ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"),
    )
    .await;
    let cases = [
        ("invalid", 401, "wechat_code_invalid"),
        ("used", 401, "wechat_code_invalid"),
        ("blocked", 403, "wechat_user_blocked"),
        ("busy", 503, "wechat_unavailable"),
        ("limited", 429, "rate_limited"),
        ("gateway", 503, "wechat_unavailable"),
    ];
    for (code, status, error) in cases {
        let answer = app
            .post("/auth/wechat/login", None, json!({"code": code}))
            .await;
        answer.assert_error(status, error);
    }
}

#[tokio::test]
async fn wechat_login_is_unavailable_without_credentials() {
    let app = spawn_app_with(|vars| {
        vars.remove("LINLI_WECHAT_APPID");
        vars.remove("LINLI_WECHAT_SECRET");
    })
    .await;
    app.post("/auth/wechat/login", None, json!({"code": "x"}))
        .await
        .assert_error(503, "wechat_unavailable");
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_ends_the_login() {
    let app = spawn_app().await;
    let login = app.dev_login("o-2").await;

    let refreshed = app
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": login.refresh_token}),
        )
        .await;
    let next = session_of(refreshed.assert_status(200));
    assert_ne!(next.refresh_token, login.refresh_token);
    app.get("/me", Some(&next.access_token))
        .await
        .assert_status(200);

    // The spent token again, past the retry grace: treated as stolen, the whole login ends.
    app.clock.advance(chrono::Duration::seconds(31));
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": login.refresh_token}),
    )
    .await
    .assert_error(401, "refresh_token_reused");
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": next.refresh_token}),
    )
    .await
    .assert_error(401, "refresh_token_invalid");
    app.get("/me", Some(&next.access_token))
        .await
        .assert_error(401, "unauthorized");
    app.get("/me", Some(&login.access_token))
        .await
        .assert_error(401, "unauthorized");

    // Another login of the same user is untouched.
    let other = app.dev_login("o-2").await;
    app.get("/me", Some(&other.access_token))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn two_simultaneous_refreshes_get_one_pair_and_a_later_reuse_still_ends_the_login() {
    let app = spawn_app().await;
    let login = app.dev_login("o-2b").await;
    let refresh = || {
        app.post(
            "/auth/refresh",
            None,
            json!({"refresh_token": login.refresh_token}),
        )
    };
    let (a, b) = tokio::join!(refresh(), refresh());
    let (a, b) = (
        session_of(a.assert_status(200)),
        session_of(b.assert_status(200)),
    );
    assert_eq!(
        (&a.access_token, &a.refresh_token),
        (&b.access_token, &b.refresh_token),
        "the phone retrying gets the same pair"
    );
    // A retry a little later, while the pair is unused, gets it again too.
    app.clock.advance(chrono::Duration::seconds(10));
    let again = refresh().await;
    assert_eq!(
        session_of(again.assert_status(200)).refresh_token,
        a.refresh_token
    );
    app.get("/me", Some(&a.access_token))
        .await
        .assert_status(200);

    // Once the new pair is spent, the old token is a reuse again: the login ends.
    let next = app
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": a.refresh_token}),
        )
        .await;
    let next = session_of(next.assert_status(200));
    refresh().await.assert_error(401, "refresh_token_reused");
    app.get("/me", Some(&next.access_token))
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn a_revoked_login_replays_nothing_through_an_idempotency_key() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let create = || {
        app.send(
            app.http
                .post(app.url("/communities"))
                .bearer_auth(&admin.access_token)
                .header("idempotency-key", "k-1")
                .json(&json!({"name": "幸福社区"})),
        )
    };
    create().await.assert_status(201);
    app.post(
        "/auth/logout",
        Some(&admin.access_token),
        json!({"refresh_token": admin.refresh_token}),
    )
    .await
    .assert_status(204);
    create().await.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn unknown_and_expired_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    app.post("/auth/refresh", None, json!({"refresh_token": "nope"}))
        .await
        .assert_error(401, "refresh_token_invalid");
    let login = app.dev_login("o-3").await;
    app.clock.advance(chrono::Duration::days(31));
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": login.refresh_token}),
    )
    .await
    .assert_error(401, "refresh_token_expired");
}

#[tokio::test]
async fn logout_ends_the_login() {
    let app = spawn_app().await;
    let login = app.dev_login("o-4").await;
    app.post(
        "/auth/logout",
        Some(&login.access_token),
        json!({"refresh_token": login.refresh_token}),
    )
    .await
    .assert_status(204);
    app.get("/me", Some(&login.access_token))
        .await
        .assert_error(401, "unauthorized");
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": login.refresh_token}),
    )
    .await
    .assert_error(401, "refresh_token_invalid");
}

fn forge(header: &str, claims: &serde_json::Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test]
async fn bad_access_tokens_are_refused() {
    let app = spawn_app().await;
    let login = app.dev_login("o-5").await;
    let claims: serde_json::Value = {
        let part = login.access_token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };

    let mut tampered_claims = claims.clone();
    tampered_claims["sub"] = json!("someone-else");
    let signature = login.access_token.split('.').nth(2).unwrap();
    let tampered = forge(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &tampered_claims,
        signature,
    );
    let alg_none = forge(r#"{"alg":"none","typ":"JWT"}"#, &claims, "");
    let other_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-secret-not-the-secret-000"),
    )
    .unwrap();
    let right_key_but_expired = {
        let mut expired = claims.clone();
        expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &expired,
            &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        )
        .unwrap()
    };
    for token in [
        tampered.as_str(),
        alg_none.as_str(),
        other_key.as_str(),
        right_key_but_expired.as_str(),
        "garbage",
        "",
    ] {
        app.get("/me", Some(token))
            .await
            .assert_error(401, "unauthorized");
    }
    app.get("/me", None).await.assert_error(401, "unauthorized");
    let basic = app
        .send(
            app.http
                .get(app.url("/me"))
                .header("authorization", "Basic abc"),
        )
        .await;
    basic.assert_error(401, "unauthorized");

    // An access token lives 15 minutes.
    app.get("/me", Some(&login.access_token))
        .await
        .assert_status(200);
    app.clock.advance(chrono::Duration::minutes(16));
    app.get("/me", Some(&login.access_token))
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn logins_are_rate_limited_per_client() {
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_LOGIN_RATE_PER_MINUTE".into(), "3".into());
    })
    .await;
    for _ in 0..3 {
        app.post("/auth/dev/login", None, json!({"openid": "o-6"}))
            .await
            .assert_status(200);
    }
    let limited = app
        .post("/auth/dev/login", None, json!({"openid": "o-6"}))
        .await;
    limited.assert_error(429, "rate_limited");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    app.post("/auth/refresh", None, json!({"refresh_token": "x"}))
        .await
        .assert_error(429, "rate_limited");

    app.clock.advance(chrono::Duration::seconds(61));
    app.post("/auth/dev/login", None, json!({"openid": "o-6"}))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn dev_login_is_not_found_where_disabled() {
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_DEV_LOGIN".into(), "false".into());
    })
    .await;
    app.post("/auth/dev/login", None, json!({"openid": "o-7"}))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn bootstrap_admins_become_admin_at_first_login() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let me = app.get("/me", Some(&admin.access_token)).await;
    assert_eq!(me.assert_status(200)["roles"], json!(["resident", "admin"]));
    let someone = app.dev_login("not-an-admin").await;
    let me = app.get("/me", Some(&someone.access_token)).await;
    assert_eq!(me.assert_status(200)["roles"], json!(["resident"]));
}

#[tokio::test]
async fn login_input_is_validated() {
    let app = spawn_app().await;
    let long = "x".repeat(200);
    let cases = [
        (json!({}), "openid", "required"),
        (json!({"openid": ""}), "openid", "length"),
        (json!({"openid": long}), "openid", "length"),
        (json!({"openid": 42}), "openid", "invalid_type"),
        (
            json!({"openid": "a", "nickname": "n".repeat(40)}),
            "nickname",
            "length",
        ),
        (
            json!({"openid": "a", "admin": true}),
            "admin",
            "unknown_field",
        ),
    ];
    for (body, field, reason) in cases {
        let answer = app.post("/auth/dev/login", None, body.clone()).await;
        answer.assert_error(422, "validation_failed");
        assert_eq!(
            answer.body["error"]["details"][field],
            json!([reason]),
            "{body}"
        );
    }
}
