//! The WeChat client against a fake WeChat (wiremock) and the local Redis, each test under its
//! own key prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use jobs::{
    RedisStore,
    wechat::{ContentVerdict, SubscribeMessage, WeChatClient, WeChatConfig, WeChatError},
};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_partial_json, method, path, query_param},
};

const REDIS_URL: &str = "redis://127.0.0.1:6379";
const TOKEN_PATH: &str = "/cgi-bin/stable_token";
const SEND_PATH: &str = "/cgi-bin/message/subscribe/send";
const CHECK_PATH: &str = "/wxa/msg_sec_check";

/// A fake WeChat, a client pointed at it, and Redis under a prefix of this test's own.
struct Fixture {
    server: MockServer,
    client: WeChatClient,
    redis: RedisStore,
}

impl Fixture {
    async fn new() -> Self {
        let server = MockServer::start().await;
        let client = client_for(&server);
        let prefix = format!("wxtest_{}", uuid::Uuid::new_v4().simple());
        let redis = RedisStore::new(REDIS_URL, &prefix).unwrap();
        Self {
            server,
            client,
            redis,
        }
    }

    fn token_key(&self) -> String {
        self.redis.key("wechat:access_token")
    }

    async fn cached_token(&self) -> Option<String> {
        redis::cmd("GET")
            .arg(self.token_key())
            .query_async(&mut self.redis.conn())
            .await
            .unwrap()
    }

    async fn cache_token(&self, token: &str) {
        let _: () = redis::cmd("SET")
            .arg(self.token_key())
            .arg(token)
            .arg("EX")
            .arg(600)
            .query_async(&mut self.redis.conn())
            .await
            .unwrap();
    }

    async fn token_ttl(&self) -> i64 {
        redis::cmd("TTL")
            .arg(self.token_key())
            .query_async(&mut self.redis.conn())
            .await
            .unwrap()
    }

    async fn stable_token_returns(&self, token: &str, calls: u64) {
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .and(body_partial_json(json!({
                "grant_type": "client_credential",
                "appid": "wx-app",
                "secret": "wx-secret",
                "force_refresh": false,
            })))
            .respond_with(wechat_ok(
                json!({"access_token": token, "expires_in": 7200}),
            ))
            .expect(calls)
            .mount(&self.server)
            .await;
    }

    /// Answers calls to `at` made with `token` by `body`, expecting exactly `calls` of them.
    async fn answer(&self, at: &str, token: &str, body: Value, calls: u64) {
        Mock::given(method("POST"))
            .and(path(at))
            .and(query_param("access_token", token))
            .respond_with(wechat_ok(body))
            .expect(calls)
            .mount(&self.server)
            .await;
    }

    async fn request_bodies(&self, at: &str) -> Vec<Value> {
        self.server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|request| request.url.path() == at)
            .map(|request| serde_json::from_slice(&request.body).unwrap())
            .collect()
    }

    /// Checks the call counts and removes this test's keys.
    async fn finish(self) {
        self.server.verify().await;
        let mut conn = self.redis.conn();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.redis.prefix()))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }
}

fn client_for(server: &MockServer) -> WeChatClient {
    WeChatClient::new(Some(WeChatConfig {
        base_url: format!("{}/", server.uri()).parse().unwrap(),
        appid: "wx-app".into(),
        secret: "wx-secret".into(),
    }))
}

