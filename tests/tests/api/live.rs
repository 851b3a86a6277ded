//! Live push: `GET /ws` with `hello` first, ping/pong, notifications pushed to every socket of
//! their user on any instance, sockets closed on logout, reuse, a community change, idleness and
//! misbehaviour, a registry that holds nothing of closed sockets, and Redis down changing nothing
//! a request answers.
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use jobs::Clock;
use linli_tests::{OwnRedis, Session, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, protocol::frame::coding::CloseCode},
};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A test's WebSocket client.
struct Socket {
    ws: Ws,
}

/// How a socket ended, as its client saw it.
#[derive(Debug, PartialEq)]
enum Ended {
    Closed(CloseCode),
    Dropped,
}

/// Opens `GET /api/v1/ws` on the instance at `base` (`http://127.0.0.1:port`).
async fn try_open(base: &str, token: &str) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let url = format!("{}/api/v1/ws", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("a header value"),
    );
    Ok(tokio_tungstenite::connect_async(request).await?.0)
}

async fn open_at(base: &str, who: &Session) -> Socket {
    Socket {
        ws: try_open(base, &who.access_token)
            .await
            .expect("the socket opens"),
    }
}

async fn open(app: &TestApp, who: &Session) -> Socket {
    open_at(&app.address, who).await
}

impl Socket {
    /// The next text frame, within five seconds.
    async fn next_frame(&mut self) -> Value {
        let deadline = Duration::from_secs(5);
        loop {
            let message = tokio::time::timeout(deadline, self.ws.next())
                .await
                .expect("a frame within 5 s")
                .expect("the socket is open")
                .expect("a good frame");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON frame"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame of this type, skipping others (a conversation's own frames may still be
    /// on their way when a socket opens).
    async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next_frame().await;
            if frame["type"] == kind {
                return frame["data"].clone();
            }
        }
    }

    /// Opens and checks the `hello`; returns its data.
    async fn hello(&mut self) -> Value {
        let frame = self.next_frame().await;
        assert_eq!(frame["type"], "hello", "{frame}");
        frame["data"].clone()
    }

    async fn send(&mut self, message: Message) {
        self.ws.send(message).await.expect("the frame is sent");
    }

