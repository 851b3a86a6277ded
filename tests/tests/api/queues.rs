//! The promise to an elder: a committed event becomes exactly one notification and one WeChat
//! message, across Redis outages, dead workers, transient WeChat failures and retries.
use std::time::Duration;

use jobs::Clock;

use linli_tests::{
    NOTICE_TEMPLATE, OwnRedis, ROLE_TEMPLATE, spawn_app, spawn_app_with, wechat_accepts_everything,
};
use redis::AsyncCommands;
use serde_json::json;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{method, path},
};

#[tokio::test]
async fn a_role_grant_becomes_one_notification_and_one_wechat_message() {
    let app = spawn_app().await;
    wechat_accepts_everything(&app.wechat).await;
    let (community, staff) = app.community_with_staff("q1").await;
    let resident = app.resident_of(&community, "q1-resident").await;
    app.accept_template(&resident, ROLE_TEMPLATE, 1).await;

    app.grant(&staff, &community, &resident, "partner", json!({}))
        .await
        .assert_status(204);
    app.drain().await;

    let notes = app.notifications(&resident).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["kind"], "role_granted");
    assert_eq!(
        notes[0]["ref"],
        json!({"type": "community", "id": community})
    );
    assert_eq!(notes[0]["read_at"], json!(null));

    let sends = app.wechat_sends().await;
    assert_eq!(sends.len(), 1, "exactly one WeChat message");
    assert_eq!(sends[0]["touser"], "q1-resident");
    assert_eq!(sends[0]["template_id"], ROLE_TEMPLATE);
    let quota = app
        .get("/me/subscriptions", Some(&resident.access_token))
        .await;
    let role = quota.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["kind"] == "role_granted")
        .cloned()
        .unwrap();
    assert_eq!(role["remaining"], 0, "the grant was spent");

    // Granting again changes nothing and tells no one again.
    app.grant(&staff, &community, &resident, "partner", json!({}))
        .await
        .assert_status(204);
    app.drain().await;
    assert_eq!(app.notifications(&resident).await.len(), 1);
}

#[tokio::test]
async fn without_quota_only_the_in_app_notification_is_made() {
    let app = spawn_app().await;
    wechat_accepts_everything(&app.wechat).await;
    let me = app.dev_login("no-quota").await;
    app.emit_notice(&[&me.user_id], "无订阅").await;
    app.drain().await;
    assert_eq!(app.notifications(&me).await.len(), 1);
    assert!(app.wechat_sends().await.is_empty());
}

#[tokio::test]
async fn notifications_are_listed_counted_and_marked_read() {
    let app = spawn_app().await;
    let me = app.dev_login("reader").await;
    let other = app.dev_login("someone-else").await;
    for i in 0..5 {
        app.emit_notice(&[&me.user_id], &format!("通知{i}")).await;
    }
    app.emit_notice(&[&other.user_id], "别人的").await;
    app.drain().await;

    let token = Some(me.access_token.as_str());
    let count = app.get("/notifications/unread-count", token).await;
    assert_eq!(count.assert_status(200)["count"], 5);
    let first = app.get("/notifications?limit=2", token).await;
    let first = first.assert_status(200).clone();
    let titles: Vec<_> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["通知4", "通知3"], "newest first");
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("/notifications?limit=10&cursor={cursor}"), token)
        .await;
    assert_eq!(
        rest.assert_status(200)["items"].as_array().unwrap().len(),
        3
    );

    let newest = first["items"][0]["id"].clone();
    app.post("/notifications/read", token, json!({"ids": [newest]}))
        .await
        .assert_status(204);
    let unread = app.get("/notifications?unread=true&limit=100", token).await;
    assert_eq!(
        unread.assert_status(200)["items"].as_array().unwrap().len(),
        4
    );
    app.post("/notifications/read", token, json!({"all": true}))
        .await
        .assert_status(204);
    let count = app.get("/notifications/unread-count", token).await;
    assert_eq!(count.assert_status(200)["count"], 0);
    // Someone else's stay unread.
    let theirs = app
        .get("/notifications/unread-count", Some(&other.access_token))
        .await;
    assert_eq!(theirs.assert_status(200)["count"], 1);

    app.post("/notifications/read", token, json!({}))
        .await
        .assert_error(422, "validation_failed");
    app.post("/notifications/read", token, json!({"ids": "all"}))
        .await
        .assert_error(422, "validation_failed");
    app.get("/notifications?unread=maybe", token)
        .await
        .assert_error(400, "bad_request");
}

