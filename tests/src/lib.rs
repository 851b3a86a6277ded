//! The test harness: the real server on a random port, a fresh database per test (a new SQLite
//! file, or a new PostgreSQL database when `TEST_DATABASE_URL` names a server), its own Redis
//! key prefix, a clock the test can set, and wiremock standing in for WeChat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bench;

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use chrono::Utc;
use jobs::{Clock, ManualClock};
use linli_api::{Application, Settings, state::AppState};
use serde_json::{Value, json};
use wiremock::MockServer;

pub const ADMIN_OPENID: &str = "admin-openid";
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const NOTICE_TEMPLATE: &str = "TPL-NOTICE";
pub const ROLE_TEMPLATE: &str = "TPL-ROLE";
/// Subscribe templates of the tests: `test_notice` and `role_granted`.
pub const TEMPLATES: &str = r#"{
    "test_notice": {"template_id": "TPL-NOTICE", "page": "pages/index", "fields": {"thing1": "title", "thing2": "body", "time3": "at"}},
    "role_granted": {"template_id": "TPL-ROLE", "fields": {"thing1": "title", "thing2": "body"}}
}"#;

/// A database made for one test and dropped after it.
enum TestDb {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    async fn create() -> (Self, String) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => {
                let name = format!("linli_test_{id}");
                let admin = sea_orm::Database::connect(&url)
                    .await
                    .expect("TEST_DATABASE_URL");
                use sea_orm::ConnectionTrait;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                let mut db_url = url::Url::parse(&url).expect("TEST_DATABASE_URL is a URL");
                db_url.set_path(&format!("/{name}"));
                (
                    TestDb::Postgres {
                        admin_url: url,
                        name,
                    },
                    db_url.to_string(),
                )
            }
            _ => {
                let dir = std::env::temp_dir().join("linli-tests");
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join(format!("{id}.db"));
                let url = format!("sqlite://{}?mode=rwc", path.display());
                (TestDb::Sqlite(path), url)
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub http: reqwest::Client,
    pub wechat: MockServer,
    pub clock: ManualClock,
    pub state: AppState,
    pub redis_prefix: String,
    /// The environment it was built from, for another instance beside it.
    vars: HashMap<String, String>,
    db: Option<TestDb>,
    data_dir: PathBuf,
}

/// What an endpoint answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts an error answer: its status, its code, and the envelope every error has.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status of {:?}", self.body);
        assert_eq!(self.code(), code, "code of {:?}", self.body);
        let request_id = self.body["error"]["request_id"].as_str().unwrap_or("");
        assert!(
            !request_id.is_empty(),
            "an error names its request: {:?}",
            self.body
        );
        assert_eq!(
            self.headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some(request_id),
            "the envelope's request id is the header's"
        );
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "status of {:?}", self.body);
        &self.body
    }
}

