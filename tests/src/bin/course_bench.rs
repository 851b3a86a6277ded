//! Classes benchmark, each part beside a minimal handler doing only the essential database work
//! in the same run (same process, same database, same pool), reported as a ratio:
//! - the rush: `users` distinct users, `in_flight` at once, on a course of `seats` seats: drain
//!   time, p50/p99/max latency, status counts and a correctness verdict (exactly `seats`
//!   enrolled, waitlist positions exactly 1..users-seats);
//! - a hot course: sustained enrolments at 64 connections on one large course, throughput;
//! - the course list: one page of a community's courses at 64 connections, throughput.
//!
//! `cargo run --release -p linli-tests --bin course_bench -- [users] [in_flight] [seats]`
//! On PostgreSQL: `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run …`
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The service's own allocator (see `api/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::Utc;
use entity::{course, enrollment};
use futures_util::{StreamExt, stream};
use jobs::Clock;
use linli_tests::{Session, TestApp, bench::ms, spawn_app_with};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};
use serde_json::{Value, json};

/// What one load run saw.
struct Run {
    elapsed: Duration,
    /// CPU time of this whole process (server, workers, loader; not Redis or PostgreSQL).
    cpu: Duration,
    latencies: Vec<Duration>,
    outcomes: BTreeMap<String, usize>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        linli_tests::bench::percentile(&self.latencies, p)
    }

    fn report(&self, name: &str) {
        println!(
            "  {name:<8} {:>5} requests in {:>6.3} s  {:>7.0} req/s  cpu {:>4.0} µs/req  p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms  {:?}",
            self.latencies.len(),
            self.elapsed.as_secs_f64(),
            self.per_second(),
            self.cpu.as_secs_f64() * 1e6 / self.latencies.len() as f64,
            ms(self.percentile(0.50)),
            ms(self.percentile(0.99)),
            ms(self.percentile(1.0)),
            self.outcomes,
        );
    }
}

