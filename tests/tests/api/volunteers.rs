//! Volunteers: applications, teams, availability, hours, leaderboard.
use chrono::{DateTime, Duration, NaiveDate, Utc};
use jobs::Clock;
use linli_tests::{Answer, Session, TestApp, spawn_app};
use serde_json::{Value, json};

const PHONE: &str = "13812345678";

fn application(real_name: &str) -> Value {
    TestApp::volunteer_application(real_name)
}

fn id_of(answer: &Answer) -> String {
    answer.body["id"].as_str().unwrap().to_owned()
}

/// Every answer a test saw, to check that the full phone number never left the server.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn keep(&mut self, answer: &Answer) {
        self.0.push(answer.body.to_string());
    }

    #[track_caller]
    fn assert_no_full_phone(&self) {
        for body in &self.0 {
            assert!(!body.contains(PHONE), "the full phone leaked: {body}");
        }
    }
}

async fn me(app: &TestApp, who: &Session) -> Value {
    app.get("/me", Some(&who.access_token))
        .await
        .assert_status(200)
        .clone()
}

async fn kinds(app: &TestApp, who: &Session) -> Vec<String> {
    app.notifications(who)
        .await
        .iter()
        .map(|n| n["kind"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn an_approved_application_makes_a_volunteer_who_is_told() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("v1").await;
    let resident = app.resident_of(&community, "v1-resident").await;
    let mut seen = Seen::default();

    let applied = app
        .apply_as_volunteer(
            &resident,
            json!({"real_name": " 王小明 ", "phone": PHONE, "skills": ["烹饪", " 驾驶", "烹饪"]}),
        )
        .await;
    seen.keep(&applied);
    let body = applied.assert_status(201).clone();
    assert_eq!(body["status"], "pending");
    assert_eq!(body["user_id"], json!(resident.user_id));
    assert_eq!(body["community_id"], json!(community));
    assert_eq!(body["real_name"], "王小明");
    assert_eq!(body["phone_masked"], "138****5678");
    assert_eq!(body["skills"], json!(["烹饪", "驾驶"]));
    assert_eq!(body["team_id"], Value::Null);
    assert_eq!(body["reason"], Value::Null);
    assert_eq!(body["reviewed_at"], Value::Null);
    assert!(body["created_at"].is_string());
    let id = id_of(&applied);
    assert_eq!(me(&app, &resident).await["volunteer_status"], "pending");

    let list_path = format!("/communities/{community}/volunteer-applications");
    let listed = app
        .get(
            &format!("{list_path}?status=pending"),
            Some(&staff.access_token),
        )
        .await;
    seen.keep(&listed);
    let items = listed.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], json!(id));
    assert_eq!(items[0]["real_name"], "王小明");
    assert_eq!(items[0]["phone_masked"], "138****5678");

    let approved = app.approve_volunteer(&staff, &id).await;
    seen.keep(&approved);
    let approved = approved.assert_status(200).clone();
    assert_eq!(approved["status"], "approved");
    assert!(approved["reviewed_at"].is_string());

    let profile = me(&app, &resident).await;
    assert_eq!(profile["volunteer_status"], "approved");
    assert!(
        profile["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("volunteer")),
        "roles: {}",
        profile["roles"]
    );
    assert!(
        profile["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("resident"))
    );

    app.drain().await;
    let notices = app.notifications(&resident).await;
    let notice = notices
        .iter()
        .find(|n| n["kind"] == "volunteer_approved")
        .expect("the applicant is told");
    assert_eq!(notice["ref"]["id"], json!(id));
    assert!(
        kinds(&app, &staff)
            .await
            .contains(&"volunteer_applied".to_owned())
    );

    // Deciding twice is refused, and nothing changes.
    app.approve_volunteer(&staff, &id)
        .await
        .assert_error(409, "invalid_state");
    app.reject_volunteer(&staff, &id, Some("改主意了"))
        .await
        .assert_error(409, "invalid_state");
    // An approved volunteer cannot apply again in the same community.
    app.apply_as_volunteer(&resident, application("王小明"))
        .await
        .assert_error(409, "application_exists");

    let all = app.get(&list_path, Some(&staff.access_token)).await;
    seen.keep(&all);
    let all = all.assert_status(200).clone();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    assert_eq!(all["items"][0]["status"], "approved");
    let pending = app
        .get(
            &format!("{list_path}?status=pending"),
            Some(&staff.access_token),
        )
        .await;
    assert_eq!(
        pending.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let members = app
        .get(
            &format!("/communities/{community}/members?role=volunteer"),
            Some(&staff.access_token),
        )
        .await;
    seen.keep(&members);
    let members = members.assert_status(200).clone();
    assert_eq!(members["items"][0]["id"], json!(resident.user_id));
    seen.keep(
        &app.get("/notifications", Some(&resident.access_token))
            .await,
    );
    seen.keep(&app.get("/notifications", Some(&staff.access_token)).await);
    seen.assert_no_full_phone();
}

#[tokio::test]
async fn a_rejected_applicant_is_told_why_and_may_apply_again() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("v2").await;
    let resident = app.resident_of(&community, "v2-resident").await;

    let first = app.apply_as_volunteer(&resident, application("李四")).await;
    let first_id = id_of(&first);
    first.assert_status(201);
    app.apply_as_volunteer(&resident, application("李四"))
        .await
        .assert_error(409, "application_exists");

    let rejected = app
        .reject_volunteer(&staff, &first_id, Some("  请先参加志愿者培训  "))
        .await;
    let rejected = rejected.assert_status(200).clone();
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason"], "请先参加志愿者培训");
    assert!(rejected["reviewed_at"].is_string());
    let profile = me(&app, &resident).await;
    assert_eq!(profile["volunteer_status"], "rejected");
    assert!(
        !profile["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("volunteer"))
    );

    app.drain().await;
    let notices = app.notifications(&resident).await;
    let notice = notices
        .iter()
        .find(|n| n["kind"] == "volunteer_rejected")
        .expect("the applicant is told");
    assert!(
        notice["body"]
            .as_str()
            .unwrap()
            .contains("请先参加志愿者培训"),
        "the reason is in the notice: {notice}"
    );
    assert_eq!(notice["ref"]["id"], json!(first_id));

    // A rejection ends the application; a new one may follow.
    app.approve_volunteer(&staff, &first_id)
        .await
        .assert_error(409, "invalid_state");
    let second = app.apply_as_volunteer(&resident, application("李四")).await;
    let second_id = id_of(&second);
    second.assert_status(201);
    assert_ne!(second_id, first_id);
    assert_eq!(me(&app, &resident).await["volunteer_status"], "pending");
    // Without a reason, the rejection still tells the applicant.
    app.reject_volunteer(&staff, &second_id, None)
        .await
        .assert_status(200);
    let third = app.apply_as_volunteer(&resident, application("李四")).await;
    let third_id = id_of(&third);
    third.assert_status(201);
    app.approve_volunteer(&staff, &third_id)
        .await
        .assert_status(200);

    let rejected = app
        .get(
            &format!("/communities/{community}/volunteer-applications?status=rejected"),
            Some(&staff.access_token),
        )
        .await;
    let ids: Vec<_> = rejected.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [first_id, second_id], "oldest first");
}

#[tokio::test]
async fn simultaneous_applications_leave_exactly_one() {
    let app = spawn_app().await;
    let (community, _staff) = app.community_with_staff("v3").await;
    let resident = app.resident_of(&community, "v3-resident").await;

    let answers = futures_util::future::join_all(
        (0..8).map(|_| app.apply_as_volunteer(&resident, application("赵六"))),
    )
    .await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    for answer in answers.iter().filter(|a| a.status != 201) {
        answer.assert_error(409, "application_exists");
    }
}

#[tokio::test]
async fn only_staff_of_the_community_review_applications() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("v4").await;
    let (elsewhere, other_staff) = app.community_with_staff("v4-elsewhere").await;
    let applicant = app.resident_of(&community, "v4-applicant").await;
    let neighbour = app.resident_of(&community, "v4-neighbour").await;
    let id = id_of(
        &app.apply_as_volunteer(&applicant, application("孙七"))
            .await,
    );

    // A resident of the community: forbidden; staff of another community: nothing to see.
    app.approve_volunteer(&neighbour, &id)
        .await
        .assert_error(403, "forbidden");
    app.reject_volunteer(&neighbour, &id, None)
        .await
        .assert_error(403, "forbidden");
    app.approve_volunteer(&applicant, &id)
        .await
        .assert_error(403, "forbidden");
    app.approve_volunteer(&other_staff, &id)
        .await
        .assert_error(404, "not_found");
    app.reject_volunteer(&other_staff, &id, None)
        .await
        .assert_error(404, "not_found");
    app.approve_volunteer(&staff, "no-such-application")
        .await
        .assert_error(404, "not_found");
    app.post(
        &format!("/volunteer/applications/{id}/approve"),
        None,
        json!({}),
    )
    .await
    .assert_error(401, "unauthorized");

    let list = format!("/communities/{community}/volunteer-applications");
    app.get(&list, Some(&neighbour.access_token))
        .await
        .assert_error(403, "forbidden");
    app.get(&list, Some(&other_staff.access_token))
        .await
        .assert_error(404, "not_found");
    app.get(
        "/communities/nope/volunteer-applications",
        Some(&staff.access_token),
    )
    .await
    .assert_error(404, "not_found");
    let theirs = app
        .get(
            &format!("/communities/{elsewhere}/volunteer-applications"),
            Some(&other_staff.access_token),
        )
        .await;
    assert_eq!(
        theirs.assert_status(200)["items"].as_array().unwrap().len(),
        0,
        "another community's list holds only its own"
    );

    // Still pending after all that.
    assert_eq!(me(&app, &applicant).await["volunteer_status"], "pending");
    app.approve_volunteer(&staff, &id).await.assert_status(200);
}

#[tokio::test]
async fn applications_need_a_community_and_valid_input() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("v5").await;
    let (elsewhere, other_staff) = app.community_with_staff("v5-elsewhere").await;
    let homeless = app.dev_login("v5-homeless").await;
    app.apply_as_volunteer(&homeless, application("周八"))
        .await
        .assert_error(409, "not_in_community");

    let resident = app.resident_of(&community, "v5-resident").await;
    let other_team = app.create_team(&other_staff, &elsewhere, "外队").await;
    let long_name = "名".repeat(21);
    let long_skill = "技".repeat(21);
    let too_many_skills: Vec<String> = (0..11).map(|i| format!("技能{i}")).collect();
    let cases = [
        (json!({"phone": PHONE, "skills": []}), "real_name"),
        (json!({"real_name": "", "phone": PHONE}), "real_name"),
        (json!({"real_name": "   ", "phone": PHONE}), "real_name"),
        (json!({"real_name": long_name, "phone": PHONE}), "real_name"),
        (json!({"real_name": "周八"}), "phone"),
        (json!({"real_name": "周八", "phone": "1234"}), "phone"),
        (
            json!({"real_name": "周八", "phone": "138-1234-5678"}),
            "phone",
        ),
        (json!({"real_name": "周八", "phone": "+"}), "phone"),
        (
            json!({"real_name": "周八", "phone": "123456789012345678901"}),
            "phone",
        ),
        (
            json!({"real_name": "周八", "phone": 13812345678_u64}),
            "phone",
        ),
        (
            json!({"real_name": "周八", "phone": PHONE, "skills": [long_skill]}),
            "skills",
        ),
        (
            json!({"real_name": "周八", "phone": PHONE, "skills": [""]}),
            "skills",
        ),
        (
            json!({"real_name": "周八", "phone": PHONE, "skills": too_many_skills}),
            "skills",
        ),
        (
            json!({"real_name": "周八", "phone": PHONE, "skills": "烹饪"}),
            "skills",
        ),
        (
            json!({"real_name": "周八", "phone": PHONE, "team_id": other_team}),
            "team_id",
        ),
        (
            json!({"real_name": "周八", "phone": PHONE, "team_id": "nope"}),
            "team_id",
        ),
        (
            json!({"real_name": "周八", "phone": PHONE, "id_card": "x"}),
            "id_card",
        ),
    ];
    for (body, field) in cases {
        let answer = app.apply_as_volunteer(&resident, body.clone()).await;
        answer.assert_error(422, "validation_failed");
        assert!(
            answer.body["error"]["details"][field].is_array(),
            "{field} is named for {body}: {:?}",
            answer.body
        );
        assert!(
            !answer.body.to_string().contains(PHONE),
            "an error never echoes the phone"
        );
    }
    app.post_raw(
        "/volunteer/applications",
        Some(&resident.access_token),
        "application/json",
        b"{\"real_name\": ".to_vec(),
    )
    .await
    .assert_error(400, "bad_request");
    assert_eq!(me(&app, &resident).await["volunteer_status"], "none");

    // A team of one's own community is fine.
    let team = app.create_team(&staff, &community, "助餐队").await;
    let mut body = application("周八");
    body["team_id"] = json!(team);
    let applied = app.apply_as_volunteer(&resident, body).await;
    assert_eq!(applied.assert_status(201)["team_id"], json!(team));

    let list = format!("/communities/{community}/volunteer-applications");
    for (query, status, code) in [
        ("?status=maybe", 400, "bad_request"),
        ("?limit=0", 422, "validation_failed"),
        ("?limit=101", 422, "validation_failed"),
        ("?cursor=%%%", 400, "bad_request"),
    ] {
        app.get(&format!("{list}{query}"), Some(&staff.access_token))
            .await
            .assert_error(status, code);
    }
    let id = id_of(&applied);
    let long_reason = "因".repeat(201);
    for body in [
        json!({"reason": long_reason}),
        json!({"note": "x"}),
        json!({"reason": 5}),
    ] {
        app.post(
            &format!("/volunteer/applications/{id}/reject"),
            Some(&staff.access_token),
            body,
        )
        .await
        .assert_error(422, "validation_failed");
    }
}

