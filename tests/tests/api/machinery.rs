//! The machinery every endpoint shares: envelopes, limits, request ids, idempotency keys,
//! operations endpoints and the OpenAPI document.
use linli_tests::spawn_app;
use serde_json::{Value, json};

#[tokio::test]
async fn malformed_bodies_get_the_envelope_never_a_500() {
    let app = spawn_app().await;
    let me = app.dev_login("m-1").await;
    let token = Some(me.access_token.as_str());
    let cases: [(&str, &str, Vec<u8>, u16, &str); 6] = [
        (
            "/me/dependents",
            "application/json",
            b"{not json".to_vec(),
            400,
            "bad_request",
        ),
        (
            "/me/dependents",
            "application/json",
            b"{\"name\": }".to_vec(),
            400,
            "bad_request",
        ),
        (
            "/me/dependents",
            "application/json",
            b"[]".to_vec(),
            422,
            "validation_failed",
        ),
        (
            "/me/dependents",
            "text/plain",
            b"name=x".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "/me/dependents",
            "application/json",
            vec![b' '; 70 * 1024],
            413,
            "payload_too_large",
        ),
        (
            "/communities",
            "application/json",
            b"\"just a string\"".to_vec(),
            422,
            "validation_failed",
        ),
    ];
    for (path, content_type, body, status, code) in cases {
        app.post_raw(path, token, content_type, body)
            .await
            .assert_error(status, code);
    }
    let mut huge = br#"{"name": ""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 100 * 1024));
    huge.extend(br#"", "birth_date": "2018-01-01", "relation": "child"}"#);
    app.post_raw("/me/dependents", token, "application/json", huge)
        .await
        .assert_error(413, "payload_too_large");
    let list = app.get("/me/dependents", token).await;
    assert_eq!(list.assert_status(200)["items"], json!([]));
}

#[tokio::test]
async fn unknown_routes_and_every_answer_carry_a_request_id() {
    let app = spawn_app().await;
    app.get("/no/such/thing", None)
        .await
        .assert_error(404, "not_found");
    let health = app.get("/healthz", None).await;
    health.assert_status(200);
    assert!(health.headers.contains_key("x-request-id"));
    let ids: Vec<_> = [
        app.get("/healthz", None).await,
        app.get("/healthz", None).await,
    ]
    .iter()
    .map(|a| a.headers["x-request-id"].to_str().unwrap().to_owned())
    .collect();
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn readiness_reports_database_redis_and_the_outbox() {
    let app = spawn_app().await;
    let ready = app.get("/readyz", None).await;
    let body = ready.assert_status(200);
    assert_eq!(body["database"], "up");
    assert_eq!(body["redis"], "up");
    assert_eq!(body["outbox_backlog"], 0);
}

#[tokio::test]
async fn without_redis_the_instance_stays_ready_and_says_so() {
    let app = linli_tests::spawn_app_with(|vars| {
        vars.insert("REDIS_URL".into(), "redis://127.0.0.1:1".into());
    })
    .await;
    let ready = app.get("/readyz", None).await;
    let body = ready.assert_status(200);
    assert_eq!(body["redis"], "down");
    assert_eq!(body["database"], "up");
    // Without Redis the API still serves (rate limits are let through).
    app.dev_login("no-redis").await;
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let app = spawn_app().await;
    app.get("/healthz", None).await;
    let metrics = app.get("/metrics", None).await;
    let text = metrics.body.as_str().unwrap_or_default();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("route=\"/healthz\""), "{text}");
}

#[tokio::test]
async fn an_idempotency_key_answers_the_first_answer_again() {
    let app = spawn_app().await;
    let admin = app.login_as_admin().await;
    let create = |key: &str, name: &str| {
        app.http
            .post(app.url("/communities"))
            .bearer_auth(&admin.access_token)
            .header("idempotency-key", key)
            .json(&json!({"name": name}))
    };
    let first = app.send(create("k-1", "一")).await;
    first.assert_status(201);
    let again = app.send(create("k-1", "一")).await;
    again.assert_status(201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");

    app.send(create("k-1", "二"))
        .await
        .assert_error(422, "idempotency_key_reused");
    let list = app.get("/communities", None).await;
    assert_eq!(
        list.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );

    // Simultaneous requests with one key create one thing.
    let racers = (0..8).map(|_| app.send(create("k-2", "三")));
    let answers = futures_util::future::join_all(racers).await;
    assert!(
        answers
            .iter()
            .all(|a| a.status == 201 || a.code() == "idempotency_key_in_use")
    );
    let list = app.get("/communities", None).await;
    assert_eq!(
        list.assert_status(200)["items"].as_array().unwrap().len(),
        2
    );

    // Keys belong to their user, and live a day.
    app.clock.advance(chrono::Duration::hours(25));
    let admin = app.login_as_admin().await;
    let later = app
        .send(
            app.http
                .post(app.url("/communities"))
                .bearer_auth(&admin.access_token)
                .header("idempotency-key", "k-1")
                .json(&json!({"name": "一"})),
        )
        .await;
    later.assert_status(201);
    assert_ne!(later.body["id"], first.body["id"]);
}

#[tokio::test]
async fn a_refused_request_gets_the_same_answer_again_under_its_key() {
    let app = spawn_app().await;
    let me = app.dev_login("m-2").await;
    let send = |body: Value| {
        app.http
            .post(app.url("/me/dependents"))
            .bearer_auth(&me.access_token)
            .header("idempotency-key", "k")
            .json(&body)
    };
    let bad = app.send(send(json!({"name": ""}))).await;
    bad.assert_error(422, "validation_failed");
    // A 4xx is an answer like any other: the same key and body get it again.
    let bad_again = app.send(send(json!({"name": ""}))).await;
    assert_eq!(
        bad_again.body["error"]["details"],
        bad.body["error"]["details"]
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint_and_its_errors() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json", None).await;
    let doc = doc.assert_status(200).clone();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("/api/v1/auth/wechat/login", "post"),
        ("/api/v1/auth/dev/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/me", "patch"),
        ("/api/v1/me/dependents", "get"),
        ("/api/v1/me/dependents", "post"),
        ("/api/v1/communities", "post"),
        ("/api/v1/communities", "get"),
        ("/api/v1/communities/{id}", "get"),
        ("/api/v1/communities/{id}/settings", "patch"),
        ("/api/v1/communities/{id}/grid", "post"),
        ("/api/v1/communities/{id}/grid", "get"),
        (
            "/api/v1/communities/{id}/members/{user_id}/roles/{role}",
            "put",
        ),
        (
            "/api/v1/communities/{id}/members/{user_id}/roles/{role}",
            "delete",
        ),
        ("/api/v1/communities/{id}/members/{user_id}/care", "patch"),
        ("/api/v1/communities/{id}/members", "get"),
        ("/api/v1/notifications", "get"),
        ("/api/v1/notifications/unread-count", "get"),
        ("/api/v1/notifications/read", "post"),
        ("/api/v1/me/subscriptions", "get"),
        ("/api/v1/me/subscriptions", "post"),
        ("/api/v1/admin/jobs", "get"),
        ("/api/v1/admin/jobs/dead", "get"),
        ("/api/v1/admin/jobs/dead/{id}/retry", "post"),
        ("/api/v1/wishes", "post"),
        ("/api/v1/wishes", "get"),
        ("/api/v1/wishes/{id}", "get"),
        ("/api/v1/wishes/{id}/review", "post"),
        ("/api/v1/wishes/{id}/claim", "post"),
        ("/api/v1/wishes/{id}/release", "post"),
        ("/api/v1/wishes/{id}/deliver", "post"),
        ("/api/v1/wishes/{id}/confirm", "post"),
        ("/api/v1/wishes/{id}/withdraw", "post"),
        ("/api/v1/me/wishes", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ];
    for (path, method) in expected {
        let operation = &doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is described");
        let responses = &operation["responses"];
        assert!(
            responses["500"].is_object(),
            "{method} {path} lists its errors"
        );
    }
    let me = &doc["paths"]["/api/v1/me"]["get"];
    assert!(me["responses"]["401"].is_object());
    assert!(doc["components"]["schemas"]["ErrorEnvelope"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let docs = app.send(app.http.get(app.url("/docs"))).await;
    assert_eq!(docs.status, 200);
    assert!(docs.body.as_str().unwrap_or_default().contains("<html"));
}