#[tokio::test]
async fn subscriptions_count_accepts_and_ignore_unknown_templates() {
    let app = spawn_app().await;
    let me = app.dev_login("subscriber").await;
    let token = Some(me.access_token.as_str());
    app.accept_template(&me, NOTICE_TEMPLATE, 2).await;
    let answer = app
        .post(
            "/me/subscriptions",
            token,
            json!({"results": {"TPL-ROLE": "reject", "TPL-UNKNOWN": "accept"}}),
        )
        .await;
    let quotas = answer.assert_status(200).as_array().unwrap().clone();
    assert_eq!(quotas.len(), 2);
    let notice = quotas.iter().find(|q| q["kind"] == "test_notice").unwrap();
    assert_eq!(notice["remaining"], 2);
    app.post(
        "/me/subscriptions",
        token,
        json!({"results": {"TPL-NOTICE": "ban"}}),
    )
    .await
    .assert_status(200);
    let after = app.get("/me/subscriptions", token).await;
    let notice = after.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["kind"] == "test_notice")
        .cloned()
        .unwrap();
    assert_eq!(notice["banned"], true);
    for bad in [
        json!({}),
        json!({"results": {}}),
        json!({"results": {"TPL-NOTICE": "maybe"}}),
    ] {
        app.post("/me/subscriptions", token, bad)
            .await
            .assert_error(422, "validation_failed");
    }
}

#[tokio::test]
async fn wechat_43101_stops_sending_that_kind_without_retrying() {
    let app = spawn_app().await;
    wechat_accepts_everything(&app.wechat).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/subscribe/send"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"errcode": 43101, "errmsg": "user refuse to accept the msg"}),
            ),
        )
        .with_priority(1)
        .mount(&app.wechat)
        .await;
    let me = app.dev_login("refused").await;
    app.accept_template(&me, NOTICE_TEMPLATE, 3).await;
    app.emit_notice(&[&me.user_id], "一").await;
    app.drain().await;
    assert_eq!(app.wechat_sends().await.len(), 1, "not retried");
    let quotas = app.get("/me/subscriptions", Some(&me.access_token)).await;
    let notice = quotas.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["kind"] == "test_notice")
        .cloned()
        .unwrap();
    assert_eq!(notice["remaining"], 0, "WeChat's word beats our count");
    app.emit_notice(&[&me.user_id], "二").await;
    app.drain().await;
    assert_eq!(
        app.wechat_sends().await.len(),
        1,
        "no more sends of that kind"
    );
    assert_eq!(app.notifications(&me).await.len(), 2);
    assert_eq!(app.dead_jobs().await, 0);
}

#[tokio::test]
async fn a_transient_wechat_failure_is_retried_then_sent_once() {
    let app = spawn_app().await;
    wechat_accepts_everything(&app.wechat).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/subscribe/send"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&app.wechat)
        .await;
    let me = app.dev_login("flaky").await;
    app.accept_template(&me, NOTICE_TEMPLATE, 1).await;
    let job = app.emit_notice(&[&me.user_id], "重试").await;
    app.eventually(10, "the first attempt", || async {
        !app.wechat_sends().await.is_empty()
    })
    .await;
    app.retry_recorded(job, 1).await;
    assert_eq!(
        app.wechat_sends().await.len(),
        1,
        "the retry waits for its backoff"
    );
    // The backoff is measured on the clock the test holds.
    app.clock.advance(chrono::Duration::minutes(11));
    app.drain().await;
    assert_eq!(
        app.wechat_sends().await.len(),
        2,
        "one failure, one success"
    );
    assert_eq!(app.notifications(&me).await.len(), 1);
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once() {
    let app = spawn_app().await;
    wechat_accepts_everything(&app.wechat).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/subscribe/send"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 42001, "errmsg": "access_token expired"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&app.wechat)
        .await;
    let me = app.dev_login("expired-token").await;
    app.accept_template(&me, NOTICE_TEMPLATE, 1).await;
    app.emit_notice(&[&me.user_id], "令牌").await;
    app.drain().await;
    assert_eq!(app.wechat_sends().await.len(), 2);
    let token_fetches = app
        .wechat
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/cgi-bin/stable_token")
        .count();
    assert_eq!(token_fetches, 2, "fetched, then refreshed once");
    let quotas = app.get("/me/subscriptions", Some(&me.access_token)).await;
    let notice = quotas.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["kind"] == "test_notice")
        .cloned()
        .unwrap();
    assert_eq!(notice["remaining"], 0);
}