    /// Pings and expects the pong next: nothing else was waiting for this socket.
    async fn ping_pong(&mut self) {
        self.send(Message::text(r#"{"type":"ping"}"#)).await;
        assert_eq!(self.next_frame().await, json!({"type": "pong", "data": {}}));
    }

    /// Waits up to `secs` for the server to end the socket, reading (and dropping) frames.
    async fn ended_within(&mut self, secs: u64) -> Ended {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("the socket is still open after {secs} s"));
            match next {
                Some(Ok(Message::Close(frame))) => {
                    return Ended::Closed(frame.map_or(CloseCode::Status, |f| f.code));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Ended::Dropped,
            }
        }
    }
}

/// Waits for the queues to drain and for frames in flight to land.
async fn settle(app: &TestApp) {
    app.drain().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
}

async fn registry_empty(app: &TestApp) {
    app.eventually(10, "the registry to be empty", || async {
        app.state.live.sizes() == Default::default()
    })
    .await;
}

#[tokio::test]
async fn hello_comes_first_with_the_unread_count_and_ping_gets_pong() {
    let app = spawn_app().await;
    let me = app.dev_login("live-hello").await;
    app.emit_notice(&[&me.user_id], "一").await;
    app.emit_notice(&[&me.user_id], "二").await;
    app.drain().await;

    let mut socket = open(&app, &me).await;
    let hello = socket.hello().await;
    assert_eq!(
        hello,
        json!({"user_id": me.user_id, "unread_notifications": 2, "conversations": []})
    );
    socket.ping_pong().await;
    // Other text is ignored; the socket stays open.
    socket.send(Message::text(r#"{"type":"subscribe"}"#)).await;
    socket.send(Message::text("not json")).await;
    socket.ping_pong().await;

    let refused = try_open(&app.address, "not-a-token").await;
    assert!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_stored_notification_reaches_every_open_socket_of_its_user() {
    let app = spawn_app().await;
    let me = app.dev_login("live-two-phones").await;
    let my_other_login = app.dev_login("live-two-phones").await;
    let neighbour = app.dev_login("live-neighbour").await;
    let mut phone = open(&app, &me).await;
    let mut tablet = open(&app, &my_other_login).await;
    let mut theirs = open(&app, &neighbour).await;
    for socket in [&mut phone, &mut tablet, &mut theirs] {
        socket.hello().await;
    }

    app.emit_notice(&[&me.user_id], "到了").await;
    let on_phone = phone.next_frame().await;
    let on_tablet = tablet.next_frame().await;
    assert_eq!(on_phone["type"], "notification.created");
    assert_eq!(on_phone, on_tablet);
    let listed = app.notifications(&me).await;
    assert_eq!(
        on_phone["data"], listed[0],
        "the frame carries the listed Notification"
    );
    assert_eq!(on_phone["data"]["title"], "到了");
    assert_eq!(
        on_phone["data"]["ref"],
        json!({"type": "test", "id": "t-1"})
    );
    // A kind without a WeChat template is stored with others in one transaction: pushed too.
    quiet_notice(&app, &me.user_id).await;
    let quiet = phone.next_frame().await;
    assert_eq!(quiet["data"]["kind"], "quiet_notice");
    assert_eq!(tablet.next_frame().await, quiet);
    // The neighbour got nothing: the next thing on their socket is their own pong.
    settle(&app).await;
    theirs.ping_pong().await;
}

/// Commits a notice of a kind that has no subscribe template.
async fn quiet_notice(app: &TestApp, user_id: &str) {
    let event = jobs::notify::Notify::about(
        vec![user_id.to_owned()],
        "quiet_notice",
        ("test", "t-2"),
        "悄悄",
        "正文",
    );
    jobs::outbox::emit(&app.state.db, &event, app.clock.now())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_frame_published_through_one_instance_reaches_a_socket_held_by_another() {
    let app = spawn_app().await;
    let Some((other, _)) = app.another_instance().await else {
        return;
    };
    let me = app.dev_login("live-far").await;
    let mut socket = open_at(&other, &me).await;
    socket.hello().await;

    app.state.push.publish(
        vec![me.user_id.clone()],
        jobs::push::Frame::new("test.frame", json!({"n": 1})),
    );
    assert_eq!(
        socket.next_frame().await,
        json!({"type": "test.frame", "data": {"n": 1}})
    );
    // A notification, whichever instance's worker stores it.
    app.emit_notice(&[&me.user_id], "远方").await;
    assert_eq!(socket.next_frame().await["type"], "notification.created");
}

#[tokio::test]
async fn logout_closes_the_logins_sockets_within_five_seconds_and_no_others() {
    let app = spawn_app().await;
    let me = app.dev_login("live-logout").await;
    let still_in = app.dev_login("live-logout").await;
    let mut leaving = open(&app, &me).await;
    let mut staying = open(&app, &still_in).await;
    leaving.hello().await;
    staying.hello().await;

    app.post(
        "/auth/logout",
        Some(&me.access_token),
        json!({"refresh_token": me.refresh_token}),
    )
    .await
    .assert_status(204);
    assert_eq!(
        leaving.ended_within(5).await,
        Ended::Closed(CloseCode::Policy)
    );
    staying.ping_pong().await;
    // The revoked token opens nothing.
    assert!(try_open(&app.address, &me.access_token).await.is_err());
}

#[tokio::test]
async fn a_logout_through_one_instance_closes_the_sockets_held_by_another() {
    let app = spawn_app().await;
    let Some((other, other_state)) = app.another_instance().await else {
        return;
    };
    let me = app.dev_login("live-logout-far").await;
    let mut socket = open_at(&other, &me).await;
    socket.hello().await;
    app.post(
        "/auth/logout",
        Some(&me.access_token),
        json!({"refresh_token": me.refresh_token}),
    )
    .await
    .assert_status(204);
    assert_eq!(
        socket.ended_within(5).await,
        Ended::Closed(CloseCode::Policy)
    );
    app.eventually(5, "the other instance's registry to be empty", || async {
        other_state.live.sizes() == Default::default()
    })
    .await;
}

#[tokio::test]
async fn a_reused_refresh_token_closes_the_logins_sockets() {
    let app = spawn_app().await;
    let me = app.dev_login("live-reuse").await;
    let mut socket = open(&app, &me).await;
    socket.hello().await;
    let refresh = |token: &str| app.post("/auth/refresh", None, json!({"refresh_token": token}));
    let second = refresh(&me.refresh_token).await;
    let second = second.assert_status(200)["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    refresh(&second).await.assert_status(200);
    refresh(&me.refresh_token)
        .await
        .assert_error(401, "refresh_token_reused");
    assert_eq!(
        socket.ended_within(5).await,
        Ended::Closed(CloseCode::Policy)
    );
}

#[tokio::test]
async fn a_user_who_changes_community_has_their_sockets_closed() {
    let app = spawn_app().await;
    let (first, _) = app.community_with_staff("live-c1").await;
    let admin = app.login_as_admin().await;
    let second = app.create_community(&admin, "live-c2").await;
    let mover = app.resident_of(&first, "live-mover").await;
    let mut socket = open(&app, &mover).await;
    socket.hello().await;

    app.join(&mover, &second).await;
    assert_eq!(
        socket.ended_within(5).await,
        Ended::Closed(CloseCode::Policy)
    );
    let mut again = open(&app, &mover).await;
    assert_eq!(again.hello().await["user_id"], mover.user_id.as_str());
}

#[tokio::test]
async fn a_staff_member_whose_role_is_taken_away_has_their_sockets_closed() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("live-role").await;
    let admin = app.login_as_admin().await;
    let mut socket = open(&app, &staff).await;
    socket.hello().await;
    app.delete(
        &format!(
            "/communities/{community}/members/{}/roles/staff",
            staff.user_id
        ),
        Some(&admin.access_token),
    )
    .await
    .assert_status(204);
    assert_eq!(
        socket.ended_within(5).await,
        Ended::Closed(CloseCode::Policy)
    );
}

#[tokio::test]
async fn the_sweep_closes_a_socket_whose_login_was_revoked_without_a_close_order() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let me = app.dev_login("live-sweep").await;
    let mut socket = open(&app, &me).await;
    socket.hello().await;
    // Revoked behind the service's back: no close order is published, only the sweep can see it.
    let db = &app.state.db;
    db.execute_unprepared("UPDATE login_sessions SET revoked_at = created_at")
        .await
        .unwrap();
    assert_eq!(
        socket.ended_within(5).await,
        Ended::Closed(CloseCode::Policy)
    );
    registry_empty(&app).await;
}

#[tokio::test]
async fn a_thousand_sockets_opened_and_dropped_leave_the_registry_empty() {
    let app = spawn_app().await;
    let app = &app;
    let mut people = Vec::new();
    for i in 0..10 {
        people.push(app.dev_login(&format!("live-crowd-{i}")).await);
    }
    let mut sockets = Vec::new();
    for round in 0..10 {
        let opened = futures_util::future::join_all((0..100).map(|i| {
            let who = &people[(round * 100 + i) % people.len()];
            async move {
                let mut socket = open(app, who).await;
                socket.hello().await;
                socket
            }
        }))
        .await;
        sockets.extend(opened);
    }
    let sizes = app.state.live.sizes();
    assert_eq!((sizes.sockets, sizes.users, sizes.sessions), (1000, 10, 10));

    let (clean, vanished): (Vec<_>, Vec<_>) = sockets
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    futures_util::future::join_all(clean.into_iter().map(|(_, mut socket)| async move {
        let _ = socket.ws.close(None).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), socket.ws.next()).await;
    }))
    .await;
    // The other half vanish: the TCP connection is dropped without a close frame.
    drop(vanished);
    registry_empty(app).await;
}

#[tokio::test]
async fn an_idle_socket_is_closed_after_the_idle_limit_and_a_pinging_one_is_not() {
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_WS_IDLE_SECS".into(), "1".into());
    })
    .await;
    let me = app.dev_login("live-idle").await;
    let mut quiet = open(&app, &me).await;
    let mut chatty = open(&app, &me).await;
    quiet.hello().await;
    chatty.hello().await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        chatty.ping_pong().await;
    }
    assert_eq!(
        quiet.ended_within(1).await,
        Ended::Closed(CloseCode::Normal)
    );
    chatty.ping_pong().await;
}