/// Sends every request, `in_flight` at a time; an outcome is the body's `status`, or the
/// HTTP status with the error code.
async fn load(requests: Vec<reqwest::RequestBuilder>, in_flight: usize) -> Run {
    let cpu_before = linli_tests::bench::process_cpu();
    let started = Instant::now();
    let results: Vec<(Duration, String)> = stream::iter(requests)
        .map(|request| async move {
            let at = Instant::now();
            let response = request.send().await.expect("the server answers");
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let outcome = match (status.is_success(), &body) {
                (true, Value::Object(map)) => map
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("ok")
                    .to_owned(),
                (true, _) => "ok".to_owned(),
                (false, _) => format!("{} {}", status.as_u16(), body["error"]["code"]),
            };
            (at.elapsed(), outcome)
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let cpu = linli_tests::bench::process_cpu().saturating_sub(cpu_before);
    let mut outcomes = BTreeMap::new();
    for (_, outcome) in &results {
        *outcomes.entry(outcome.clone()).or_insert(0) += 1;
    }
    Run {
        elapsed,
        cpu,
        latencies: results.into_iter().map(|(d, _)| d).collect(),
        outcomes,
    }
}

// ---- the minimal handlers: only the essential database work, no auth, no checks ----

/// Takes a seat by a conditional update, else a waitlist place, and inserts the enrollment.
async fn minimal_enroll(
    db: web::Data<DatabaseConnection>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> HttpResponse {
    let (community_id, course_id) = path.into_inner();
    let user = req
        .headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let txn = linli_api::db::write_txn(&db).await.unwrap();
    let seated = course::Entity::update_many()
        .col_expr(
            course::Column::EnrolledCount,
            Expr::col(course::Column::EnrolledCount).add(1),
        )
        .filter(course::Column::Id.eq(&course_id))
        .filter(Expr::col(course::Column::EnrolledCount).lt(Expr::col(course::Column::Capacity)))
        .exec(&txn)
        .await
        .unwrap()
        .rows_affected
        == 1;
    let position = if seated {
        None
    } else {
        course::Entity::update_many()
            .col_expr(
                course::Column::WaitlistCount,
                Expr::col(course::Column::WaitlistCount).add(1),
            )
            .filter(course::Column::Id.eq(&course_id))
            .exec(&txn)
            .await
            .unwrap();
        let (count,): (i32,) = course::Entity::find_by_id(course_id.clone())
            .select_only()
            .column(course::Column::WaitlistCount)
            .into_tuple()
            .one(&txn)
            .await
            .unwrap()
            .unwrap();
        Some(count)
    };
    let status = if seated { "enrolled" } else { "waitlisted" };
    enrollment::Entity::insert(enrollment::ActiveModel {
        id: Set(uuid::Uuid::now_v7().simple().to_string()),
        course_id: Set(course_id.clone()),
        community_id: Set(community_id),
        user_id: Set(user.clone()),
        participant_kind: Set("self".into()),
        participant_id: Set(user.clone()),
        participant_name: Set("bench".into()),
        status: Set(status.into()),
        waitlist_position: Set(position),
        live_key: Set(Some(format!("minimal:{course_id}:{user}"))),
        draw_rank: Set(None),
        draw_result: Set(None),
        created_at: Set(Utc::now()),
        cancelled_at: Set(None),
    })
    .exec_without_returning(&txn)
    .await
    .unwrap();
    txn.commit().await.unwrap();
    HttpResponse::Created().json(json!({"status": status, "waitlist_position": position}))
}

/// One page of a community's courses: the one lookup.
async fn minimal_list(db: web::Data<DatabaseConnection>, path: web::Path<String>) -> HttpResponse {
    let rows = course::Entity::find()
        .filter(course::Column::CommunityId.eq(path.into_inner()))
        .order_by_desc(course::Column::Id)
        .limit(21)
        .all(db.get_ref())
        .await
        .unwrap();
    let items: Vec<Value> = rows
        .iter()
        .take(20)
        .map(|c| json!({"id": c.id, "title": c.title, "capacity": c.capacity, "enrolled_count": c.enrolled_count}))
        .collect();
    HttpResponse::Ok().json(json!({"items": items, "next_cursor": null}))
}

fn start_minimal(db: DatabaseConnection) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let data = web::Data::new(db);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route(
                "/minimal/{community}/courses/{id}/enrollments",
                web::post().to(minimal_enroll),
            )
            .route("/minimal/{community}/courses", web::get().to(minimal_list))
    })
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

// ---- set-up ----

async fn course(app: &TestApp, staff: &Session, title: &str, capacity: i64) -> String {
    let now = app.clock.now();
    let body = json!({
        "title": title, "category": "bench", "capacity": capacity,
        "registration_opens_at": now - chrono::Duration::hours(1),
        "registration_closes_at": now + chrono::Duration::days(1),
        "sessions": [{"starts_at": now + chrono::Duration::days(2), "ends_at": now + chrono::Duration::days(2) + chrono::Duration::hours(1)}]
    });
    let answer = app.post("/courses", Some(&staff.access_token), body).await;
    answer.assert_status(201)["id"].as_str().unwrap().to_owned()
}

async fn residents(app: &TestApp, community: &str, n: usize) -> Vec<Session> {
    stream::iter(0..n)
        .map(|i| async move { app.resident_of(community, &format!("bench-{i}")).await })
        .buffer_unordered(16)
        .collect()
        .await
}

/// The verdict on a rush: exactly `seats` enrolled and the waitlist exactly 1..rest.
async fn verdict(db: &DatabaseConnection, course_id: &str, users: usize, seats: usize) -> String {
    let rows = enrollment::Entity::find()
        .filter(enrollment::Column::CourseId.eq(course_id))
        .all(db)
        .await
        .unwrap();
    let enrolled = rows.iter().filter(|e| e.status == "enrolled").count();
    let mut positions: Vec<i32> = rows.iter().filter_map(|e| e.waitlist_position).collect();
    positions.sort();
    let expected: Vec<i32> = (1..=(users.saturating_sub(seats)) as i32).collect();
    if enrolled == seats.min(users) && positions == expected {
        format!(
            "correct: {enrolled} enrolled, positions 1..{}",
            expected.len()
        )
    } else {
        format!("WRONG: {enrolled} enrolled, {} waitlisted", positions.len())
    }
}

struct Bench<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    minimal: String,
    community: String,
    users: &'a [Session],
}