#[tokio::test]
async fn a_job_that_keeps_failing_goes_dead_and_can_be_retried() {
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_JOB_MAX_ATTEMPTS".into(), "2".into());
    })
    .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "T", "expires_in": 7200})),
        )
        .mount(&app.wechat)
        .await;
    let failing = Mock::given(method("POST"))
        .and(path("/cgi-bin/message/subscribe/send"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": -1, "errmsg": "system busy"})),
        )
        .mount_as_scoped(&app.wechat)
        .await;
    let admin = app.login_as_admin().await;
    let me = app.dev_login("doomed").await;
    app.accept_template(&me, NOTICE_TEMPLATE, 1).await;
    let job = app.emit_notice(&[&me.user_id], "失败").await;

    app.eventually(10, "the first attempt", || async {
        app.wechat_sends().await.len() == 1
    })
    .await;
    app.retry_recorded(job, 1).await;
    app.clock.advance(chrono::Duration::minutes(11));
    app.eventually(10, "the job to die", || async {
        app.dead_jobs().await == 1
    })
    .await;

    let token = Some(admin.access_token.as_str());
    let dead = app.get("/admin/jobs/dead", token).await;
    let dead = dead.assert_status(200)["items"].as_array().unwrap().clone();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["id"], json!(job.to_string()), "ids are strings");
    assert_eq!(dead[0]["attempts"], 2);
    let stats = app.get("/admin/jobs", token).await;
    let notify = stats.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "notify")
        .cloned()
        .unwrap();
    assert_eq!(notify["dead"], 1);
    let dead_stream: u64 = app
        .state
        .redis
        .conn()
        .xlen(app.state.redis.key("queue:notify:dead"))
        .await
        .unwrap();
    assert_eq!(dead_stream, 1);

    // WeChat recovers; an operator puts the job back.
    drop(failing);
    wechat_accepts_everything(&app.wechat).await;
    let id = dead[0]["id"].as_str().unwrap();
    app.post(&format!("/admin/jobs/dead/{id}/retry"), token, json!({}))
        .await
        .assert_status(204);
    app.drain().await;
    assert_eq!(app.dead_jobs().await, 0);
    assert_eq!(
        app.notifications(&me).await.len(),
        1,
        "still one notification"
    );
    assert_eq!(
        app.wechat_sends().await.len(),
        3,
        "two failures, then one success"
    );

    let resident = app.dev_login("nosy").await;
    app.get("/admin/jobs/dead", Some(&resident.access_token))
        .await
        .assert_error(403, "forbidden");
    app.get("/admin/jobs", Some(&resident.access_token))
        .await
        .assert_error(403, "forbidden");
    // Ids that name no dead job, or cannot name any, are not found.
    for id in [
        "999999",
        &job.to_string(),
        &format!("+{job}"),
        &format!("0{job}"),
        "abc",
        "99999999999999999999999",
        "%00",
    ] {
        app.post(&format!("/admin/jobs/dead/{id}/retry"), token, json!({}))
            .await
            .assert_error(404, "not_found");
    }
}

#[tokio::test]
async fn an_event_committed_while_redis_is_down_is_delivered_when_it_returns() {
    let mut redis = OwnRedis::start().await;
    let url = redis.url();
    let app = spawn_app_with(|vars| {
        vars.insert("REDIS_URL".into(), url);
    })
    .await;
    wechat_accepts_everything(&app.wechat).await;
    let me = app.dev_login("patient").await;
    app.accept_template(&me, NOTICE_TEMPLATE, 1).await;

    redis.stop();
    app.emit_notice(&[&me.user_id], "等待").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ready = app.get("/readyz", None).await;
    let ready = ready.assert_status(200);
    assert_eq!(ready["redis"], "down");
    assert_eq!(ready["outbox_backlog"], 1, "the event waits in the outbox");
    assert!(app.notifications(&me).await.is_empty());

    redis.resume().await;
    app.drain().await;
    assert_eq!(app.notifications(&me).await.len(), 1);
    assert_eq!(app.wechat_sends().await.len(), 1);
}