#[tokio::test]
async fn binary_and_oversized_frames_close_the_socket() {
    let app = spawn_app().await;
    let me = app.dev_login("live-rude").await;
    let mut binary = open(&app, &me).await;
    binary.hello().await;
    binary.send(Message::binary(vec![1, 2, 3])).await;
    assert_eq!(
        binary.ended_within(5).await,
        Ended::Closed(CloseCode::Unsupported)
    );

    let mut huge = open(&app, &me).await;
    huge.hello().await;
    huge.send(Message::text("x".repeat(64 * 1024))).await;
    assert_eq!(huge.ended_within(5).await, Ended::Closed(CloseCode::Size));
    registry_empty(&app).await;
}

#[tokio::test]
async fn with_redis_down_requests_that_publish_still_succeed_and_sockets_still_close() {
    let mut redis = OwnRedis::start().await;
    let url = redis.url();
    let app = spawn_app_with(|vars| {
        vars.insert("REDIS_URL".into(), url);
    })
    .await;
    let admin = app.login_as_admin().await;
    let community = app.create_community(&admin, "live-down").await;
    let me = app.dev_login("live-down").await;
    let mut socket = open(&app, &me).await;
    socket.hello().await;

    redis.stop();
    app.join(&me, &community).await;
    assert_eq!(
        socket.ended_within(5).await,
        Ended::Closed(CloseCode::Policy)
    );
    let mut socket = open(&app, &me).await;
    socket.hello().await;
    app.post(
        "/auth/logout",
        Some(&me.access_token),
        json!({"refresh_token": me.refresh_token}),
    )
    .await
    .assert_status(204);
    assert_eq!(
        socket.ended_within(5).await,
        Ended::Closed(CloseCode::Policy)
    );
}