#[tokio::test]
async fn applications_page_with_a_cursor() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("v6").await;
    let mut expected = Vec::new();
    for i in 0..5 {
        let who = app.resident_of(&community, &format!("v6-{i}")).await;
        let applied = app.apply_as_volunteer(&who, application("队员")).await;
        expected.push(id_of(&applied));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/communities/{community}/volunteer-applications?limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get(&path, Some(&staff.access_token)).await;
        let body = page.assert_status(200);
        for item in body["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn staff_make_teams_and_members_see_them() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("v7").await;
    let (_, other_staff) = app.community_with_staff("v7-elsewhere").await;
    let resident = app.resident_of(&community, "v7-resident").await;
    let outsider = app.dev_login("v7-outsider").await;
    let path = format!("/communities/{community}/teams");

    let created = app
        .post(
            &path,
            Some(&staff.access_token),
            json!({"name": " 助餐队 ", "description": "给老人送午餐"}),
        )
        .await;
    let created = created.assert_status(201).clone();
    assert_eq!(created["name"], "助餐队");
    assert_eq!(created["description"], "给老人送午餐");
    assert_eq!(created["community_id"], json!(community));
    app.create_team(&staff, &community, "陪伴队").await;
    app.create_team(&staff, &community, "维修队").await;

    app.post(&path, Some(&resident.access_token), json!({"name": "x"}))
        .await
        .assert_error(403, "forbidden");
    app.post(&path, Some(&other_staff.access_token), json!({"name": "x"}))
        .await
        .assert_error(404, "not_found");
    app.post(
        "/communities/nope/teams",
        Some(&staff.access_token),
        json!({"name": "x"}),
    )
    .await
    .assert_error(404, "not_found");
    for bad in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "队".repeat(31)}),
        json!({"name": "x", "description": "述".repeat(201)}),
        json!({"name": "x", "leader": "y"}),
    ] {
        app.post(&path, Some(&staff.access_token), bad.clone())
            .await
            .assert_error(422, "validation_failed");
    }

    let list = app.get(&path, Some(&resident.access_token)).await;
    let names: Vec<_> = list.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["助餐队", "陪伴队", "维修队"]);
    let first_page = app
        .get(&format!("{path}?limit=2"), Some(&resident.access_token))
        .await;
    let first_page = first_page.assert_status(200).clone();
    assert_eq!(first_page["items"].as_array().unwrap().len(), 2);
    let cursor = first_page["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("{path}?limit=2&cursor={cursor}"),
            Some(&resident.access_token),
        )
        .await;
    let rest = rest.assert_status(200).clone();
    assert_eq!(rest["items"][0]["name"], "维修队");
    assert_eq!(rest["next_cursor"], Value::Null);

    app.get(&path, Some(&outsider.access_token))
        .await
        .assert_error(404, "not_found");
    app.get(&path, Some(&other_staff.access_token))
        .await
        .assert_error(404, "not_found");
    app.get(&path, None).await.assert_error(401, "unauthorized");
}

