//! Classes: fair registration, the waitlist, eligibility and isolation.
use chrono::{Duration, Utc};
use jobs::Clock;
use linli_tests::{Session, TestApp, spawn_app};
use serde_json::{Value, json};

fn course_body(app: &TestApp, capacity: i64) -> Value {
    let now = app.clock.now();
    json!({
        "title": "太极拳", "category": "taichi", "capacity": capacity,
        "registration_opens_at": now - Duration::hours(1),
        "registration_closes_at": now + Duration::days(1),
        "sessions": [{"starts_at": now + Duration::days(2), "ends_at": now + Duration::days(2) + Duration::hours(1)}]
    })
}

async fn create_course(app: &TestApp, staff: &Session, body: Value) -> String {
    let answer = app.post("/courses", Some(&staff.access_token), body).await;
    answer.assert_status(201)["id"].as_str().unwrap().to_owned()
}

async fn enroll(app: &TestApp, who: &Session, course: &str, body: Value) -> linli_tests::Answer {
    app.post(
        &format!("/courses/{course}/enrollments"),
        Some(&who.access_token),
        body,
    )
    .await
}

async fn residents(app: &TestApp, community: &str, prefix: &str, n: usize) -> Vec<Session> {
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        all.push(app.resident_of(community, &format!("{prefix}-{i}")).await);
    }
    all
}

async fn roster(app: &TestApp, staff: &Session, course: &str) -> Value {
    app.get(
        &format!("/courses/{course}/roster"),
        Some(&staff.access_token),
    )
    .await
    .assert_status(200)
    .clone()
}

fn positions(roster: &Value) -> Vec<i64> {
    roster["waitlist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["waitlist_position"].as_i64().unwrap())
        .collect()
}

/// Sets the community's limit of places a participant may hold at once.
async fn limit_places(app: &TestApp, staff: &Session, community: &str, places: u32) {
    app.patch(
        &format!("/communities/{community}/settings"),
        Some(&staff.access_token),
        json!({"max_active_enrollments": places}),
    )
    .await
    .assert_status(200);
}

/// Exactly `taken` of the simultaneous enrolments were taken; every other was refused with `code`.
fn taken_and_refused(answers: &[linli_tests::Answer], taken: usize, code: &str) {
    assert_eq!(answers.iter().filter(|a| a.status == 201).count(), taken);
    assert!(
        answers
            .iter()
            .filter(|a| a.status != 201)
            .all(|a| a.code() == code),
        "{answers:?}"
    );
}

/// `n` courses of five seats each.
async fn courses(app: &TestApp, staff: &Session, n: usize) -> Vec<String> {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        all.push(create_course(app, staff, course_body(app, 5)).await);
    }
    all
}