#[tokio::test]
async fn a_job_left_by_a_dead_worker_is_reclaimed_and_done_once() {
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_EMBEDDED_WORKERS".into(), "false".into());
    })
    .await;
    wechat_accepts_everything(&app.wechat).await;
    let me = app.dev_login("orphan").await;
    app.accept_template(&me, NOTICE_TEMPLATE, 1).await;
    app.emit_notice(&[&me.user_id], "孤儿").await;
    jobs::runtime::publish_due(&app.state.jobs).await.unwrap();

    // A worker reads the job and dies (kill -9) before acknowledging it.
    let key = jobs::runtime::stream_key(&app.state.redis, jobs::outbox::Queue::Notify);
    let mut conn = app.state.redis.conn();
    let _: redis::Value = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&key)
        .arg("linli")
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut conn)
        .await
        .unwrap();
    let read: redis::streams::StreamReadReply = conn
        .xread_options(
            &[&key],
            &[">"],
            &redis::streams::StreamReadOptions::default()
                .group("linli", "doomed-worker")
                .count(10),
        )
        .await
        .unwrap();
    assert_eq!(read.keys[0].ids.len(), 1, "the dead worker held the job");

    let runtime = linli_api::startup::start_jobs(&app.state);
    app.drain().await;
    runtime.stop().await;
    assert_eq!(app.notifications(&me).await.len(), 1);
    assert_eq!(app.wechat_sends().await.len(), 1);
    let pending: redis::streams::StreamPendingReply = conn.xpending(&key, "linli").await.unwrap();
    assert_eq!(pending.count(), 0, "acknowledged");
}

#[tokio::test]
async fn a_job_lost_with_redis_data_is_published_again() {
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_EMBEDDED_WORKERS".into(), "false".into());
    })
    .await;
    let me = app.dev_login("lost").await;
    app.emit_notice(&[&me.user_id], "丢失").await;
    jobs::runtime::publish_due(&app.state.jobs).await.unwrap();
    // Redis restarts without its data: the stream entry is gone.
    let key = jobs::runtime::stream_key(&app.state.redis, jobs::outbox::Queue::Notify);
    let _: i64 = app.state.redis.conn().del(&key).await.unwrap();

    let runtime = linli_api::startup::start_jobs(&app.state);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.notifications(&me).await.is_empty());
    app.clock.advance(chrono::Duration::minutes(3));
    app.drain().await;
    runtime.stop().await;
    assert_eq!(app.notifications(&me).await.len(), 1);
}

#[tokio::test]
async fn workers_sharing_a_queue_do_each_job_once() {
    let app = spawn_app().await;
    wechat_accepts_everything(&app.wechat).await;
    let extra = [
        linli_api::startup::start_jobs(&app.state),
        linli_api::startup::start_jobs(&app.state),
    ];
    let me = app.dev_login("busy").await;
    app.accept_template(&me, NOTICE_TEMPLATE, 60).await;
    for i in 0..50 {
        app.emit_notice(&[&me.user_id], &format!("第{i}条")).await;
    }
    app.drain().await;
    for runtime in extra {
        runtime.stop().await;
    }
    assert_eq!(app.notifications(&me).await.len(), 50);
    assert_eq!(app.wechat_sends().await.len(), 50);
}

#[tokio::test]
async fn the_scheduler_fires_a_deadline_once_when_the_clock_reaches_it() {
    let app = spawn_app().await;
    let second = linli_api::startup::start_jobs(&app.state);
    let me = app.dev_login("scheduled").await;
    let event = jobs::notify::Notify {
        recipients: vec![me.user_id.clone()],
        kind: "test_notice".into(),
        title: "提醒".into(),
        body: "课程即将开始".into(),
        ref_type: None,
        ref_id: None,
        data: Default::default(),
    };
    let now = app.clock.now();
    let at = now + chrono::Duration::minutes(10);
    jobs::scheduler::schedule(&app.state.db, "reminder:1", &event, at, now)
        .await
        .unwrap();
    // Scheduling the same deadline twice stores it once.
    jobs::scheduler::schedule(&app.state.db, "reminder:1", &event, at, now)
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.notifications(&me).await.is_empty(), "not yet");
    app.clock.advance(chrono::Duration::minutes(10));
    app.eventually(10, "the reminder", || async {
        app.notifications(&me).await.len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    second.stop().await;
    assert_eq!(
        app.notifications(&me).await.len(),
        1,
        "fired once across two schedulers"
    );

    // A cancelled deadline never fires.
    let later = app.clock.now() + chrono::Duration::minutes(5);
    jobs::scheduler::schedule(&app.state.db, "reminder:2", &event, later, app.clock.now())
        .await
        .unwrap();
    assert!(
        jobs::scheduler::cancel(&app.state.db, "reminder:2")
            .await
            .unwrap()
    );
    app.clock.advance(chrono::Duration::minutes(6));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let me = app.dev_login("scheduled").await;
    assert_eq!(app.notifications(&me).await.len(), 1);
}