async fn put_availability(app: &TestApp, who: Session, body: Value) -> Answer {
    app.put("/volunteer/availability", Some(&who.access_token), body)
        .await
}

/// The day in Shanghai, `days` from now on the app's clock.
fn shanghai_day(app: &TestApp, days: i64) -> NaiveDate {
    (app.clock.now() + Duration::hours(8) + Duration::days(days)).date_naive()
}

#[tokio::test]
async fn volunteers_replace_their_availability() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("v8").await;
    let volunteer = app.volunteer_of(&staff, &community, "v8-volunteer").await;
    let resident = app.resident_of(&community, "v8-resident").await;
    let put = |who: &Session, body: Value| put_availability(&app, who.clone(), body);

    // Residents who are not volunteers, and applicants not yet approved, may not.
    put(&resident, json!({"weekly": [], "dates": []}))
        .await
        .assert_error(403, "forbidden");
    app.get("/volunteer/availability", Some(&resident.access_token))
        .await
        .assert_error(403, "forbidden");
    app.apply_as_volunteer(&resident, application("吴九"))
        .await
        .assert_status(201);
    put(&resident, json!({}))
        .await
        .assert_error(403, "forbidden");
    // Staff are not volunteers either, unless they apply.
    put(&staff, json!({})).await.assert_error(403, "forbidden");

    let empty = app
        .get("/volunteer/availability", Some(&volunteer.access_token))
        .await;
    assert_eq!(
        empty.assert_status(200).clone(),
        json!({"weekly": [], "dates": []})
    );

    let today = shanghai_day(&app, 0);
    let soon = shanghai_day(&app, 3);
    let stored = put(
        &volunteer,
        json!({
            "weekly": [
                {"weekday": 3, "slot": "dinner"},
                {"weekday": 1, "slot": "lunch"},
                {"weekday": 3, "slot": "dinner"},
                {"weekday": 7, "slot": "lunch"},
            ],
            "dates": [soon, today, soon],
        }),
    )
    .await;
    let expected = json!({
        "weekly": [
            {"weekday": 1, "slot": "lunch"},
            {"weekday": 3, "slot": "dinner"},
            {"weekday": 7, "slot": "lunch"},
        ],
        "dates": [today, soon],
    });
    assert_eq!(
        stored.assert_status(200).clone(),
        expected,
        "repeats collapse"
    );
    let read = app
        .get("/volunteer/availability", Some(&volunteer.access_token))
        .await;
    assert_eq!(read.assert_status(200).clone(), expected);

    // A PUT replaces everything.
    let replaced = put(
        &volunteer,
        json!({"weekly": [{"weekday": 5, "slot": "lunch"}]}),
    )
    .await;
    replaced.assert_status(200);
    let read = app
        .get("/volunteer/availability", Some(&volunteer.access_token))
        .await;
    assert_eq!(
        read.assert_status(200).clone(),
        json!({"weekly": [{"weekday": 5, "slot": "lunch"}], "dates": []})
    );

    let every_slot: Vec<Value> = (1..=7)
        .flat_map(|d| {
            [
                json!({"weekday": d, "slot": "lunch"}),
                json!({"weekday": d, "slot": "dinner"}),
            ]
        })
        .collect();
    let mut fifteen = every_slot.clone();
    fifteen.push(json!({"weekday": 1, "slot": "lunch"}));
    let sixty_one: Vec<NaiveDate> = (1..=61).map(|d| shanghai_day(&app, d)).collect();
    let yesterday = shanghai_day(&app, -1);
    let next_year = shanghai_day(&app, 400);
    let cases = [
        (
            json!({"weekly": [{"weekday": 0, "slot": "lunch"}]}),
            "weekly[0].weekday",
        ),
        (
            json!({"weekly": [{"weekday": 8, "slot": "lunch"}]}),
            "weekly[0].weekday",
        ),
        (
            json!({"weekly": [{"weekday": -1, "slot": "lunch"}]}),
            "weekly[0].weekday",
        ),
        (
            json!({"weekly": [{"weekday": 1, "slot": "breakfast"}]}),
            "weekly[0].slot",
        ),
        (json!({"weekly": [{"weekday": 1}]}), "weekly[0].slot"),
        (
            json!({"weekly": [{"weekday": 1, "slot": "lunch", "x": 1}]}),
            "weekly[0].x",
        ),
        (json!({"weekly": fifteen}), "weekly"),
        (json!({"dates": sixty_one}), "dates"),
        (json!({"dates": ["2026-02-30"]}), "dates[0]"),
        (json!({"dates": ["next monday"]}), "dates[0]"),
        (json!({"dates": [yesterday]}), "dates"),
        (json!({"dates": [next_year]}), "dates"),
        (json!({"weekly": [], "months": []}), "months"),
    ];
    for (body, field) in cases {
        let answer = put(&volunteer, body.clone()).await;
        answer.assert_error(422, "validation_failed");
        assert!(
            answer.body["error"]["details"][field].is_array(),
            "{field} is named for {body}: {:?}",
            answer.body
        );
    }
    // Nothing changed by the refused ones; all fourteen slots fit.
    let read = app
        .get("/volunteer/availability", Some(&volunteer.access_token))
        .await;
    assert_eq!(
        read.assert_status(200)["weekly"].as_array().unwrap().len(),
        1
    );
    let all = put(&volunteer, json!({"weekly": every_slot})).await;
    assert_eq!(
        all.assert_status(200)["weekly"].as_array().unwrap().len(),
        14
    );
}