#[tokio::test]
async fn seats_then_the_waitlist_and_a_freed_seat_promotes_the_first() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("c1").await;
    let course = create_course(&app, &staff, course_body(&app, 2)).await;
    let people = residents(&app, &community, "c1", 4).await;
    let mut enrollments = Vec::new();
    for who in &people {
        enrollments.push(
            enroll(&app, who, &course, json!({}))
                .await
                .assert_status(201)
                .clone(),
        );
    }
    let statuses: Vec<_> = enrollments
        .iter()
        .map(|e| {
            (
                e["status"].as_str().unwrap(),
                e["waitlist_position"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("enrolled", None),
            ("enrolled", None),
            ("waitlisted", Some(1)),
            ("waitlisted", Some(2))
        ]
    );
    let read = app
        .get(&format!("/courses/{course}"), Some(&people[0].access_token))
        .await;
    let read = read.assert_status(200).clone();
    assert_eq!(
        (
            read["enrolled_count"].as_i64(),
            read["waitlist_count"].as_i64(),
            read["seats_left"].as_i64()
        ),
        (Some(2), Some(2), Some(0))
    );
    assert_eq!(read["status"], "open");

    app.delete(
        &format!("/enrollments/{}", enrollments[0]["id"].as_str().unwrap()),
        Some(&people[0].access_token),
    )
    .await
    .assert_status(204);
    let after = roster(&app, &staff, &course).await;
    let enrolled: Vec<_> = after["enrolled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert!(
        enrolled.contains(&enrollments[2]["id"]),
        "the first on the waitlist took the seat"
    );
    assert_eq!(positions(&after), [1]);
    assert_eq!(after["waitlist"][0]["id"], enrollments[3]["id"]);
    app.drain().await;
    let kinds: Vec<_> = app
        .notifications(&people[2])
        .await
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"course_promoted".to_owned()), "{kinds:?}");

    // Someone else's enrollment is not theirs to cancel.
    app.delete(
        &format!("/enrollments/{}", enrollments[3]["id"].as_str().unwrap()),
        Some(&people[1].access_token),
    )
    .await
    .assert_error(404, "not_found");
    let mine = app
        .get("/me/enrollments", Some(&people[3].access_token))
        .await;
    assert_eq!(
        mine.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn every_enrollment_rule_has_its_code() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("c2").await;
    let resident = app.resident_of(&community, "c2-r").await;
    let now = app.clock.now();

    let mut later = course_body(&app, 5);
    later["registration_opens_at"] = json!(now + Duration::hours(1));
    let later = create_course(&app, &staff, later).await;
    enroll(&app, &resident, &later, json!({}))
        .await
        .assert_error(409, "registration_not_open");

    let course = create_course(&app, &staff, course_body(&app, 1)).await;
    enroll(&app, &resident, &course, json!({}))
        .await
        .assert_status(201);
    enroll(&app, &resident, &course, json!({}))
        .await
        .assert_error(409, "already_enrolled");

    let mut no_waitlist = course_body(&app, 1);
    no_waitlist["waitlist_capacity"] = json!(0);
    let full = create_course(&app, &staff, no_waitlist).await;
    let other = app.resident_of(&community, "c2-other").await;
    enroll(&app, &other, &full, json!({}))
        .await
        .assert_status(201);
    enroll(&app, &resident, &full, json!({}))
        .await
        .assert_error(409, "waitlist_full");

    limit_places(&app, &staff, &community, 1).await;
    let third = create_course(&app, &staff, course_body(&app, 5)).await;
    enroll(&app, &resident, &third, json!({}))
        .await
        .assert_error(409, "enrollment_limit_reached");

    // Ages: a course for children 5–12; an adult without a birth date, then a child.
    let mut kids = course_body(&app, 5);
    kids["min_age"] = json!(5);
    kids["max_age"] = json!(12);
    let kids = create_course(&app, &staff, kids).await;
    enroll(&app, &other, &kids, json!({}))
        .await
        .assert_error(422, "not_eligible");
    let child = app
        .post(
            "/me/dependents",
            Some(&other.access_token),
            json!({"name": "小明", "birth_date": "2019-01-01", "relation": "child"}),
        )
        .await
        .assert_status(201)["id"]
        .clone();
    let kid = enroll(&app, &other, &kids, json!({"dependent_id": child})).await;
    let kid = kid.assert_status(201).clone();
    assert_eq!(kid["participant"]["kind"], "dependent");
    assert_eq!(kid["participant"]["name"], "小明");
    enroll(&app, &resident, &kids, json!({"dependent_id": child}))
        .await
        .assert_error(422, "validation_failed");

    // Registration closes with the clock.
    app.clock.advance(Duration::days(2));
    let fresh = app.dev_login("c2-late").await;
    app.join(&fresh, &community).await;
    enroll(&app, &fresh, &kids, json!({}))
        .await
        .assert_error(409, "registration_not_open");
    let closed = app
        .get(&format!("/courses/{kids}"), Some(&fresh.access_token))
        .await;
    assert_eq!(closed.assert_status(200)["status"], "closed");
}

