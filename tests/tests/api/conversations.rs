//! Conversations (私信): opened by a claim or an accepted delivery, gapless numbering, retries,
//! content security that fails closed, membership that follows the context, blocks, reports and
//! the staff's oversight.
use std::collections::BTreeSet;

use chrono::Duration;
use linli_tests::{Answer, Session, TestApp, spawn_app, wechat_accepts_everything};
use serde_json::{Value, json};
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{method, path},
};

const ELDER_PHONE: &str = "13800005678";

pub(crate) struct Wish {
    pub community: String,
    pub staff: Session,
    pub daughter: Session,
    pub elder: Session,
    pub volunteer: Session,
    pub wish: String,
    pub conversation: String,
}

/// The elder's daughter posts a wish for her mother; a volunteer claims it.
pub(crate) async fn claimed_wish(app: &TestApp, name: &str) -> Wish {
    wechat_accepts_everything(&app.wechat).await;
    let (community, staff) = app.community_with_staff(name).await;
    app.patch(
        &format!("/communities/{community}/settings"),
        Some(&staff.access_token),
        json!({"wish_review": "auto"}),
    )
    .await
    .assert_status(200);
    let elder = app.resident_of(&community, &format!("{name}-elder")).await;
    app.patch(
        "/me",
        Some(&elder.access_token),
        json!({"nickname": "王奶奶", "phone": ELDER_PHONE}),
    )
    .await
    .assert_status(200);
    let daughter = app
        .resident_of(&community, &format!("{name}-daughter"))
        .await;
    app.patch(
        "/me",
        Some(&daughter.access_token),
        json!({"nickname": "王小红", "phone": "13900001111"}),
    )
    .await
    .assert_status(200);
    let volunteer = app
        .volunteer_of(&staff, &community, &format!("{name}-volunteer"))
        .await;
    let posted = app
        .post(
            "/wishes",
            Some(&daughter.access_token),
            json!({"title": "修收音机", "description": "妈妈的收音机坏了", "category": "service", "budget_fen": 3000}),
        )
        .await;
    let wish = posted.assert_status(201)["id"].as_str().unwrap().to_owned();
    claim(app, &volunteer, &wish).await.assert_status(200);
    let conversation = only_conversation(app, &volunteer).await;
    Wish {
        community,
        staff,
        daughter,
        elder,
        volunteer,
        wish,
        conversation,
    }
}

async fn claim(app: &TestApp, who: &Session, wish: &str) -> Answer {
    app.post(
        &format!("/wishes/{wish}/claim"),
        Some(&who.access_token),
        json!({}),
    )
    .await
}