#[tokio::test]
async fn staff_credit_hours_by_hand_and_volunteers_see_their_totals() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("v9").await;
    let (elsewhere, other_staff) = app.community_with_staff("v9-elsewhere").await;
    let volunteer = app.volunteer_of(&staff, &community, "v9-volunteer").await;
    let resident = app.resident_of(&community, "v9-resident").await;
    let stranger = app.resident_of(&elsewhere, "v9-stranger").await;

    let hours = app.volunteer_hours(&volunteer).await;
    assert_eq!(
        hours,
        json!({"total_minutes": 0, "entries": [], "next_cursor": null})
    );

    let first = app
        .credit_hours(&staff, &community, &volunteer.user_id, 90, "重阳节敬老活动")
        .await;
    let first = first.assert_status(201).clone();
    assert_eq!(first["source"], "manual");
    assert_eq!(first["minutes"], 90);
    assert_eq!(first["reason"], "重阳节敬老活动");
    assert_eq!(first["community_id"], json!(community));
    assert_eq!(
        first["ref_id"], first["id"],
        "a manual entry refers to itself"
    );
    app.clock.advance(Duration::minutes(1));
    let second = app
        .credit_hours(&staff, &community, &volunteer.user_id, 30, "  清扫楼道  ")
        .await;
    let second = second.assert_status(201).clone();
    assert_eq!(second["reason"], "清扫楼道");

    let hours = app.volunteer_hours(&volunteer).await;
    assert_eq!(hours["total_minutes"], 120);
    let entries = hours["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["id"], second["id"], "newest first");
    assert_eq!(entries[1]["id"], first["id"]);
    for key in ["source", "ref_id", "minutes", "at", "reason"] {
        assert!(!entries[0][key].is_null(), "{key} is given");
    }

    app.drain().await;
    assert!(
        kinds(&app, &volunteer)
            .await
            .contains(&"hours_credited".to_owned())
    );

    // Who may credit, and whom.
    let path = format!("/communities/{community}/hours");
    let body = json!({"user_id": volunteer.user_id, "minutes": 10, "reason": "x"});
    app.post(&path, Some(&resident.access_token), body.clone())
        .await
        .assert_error(403, "forbidden");
    app.post(&path, Some(&volunteer.access_token), body.clone())
        .await
        .assert_error(403, "forbidden");
    app.post(&path, Some(&other_staff.access_token), body.clone())
        .await
        .assert_error(404, "not_found");
    app.credit_hours(&staff, &community, &stranger.user_id, 10, "x")
        .await
        .assert_error(404, "not_found");
    app.credit_hours(&staff, &community, "no-such-user", 10, "x")
        .await
        .assert_error(404, "not_found");
    for bad in [
        json!({"user_id": volunteer.user_id, "minutes": 0, "reason": "x"}),
        json!({"user_id": volunteer.user_id, "minutes": -30, "reason": "x"}),
        json!({"user_id": volunteer.user_id, "minutes": 1441, "reason": "x"}),
        json!({"user_id": volunteer.user_id, "minutes": 1.5, "reason": "x"}),
        json!({"user_id": volunteer.user_id, "minutes": 10, "reason": ""}),
        json!({"user_id": volunteer.user_id, "minutes": 10, "reason": "因".repeat(201)}),
        json!({"user_id": volunteer.user_id, "minutes": 10}),
        json!({"minutes": 10, "reason": "x"}),
        json!({"user_id": volunteer.user_id, "minutes": 10, "reason": "x", "at": "2026-01-01"}),
    ] {
        app.post(&path, Some(&staff.access_token), bad.clone())
            .await
            .assert_error(422, "validation_failed");
    }
    // A resident may be credited too (a service day), but only volunteers read the ledger here.
    app.credit_hours(&staff, &community, &resident.user_id, 1440, "社区服务日")
        .await
        .assert_status(201);
    app.get("/volunteer/hours", Some(&resident.access_token))
        .await
        .assert_error(403, "forbidden");
    app.get("/volunteer/hours", None)
        .await
        .assert_error(401, "unauthorized");
    assert_eq!(app.volunteer_hours(&volunteer).await["total_minutes"], 120);
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

/// Moves the clock and logs the people in again (access tokens live 15 minutes on it).
async fn move_clock(app: &TestApp, to: &str, openids: &[&str]) -> Vec<Session> {
    app.clock.set(at(to));
    let mut sessions = Vec::new();
    for openid in openids {
        sessions.push(app.dev_login(openid).await);
    }
    sessions
}

fn rows(answer: &Answer) -> Vec<(String, i64)> {
    answer.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user_id"].as_str().unwrap().to_owned(),
                r["minutes"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_leaderboard_counts_minutes_by_the_communitys_month() {
    let app = spawn_app().await;
    let (community, staff) = app.community_with_staff("v10").await;
    let (elsewhere, other_staff) = app.community_with_staff("v10-elsewhere").await;
    let early = app.volunteer_of(&staff, &community, "v10-early").await;
    let late = app.volunteer_of(&staff, &community, "v10-late").await;
    let other = app
        .volunteer_of(&other_staff, &elsewhere, "v10-other")
        .await;
    for (who, name) in [(&early, "早鸟"), (&late, "夜猫")] {
        app.patch("/me", Some(&who.access_token), json!({"nickname": name}))
            .await
            .assert_status(200);
    }
    let staff_openid = "staff-of-v10";
    let other_staff_openid = "staff-of-v10-elsewhere";

    // 23:30 on 31 October in Shanghai (15:30 UTC): October.
    let [staff] = move_clock(&app, "2026-10-31T23:30:00+08:00", &[staff_openid])
        .await
        .try_into()
        .unwrap();
    app.credit_hours(&staff, &community, &early.user_id, 30, "万圣节前夜巡逻")
        .await
        .assert_status(201);
    // 00:30 on 1 November in Shanghai (still 31 October in UTC): November.
    let [staff, other_staff] = move_clock(
        &app,
        "2026-11-01T00:30:00+08:00",
        &[staff_openid, other_staff_openid],
    )
    .await
    .try_into()
    .unwrap();
    app.credit_hours(&staff, &community, &late.user_id, 45, "送早餐")
        .await
        .assert_status(201);
    app.credit_hours(&staff, &community, &early.user_id, 20, "送早餐")
        .await
        .assert_status(201);
    // Another community's hours stay there.
    app.credit_hours(&other_staff, &elsewhere, &other.user_id, 600, "外社区")
        .await
        .assert_status(201);
    // The last minute of November and the first of December.
    let [staff] = move_clock(&app, "2026-11-30T23:59:00+08:00", &[staff_openid])
        .await
        .try_into()
        .unwrap();
    app.credit_hours(&staff, &community, &early.user_id, 25, "月末")
        .await
        .assert_status(201);
    let [staff, early_session] = move_clock(
        &app,
        "2026-12-01T00:00:00+08:00",
        &[staff_openid, "v10-early"],
    )
    .await
    .try_into()
    .unwrap();
    app.credit_hours(&staff, &community, &late.user_id, 100, "月初")
        .await
        .assert_status(201);

    let october = app.leaderboard(&staff, &community, Some("2026-10")).await;
    assert_eq!(rows(&october), [(early.user_id.clone(), 30)]);
    let november = app
        .leaderboard(&early_session, &community, Some("2026-11"))
        .await;
    assert_eq!(
        rows(&november),
        [(early.user_id.clone(), 45), (late.user_id.clone(), 45)],
        "ties by user id; early was made first"
    );
    assert_eq!(november.body["items"][0]["nickname"], "早鸟");
    assert_eq!(november.body["items"][1]["nickname"], "夜猫");
    let december = app.leaderboard(&staff, &community, None).await;
    assert_eq!(
        rows(&december),
        [(late.user_id.clone(), 100)],
        "the current month"
    );
    let empty = app.leaderboard(&staff, &community, Some("2026-09")).await;
    assert!(rows(&empty).is_empty());

    // Most minutes first.
    app.credit_hours(&staff, &community, &early.user_id, 200, "冬至包饺子")
        .await
        .assert_status(201);
    let december = app.leaderboard(&staff, &community, Some("2026-12")).await;
    assert_eq!(
        rows(&december),
        [(early.user_id.clone(), 200), (late.user_id.clone(), 100)]
    );

    let outsider = app.dev_login("v10-outsider").await;
    app.leaderboard(&outsider, &community, None)
        .await
        .assert_error(404, "not_found");
    let [other_staff] = move_clock(&app, "2026-12-01T00:05:00+08:00", &[other_staff_openid])
        .await
        .try_into()
        .unwrap();
    app.leaderboard(&other_staff, &community, None)
        .await
        .assert_error(404, "not_found");
    app.leaderboard(&other_staff, "nope", None)
        .await
        .assert_error(404, "not_found");
    for bad in [
        "2026-13",
        "2026-1",
        "26-11",
        "2026/11",
        "2026-11-01",
        "november",
        "",
    ] {
        app.leaderboard(&staff, &community, Some(bad))
            .await
            .assert_error(422, "validation_failed");
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_volunteer_endpoints() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json", None).await;
    let doc = doc.assert_status(200).clone();
    let expected = [
        ("/api/v1/volunteer/applications", "post", "409"),
        (
            "/api/v1/communities/{id}/volunteer-applications",
            "get",
            "403",
        ),
        ("/api/v1/volunteer/applications/{id}/approve", "post", "409"),
        ("/api/v1/volunteer/applications/{id}/reject", "post", "409"),
        ("/api/v1/communities/{id}/teams", "post", "403"),
        ("/api/v1/communities/{id}/teams", "get", "404"),
        ("/api/v1/volunteer/availability", "put", "403"),
        ("/api/v1/volunteer/availability", "get", "403"),
        ("/api/v1/volunteer/hours", "get", "403"),
        ("/api/v1/communities/{id}/hours", "post", "404"),
        ("/api/v1/communities/{id}/leaderboard", "get", "404"),
    ];
    for (path, method, error) in expected {
        let operation = &doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is described");
        for status in [error, "401", "500"] {
            assert!(
                operation["responses"][status].is_object(),
                "{method} {path} lists {status}"
            );
        }
    }
    let credit = &doc["components"]["schemas"]["ManualCredit"]["properties"]["minutes"];
    assert_eq!(credit["minimum"], 1);
    assert_eq!(credit["maximum"], 1440);
}