#[tokio::test]
async fn courses_belong_to_their_community_and_staff_make_them() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("c3").await;
    let (_, other_staff) = app.community_with_staff("c3-other").await;
    let resident = app.resident_of(&community, "c3-r").await;
    app.post(
        "/courses",
        Some(&resident.access_token),
        course_body(&app, 5),
    )
    .await
    .assert_error(403, "forbidden");
    let course = create_course(&app, &staff, course_body(&app, 5)).await;
    app.get(
        &format!("/courses/{course}"),
        Some(&other_staff.access_token),
    )
    .await
    .assert_error(404, "not_found");
    enroll(&app, &other_staff, &course, json!({}))
        .await
        .assert_error(404, "not_found");
    let theirs = app.get("/courses", Some(&other_staff.access_token)).await;
    assert_eq!(theirs.assert_status(200)["items"], json!([]));
    let ours = app
        .get("/courses?status=open", Some(&resident.access_token))
        .await;
    assert_eq!(
        ours.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );
    app.get(
        &format!("/courses/{course}/roster"),
        Some(&resident.access_token),
    )
    .await
    .assert_error(403, "forbidden");

    let now = Utc::now();
    for (bad, field) in [
        (
            json!({"title": "", "category": "x", "capacity": 1, "registration_opens_at": now, "registration_closes_at": now + Duration::days(1), "sessions": [{"starts_at": now, "ends_at": now + Duration::hours(1)}]}),
            "title",
        ),
        (
            json!({"title": "x", "category": "x", "capacity": 0, "registration_opens_at": now, "registration_closes_at": now + Duration::days(1), "sessions": [{"starts_at": now, "ends_at": now + Duration::hours(1)}]}),
            "capacity",
        ),
        (
            json!({"title": "x", "category": "x", "capacity": 1001, "registration_opens_at": now, "registration_closes_at": now + Duration::days(1), "sessions": [{"starts_at": now, "ends_at": now + Duration::hours(1)}]}),
            "capacity",
        ),
        (
            json!({"title": "x", "category": "x", "capacity": 1, "registration_opens_at": now, "registration_closes_at": now + Duration::days(1), "sessions": []}),
            "sessions",
        ),
        (
            json!({"title": "x", "category": "x", "capacity": 1, "registration_opens_at": "soon", "registration_closes_at": now, "sessions": []}),
            "registration_opens_at",
        ),
    ] {
        let answer = app
            .post("/courses", Some(&staff.access_token), bad.clone())
            .await;
        answer.assert_error(422, "validation_failed");
        assert!(
            answer.body["error"]["details"].get(field).is_some(),
            "{field}: {:?}",
            answer.body
        );
    }
    let backwards = json!({"title": "x", "category": "x", "capacity": 1, "registration_opens_at": now + Duration::days(1), "registration_closes_at": now, "sessions": [{"starts_at": now, "ends_at": now + Duration::hours(1)}]});
    app.post("/courses", Some(&staff.access_token), backwards)
        .await
        .assert_error(422, "validation_failed");
    app.get("/courses?status=someday", Some(&resident.access_token))
        .await
        .assert_error(400, "bad_request");
}

#[tokio::test]
async fn five_hundred_simultaneous_enrolments_on_a_hundred_seats() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("c4").await;
    let course = create_course(&app, &staff, course_body(&app, 100)).await;
    let people = residents(&app, &community, "c4", 500).await;
    let rush = people.iter().map(|p| enroll(&app, p, &course, json!({})));
    let answers = futures_util::future::join_all(rush).await;
    assert!(
        answers.iter().all(|a| a.status == 201),
        "{:?}",
        answers.iter().find(|a| a.status != 201)
    );
    let enrolled = answers
        .iter()
        .filter(|a| a.body["status"] == "enrolled")
        .count();
    assert_eq!(enrolled, 100);
    let after = roster(&app, &staff, &course).await;
    assert_eq!(after["enrolled"].as_array().unwrap().len(), 100);
    assert_eq!(positions(&after), (1..=400).collect::<Vec<_>>());
}

#[tokio::test]
async fn one_user_firing_ten_enrolments_gets_one() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("c5").await;
    let course = create_course(&app, &staff, course_body(&app, 10)).await;
    let eager = app.resident_of(&community, "c5-eager").await;
    let answers =
        futures_util::future::join_all((0..10).map(|_| enroll(&app, &eager, &course, json!({}))))
            .await;
    taken_and_refused(&answers, 1, "already_enrolled");
}