/// A logged-in user as the tests hold them.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app with extra or changed environment variables.
pub async fn spawn_app_with(customise: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    let wechat = MockServer::start().await;
    let (db, database_url) = TestDb::create().await;
    let redis_prefix = format!("linli_test_{}", uuid::Uuid::new_v4().simple());
    let data_dir = std::env::temp_dir()
        .join("linli-tests")
        .join(format!("data-{}", uuid::Uuid::new_v4().simple()));
    let mut vars: HashMap<String, String> = [
        ("LINLI_BIND", "127.0.0.1:0".to_owned()),
        ("DATABASE_URL", database_url),
        (
            "REDIS_URL",
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        ),
        ("LINLI_REDIS_PREFIX", redis_prefix.clone()),
        ("LINLI_JWT_SECRET", JWT_SECRET.to_owned()),
        ("LINLI_BOOTSTRAP_ADMINS", ADMIN_OPENID.to_owned()),
        ("LINLI_LOGIN_RATE_PER_MINUTE", "0".to_owned()),
        ("LINLI_WECHAT_BASE_URL", wechat.uri()),
        ("LINLI_WECHAT_APPID", "wx-test-app".to_owned()),
        ("LINLI_WECHAT_SECRET", "wx-test-secret".to_owned()),
        ("LINLI_DATA_DIR", data_dir.display().to_string()),
        ("LINLI_WECHAT_TEMPLATES", TEMPLATES.to_owned()),
        ("LINLI_JOB_POLL_MS", "20".to_owned()),
        ("LINLI_JOB_RECLAIM_IDLE_MS", "600".to_owned()),
        ("LINLI_OUTBOX_SWEEP_SECS", "60".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    customise(&mut vars);
    let clock = ManualClock::new(Utc::now());
    let (port, state) = start_instance(&vars, &clock).await;
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        wechat,
        clock,
        state,
        redis_prefix,
        vars,
        db: Some(db),
        data_dir,
    }
}

/// Builds and starts one Linli instance; its port and state.
async fn start_instance(vars: &HashMap<String, String>, clock: &ManualClock) -> (u16, AppState) {
    try_start_instance(vars, clock)
        .await
        .expect("the app builds")
}

async fn try_start_instance(
    vars: &HashMap<String, String>,
    clock: &ManualClock,
) -> anyhow::Result<(u16, AppState)> {
    let settings = Settings::from_vars(vars).expect("test settings");
    let app = Application::build_with_clock(settings, Arc::new(clock.clone())).await?;
    let port = app.port();
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    Ok((port, state))
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let db = self.db.take();
        let prefix = self.redis_prefix.clone();
        let redis_url =
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let _ = std::fs::remove_dir_all(&self.data_dir);
        // Clean-up needs async I/O, and Drop is sync: do it on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(client) = redis::Client::open(redis_url.as_str())
                    && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                {
                    let keys: Vec<String> = redis::cmd("KEYS")
                        .arg(format!("{prefix}:*"))
                        .query_async(&mut conn)
                        .await
                        .unwrap_or_default();
                    if !keys.is_empty() {
                        let _: redis::RedisResult<()> =
                            redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
                    }
                }
                match db {
                    Some(TestDb::Postgres { admin_url, name }) => {
                        use sea_orm::ConnectionTrait;
                        if let Ok(admin) = sea_orm::Database::connect(&admin_url).await {
                            let _ = admin
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .await;
                        }
                    }
                    Some(TestDb::Sqlite(path)) => {
                        for suffix in ["", "-wal", "-shm", ".lock"] {
                            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                        }
                    }
                    None => {}
                }
            });
        });
        let _ = cleanup.join();
    }
}

impl TestApp {
    /// Another instance of Linli on the same database, Redis and clock, as when the service
    /// is scaled out: the base address of its API and its state. `None` on SQLite, which is
    /// for one instance (a second refuses to start); a test of several instances skips there.
    pub async fn another_instance(&self) -> Option<(String, AppState)> {
        if self.on_sqlite() {
            eprintln!("skipped on SQLite: several instances need PostgreSQL");
            return None;
        }
        let (port, state) = start_instance(&self.vars, &self.clock).await;
        Some((format!("http://127.0.0.1:{port}"), state))
    }

    /// Tries to start another instance on the same database; the error if it is refused.
    pub async fn try_another_instance(&self) -> anyhow::Result<String> {
        let (port, _) = try_start_instance(&self.vars, &self.clock).await?;
        Ok(format!("http://127.0.0.1:{port}"))
    }

    pub fn on_sqlite(&self) -> bool {
        matches!(self.db, Some(TestDb::Sqlite(_)))
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') && !path.starts_with("/api/") && is_root_path(path) {
            format!("{}{path}", self.address)
        } else {
            format!("{}/api/v1{path}", self.address)
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }

    fn authed(
        &self,
        request: reqwest::RequestBuilder,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.send(self.authed(self.http.get(self.url(path)), token))
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.send(self.authed(self.http.post(self.url(path)).json(&body), token))
            .await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.send(self.authed(self.http.put(self.url(path)).json(&body), token))
            .await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.send(self.authed(self.http.patch(self.url(path)).json(&body), token))
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Answer {
        self.send(self.authed(self.http.delete(self.url(path)), token))
            .await
    }

    /// Sends a raw body with a content type, for malformed-input tests.
    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let request = self
            .http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        self.send(self.authed(request, token)).await
    }

    pub async fn dev_login(&self, openid: &str) -> Session {
        let answer = self
            .post("/auth/dev/login", None, json!({"openid": openid}))
            .await;
        let body = answer.assert_status(200);
        session_of(body)
    }

    pub async fn login_as_admin(&self) -> Session {
        self.dev_login(ADMIN_OPENID).await
    }

    pub async fn create_community(&self, admin: &Session, name: &str) -> String {
        let answer = self
            .post(
                "/communities",
                Some(&admin.access_token),
                json!({"name": name}),
            )
            .await;
        answer.assert_status(201)["id"].as_str().unwrap().to_owned()
    }