/// WeChat answers errors with HTTP 200 too.
fn wechat_ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn message() -> SubscribeMessage {
    SubscribeMessage {
        touser: "o-user".into(),
        template_id: "tpl-wish".into(),
        page: Some("pages/wish/detail?id=7".into()),
        data: vec![
            ("thing1".into(), "心愿已认领".into()),
            ("time2".into(), "2026年11月8日 15:01".into()),
        ],
        ..SubscribeMessage::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_fetch_the_token_once() {
    let fx = Fixture::new().await;
    // Slow enough that every caller misses the cache while the first one fetches.
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            wechat_ok(json!({"access_token": "T1", "expires_in": 7200}))
                .set_delay(Duration::from_millis(300)),
        )
        .expect(1)
        .mount(&fx.server)
        .await;

    let calls = (0..20).map(|_| {
        let client = fx.client.clone();
        let redis = fx.redis.clone();
        tokio::spawn(async move { client.access_token(&redis).await })
    });
    for call in futures_util::future::join_all(calls).await {
        assert_eq!(call.unwrap(), Ok("T1".to_owned()));
    }

    assert_eq!(fx.cached_token().await.as_deref(), Some("T1"));
    let ttl = fx.token_ttl().await;
    assert!((6890..=6900).contains(&ttl), "ttl {ttl}");
    fx.finish().await;
}

#[tokio::test]
async fn token_is_cached_across_calls_and_instances() {
    let fx = Fixture::new().await;
    fx.stable_token_returns("T1", 1).await;

    assert_eq!(fx.client.access_token(&fx.redis).await, Ok("T1".into()));
    assert_eq!(fx.client.access_token(&fx.redis).await, Ok("T1".into()));
    let other_instance = client_for(&fx.server);
    assert_eq!(
        other_instance.access_token(&fx.redis).await,
        Ok("T1".into())
    );
    fx.finish().await;
}

#[tokio::test]
async fn invalidate_drops_only_the_token_that_failed() {
    let fx = Fixture::new().await;
    fx.cache_token("T2").await;

    fx.client.invalidate_token(&fx.redis, "T1").await;
    assert_eq!(fx.cached_token().await.as_deref(), Some("T2"));
    fx.client.invalidate_token(&fx.redis, "T2").await;
    assert_eq!(fx.cached_token().await, None);
    fx.finish().await;
}

#[tokio::test]
async fn without_redis_the_token_is_fetched_directly() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(wechat_ok(json!({"access_token": "T1", "expires_in": 7200})))
        .expect(2)
        .mount(&server)
        .await;
    // Nothing listens on port 1.
    let redis = RedisStore::new("redis://127.0.0.1:1", "wxtest_down").unwrap();
    let client = client_for(&server);

    assert_eq!(client.access_token(&redis).await, Ok("T1".into()));
    assert_eq!(client.access_token(&redis).await, Ok("T1".into()));
    client.invalidate_token(&redis, "T1").await;
}

#[tokio::test]
async fn token_fetch_failures_are_classified() {
    let fx = Fixture::new().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(wechat_ok(
            json!({"errcode": 40125, "errmsg": "invalid appsecret"}),
        ))
        .expect(1)
        .mount(&fx.server)
        .await;

    assert_eq!(
        fx.client.access_token(&fx.redis).await,
        Err(WeChatError::Configuration(40125))
    );
    assert_eq!(fx.cached_token().await, None);
    fx.finish().await;
}

#[tokio::test]
async fn unconfigured_client_says_so() {
    let redis = RedisStore::new(REDIS_URL, "wxtest_unconfigured").unwrap();
    let client = WeChatClient::new(None);
    assert_eq!(
        client.access_token(&redis).await,
        Err(WeChatError::NotConfigured)
    );
    assert_eq!(
        client.send_subscribe_message(&redis, &message()).await,
        Err(WeChatError::NotConfigured)
    );
}

#[tokio::test]
async fn send_posts_the_message_with_the_cached_token() {
    let fx = Fixture::new().await;
    fx.stable_token_returns("T1", 1).await;
    fx.answer(SEND_PATH, "T1", json!({"errcode": 0, "errmsg": "ok"}), 2)
        .await;

    fx.client
        .send_subscribe_message(&fx.redis, &message())
        .await
        .unwrap();
    fx.client
        .send_subscribe_message(&fx.redis, &message())
        .await
        .unwrap();

    let bodies = fx.request_bodies(SEND_PATH).await;
    assert_eq!(
        bodies[0],
        json!({
            "touser": "o-user",
            "template_id": "tpl-wish",
            "page": "pages/wish/detail?id=7",
            "data": {
                "thing1": {"value": "心愿已认领"},
                "time2": {"value": "2026年11月8日 15:01"},
            },
            "miniprogram_state": "formal",
            "lang": "zh_CN",
        })
    );
    fx.finish().await;
}

#[tokio::test]
async fn expired_token_is_refreshed_once_and_the_send_succeeds() {
    let fx = Fixture::new().await;
    fx.cache_token("OLD").await;
    fx.stable_token_returns("NEW", 1).await;
    fx.answer(
        SEND_PATH,
        "OLD",
        json!({"errcode": 42001, "errmsg": "access_token expired"}),
        1,
    )
    .await;
    fx.answer(SEND_PATH, "NEW", json!({"errcode": 0, "errmsg": "ok"}), 1)
        .await;

    assert_eq!(
        fx.client
            .send_subscribe_message(&fx.redis, &message())
            .await,
        Ok(())
    );
    assert_eq!(fx.cached_token().await.as_deref(), Some("NEW"));
    fx.finish().await;
}

#[tokio::test]
async fn a_second_token_error_is_returned_without_another_retry() {
    let fx = Fixture::new().await;
    fx.cache_token("OLD").await;
    fx.stable_token_returns("NEW", 1).await;
    fx.answer(SEND_PATH, "OLD", json!({"errcode": 40001}), 1)
        .await;
    fx.answer(SEND_PATH, "NEW", json!({"errcode": 40001}), 1)
        .await;

    assert_eq!(
        fx.client
            .send_subscribe_message(&fx.redis, &message())
            .await,
        Err(WeChatError::Token(40001))
    );
    fx.finish().await;
}