#[tokio::test]
async fn one_participant_asking_for_six_courses_at_once_gets_the_limit() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("c7").await;
    limit_places(&app, &staff, &community, 2).await;
    let courses = courses(&app, &staff, 6).await;
    let keen = app.resident_of(&community, "c7-keen").await;
    let answers =
        futures_util::future::join_all(courses.iter().map(|c| enroll(&app, &keen, c, json!({}))))
            .await;
    taken_and_refused(&answers, 2, "enrollment_limit_reached");
    let mine = app
        .get("/me/enrollments", Some(&keen.access_token))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
}

/// Two instances, each taking enrolments together in shared transactions (group commit):
/// the database alone keeps seats, positions and the per-participant limit right between them.
#[tokio::test]
async fn two_instances_enrolling_at_once_share_out_seats_and_limits_exactly() {
    let app = spawn_app().await;
    let Some((other, _)) = app.another_instance().await else {
        return;
    };
    let (community, staff) = app.community_with_staff("c6").await;
    limit_places(&app, &staff, &community, 2).await;
    let through = |i: usize, course: &str, who: &Session| {
        let base = if i.is_multiple_of(2) {
            app.address.clone()
        } else {
            other.clone()
        };
        app.send(
            app.http
                .post(format!("{base}/api/v1/courses/{course}/enrollments"))
                .bearer_auth(&who.access_token)
                .json(&json!({})),
        )
    };

    let course = create_course(&app, &staff, course_body(&app, 50)).await;
    let people = residents(&app, &community, "c6", 150).await;
    let answers = futures_util::future::join_all(
        people
            .iter()
            .enumerate()
            .map(|(i, p)| through(i, &course, p)),
    )
    .await;
    assert!(answers.iter().all(|a| a.status == 201));
    let after = roster(&app, &staff, &course).await;
    assert_eq!(after["enrolled"].as_array().unwrap().len(), 50);
    assert_eq!(positions(&after), (1..=100).collect::<Vec<_>>());

    // One participant asks for four courses at once, through both instances: two places.
    let courses = courses(&app, &staff, 4).await;
    let keen = app.resident_of(&community, "c6-keen").await;
    let answers = futures_util::future::join_all(
        courses
            .iter()
            .enumerate()
            .map(|(i, c)| through(i, c, &keen)),
    )
    .await;
    taken_and_refused(&answers, 2, "enrollment_limit_reached");
}