    pub async fn join(&self, who: &Session, community_id: &str) {
        self.patch(
            "/me",
            Some(&who.access_token),
            json!({"community_id": community_id}),
        )
        .await
        .assert_status(200);
    }

    pub async fn grant(
        &self,
        by: &Session,
        community_id: &str,
        user: &Session,
        role: &str,
        body: Value,
    ) -> Answer {
        self.put(
            &format!(
                "/communities/{community_id}/members/{}/roles/{role}",
                user.user_id
            ),
            Some(&by.access_token),
            body,
        )
        .await
    }

    /// A community with one staff member in it.
    pub async fn community_with_staff(&self, name: &str) -> (String, Session) {
        let admin = self.login_as_admin().await;
        let community = self.create_community(&admin, name).await;
        let staff = self.dev_login(&format!("staff-of-{name}")).await;
        self.join(&staff, &community).await;
        self.grant(&admin, &community, &staff, "staff", json!({}))
            .await
            .assert_status(204);
        (community, staff)
    }

    /// A new resident who has joined the community.
    pub async fn resident_of(&self, community_id: &str, openid: &str) -> Session {
        let resident = self.dev_login(openid).await;
        self.join(&resident, community_id).await;
        resident
    }

    pub async fn add_grid_node(
        &self,
        staff: &Session,
        community_id: &str,
        kind: &str,
        name: &str,
        parent: Option<&str>,
    ) -> String {
        let answer = self
            .post(
                &format!("/communities/{community_id}/grid"),
                Some(&staff.access_token),
                json!({"kind": kind, "name": name, "parent_id": parent}),
            )
            .await;
        answer.assert_status(201)["id"].as_str().unwrap().to_owned()
    }
}

fn is_root_path(path: &str) -> bool {
    ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]
        .iter()
        .any(|root| path == *root || path.starts_with(&format!("{root}?")))
}

pub fn session_of(body: &Value) -> Session {
    Session {
        user_id: body["user"]["id"].as_str().unwrap().to_owned(),
        access_token: body["access_token"].as_str().unwrap().to_owned(),
        refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

impl TestApp {
    /// Polls `check` until it holds, failing the test after `secs` seconds.
    pub async fn eventually<F, Fut>(&self, secs: u64, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if check().await {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("timed out waiting for: {what}");
    }

    /// Waits until every outbox event is done; fails if one went dead.
    pub async fn drain(&self) {
        use entity_access::*;
        self.eventually(20, "the queues to drain", || async {
            let open = outbox::Entity::find()
                .filter(outbox::Column::DoneAt.is_null())
                .count(&self.state.db)
                .await
                .unwrap();
            open == 0
        })
        .await;
    }

    /// Waits until job `id` has recorded `attempts` failed attempts and waits for its retry:
    /// moving the clock before that would move the retry with it.
    pub async fn retry_recorded(&self, id: i64, attempts: i32) {
        use entity_access::*;
        self.eventually(10, "the failed attempt to be recorded", || async {
            outbox::Entity::find_by_id(id)
                .one(&self.state.db)
                .await
                .unwrap()
                .is_some_and(|row| row.attempts >= attempts && row.available_at.is_some())
        })
        .await;
    }

    pub async fn dead_jobs(&self) -> u64 {
        use entity_access::*;
        outbox::Entity::find()
            .filter(outbox::Column::DeadAt.is_not_null())
            .count(&self.state.db)
            .await
            .unwrap()
    }

    /// Commits a notification event for these users, as a service function would.
    pub async fn emit_notice(&self, recipients: &[&str], title: &str) -> i64 {
        let event = jobs::notify::Notify {
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            kind: "test_notice".into(),
            title: title.into(),
            body: "正文".into(),
            ref_type: Some("test".into()),
            ref_id: Some("t-1".into()),
            data: Default::default(),
        };
        jobs::outbox::emit(&self.state.db, &event, self.clock.now())
            .await
            .unwrap()
    }

    pub async fn notifications(&self, who: &Session) -> Vec<Value> {
        let answer = self
            .get("/notifications?limit=100", Some(&who.access_token))
            .await;
        answer.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Grants one subscribe message of a template, as the mini-program reports it.
    pub async fn accept_template(&self, who: &Session, template: &str, times: usize) {
        for _ in 0..times {
            self.post(
                "/me/subscriptions",
                Some(&who.access_token),
                json!({"results": {template: "accept"}}),
            )
            .await
            .assert_status(200);
        }
    }

    /// The subscribe messages the fake WeChat received.
    pub async fn wechat_sends(&self) -> Vec<Value> {
        self.wechat
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == "/cgi-bin/message/subscribe/send")
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            .collect()
    }
}

/// A fake WeChat that hands out a token, accepts every subscribe message and passes all text.
pub async fn wechat_accepts_everything(server: &MockServer) {
    use wiremock::{
        Mock, ResponseTemplate,
        matchers::{method, path},
    };
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "TOKEN-1", "expires_in": 7200})),
        )
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/subscribe/send"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok"})),
        )
        .with_priority(10)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/wxa/msg_sec_check"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"errcode": 0, "result": {"suggest": "pass", "label": 100}, "detail": []}),
        ))
        .with_priority(10)
        .mount(server)
        .await;
}

