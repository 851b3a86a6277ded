//! Operations and exposure: the client address behind a trusted proxy (rate limits, metrics),
//! readiness without Redis or the database, dev login on an exposed bind, counters that expire.
use jobs::Clock;
use linli_tests::{Answer, OwnRedis, TestApp, spawn_app_with};
use serde_json::json;

/// A dev login as sent through a proxy that names the client in `X-Forwarded-For`.
async fn dev_login_from(app: &TestApp, forwarded_for: &str, openid: &str) -> Answer {
    let request = app
        .http
        .post(app.url("/auth/dev/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"openid": openid}));
    app.send(request).await
}

async fn metrics_for(app: &TestApp, forwarded_for: Option<&str>) -> Answer {
    let mut request = app.http.get(app.url("/metrics"));
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    app.send(request).await
}

#[tokio::test]
async fn two_clients_behind_a_trusted_proxy_have_separate_login_budgets() {
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_LOGIN_RATE_PER_MINUTE".into(), "2".into());
        vars.insert("LINLI_TRUSTED_PROXIES".into(), "127.0.0.1/32".into());
    })
    .await;
    for _ in 0..2 {
        dev_login_from(&app, "198.51.100.1", "first")
            .await
            .assert_status(200);
    }
    dev_login_from(&app, "198.51.100.1", "first")
        .await
        .assert_error(429, "rate_limited");
    // A client cannot escape its budget by naming someone else to the left of itself.
    dev_login_from(&app, "203.0.113.77, 198.51.100.1", "first")
        .await
        .assert_error(429, "rate_limited");

    dev_login_from(&app, "198.51.100.2", "second")
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_forwarded_for_header_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_LOGIN_RATE_PER_MINUTE".into(), "2".into());
    })
    .await;
    dev_login_from(&app, "198.51.100.1", "spoofer")
        .await
        .assert_status(200);
    dev_login_from(&app, "198.51.100.2", "spoofer")
        .await
        .assert_status(200);
    dev_login_from(&app, "198.51.100.3", "spoofer")
        .await
        .assert_error(429, "rate_limited");
}

#[tokio::test]
async fn metrics_are_served_to_loopback_and_allowed_addresses_only() {
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_TRUSTED_PROXIES".into(), "127.0.0.1/32".into());
        vars.insert("LINLI_METRICS_ALLOW".into(), "192.0.2.0/24".into());
    })
    .await;
    metrics_for(&app, Some("198.51.100.1"))
        .await
        .assert_error(403, "forbidden");

    let allowed = metrics_for(&app, Some("192.0.2.10")).await;
    assert_eq!(allowed.status, 200);
    let text = allowed.body.as_str().unwrap_or_default();
    assert!(text.contains("http_requests_total"), "{text}");

    assert_eq!(metrics_for(&app, None).await.status, 200, "loopback");
}

#[tokio::test]
async fn without_trusted_proxies_metrics_judge_the_peer_itself() {
    let app = spawn_app_with(|_| {}).await;
    assert_eq!(
        metrics_for(&app, Some("198.51.100.1")).await.status,
        200,
        "the peer is loopback; its header is not believed"
    );
}

#[tokio::test]
async fn readiness_holds_while_redis_is_down_and_fails_without_the_database() {
    let mut redis = OwnRedis::start().await;
    let url = redis.url();
    let app = spawn_app_with(|vars| {
        vars.insert("REDIS_URL".into(), url);
    })
    .await;
    let up = app.get("/readyz", None).await;
    assert_eq!(
        up.assert_status(200),
        &json!({"database": "up", "redis": "up", "outbox_backlog": 0})
    );

    redis.stop();
    let without_redis = app.get("/readyz", None).await;
    assert_eq!(
        without_redis.assert_status(200),
        &json!({"database": "up", "redis": "down", "outbox_backlog": 0})
    );

    app.state.db.close_by_ref().await.unwrap();
    let without_database = app.get("/readyz", None).await;
    assert_eq!(without_database.status, 503);
    assert_eq!(without_database.body["database"], "down");
    assert_eq!(without_database.body["outbox_backlog"], json!(null));
}

#[tokio::test]
async fn dev_login_is_off_on_an_exposed_bind_unless_switched_on() {
    // Bound to every interface; the test still talks to it through loopback only.
    let exposed = spawn_app_with(|vars| {
        vars.insert("LINLI_BIND".into(), "0.0.0.0:0".into());
    })
    .await;
    exposed
        .post("/auth/dev/login", None, json!({"openid": "someone"}))
        .await
        .assert_error(404, "not_found");

    let switched_on = spawn_app_with(|vars| {
        vars.insert("LINLI_BIND".into(), "0.0.0.0:0".into());
        vars.insert("LINLI_DEV_LOGIN".into(), "true".into());
    })
    .await;
    switched_on.dev_login("someone").await;
}

#[tokio::test]
async fn a_rate_limit_counter_always_expires() {
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_LOGIN_RATE_PER_MINUTE".into(), "5".into());
    })
    .await;
    // A counter left without an expiry (as a client that died between INCR and EXPIRE once
    // could) gets one at its next count.
    let window = app.clock.now().timestamp() / 60;
    let key = format!("{}:rl:login:127.0.0.1:{window}", app.redis_prefix);
    let mut redis = app.state.redis.conn();
    redis::cmd("SET")
        .arg(&key)
        .arg(1)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    app.dev_login("counted").await;

    let count: u64 = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(count, 2);
    assert!((1..=61_000).contains(&ttl_ms), "expires: {ttl_ms} ms");
}

#[tokio::test]
async fn the_openapi_document_describes_readiness_and_the_metrics_refusal() {
    let app = spawn_app_with(|_| {}).await;
    let doc = app.get("/openapi.json", None).await.body;
    let readyz = &doc["paths"]["/readyz"]["get"]["responses"];
    for status in ["200", "503"] {
        assert_eq!(
            readyz[status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Readiness",
            "{status}"
        );
    }
    let readiness = &doc["components"]["schemas"]["Readiness"];
    let mut fields: Vec<&str> = readiness["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["database", "outbox_backlog", "redis"]);
    assert_eq!(
        doc["components"]["schemas"]["Dependency"]["enum"],
        json!(["up", "down"])
    );
    let metrics = &doc["paths"]["/metrics"]["get"]["responses"];
    assert_eq!(
        metrics["403"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorEnvelope"
    );
}