#[tokio::test]
async fn twenty_simultaneous_cancellations_promote_twenty_in_order() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("c6").await;
    let course = create_course(&app, &staff, course_body(&app, 20)).await;
    let people = residents(&app, &community, "c6", 40).await;
    let mut ids = Vec::new();
    for who in &people {
        ids.push(
            enroll(&app, who, &course, json!({}))
                .await
                .assert_status(201)["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let paths: Vec<String> = ids[..20]
        .iter()
        .map(|id| format!("/enrollments/{id}"))
        .collect();
    let cancels = people[..20]
        .iter()
        .zip(&paths)
        .map(|(who, path)| app.delete(path, Some(&who.access_token)));
    for answer in futures_util::future::join_all(cancels).await {
        answer.assert_status(204);
    }
    let after = roster(&app, &staff, &course).await;
    let mut enrolled: Vec<_> = after["enrolled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    enrolled.sort();
    let mut expected = ids[20..].to_vec();
    expected.sort();
    assert_eq!(
        enrolled, expected,
        "the twenty waiting took the twenty seats"
    );
    assert!(positions(&after).is_empty());
    let read = app
        .get(&format!("/courses/{course}"), Some(&staff.access_token))
        .await;
    assert_eq!(
        (
            read.body["enrolled_count"].as_i64(),
            read.body["waitlist_count"].as_i64()
        ),
        (Some(20), Some(0))
    );
}

#[tokio::test]
async fn staff_edit_promote_remove_and_cancel_and_every_action_is_audited() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("c7").await;
    let course = create_course(&app, &staff, course_body(&app, 1)).await;
    let people = residents(&app, &community, "c7", 5).await;
    let mut ids = Vec::new();
    for who in &people {
        ids.push(
            enroll(&app, who, &course, json!({}))
                .await
                .assert_status(201)["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let token = Some(staff.access_token.as_str());

    // Two more seats: the first two waiting get them.
    let edited = app
        .patch(
            &format!("/courses/{course}"),
            token,
            json!({"capacity": 3, "location": "活动室"}),
        )
        .await;
    let edited = edited.assert_status(200).clone();
    assert_eq!(
        (
            edited["enrolled_count"].as_i64(),
            edited["waitlist_count"].as_i64()
        ),
        (Some(3), Some(2))
    );
    let after = roster(&app, &staff, &course).await;
    assert_eq!(positions(&after), [1, 2]);
    assert_eq!(after["waitlist"][0]["id"], json!(ids[3]));
    app.patch(&format!("/courses/{course}"), token, json!({"capacity": 2}))
        .await
        .assert_error(409, "capacity_below_enrolled");

    // A staff promotion takes a seat beyond capacity and needs a reason.
    app.post(
        &format!("/enrollments/{}/promote", ids[4]),
        token,
        json!({}),
    )
    .await
    .assert_error(422, "validation_failed");
    app.post(
        &format!("/enrollments/{}/promote", ids[0]),
        token,
        json!({"reason": "x"}),
    )
    .await
    .assert_error(409, "invalid_state");
    let promoted = app
        .post(
            &format!("/enrollments/{}/promote", ids[4]),
            token,
            json!({"reason": "行动不便的独居老人"}),
        )
        .await;
    assert_eq!(promoted.assert_status(200)["status"], "enrolled");
    let after = roster(&app, &staff, &course).await;
    assert_eq!(after["enrolled"].as_array().unwrap().len(), 4);
    assert_eq!(positions(&after), [1]);
    app.post(
        &format!("/enrollments/{}/promote", ids[3]),
        Some(&people[0].access_token),
        json!({"reason": "x"}),
    )
    .await
    .assert_error(403, "forbidden");

    // Over capacity, a freed seat is not refilled until the course is back under it.
    app.delete(&format!("/enrollments/{}", ids[0]), token)
        .await
        .assert_status(204);
    let after = roster(&app, &staff, &course).await;
    assert_eq!(
        (
            after["enrolled"].as_array().unwrap().len(),
            positions(&after)
        ),
        (3, vec![1])
    );

    let cancelled = app
        .post(&format!("/courses/{course}/cancel"), token, json!({}))
        .await;
    assert_eq!(cancelled.assert_status(200)["status"], "cancelled");
    app.post(&format!("/courses/{course}/cancel"), token, json!({}))
        .await
        .assert_error(409, "course_cancelled");
    enroll(&app, &people[0], &course, json!({}))
        .await
        .assert_error(409, "course_cancelled");
    let mine = app
        .get("/me/enrollments", Some(&people[1].access_token))
        .await;
    assert!(
        mine.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "cancelled")
    );

    let log = app.get(&format!("/courses/{course}/audit"), token).await;
    let actions: Vec<_> = log.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["edit", "promote", "remove", "cancel"]);
    assert_eq!(log.body["items"][1]["reason"], "行动不便的独居老人");
    assert_eq!(log.body["items"][1]["actor_id"], json!(staff.user_id));
    app.get(
        &format!("/courses/{course}/audit"),
        Some(&people[1].access_token),
    )
    .await
    .assert_error(403, "forbidden");

    app.drain().await;
    let kinds: Vec<_> = app
        .notifications(&people[2])
        .await
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect();
    for kind in [
        "course_waitlisted",
        "course_promoted",
        "course_changed",
        "course_cancelled",
    ] {
        assert!(kinds.contains(&kind.to_owned()), "{kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn participants_check_in_with_the_code_at_the_door() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("c8").await;
    let course = create_course(&app, &staff, course_body(&app, 1)).await;
    let elder = app.resident_of(&community, "c8-elder").await;
    let waiting = app.resident_of(&community, "c8-waiting").await;
    enroll(&app, &elder, &course, json!({}))
        .await
        .assert_status(201);
    enroll(&app, &waiting, &course, json!({}))
        .await
        .assert_status(201);
    let read = app
        .get(&format!("/courses/{course}"), Some(&staff.access_token))
        .await;
    let session = read.assert_status(200)["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    app.post(
        &format!("/course-sessions/{session}/check-in-code"),
        Some(&elder.access_token),
        json!({}),
    )
    .await
    .assert_error(403, "forbidden");
    let code = app
        .post(
            &format!("/course-sessions/{session}/check-in-code"),
            Some(&staff.access_token),
            json!({}),
        )
        .await;
    let code = code.assert_status(200)["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let path = format!("/course-sessions/{session}/check-in");
    app.post(&path, Some(&elder.access_token), json!({"code": wrong}))
        .await
        .assert_error(422, "check_in_code_invalid");
    app.post(&path, Some(&waiting.access_token), json!({"code": code}))
        .await
        .assert_error(403, "not_enrolled");
    let checked = app
        .post(&path, Some(&elder.access_token), json!({"code": code}))
        .await;
    assert_eq!(checked.assert_status(200).as_array().unwrap().len(), 1);
    app.post(&path, Some(&elder.access_token), json!({"code": code}))
        .await
        .assert_status(200);

    let attendance = app
        .get(
            &format!("/courses/{course}/attendance"),
            Some(&staff.access_token),
        )
        .await;
    assert_eq!(
        attendance.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "checked in once"
    );

    app.clock.advance(Duration::minutes(16));
    let elder = app.dev_login("c8-elder").await;
    app.post(&path, Some(&elder.access_token), json!({"code": code}))
        .await
        .assert_error(422, "check_in_code_invalid");
}

#[tokio::test]
async fn guessing_check_in_codes_is_stopped_after_ten_wrong_ones() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("c8g").await;
    let course = create_course(&app, &staff, course_body(&app, 2)).await;
    let guesser = app.resident_of(&community, "c8g-guesser").await;
    let honest = app.resident_of(&community, "c8g-honest").await;
    for who in [&guesser, &honest] {
        enroll(&app, who, &course, json!({}))
            .await
            .assert_status(201);
    }
    let read = app
        .get(&format!("/courses/{course}"), Some(&staff.access_token))
        .await;
    let session = read.assert_status(200)["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app
        .post(
            &format!("/course-sessions/{session}/check-in-code"),
            Some(&staff.access_token),
            json!({}),
        )
        .await;
    let code = code.assert_status(200)["code"].as_str().unwrap().to_owned();
    let wrong: Vec<String> = (0..20)
        .map(|i| format!("{:06}", i))
        .filter(|c| *c != code)
        .take(12)
        .collect();

    let path = format!("/course-sessions/{session}/check-in");
    let guesses = futures_util::future::join_all(
        wrong
            .iter()
            .map(|c| app.post(&path, Some(&guesser.access_token), json!({"code": c}))),
    )
    .await;
    let refused = guesses.iter().filter(|g| g.status == 429).count();
    let judged = guesses.iter().filter(|g| g.status == 422).count();
    assert_eq!(
        (judged, refused),
        (10, 2),
        "ten wrong codes are judged, no more"
    );
    let blocked = app
        .post(&path, Some(&guesser.access_token), json!({"code": code}))
        .await;
    blocked.assert_error(429, "rate_limited");
    assert!(blocked.headers.contains_key("retry-after"));
    // Someone else, and the guesser once the window has passed, check in as usual.
    app.post(&path, Some(&honest.access_token), json!({"code": code}))
        .await
        .assert_status(200);
    app.clock.advance(Duration::minutes(14));
    let code = app
        .post(
            &format!("/course-sessions/{session}/check-in-code"),
            Some(&staff.access_token),
            json!({}),
        )
        .await;
    let code = code.assert_status(200)["code"].as_str().unwrap().to_owned();
    let guesser = app.dev_login("c8g-guesser").await;
    app.post(&path, Some(&guesser.access_token), json!({"code": code}))
        .await
        .assert_error(429, "rate_limited");
    app.clock.advance(Duration::minutes(2));
    app.post(&path, Some(&guesser.access_token), json!({"code": code}))
        .await
        .assert_status(200);
}

fn lottery_body(app: &TestApp, capacity: i64, waitlist: i64) -> Value {
    let mut body = course_body(app, capacity);
    body["allocation"] = json!("lottery");
    body["waitlist_capacity"] = json!(waitlist);
    body
}

async fn the_draw(app: &TestApp, staff: &Session, course: &str) -> linli_tests::Answer {
    app.get(
        &format!("/courses/{course}/draw"),
        Some(&staff.access_token),
    )
    .await
}

#[tokio::test]
async fn a_lottery_draw_fills_exactly_the_seats_and_replays_from_its_seed() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("c9").await;
    let course = create_course(&app, &staff, lottery_body(&app, 3, 2)).await;
    let first_come = create_course(&app, &staff, course_body(&app, 3)).await;
    let people = residents(&app, &community, "c9", 7).await;
    for who in &people {
        let applied = enroll(&app, who, &course, json!({})).await;
        let applied = applied.assert_status(201);
        assert_eq!(
            (&applied["status"], &applied["waitlist_position"]),
            (&json!("applied"), &Value::Null)
        );
    }
    enroll(&app, &people[0], &course, json!({}))
        .await
        .assert_error(409, "already_enrolled");
    let read = app
        .get(&format!("/courses/{course}"), Some(&people[0].access_token))
        .await;
    let read = read.assert_status(200);
    assert_eq!(
        (&read["allocation"], &read["enrolled_count"]),
        (&json!("lottery"), &json!(0)),
        "no seat goes before the draw"
    );
    the_draw(&app, &staff, &course)
        .await
        .assert_error(409, "not_drawn_yet");
    the_draw(&app, &staff, &first_come)
        .await
        .assert_error(409, "not_a_lottery");

    // Registration closes: the scheduler draws by itself.
    app.clock.advance(Duration::days(1) + Duration::minutes(1));
    let staff = app.dev_login("staff-of-c9").await;
    app.eventually(10, "the draw", || async {
        the_draw(&app, &staff, &course).await.status == 200
    })
    .await;
    let draw = the_draw(&app, &staff, &course).await.body;
    assert_eq!(
        (&draw["enrolled"], &draw["waitlisted"], &draw["not_drawn"]),
        (&json!(3), &json!(2), &json!(2))
    );
    let applicants = draw["applicants"].as_array().unwrap();
    let results: Vec<_> = applicants.iter().map(|a| a["result"].clone()).collect();
    assert_eq!(
        results,
        [
            "enrolled",
            "enrolled",
            "enrolled",
            "waitlisted",
            "waitlisted",
            "not_drawn",
            "not_drawn"
        ]
    );
    let ranks: Vec<_> = applicants
        .iter()
        .map(|a| a["rank"].as_i64().unwrap())
        .collect();
    assert_eq!(ranks, [1, 2, 3, 4, 5, 6, 7]);

    // Anyone can replay it from the seed and the applicants.
    let seed: u64 = draw["seed"].as_str().unwrap().parse().unwrap();
    let drawn: Vec<String> = applicants
        .iter()
        .map(|a| a["enrollment_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        linli_api::courses::lottery::drawn_order(seed, &drawn),
        drawn
    );

    let after = roster(&app, &staff, &course).await;
    assert_eq!(after["enrolled"].as_array().unwrap().len(), 3);
    assert_eq!(positions(&after), [1, 2]);
    assert_eq!(after["waitlist"][0]["id"], applicants[3]["enrollment_id"]);

    // Drawn once: later ticks change nothing.
    app.clock.advance(Duration::minutes(5));
    let staff = app.dev_login("staff-of-c9").await;
    app.drain().await;
    let again = the_draw(&app, &staff, &course).await;
    assert_eq!(again.assert_status(200)["seed"], draw["seed"]);
    assert_eq!(again.body["drawn_at"], draw["drawn_at"]);

    // Everyone is told what they got.
    for applicant in applicants {
        let openid = format!("c9-{}", people_index(&people, applicant));
        let who = app.dev_login(&openid).await;
        let kinds: Vec<_> = app
            .notifications(&who)
            .await
            .iter()
            .map(|n| n["kind"].as_str().unwrap().to_owned())
            .collect();
        let expected = match applicant["result"].as_str().unwrap() {
            "enrolled" => "course_enrolled",
            "waitlisted" => "course_waitlisted",
            _ => "course_not_drawn",
        };
        assert!(
            kinds.contains(&expected.to_owned()),
            "{expected} in {kinds:?}"
        );
    }

    // After the draw the waitlist moves as usual.
    let seated = applicants[0]["enrollment_id"].as_str().unwrap();
    app.delete(&format!("/enrollments/{seated}"), Some(&staff.access_token))
        .await
        .assert_status(204);
    let after = roster(&app, &staff, &course).await;
    assert_eq!(positions(&after), [1]);
    assert!(
        after["enrolled"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == applicants[3]["enrollment_id"])
    );
}

fn people_index(people: &[Session], applicant: &Value) -> usize {
    let participant = applicant["participant"]["id"].as_str().unwrap();
    people
        .iter()
        .position(|p| p.user_id == participant)
        .unwrap()
}

#[tokio::test]
async fn enrolled_participants_are_reminded_once_before_every_session() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("c10").await;
    let now = app.clock.now();
    let first = now + Duration::hours(3);
    let second = now + Duration::days(1) + Duration::hours(3);
    let mut body = course_body(&app, 3);
    body["sessions"] = json!([
        {"starts_at": first, "ends_at": first + Duration::hours(1)},
        {"starts_at": second, "ends_at": second + Duration::hours(1)},
    ]);
    let course = create_course(&app, &staff, body).await;
    let elder = app.resident_of(&community, "c10-elder").await;
    let parent = app.resident_of(&community, "c10-parent").await;
    let waiting = app.resident_of(&community, "c10-waiting").await;
    let child = app
        .post(
            "/me/dependents",
            Some(&parent.access_token),
            json!({"name": "小红", "birth_date": "2018-05-01", "relation": "child"}),
        )
        .await
        .assert_status(201)["id"]
        .clone();
    enroll(&app, &elder, &course, json!({}))
        .await
        .assert_status(201);
    enroll(&app, &parent, &course, json!({}))
        .await
        .assert_status(201);
    enroll(&app, &parent, &course, json!({"dependent_id": child}))
        .await
        .assert_status(201);
    assert_eq!(
        enroll(&app, &waiting, &course, json!({}))
            .await
            .assert_status(201)["status"],
        "waitlisted"
    );

    // Logs in afresh each time: the clock moves past access tokens' lifetime.
    let reminders = |openid: &'static str| {
        let app = &app;
        async move {
            let who = app.dev_login(openid).await;
            app.notifications(&who)
                .await
                .into_iter()
                .filter(|n| n["kind"] == "course_reminder")
                .count()
        }
    };
    // 121 minutes before the first session: not yet.
    app.clock.advance(Duration::minutes(59));
    app.drain().await;
    assert_eq!(reminders("c10-elder").await, 0);

    // 120 minutes before: the elder and the parent (once, for two places) are reminded.
    app.clock.advance(Duration::minutes(2));
    app.eventually(10, "the first reminders", || async {
        reminders("c10-elder").await == 1 && reminders("c10-parent").await == 1
    })
    .await;
    // Racing schedulers on other instances find nothing left to send.
    let db = &app.state.db;
    let later = app.clock.now();
    let (a, b) = tokio::join!(
        linli_api::courses::reminders::send_due(db, later),
        linli_api::courses::reminders::send_due(db, later)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 0);
    app.drain().await;
    assert_eq!(
        (reminders("c10-elder").await, reminders("c10-parent").await),
        (1, 1)
    );
    assert_eq!(
        reminders("c10-waiting").await,
        0,
        "the waitlist is not reminded"
    );

    // The community now reminds 30 minutes before: the second session's reminder moves.
    let staff = app.dev_login("staff-of-c10").await;
    app.patch(
        &format!("/communities/{community}/settings"),
        Some(&staff.access_token),
        json!({"course_reminder_minutes": 30}),
    )
    .await
    .assert_status(200);
    app.clock.advance(Duration::days(1) + Duration::minutes(59));
    app.drain().await;
    assert_eq!(
        reminders("c10-elder").await,
        1,
        "not 120 minutes before any more"
    );
    app.clock.advance(Duration::minutes(31));
    app.eventually(10, "the second reminder", || async {
        reminders("c10-elder").await == 2
    })
    .await;
    app.drain().await;
    assert_eq!(reminders("c10-parent").await, 2);
}