async fn conversations(app: &TestApp, who: &Session) -> Vec<Value> {
    app.get("/conversations", Some(&who.access_token))
        .await
        .assert_status(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn only_conversation(app: &TestApp, who: &Session) -> String {
    let list = conversations(app, who).await;
    assert_eq!(list.len(), 1, "{list:?}");
    list[0]["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn send(
    app: &TestApp,
    who: &Session,
    conversation: &str,
    text: &str,
    id: &str,
) -> Answer {
    app.post(
        &format!("/conversations/{conversation}/messages"),
        Some(&who.access_token),
        json!({"text": text, "client_msg_id": id}),
    )
    .await
}

async fn messages(app: &TestApp, who: &Session, conversation: &str, query: &str) -> Vec<Value> {
    app.get(
        &format!("/conversations/{conversation}/messages?{query}"),
        Some(&who.access_token),
    )
    .await
    .assert_status(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn conversation(app: &TestApp, who: &Session, id: &str) -> Value {
    app.get(&format!("/conversations/{id}"), Some(&who.access_token))
        .await
        .assert_status(200)
        .clone()
}

#[tokio::test]
async fn a_claim_opens_a_conversation_where_the_volunteer_and_the_family_talk_without_numbers() {
    let app = spawn_app().await;
    let w = claimed_wish(&app, "cv1").await;
    for who in [&w.daughter, &w.volunteer] {
        assert_eq!(only_conversation(&app, who).await, w.conversation);
    }
    assert!(conversations(&app, &w.elder).await.is_empty());
    let seen = conversation(&app, &w.volunteer, &w.conversation).await;
    assert_eq!(seen["context"], json!({"type": "wish", "id": w.wish}));
    let people: Vec<(String, String)> = seen["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let (name, role) = (&p["display_name"], &p["role"]);
            (
                role.as_str().unwrap().to_owned(),
                name.as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        people.contains(&("poster".into(), "王**".into())),
        "the poster's name is masked: {people:?}"
    );
    assert!(people.iter().any(|(role, _)| role == "claimer"));
    assert!(!seen.to_string().contains(ELDER_PHONE), "no phone, ever");
    assert_eq!(seen["state"], "open");

    let sent = send(
        &app,
        &w.volunteer,
        &w.conversation,
        "周四下午方便吗？",
        "m-1",
    )
    .await;
    let first = sent.assert_status(201).clone();
    assert_eq!(
        (first["seq"].as_i64(), &first["status"]),
        (Some(1), &json!("published"))
    );
    let daughter_view = conversation(&app, &w.daughter, &w.conversation).await;
    assert_eq!(
        (&daughter_view["last_seq"], &daughter_view["unread_count"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(daughter_view["last_message"]["text"], "周四下午方便吗？");
    let mine = conversation(&app, &w.volunteer, &w.conversation).await;
    assert_eq!(
        mine["unread_count"], 0,
        "sending reads up to one's own message"
    );

    send(&app, &w.daughter, &w.conversation, "可以，谢谢！", "d-1")
        .await
        .assert_status(201);
    let history = messages(&app, &w.volunteer, &w.conversation, "").await;
    let seqs: Vec<i64> = history.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![2, 1], "history: newest first");
    let caught_up = messages(&app, &w.volunteer, &w.conversation, "after_seq=1").await;
    assert_eq!(caught_up.len(), 1);
    assert_eq!(caught_up[0]["text"], "可以，谢谢！");

    // Read markers only move forward and never past the last message.
    let read = format!("/conversations/{}/read", w.conversation);
    app.post(&read, Some(&w.volunteer.access_token), json!({"seq": 99}))
        .await
        .assert_status(204);
    assert_eq!(
        conversation(&app, &w.volunteer, &w.conversation).await["read_seq"],
        2
    );
    app.post(&read, Some(&w.volunteer.access_token), json!({"seq": 1}))
        .await
        .assert_status(204);
    assert_eq!(
        conversation(&app, &w.volunteer, &w.conversation).await["read_seq"],
        2
    );

    // Nobody else reads it or learns that it exists; staff not in it neither.
    let neighbour = app.resident_of(&w.community, "cv1-neighbour").await;
    for who in [&neighbour, &w.staff] {
        app.get(
            &format!("/conversations/{}", w.conversation),
            Some(&who.access_token),
        )
        .await
        .assert_error(404, "not_found");
        send(&app, who, &w.conversation, "hi", "x-1")
            .await
            .assert_error(404, "not_found");
    }
}

#[tokio::test]
async fn a_wish_posted_on_an_elders_behalf_brings_the_elder_in_as_beneficiary() {
    let app = spawn_app().await;
    let w = claimed_wish(&app, "cv1b").await;
    let posted = app
        .post(
            "/wishes",
            Some(&w.staff.access_token),
            json!({"title": "陪聊天", "description": "想有人聊聊", "category": "companionship",
                   "budget_fen": 0, "beneficiary_user_id": w.elder.user_id}),
        )
        .await;
    let wish = posted.assert_status(201)["id"].as_str().unwrap().to_owned();
    claim(&app, &w.volunteer, &wish).await.assert_status(200);
    let elders = conversations(&app, &w.elder).await;
    assert_eq!(elders.len(), 1);
    let roles: BTreeSet<&str> = elders[0]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, BTreeSet::from(["beneficiary", "claimer", "poster"]));
    assert!(
        !elders[0].to_string().contains(ELDER_PHONE),
        "no phone, ever"
    );
}

#[tokio::test]
async fn fifty_simultaneous_sends_from_two_participants_are_numbered_one_to_fifty() {
    let app = spawn_app().await;
    let w = claimed_wish(&app, "cv2").await;
    app.patch(
        &format!("/communities/{}/settings", w.community),
        Some(&w.staff.access_token),
        json!({"message_rate_per_minute": 600}),
    )
    .await
    .assert_status(200);
    let sends = (0..50).map(|i| {
        let who = if i % 2 == 0 {
            &w.volunteer
        } else {
            &w.daughter
        };
        let (app, conversation) = (&app, &w.conversation);
        async move {
            send(
                app,
                who,
                conversation,
                &format!("消息{i}"),
                &format!("c-{i}"),
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    assert!(answers.iter().all(|a| a.status == 201), "{answers:?}");
    let mut seqs: Vec<i64> = answers
        .iter()
        .map(|a| a.body["seq"].as_i64().unwrap())
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    let all = messages(&app, &w.daughter, &w.conversation, "after_seq=0&limit=100").await;
    let stored: Vec<i64> = all.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(stored, (1..=50).collect::<Vec<_>>(), "gapless, in order");
}

#[tokio::test]
async fn sends_through_two_instances_on_one_database_are_numbered_without_gaps() {
    let app = spawn_app().await;
    let Some((other, _)) = app.another_instance().await else {
        return; // SQLite is for one instance.
    };
    let w = claimed_wish(&app, "cv2b").await;
    app.patch(
        &format!("/communities/{}/settings", w.community),
        Some(&w.staff.access_token),
        json!({"message_rate_per_minute": 600}),
    )
    .await
    .assert_status(200);
    let sends = (0..50).map(|i| {
        let (who, base) = if i % 2 == 0 {
            (&w.volunteer, app.address.clone())
        } else {
            (&w.daughter, other.clone())
        };
        let (app, conversation) = (&app, &w.conversation);
        async move {
            let url = format!("{base}/api/v1/conversations/{conversation}/messages");
            let request = app
                .http
                .post(url)
                .bearer_auth(&who.access_token)
                .json(&json!({"text": format!("消息{i}"), "client_msg_id": format!("c-{i}")}));
            app.send(request).await
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    let mut seqs: Vec<i64> = answers
        .iter()
        .map(|a| a.assert_status(201)["seq"].as_i64().unwrap())
        .collect();
    seqs.sort();
    assert_eq!(
        seqs,
        (1..=50).collect::<Vec<_>>(),
        "gapless across instances"
    );
}

#[tokio::test]
async fn ten_simultaneous_sends_with_one_client_msg_id_make_one_message() {
    let app = spawn_app().await;
    let w = claimed_wish(&app, "cv3").await;
    let sends = (0..10).map(|i| {
        let (app, w) = (&app, &w);
        async move {
            send(
                app,
                &w.volunteer,
                &w.conversation,
                &format!("重试{i}"),
                "same",
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    let ids: BTreeSet<String> = answers
        .iter()
        .map(|a| a.assert_status(201)["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "one message for one client_msg_id");
    let texts: BTreeSet<&str> = answers
        .iter()
        .map(|a| a.body["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 1, "every retry answers the first message");
    let all = messages(&app, &w.daughter, &w.conversation, "").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["seq"], 1);
    // The next message takes seq 2: no number was lost to the losers.
    let next = send(&app, &w.volunteer, &w.conversation, "下一条", "other").await;
    assert_eq!(next.assert_status(201)["seq"], 2);
}

#[tokio::test]
async fn a_message_waits_while_wechat_cannot_check_it_and_is_published_when_it_recovers() {
    let app = spawn_app().await;
    let w = claimed_wish(&app, "cv4").await;
    send(&app, &w.volunteer, &w.conversation, "第一条", "a")
        .await
        .assert_status(201);
    // WeChat is down for the send and the worker's first attempt.
    Mock::given(method("POST"))
        .and(path("/wxa/msg_sec_check"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&app.wechat)
        .await;
    let held = send(&app, &w.volunteer, &w.conversation, "等一下再看", "b").await;
    let held = held.assert_status(202).clone();
    assert_eq!(held["status"], "pending");
    assert!(held["seq"].is_null());
    let replay = send(&app, &w.volunteer, &w.conversation, "whatever", "b").await;
    assert_eq!(replay.assert_status(202)["id"], held["id"]);
    let others = messages(&app, &w.daughter, &w.conversation, "").await;
    assert_eq!(others.len(), 1, "nobody else sees it unchecked");
    let own = messages(&app, &w.volunteer, &w.conversation, "").await;
    assert_eq!(own.len(), 2, "its sender does");
    assert_eq!(own[0]["status"], "pending");

    // WeChat answers again: the worker's next attempt (its back-off runs on the clock)
    // publishes the message with the next number.
    let mut published = Vec::new();
    for _ in 0..80 {
        app.clock.advance(Duration::seconds(20));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let daughter = app.dev_login("cv4-daughter").await;
        published = messages(&app, &daughter, &w.conversation, "after_seq=1").await;
        if !published.is_empty() {
            break;
        }
    }
    assert_eq!(published.len(), 1, "published once WeChat answered");
    assert_eq!(
        (&published[0]["seq"], &published[0]["text"]),
        (&json!(2), &json!("等一下再看"))
    );
    let volunteer = app.dev_login("cv4-volunteer").await;
    let own = messages(&app, &volunteer, &w.conversation, "").await;
    assert_eq!(own.len(), 2, "no longer pending: {own:?}");
    assert!(own.iter().all(|m| m["status"] == "published"));
}

#[tokio::test]
async fn risky_text_is_refused_and_a_refused_check_later_tells_the_sender() {
    let app = spawn_app().await;
    let w = claimed_wish(&app, "cv5").await;
    Mock::given(method("POST"))
        .and(path("/wxa/msg_sec_check"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"errcode": 0, "result": {"suggest": "risky", "label": 20001}}),
            ),
        )
        .up_to_n_times(1)
        .mount(&app.wechat)
        .await;
    send(&app, &w.volunteer, &w.conversation, "不好的话", "r-1")
        .await
        .assert_error(422, "content_rejected");
    assert!(
        messages(&app, &w.volunteer, &w.conversation, "")
            .await
            .is_empty()
    );

    // Held while WeChat is down, then judged risky by the worker: rejected, never shown.
    Mock::given(method("POST"))
        .and(path("/wxa/msg_sec_check"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&app.wechat)
        .await;
    Mock::given(method("POST"))
        .and(path("/wxa/msg_sec_check"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"errcode": 0, "result": {"suggest": "risky", "label": 20001}}),
            ),
        )
        .mount(&app.wechat)
        .await;
    send(&app, &w.volunteer, &w.conversation, "又是不好的话", "r-2")
        .await
        .assert_status(202);
    app.drain().await;
    let own = messages(&app, &w.volunteer, &w.conversation, "").await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["status"], "rejected");
    assert!(
        messages(&app, &w.daughter, &w.conversation, "")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn membership_follows_the_claim_and_the_conversation_ends_with_the_wish() {
    let app = spawn_app().await;
    let w = claimed_wish(&app, "cv6").await;
    send(&app, &w.volunteer, &w.conversation, "我来帮忙", "v-1")
        .await
        .assert_status(201);
    app.post(
        &format!("/wishes/{}/release", w.wish),
        Some(&w.volunteer.access_token),
        json!({}),
    )
    .await
    .assert_status(200);
    assert!(
        conversations(&app, &w.volunteer).await.is_empty(),
        "released: out"
    );
    app.get(
        &format!("/conversations/{}", w.conversation),
        Some(&w.volunteer.access_token),
    )
    .await
    .assert_error(404, "not_found");

    let second = app.volunteer_of(&w.staff, &w.community, "cv6-second").await;
    claim(&app, &second, &w.wish).await.assert_status(200);
    assert_eq!(only_conversation(&app, &second).await, w.conversation);
    let history = messages(&app, &second, &w.conversation, "").await;
    assert_eq!(history.len(), 1, "the newcomer reads what was said");

    for step in ["deliver"] {
        app.post(
            &format!("/wishes/{}/{step}", w.wish),
            Some(&second.access_token),
            json!({}),
        )
        .await
        .assert_status(200);
    }
    app.post(
        &format!("/wishes/{}/confirm", w.wish),
        Some(&w.daughter.access_token),
        json!({}),
    )
    .await
    .assert_status(200);
    send(&app, &second, &w.conversation, "不客气", "s-1")
        .await
        .assert_status(201);
    app.clock.advance(Duration::days(7) + Duration::minutes(1));
    let second = app.dev_login("cv6-second").await;
    assert_eq!(
        conversation(&app, &second, &w.conversation).await["state"],
        "read_only"
    );
    send(&app, &second, &w.conversation, "还在吗", "s-2")
        .await
        .assert_error(409, "conversation_read_only");
}

#[tokio::test]
async fn a_blocked_conversation_refuses_the_others_and_staff_cannot_be_blocked() {
    let app = spawn_app().await;
    let w = claimed_wish(&app, "cv7").await;
    let block = format!("/conversations/{}/block", w.conversation);
    app.post(&block, Some(&w.daughter.access_token), json!({}))
        .await
        .assert_status(204);
    assert_eq!(
        conversation(&app, &w.daughter, &w.conversation).await["blocked_by_me"],
        true
    );
    send(&app, &w.volunteer, &w.conversation, "在吗", "b-1")
        .await
        .assert_error(403, "blocked");
    app.delete(&block, Some(&w.daughter.access_token))
        .await
        .assert_status(204);
    send(&app, &w.volunteer, &w.conversation, "在吗", "b-2")
        .await
        .assert_status(201);

    let direct = app
        .post(
            "/conversations",
            Some(&w.staff.access_token),
            json!({"user_id": w.elder.user_id}),
        )
        .await;
    let direct = direct.assert_status(201)["id"].as_str().unwrap().to_owned();
    let again = app
        .post(
            "/conversations",
            Some(&w.staff.access_token),
            json!({"user_id": w.elder.user_id}),
        )
        .await;
    assert_eq!(again.assert_status(200)["id"], json!(direct));
    app.post(
        &format!("/conversations/{direct}/block"),
        Some(&w.elder.access_token),
        json!({}),
    )
    .await
    .assert_error(409, "cannot_block");
    app.post(
        "/conversations",
        Some(&w.volunteer.access_token),
        json!({"user_id": w.elder.user_id}),
    )
    .await
    .assert_error(403, "forbidden");
    let staff_view = conversation(&app, &w.staff, &direct).await;
    let names: Vec<&str> = staff_view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["display_name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"王奶奶"),
        "staff see names in full: {names:?}"
    );
}

#[tokio::test]
async fn a_report_goes_to_the_inbox_and_staff_reads_are_logged() {
    let app = spawn_app().await;
    let w = claimed_wish(&app, "cv8").await;
    let bad = send(&app, &w.volunteer, &w.conversation, "把你家钥匙给我", "x-1").await;
    let bad = bad.assert_status(201)["id"].as_str().unwrap().to_owned();
    let reported = app
        .post(
            &format!("/conversations/{}/reports", w.conversation),
            Some(&w.daughter.access_token),
            json!({"reason": "fraud", "note": "要钥匙", "message_ids": [bad]}),
        )
        .await;
    let report = reported.assert_status(201).clone();
    assert_eq!(report["status"], "open");
    let report = report["id"].as_str().unwrap().to_owned();

    let inbox = app
        .get(
            &format!("/communities/{}/problems?status=open", w.community),
            Some(&w.staff.access_token),
        )
        .await;
    let items = inbox.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        items
            .iter()
            .any(|p| p["kind"] == "message_report" && p["ref"]["id"] == json!(report)),
        "{items:?}"
    );
    let list = app
        .get(
            &format!("/communities/{}/reports?status=open", w.community),
            Some(&w.staff.access_token),
        )
        .await;
    assert_eq!(
        list.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );

    let read = app
        .get(
            &format!("/reports/{report}/messages"),
            Some(&w.staff.access_token),
        )
        .await;
    let read = read.assert_status(200).clone();
    assert_eq!(read["reported"][0]["text"], "把你家钥匙给我");
    assert_eq!(read["messages"].as_array().unwrap().len(), 1);
    app.get(
        &format!("/reports/{report}/messages"),
        Some(&w.daughter.access_token),
    )
    .await
    .assert_error(403, "forbidden");

    let admin = app.login_as_admin().await;
    let log = app
        .get(
            &format!("/communities/{}/access-log", w.community),
            Some(&admin.access_token),
        )
        .await;
    let log = log.assert_status(200)["items"].as_array().unwrap().clone();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["reader_id"], json!(w.staff.user_id));
    assert_eq!(log[0]["report_id"], json!(report));
    app.get(
        &format!("/communities/{}/access-log", w.community),
        Some(&w.staff.access_token),
    )
    .await
    .assert_error(403, "forbidden");

    let resolved = app
        .post(
            &format!("/reports/{report}/resolve"),
            Some(&w.staff.access_token),
            json!({"outcome": "warned", "note": "已提醒志愿者"}),
        )
        .await;
    assert_eq!(resolved.assert_status(200)["status"], "resolved");
    app.post(
        &format!("/reports/{report}/resolve"),
        Some(&w.staff.access_token),
        json!({"outcome": "warned", "note": "again"}),
    )
    .await
    .assert_error(409, "invalid_state");
    let open = app
        .get(
            &format!("/communities/{}/problems?status=open", w.community),
            Some(&w.staff.access_token),
        )
        .await;
    assert!(
        open.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "resolving the report closed its inbox item"
    );
    app.get(
        &format!("/reports/{report}/messages"),
        Some(&w.staff.access_token),
    )
    .await
    .assert_error(409, "invalid_state");
    app.drain().await;
    let kinds: Vec<String> = app
        .notifications(&w.daughter)
        .await
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"report_resolved".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn sends_are_rate_limited_per_user_and_replays_do_not_count() {
    let app = spawn_app().await;
    let w = claimed_wish(&app, "cv9").await;
    app.patch(
        &format!("/communities/{}/settings", w.community),
        Some(&w.staff.access_token),
        json!({"message_rate_per_minute": 3}),
    )
    .await
    .assert_status(200);
    for i in 0..3 {
        send(&app, &w.volunteer, &w.conversation, "好", &format!("r-{i}"))
            .await
            .assert_status(201);
    }
    send(&app, &w.volunteer, &w.conversation, "好", "r-0")
        .await
        .assert_status(201);
    let limited = send(&app, &w.volunteer, &w.conversation, "好", "r-3").await;
    limited.assert_error(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    send(&app, &w.daughter, &w.conversation, "好", "d-0")
        .await
        .assert_status(201);
    app.clock.advance(Duration::seconds(61));
    let volunteer = app.dev_login("cv9-volunteer").await;
    send(&app, &volunteer, &w.conversation, "好", "r-3")
        .await
        .assert_status(201);
}

#[tokio::test]
async fn an_offline_recipient_is_reminded_once_until_they_read() {
    let app = spawn_app().await;
    let w = claimed_wish(&app, "cv10").await;
    let reminders = || async {
        app.notifications(&w.daughter)
            .await
            .iter()
            .filter(|n| n["kind"] == "message_received")
            .count()
    };
    for i in 0..3 {
        send(
            &app,
            &w.volunteer,
            &w.conversation,
            "在吗",
            &format!("o-{i}"),
        )
        .await
        .assert_status(201);
    }
    app.drain().await;
    assert_eq!(reminders().await, 1, "one reminder until read");
    app.post(
        &format!("/conversations/{}/read", w.conversation),
        Some(&w.daughter.access_token),
        json!({"seq": 3}),
    )
    .await
    .assert_status(204);
    send(&app, &w.volunteer, &w.conversation, "还在吗", "o-3")
        .await
        .assert_status(201);
    app.drain().await;
    assert_eq!(reminders().await, 2, "read, then reminded again");
}

#[tokio::test]
async fn bad_input_to_conversations_changes_nothing() {
    let app = spawn_app().await;
    let w = claimed_wish(&app, "cv11").await;
    let cases = [
        json!({"text": "", "client_msg_id": "e-1"}),
        json!({"text": "   ", "client_msg_id": "e-2"}),
        json!({"text": "x".repeat(1001), "client_msg_id": "e-3"}),
        json!({"text": "ok", "client_msg_id": ""}),
        json!({"text": "ok", "client_msg_id": "y".repeat(65)}),
        json!({"text": "ok"}),
    ];
    for body in cases {
        app.post(
            &format!("/conversations/{}/messages", w.conversation),
            Some(&w.volunteer.access_token),
            body,
        )
        .await
        .assert_error(422, "validation_failed");
    }
    assert!(
        messages(&app, &w.daughter, &w.conversation, "")
            .await
            .is_empty()
    );
    app.get(
        &format!("/conversations/{}/messages?after_seq=-1", w.conversation),
        Some(&w.daughter.access_token),
    )
    .await
    .assert_error(422, "validation_failed");
    app.post(
        &format!("/conversations/{}/reports", w.conversation),
        Some(&w.daughter.access_token),
        json!({"reason": "fraud", "message_ids": ["no-such-message"]}),
    )
    .await
    .assert_error(422, "validation_failed");
}