#[tokio::test]
async fn no_grant_left_is_a_business_error_sent_once() {
    let fx = Fixture::new().await;
    fx.stable_token_returns("T1", 1).await;
    fx.answer(
        SEND_PATH,
        "T1",
        json!({"errcode": 43101, "errmsg": "user refuse to accept the msg"}),
        1,
    )
    .await;

    assert_eq!(
        fx.client
            .send_subscribe_message(&fx.redis, &message())
            .await,
        Err(WeChatError::Business(43101))
    );
    assert_eq!(fx.cached_token().await.as_deref(), Some("T1"));
    fx.finish().await;
}

#[tokio::test]
async fn system_busy_is_transient() {
    let fx = Fixture::new().await;
    fx.stable_token_returns("T1", 1).await;
    fx.answer(
        SEND_PATH,
        "T1",
        json!({"errcode": -1, "errmsg": "system error"}),
        1,
    )
    .await;

    assert_eq!(
        fx.client
            .send_subscribe_message(&fx.redis, &message())
            .await,
        Err(WeChatError::Transient)
    );
    fx.finish().await;
}

#[tokio::test]
async fn bad_gateway_with_html_is_transient() {
    let fx = Fixture::new().await;
    fx.stable_token_returns("T1", 1).await;
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .respond_with(
            ResponseTemplate::new(502)
                .set_body_raw("<html><body>502 Bad Gateway</body></html>", "text/html"),
        )
        .expect(1)
        .mount(&fx.server)
        .await;

    assert_eq!(
        fx.client
            .send_subscribe_message(&fx.redis, &message())
            .await,
        Err(WeChatError::Transient)
    );
    fx.finish().await;
}

#[tokio::test]
async fn html_from_the_token_endpoint_is_transient() {
    let fx = Fixture::new().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>busy</html>", "text/html"))
        .expect(1)
        .mount(&fx.server)
        .await;

    assert_eq!(
        fx.client.access_token(&fx.redis).await,
        Err(WeChatError::Transient)
    );
    fx.finish().await;
}

#[tokio::test]
async fn text_check_follows_the_suggestion() {
    let cases = [
        (
            json!({"errcode": 0, "result": {"suggest": "pass", "label": 100}}),
            ContentVerdict::Pass,
        ),
        (
            json!({"errcode": 0, "result": {"suggest": "review", "label": 20001}}),
            ContentVerdict::Review,
        ),
        (
            json!({"errcode": 0, "result": {"suggest": "risky", "label": 20006}}),
            ContentVerdict::Risky,
        ),
        (
            json!({"errcode": 61010, "errmsg": "user is not active"}),
            ContentVerdict::Review,
        ),
    ];
    for (answer, expected) in cases {
        let fx = Fixture::new().await;
        fx.stable_token_returns("T1", 1).await;
        fx.answer(CHECK_PATH, "T1", answer.clone(), 1).await;

        let verdict = fx.client.check_text(&fx.redis, "o-user", 2, "你好").await;
        assert_eq!(verdict, Ok(expected), "{answer}");
        let bodies = fx.request_bodies(CHECK_PATH).await;
        assert_eq!(
            bodies[0],
            json!({"version": 2, "openid": "o-user", "scene": 2, "content": "你好"})
        );
        fx.finish().await;
    }
}

#[tokio::test]
async fn text_check_cuts_long_content_and_retries_a_rotated_token() {
    let fx = Fixture::new().await;
    fx.cache_token("OLD").await;
    fx.stable_token_returns("NEW", 1).await;
    fx.answer(CHECK_PATH, "OLD", json!({"errcode": 40001}), 1)
        .await;
    fx.answer(
        CHECK_PATH,
        "NEW",
        json!({"errcode": 0, "result": {"suggest": "pass"}}),
        1,
    )
    .await;

    let long = "字".repeat(3_000);
    let verdict = fx.client.check_text(&fx.redis, "o-user", 3, &long).await;
    assert_eq!(verdict, Ok(ContentVerdict::Pass));
    for body in fx.request_bodies(CHECK_PATH).await {
        let content = body["content"].as_str().unwrap();
        assert_eq!(content.chars().count(), 2_500);
    }
    fx.finish().await;
}

#[tokio::test]
async fn text_check_errors_other_than_61010_are_returned() {
    let fx = Fixture::new().await;
    fx.stable_token_returns("T1", 1).await;
    fx.answer(CHECK_PATH, "T1", json!({"errcode": 45009}), 1)
        .await;

    assert_eq!(
        fx.client.check_text(&fx.redis, "o-user", 1, "昵称").await,
        Err(WeChatError::DailyQuota)
    );
    fx.finish().await;
}