impl Bench<'_> {
    fn linli_enrolments(&self, course: &str) -> Vec<reqwest::RequestBuilder> {
        self.users
            .iter()
            .map(|u| {
                self.http
                    .post(self.app.url(&format!("/courses/{course}/enrollments")))
                    .bearer_auth(&u.access_token)
                    .json(&json!({}))
            })
            .collect()
    }

    fn minimal_enrolments(&self, course: &str) -> Vec<reqwest::RequestBuilder> {
        self.users
            .iter()
            .map(|u| {
                self.http
                    .post(format!(
                        "{}/minimal/{}/courses/{course}/enrollments",
                        self.minimal, self.community
                    ))
                    .header("x-user", &u.user_id)
                    .json(&json!({}))
            })
            .collect()
    }

    fn linli_lists(&self, n: usize) -> Vec<reqwest::RequestBuilder> {
        (0..n)
            .map(|i| {
                self.http
                    .get(self.app.url("/courses"))
                    .bearer_auth(&self.users[i % self.users.len()].access_token)
            })
            .collect()
    }

    fn minimal_lists(&self, n: usize) -> Vec<reqwest::RequestBuilder> {
        (0..n)
            .map(|_| {
                self.http.get(format!(
                    "{}/minimal/{}/courses",
                    self.minimal, self.community
                ))
            })
            .collect()
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let users: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let in_flight: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(500);
    let seats: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(100);
    let database = if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        "postgresql"
    } else {
        "sqlite"
    };
    // `BENCH_WORKERS=off`: no embedded workers, the notifications stay in the outbox.
    let workers_off = std::env::var("BENCH_WORKERS").is_ok_and(|v| v == "off");
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_JOB_POLL_MS".into(), "50".into());
        if workers_off {
            vars.insert("LINLI_EMBEDDED_WORKERS".into(), "false".into());
        }
    })
    .await;
    linli_tests::wechat_accepts_everything(&app.wechat).await;
    let (community, staff) = app.community_with_staff("bench").await;
    app.patch(
        &format!("/communities/{community}/settings"),
        Some(&staff.access_token),
        json!({"max_active_enrollments": 50}),
    )
    .await
    .assert_status(200);
    let people = residents(&app, &community, users).await;
    let bench = Bench {
        app: &app,
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(in_flight)
            .build()
            .unwrap(),
        minimal: start_minimal(app.state.db.clone()),
        community: community.clone(),
        users: &people,
    };
    println!(
        "classes benchmark on {database}, {} cores, {users} users",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    println!("rush: {users} users, {in_flight} in flight, {seats} seats");
    let minimal_course = course(&app, &staff, "minimal rush", seats as i64).await;
    let minimal = load(bench.minimal_enrolments(&minimal_course), in_flight).await;
    minimal.report("minimal");
    println!(
        "           {}",
        verdict(&app.state.db, &minimal_course, users, seats).await
    );
    let linli_course = course(&app, &staff, "linli rush", seats as i64).await;
    let linli = load(bench.linli_enrolments(&linli_course), in_flight).await;
    linli.report("linli");
    println!(
        "           {}",
        verdict(&app.state.db, &linli_course, users, seats).await
    );
    println!(
        "  drain time linli/minimal: {:.2}",
        linli.elapsed.as_secs_f64() / minimal.elapsed.as_secs_f64()
    );
    if !workers_off {
        app.drain().await;
    }

    println!("hot course: {users} enrolments, 64 connections, 1,000 seats");
    let minimal_course = course(&app, &staff, "minimal hot", 1000).await;
    let minimal = load(bench.minimal_enrolments(&minimal_course), 64).await;
    minimal.report("minimal");
    let linli_course = course(&app, &staff, "linli hot", 1000).await;
    let linli = load(bench.linli_enrolments(&linli_course), 64).await;
    linli.report("linli");
    println!(
        "  throughput linli/minimal: {:.2}",
        linli.per_second() / minimal.per_second()
    );
    if !workers_off {
        app.drain().await;
    }

    for i in 0..20 {
        course(&app, &staff, &format!("course {i}"), 30).await;
    }
    let reads = users * 2;
    println!("course list: {reads} reads of 20 courses, 64 connections");
    let minimal = load(bench.minimal_lists(reads), 64).await;
    minimal.report("minimal");
    let linli = load(bench.linli_lists(reads), 64).await;
    linli.report("linli");
    println!(
        "  throughput linli/minimal: {:.2}",
        linli.per_second() / minimal.per_second()
    );
}
