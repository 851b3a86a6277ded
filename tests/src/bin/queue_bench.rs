//! Queue benchmark: events per second from commit to in-app notification and fake-WeChat send,
//! with p50/p99 latency, beside a minimal handler that does only the essential work (store the
//! notification, call WeChat) in the same run; reports the ratio.
//!
//! `cargo run --release -p linli-tests --bin queue_bench -- [events] [concurrency] [rate]`
//! `rate` (events per second over all tasks) paces the commits; 0 (the default) commits as fast
//! as possible, which measures throughput; a paced run measures latency under ordinary load.
//! On PostgreSQL: `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run …`
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The service's own allocator (see `api/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use entity::{notification, subscription_quota};
use jobs::Clock;
use linli_tests::{NOTICE_TEMPLATE, TestApp, spawn_app_with, wechat_accepts_everything};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set, sea_query::Expr};
use tokio::sync::Mutex;

struct Run {
    name: &'static str,
    events: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        linli_tests::bench::percentile(&self.latencies, p)
    }

    fn report(&self) {
        println!(
            "{:<9} {:>6} events in {:>7.2} s  {:>8.1} events/s  p50 {:>7.1} ms  p99 {:>7.1} ms",
            self.name,
            self.events,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            self.percentile(0.50).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0,
        );
    }
}

fn notice(user: &str, i: usize) -> jobs::notify::Notify {
    jobs::notify::Notify {
        recipients: vec![user.to_owned()],
        kind: "test_notice".into(),
        title: format!("基准{i}"),
        body: "排队测试".into(),
        ref_type: None,
        ref_id: None,
        data: Default::default(),
    }
}

/// Linli: commit an outbox event; the relay, a worker and WeChat do the rest.
async fn run_linli(app: &TestApp, user: &str, events: usize, concurrency: usize, rate: u64) -> Run {
    let committed: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let started = Instant::now();
    let per_task = events / concurrency;
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let db = app.state.db.clone();
        let clock = app.clock.clone();
        let user = user.to_owned();
        let committed = committed.clone();
        tasks.push(tokio::spawn(async move {
            let mut pace = (rate > 0).then(|| {
                tokio::time::interval(Duration::from_secs_f64(concurrency as f64 / rate as f64))
            });
            for i in 0..per_task {
                if let Some(pace) = pace.as_mut() {
                    pace.tick().await;
                }
                let id = jobs::outbox::emit(&db, &notice(&user, t * per_task + i), clock.now())
                    .await
                    .unwrap();
                committed.lock().await.insert(id, Instant::now());
            }
        }));
    }
    let total = per_task * concurrency;
    let mut seen: HashMap<i64, Duration> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    // Events finish roughly in order: look only at those from the oldest unfinished one on.
    let mut watermark = 0i64;
    while seen.len() < total && Instant::now() < deadline {
        let sent: Vec<i64> = notification::Entity::find()
            .select_only()
            .column(notification::Column::SourceEvent)
            .filter(notification::Column::SourceEvent.gte(watermark))
            .filter(notification::Column::WechatStatus.eq("sent"))
            .into_tuple()
            .all(&app.state.db)
            .await
            .unwrap();
        let now = Instant::now();
        let committed = committed.lock().await;
        for id in sent {
            if let (false, Some(at)) = (seen.contains_key(&id), committed.get(&id)) {
                seen.insert(id, now - *at);
            }
        }
        watermark = committed
            .keys()
            .filter(|id| !seen.contains_key(id))
            .min()
            .copied()
            .unwrap_or(watermark);
        drop(committed);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(seen.len(), total, "every event became a sent notification");
    Run {
        name: "linli",
        events: total,
        elapsed: started.elapsed(),
        latencies: seen.into_values().collect(),
    }
}

/// The minimal handler: store the notification and call WeChat inline, nothing else.
async fn run_minimal(
    app: &TestApp,
    user: &str,
    events: usize,
    concurrency: usize,
    rate: u64,
) -> Run {
    let started = Instant::now();
    let per_task = events / concurrency;
    let http = reqwest::Client::new();
    let send_url = format!(
        "{}/cgi-bin/message/subscribe/send?access_token=TOKEN-1",
        app.wechat.uri()
    );
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let db = app.state.db.clone();
        let user = user.to_owned();
        let http = http.clone();
        let send_url = send_url.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            let mut pace = (rate > 0).then(|| {
                tokio::time::interval(Duration::from_secs_f64(concurrency as f64 / rate as f64))
            });
            for i in 0..per_task {
                if let Some(pace) = pace.as_mut() {
                    pace.tick().await;
                }
                let at = Instant::now();
                let n = t * per_task + i;
                notification::Entity::insert(notification::ActiveModel {
                    id: Set(uuid::Uuid::now_v7().simple().to_string()),
                    user_id: Set(user.clone()),
                    kind: Set("test_notice".into()),
                    title: Set(format!("基准{n}")),
                    body: Set("排队测试".into()),
                    ref_type: Set(None),
                    ref_id: Set(None),
                    source_event: Set(-(n as i64) - 1),
                    wechat_status: Set("sent".into()),
                    created_at: Set(chrono::Utc::now()),
                    read_at: Set(None),
                })
                .exec_without_returning(&db)
                .await
                .unwrap();
                http.post(&send_url)
                    .json(&serde_json::json!({"touser": "bench", "template_id": NOTICE_TEMPLATE, "data": {}}))
                    .send()
                    .await
                    .unwrap();
                latencies.push(at.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    Run {
        name: "minimal",
        events: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let concurrency: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    let rate: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(0);
    let database = if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        "postgresql"
    } else {
        "sqlite"
    };
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_JOB_POLL_MS".into(), "10".into());
    })
    .await;
    wechat_accepts_everything(&app.wechat).await;
    let me = app.dev_login("bench-user").await;
    app.accept_template(&me, NOTICE_TEMPLATE, 1).await;
    subscription_quota::Entity::update_many()
        .col_expr(
            subscription_quota::Column::Remaining,
            Expr::value(10_000_000),
        )
        .filter(subscription_quota::Column::UserId.eq(&me.user_id))
        .exec(&app.state.db)
        .await
        .unwrap();

    let pacing = if rate == 0 {
        "as fast as possible".to_owned()
    } else {
        format!("paced at {rate}/s")
    };
    println!(
        "queue benchmark on {database}: {events} events, {concurrency} committing tasks, {pacing}, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let minimal = run_minimal(&app, &me.user_id, events, concurrency, rate).await;
    minimal.report();
    let linli = run_linli(&app, &me.user_id, events, concurrency, rate).await;
    linli.report();
    println!(
        "ratio linli/minimal throughput: {:.2}",
        linli.per_second() / minimal.per_second()
    );
}