/// A Redis server of a test's own, to stop and start without disturbing other tests.
pub struct OwnRedis {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self { port, child: None };
        redis.resume().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it; it keeps nothing, like our production Redis.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn resume(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        for _ in 0..100 {
            if let Ok(client) = redis::Client::open(self.url())
                && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the harness reads of the database directly.
mod entity_access {
    pub use entity::outbox;
    pub use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
}

/// Volunteers: applications, their review, teams, hours.
impl TestApp {
    /// A valid application body (the phone is the one tests look for in answers).
    pub fn volunteer_application(real_name: &str) -> Value {
        json!({"real_name": real_name, "phone": "13812345678", "skills": ["烹饪", "驾驶"]})
    }

    /// Applies to volunteer in the caller's community.
    pub async fn apply_as_volunteer(&self, who: &Session, body: Value) -> Answer {
        self.post("/volunteer/applications", Some(&who.access_token), body)
            .await
    }

    /// Approves an application.
    pub async fn approve_volunteer(&self, staff: &Session, application_id: &str) -> Answer {
        self.post(
            &format!("/volunteer/applications/{application_id}/approve"),
            Some(&staff.access_token),
            json!({}),
        )
        .await
    }

    /// Rejects an application, with a reason if given.
    pub async fn reject_volunteer(
        &self,
        staff: &Session,
        application_id: &str,
        reason: Option<&str>,
    ) -> Answer {
        let body = match reason {
            Some(reason) => json!({"reason": reason}),
            None => json!({}),
        };
        self.post(
            &format!("/volunteer/applications/{application_id}/reject"),
            Some(&staff.access_token),
            body,
        )
        .await
    }

    /// A new resident of the community who applied and was approved by this staff member: a
    /// volunteer there.
    pub async fn volunteer_of(&self, staff: &Session, community_id: &str, openid: &str) -> Session {
        let who = self.resident_of(community_id, openid).await;
        let applied = self
            .apply_as_volunteer(&who, Self::volunteer_application("志愿者"))
            .await;
        let id = applied.assert_status(201)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.approve_volunteer(staff, &id).await.assert_status(200);
        who
    }

    /// Creates a volunteer team; its id.
    pub async fn create_team(&self, staff: &Session, community_id: &str, name: &str) -> String {
        let answer = self
            .post(
                &format!("/communities/{community_id}/teams"),
                Some(&staff.access_token),
                json!({"name": name}),
            )
            .await;
        answer.assert_status(201)["id"].as_str().unwrap().to_owned()
    }

    /// Credits a member by hand.
    pub async fn credit_hours(
        &self,
        staff: &Session,
        community_id: &str,
        user_id: &str,
        minutes: i64,
        reason: &str,
    ) -> Answer {
        self.post(
            &format!("/communities/{community_id}/hours"),
            Some(&staff.access_token),
            json!({"user_id": user_id, "minutes": minutes, "reason": reason}),
        )
        .await
    }

    /// `GET /volunteer/hours` of a volunteer.
    pub async fn volunteer_hours(&self, who: &Session) -> Value {
        self.get("/volunteer/hours", Some(&who.access_token))
            .await
            .assert_status(200)
            .clone()
    }

    /// The community's leaderboard of a month (`YYYY-MM`), or of the current month.
    pub async fn leaderboard(
        &self,
        who: &Session,
        community_id: &str,
        month: Option<&str>,
    ) -> Answer {
        let path = match month {
            Some(month) => format!("/communities/{community_id}/leaderboard?month={month}"),
            None => format!("/communities/{community_id}/leaderboard"),
        };
        self.get(&path, Some(&who.access_token)).await
    }
}