#[tokio::test]
async fn sqlite_refuses_a_second_instance_on_the_same_file() {
    let app = spawn_app().await;
    let second = app.try_another_instance().await;
    if app.on_sqlite() {
        let error = second.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.starts_with("DATABASE_URL: "), "{error}");
        assert!(error.contains("one instance"), "{error}");
    } else {
        assert!(second.is_ok(), "PostgreSQL serves several instances");
    }
}

#[tokio::test]
async fn a_message_reaches_the_other_participants_socket_and_hello_lists_the_conversation() {
    let app = spawn_app().await;
    let w = crate::conversations::claimed_wish(&app, "live-msg").await;
    settle(&app).await;
    let mut daughter = open(&app, &w.daughter).await;
    let hello = daughter.hello().await;
    assert_eq!(
        hello["conversations"],
        json!([{"id": w.conversation, "last_seq": 0, "read_seq": 0}])
    );
    let mut volunteer = open(&app, &w.volunteer).await;
    volunteer.hello().await;

    crate::conversations::send(&app, &w.volunteer, &w.conversation, "我到楼下了", "m-1")
        .await
        .assert_status(201);
    let created = daughter.next_of("message.created").await;
    assert_eq!(
        (
            &created["conversation_id"],
            &created["seq"],
            &created["text"]
        ),
        (&json!(w.conversation), &json!(1), &json!("我到楼下了"))
    );
    // The sender's other sockets hear of it too.
    assert_eq!(volunteer.next_of("message.created").await["seq"], 1);

    app.post(
        &format!("/conversations/{}/read", w.conversation),
        Some(&w.daughter.access_token),
        json!({"seq": 1}),
    )
    .await
    .assert_status(204);
    let read = volunteer.next_of("conversation.read").await;
    assert_eq!(
        read,
        json!({"conversation_id": w.conversation, "user_id": w.daughter.user_id, "read_seq": 1})
    );

    // With a socket open she is online: no WeChat reminder for the message.
    app.drain().await;
    let reminders = app
        .notifications(&w.daughter)
        .await
        .iter()
        .filter(|n| n["kind"] == "message_received")
        .count();
    assert_eq!(reminders, 0, "an online participant is not reminded");
}

#[tokio::test]
async fn a_message_sent_through_one_instance_reaches_a_socket_held_by_another() {
    let app = spawn_app().await;
    let Some((other, _)) = app.another_instance().await else {
        return;
    };
    let w = crate::conversations::claimed_wish(&app, "live-far-msg").await;
    settle(&app).await;
    let mut daughter = open_at(&other, &w.daughter).await;
    daughter.hello().await;
    crate::conversations::send(&app, &w.volunteer, &w.conversation, "周四见", "far-1")
        .await
        .assert_status(201);
    let created = daughter.next_of("message.created").await;
    assert_eq!(
        (&created["seq"], &created["text"]),
        (&json!(1), &json!("周四见"))
    );
}

#[tokio::test]
async fn a_claim_pushes_the_new_conversation_and_a_release_tells_the_claimer() {
    let app = spawn_app().await;
    let w = crate::conversations::claimed_wish(&app, "live-conv").await;
    settle(&app).await;
    let mut volunteer = open(&app, &w.volunteer).await;
    volunteer.hello().await;
    app.post(
        &format!("/wishes/{}/release", w.wish),
        Some(&w.volunteer.access_token),
        json!({}),
    )
    .await
    .assert_status(200);
    let updated = volunteer.next_of("conversation.updated").await;
    assert_eq!(
        (&updated["id"], &updated["left"]),
        (&json!(w.conversation), &json!(true))
    );
}
