//! Every list pages one way: `?limit=` (1–100, default 20) and an opaque `?cursor=`, answering
//! `{items, next_cursor}`. Each list here gets more than two items and is walked one item a page:
//! every item comes exactly once, in the list's order, and the last page has no cursor.
use std::collections::BTreeSet;

use chrono::{Datelike, Duration};
use jobs::Clock;
use linli_tests::{NOTICE_TEMPLATE, Session, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{method, path},
};

use crate::canteen::{id_of, menu_body, ordinary_day, publish, reserve, set_care};

/// A cursor that is valid base64 but names no position of a list keyed on more than an id
/// (`nonsense`).
const SHAPELESS_CURSOR: &str = "bm9uc2Vuc2U";

/// A list to walk: where, as whom, which field holds the page's items, what identifies an item
/// (a JSON pointer), and the identities it must give, in order.
struct List {
    path: String,
    token: String,
    items: &'static str,
    key: &'static str,
    expected: Vec<Value>,
    /// Its cursor is more than an id (a date, a time, a number): a shapeless one is refused.
    keyed: bool,
}

impl List {
    fn new(path: String, who: &Session, key: &'static str, expected: Vec<Value>) -> Self {
        Self {
            path,
            token: who.access_token.clone(),
            items: "items",
            key,
            expected,
            keyed: false,
        }
    }

    fn keyed(mut self) -> Self {
        self.keyed = true;
        self
    }

    fn in_field(mut self, items: &'static str) -> Self {
        self.items = items;
        self
    }

    fn with(&self, query: &str) -> String {
        let separator = if self.path.contains('?') { '&' } else { '?' };
        format!("{}{separator}{query}", self.path)
    }

    async fn page(&self, app: &TestApp, query: &str) -> Value {
        app.get(&self.with(query), Some(&self.token))
            .await
            .assert_status(200)
            .clone()
    }

    fn keys(&self, page: &Value) -> Vec<Value> {
        page[self.items]
            .as_array()
            .unwrap_or_else(|| panic!("{}: a page of {:?}", self.path, page))
            .iter()
            .map(|item| item.pointer(self.key).cloned().unwrap_or(Value::Null))
            .collect()
    }

    /// Walks the list one item a page, then checks the limits and a bad cursor.
    async fn walk(&self, app: &TestApp) {
        assert!(
            self.expected.len() > 2,
            "{}: more than two items",
            self.path
        );
        let mut seen = Vec::new();
        let mut query = "limit=1".to_owned();
        for _ in 0..=self.expected.len() {
            let page = self.page(app, &query).await;
            let keys = self.keys(&page);
            assert_eq!(keys.len(), 1, "{}: one item a page: {page}", self.path);
            seen.extend(keys);
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("limit=1&cursor={cursor}"),
                None => {
                    assert!(page["next_cursor"].is_null(), "{}: {page}", self.path);
                    break;
                }
            }
        }
        assert_eq!(
            seen, self.expected,
            "{}: every item once, in order",
            self.path
        );
        let whole = self.page(app, "").await;
        assert_eq!(self.keys(&whole), self.expected, "{}: one page", self.path);
        assert!(whole["next_cursor"].is_null(), "{}: {whole}", self.path);
        self.refuses_bad_paging(app).await;
    }

    async fn refuses_bad_paging(&self, app: &TestApp) {
        let token = Some(self.token.as_str());
        for limit in ["limit=0", "limit=101"] {
            let answer = app.get(&self.with(limit), token).await;
            answer.assert_error(422, "validation_failed");
            assert!(
                answer.body["error"]["details"]["limit"].is_array(),
                "{}: {limit} names the field",
                self.path
            );
        }
        app.get(&self.with("limit=ten"), token)
            .await
            .assert_error(400, "bad_request");
        app.get(&self.with("cursor=!!!"), token)
            .await
            .assert_error(400, "bad_request");
        if self.keyed {
            app.get(&self.with(&format!("cursor={SHAPELESS_CURSOR}")), token)
                .await
                .assert_error(400, "bad_request");
        }
    }
}

fn strings(ids: &[String]) -> Vec<Value> {
    ids.iter().map(|id| json!(id)).collect()
}

fn reversed(ids: &[String]) -> Vec<Value> {
    ids.iter().rev().map(|id| json!(id)).collect()
}

/// Keeps the test inside one month of the community's time zone (the leaderboard's month).
fn away_from_the_months_end(app: &TestApp) {
    let local = app.clock.now() + Duration::hours(8);
    if local.day() >= 27 {
        app.clock.advance(Duration::days(6));
    }
}

async fn course_with_one_session(app: &TestApp, staff: &Session) -> Value {
    let now = app.clock.now();
    app.post(
        "/courses",
        Some(&staff.access_token),
        json!({
            "title": "太极拳", "category": "taichi", "capacity": 20,
            "registration_opens_at": now - Duration::hours(1),
            "registration_closes_at": now + Duration::days(1),
            "sessions": [{"starts_at": now + Duration::days(2),
                          "ends_at": now + Duration::days(2) + Duration::hours(1)}]
        }),
    )
    .await
    .assert_status(201)
    .clone()
}

async fn enrol(app: &TestApp, who: &Session, course: &str, body: Value) -> String {
    let answer = app
        .post(
            &format!("/courses/{course}/enrollments"),
            Some(&who.access_token),
            body,
        )
        .await;
    id_of(answer.assert_status(201))
}

/// A parent's dependents and enrollments, a course's audit log and attendance.
async fn family_and_class_lists(app: &TestApp, community: &str, staff: &Session) -> Vec<List> {
    let parent = app.resident_of(community, "l-parent").await;
    let course = course_with_one_session(app, staff).await;
    let course_id = id_of(&course);
    let mut dependents = Vec::new();
    for name in ["小明", "小红", "小刚"] {
        let child = app
            .post(
                "/me/dependents",
                Some(&parent.access_token),
                json!({"name": name, "birth_date": "2018-06-01", "relation": "child"}),
            )
            .await;
        dependents.push(id_of(child.assert_status(201)));
    }
    let mut enrollments = vec![enrol(app, &parent, &course_id, json!({})).await];
    for child in &dependents[..2] {
        enrollments.push(enrol(app, &parent, &course_id, json!({"dependent_id": child})).await);
    }

    let mut edits = Vec::new();
    for (field, value) in [
        ("title", "太极拳（初级）"),
        ("teacher", "王老师"),
        ("location", "活动室"),
    ] {
        app.patch(
            &format!("/courses/{course_id}"),
            Some(&staff.access_token),
            json!({ field: value }),
        )
        .await
        .assert_status(200);
        edits.push(json!(format!("changed {field}")));
    }

    let session = course["sessions"][0]["id"].as_str().unwrap().to_owned();
    let code = app
        .post(
            &format!("/course-sessions/{session}/check-in-code"),
            Some(&staff.access_token),
            json!({}),
        )
        .await
        .assert_status(200)["code"]
        .clone();
    let mut checked_in = Vec::new();
    for i in 0..3 {
        let who = app.resident_of(community, &format!("l-pupil-{i}")).await;
        checked_in.push(enrol(app, &who, &course_id, json!({})).await);
        app.clock.advance(Duration::seconds(30));
        app.post(
            &format!("/course-sessions/{session}/check-in"),
            Some(&who.access_token),
            json!({"code": code}),
        )
        .await
        .assert_status(200);
    }
    let staff = app.dev_login("staff-of-lists").await;
    vec![
        List::new(
            "/me/dependents".into(),
            &parent,
            "/id",
            strings(&dependents),
        ),
        List::new(
            "/me/enrollments".into(),
            &parent,
            "/id",
            reversed(&enrollments),
        ),
        List::new(
            format!("/courses/{course_id}/audit"),
            &staff,
            "/detail",
            edits,
        ),
        List::new(
            format!("/courses/{course_id}/attendance"),
            &staff,
            "/enrollment_id",
            strings(&checked_in),
        )
        .keyed(),
    ]
}

/// Menus, one's reservations, the kitchen's list and a volunteer's deliveries.
async fn canteen_lists(
    app: &TestApp,
    community: &str,
    staff: &Session,
    volunteer: &Session,
) -> Vec<List> {
    let first = ordinary_day(app);
    let days = [first, first + Duration::days(1), first + Duration::days(2)];
    let mut menus = Vec::new();
    for (day, slot) in [
        (days[1], "lunch"),
        (days[0], "lunch"),
        (days[2], "lunch"),
        (days[0], "dinner"),
    ] {
        let menu = publish(app, staff, menu_body(app, day, slot, 10)).await;
        menus.push((day, slot, id_of(&menu)));
    }
    let lunches: Vec<String> = menus
        .iter()
        .filter(|(_, slot, _)| *slot == "lunch")
        .map(|(_, _, id)| id.clone())
        .collect();
    let mut by_date = menus.clone();
    by_date.sort();
    let menu_order: Vec<Value> = by_date.iter().map(|(_, _, id)| json!(id)).collect();

    let date_of = |menu: &str| menus.iter().find(|m| m.2 == menu).unwrap().0;

    // A diner eats all three lunches; two neighbours join the first.
    let kitchen_menu = &lunches[0];
    let mut kitchen = Vec::new();
    let diner = app.resident_of(community, "l-diner").await;
    let mut mine = Vec::new();
    for menu in &lunches {
        let meal = reserve(app, &diner, menu, "dine_in").await;
        if menu == kitchen_menu {
            kitchen.push(id_of(meal.assert_status(201)));
        }
        mine.push((date_of(menu), menu.clone()));
    }
    mine.sort();
    let my_order: Vec<Value> = mine.iter().rev().map(|(_, id)| json!(id)).collect();
    for name in ["l-neighbour-1", "l-neighbour-2"] {
        let neighbour = app.resident_of(community, name).await;
        let meal = reserve(app, &neighbour, kitchen_menu, "dine_in").await;
        kitchen.push(id_of(meal.assert_status(201)));
    }

    // An elder living alone has the three lunches delivered, all by one volunteer.
    let elder = app.resident_of(community, "l-elder").await;
    set_care(app, staff, community, &elder, json!({"lives_alone": true})).await;
    let mut deliveries = Vec::new();
    for menu in &lunches {
        let meal = reserve(app, &elder, menu, "delivery").await;
        let meal = meal.assert_status(201).clone();
        if menu == kitchen_menu {
            kitchen.push(id_of(&meal));
        }
        let delivery = meal["delivery_id"].as_str().unwrap().to_owned();
        app.post(
            &format!("/deliveries/{delivery}/assign"),
            Some(&staff.access_token),
            json!({"volunteer_id": volunteer.user_id}),
        )
        .await
        .assert_status(200);
        deliveries.push((date_of(menu), delivery));
    }
    deliveries.sort();
    let delivery_order: Vec<Value> = deliveries.iter().rev().map(|(_, id)| json!(id)).collect();
    // The kitchen reads by reservation id: the order they were made in.
    kitchen.sort();

    let (from, to) = (days[0], days[2]);
    vec![
        List::new(
            format!("/canteen/menus?from={from}&to={to}"),
            &diner,
            "/id",
            menu_order,
        )
        .keyed(),
        List::new("/me/reservations".into(), &diner, "/menu_id", my_order).keyed(),
        List::new(
            format!("/canteen/menus/{kitchen_menu}/reservations"),
            staff,
            "/id",
            strings(&kitchen),
        ),
        List::new("/me/deliveries".into(), volunteer, "/id", delivery_order).keyed(),
    ]
}

/// A volunteer's ledger and the month's leaderboard.
async fn hours_lists(
    app: &TestApp,
    community: &str,
    staff: &Session,
    volunteer: &Session,
) -> Vec<List> {
    let mut entries = Vec::new();
    for minutes in [10, 20, 30] {
        app.clock.advance(Duration::seconds(30));
        let entry = app
            .credit_hours(staff, community, &volunteer.user_id, minutes, "巡逻")
            .await;
        entries.push(id_of(entry.assert_status(201)));
    }
    // Ranked by minutes, most first, ties by user id: one ahead, one level with the volunteer.
    let ahead = app.resident_of(community, "l-ahead").await;
    let level = app.resident_of(community, "l-level").await;
    for (who, minutes) in [(&ahead, 100), (&level, 60)] {
        app.credit_hours(staff, community, &who.user_id, minutes, "服务日")
            .await
            .assert_status(201);
    }
    let mut tied = [volunteer.user_id.clone(), level.user_id.clone()];
    tied.sort();
    let ranking = vec![json!(ahead.user_id), json!(tied[0]), json!(tied[1])];
    vec![
        List::new(
            "/volunteer/hours".into(),
            volunteer,
            "/id",
            reversed(&entries),
        )
        .in_field("entries")
        .keyed(),
        List::new(
            format!("/communities/{community}/leaderboard"),
            staff,
            "/user_id",
            ranking,
        )
        .keyed(),
    ]
}

#[tokio::test]
async fn every_list_pages_one_item_at_a_time_in_its_order() {
    let app = spawn_app().await;
    away_from_the_months_end(&app);
    let (community, staff) = app.community_with_staff("lists").await;
    let volunteer = app.volunteer_of(&staff, &community, "l-volunteer").await;
    let mut lists = family_and_class_lists(&app, &community, &staff).await;
    lists.extend(canteen_lists(&app, &community, &staff, &volunteer).await);
    lists.extend(hours_lists(&app, &community, &staff, &volunteer).await);
    for list in &lists {
        list.walk(&app).await;
    }
    // The kitchen's totals are the whole meal's on every page.
    let kitchen = lists
        .iter()
        .find(|l| l.path.starts_with("/canteen/menus/"))
        .unwrap();
    let first = kitchen.page(&app, "limit=1").await;
    let whole = kitchen.page(&app, "").await;
    assert_eq!(first["totals"], whole["totals"]);
    assert_eq!(whole["totals"]["dine_in"], 3);
    assert_eq!(whole["totals"]["delivery"], 1);
    // The ledger's total is every entry's, whatever the page.
    let hours = lists.iter().find(|l| l.path == "/volunteer/hours").unwrap();
    assert_eq!(hours.page(&app, "limit=1").await["total_minutes"], 60);
}

#[tokio::test]
async fn quotas_queues_and_dead_jobs_page_and_dead_jobs_have_string_ids() {
    let app = spawn_app_with(|vars| {
        vars.insert("LINLI_JOB_MAX_ATTEMPTS".into(), "1".into());
        vars.insert(
            "LINLI_WECHAT_TEMPLATES".into(),
            r#"{
                "test_notice": {"template_id": "TPL-NOTICE", "fields": {"thing1": "title"}},
                "role_granted": {"template_id": "TPL-ROLE", "fields": {"thing1": "title"}},
                "hours_credited": {"template_id": "TPL-HOURS", "fields": {"thing1": "title"}}
            }"#
            .into(),
        );
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
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/subscribe/send"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": -1, "errmsg": "system busy"})),
        )
        .mount(&app.wechat)
        .await;
    let admin = app.login_as_admin().await;
    let me = app.dev_login("l-doomed").await;
    app.accept_template(&me, NOTICE_TEMPLATE, 3).await;
    let mut jobs = Vec::new();
    for title in ["一", "二", "三"] {
        jobs.push(app.emit_notice(&[&me.user_id], title).await.to_string());
    }
    app.eventually(20, "three jobs to die", || async {
        app.dead_jobs().await == 3
    })
    .await;

    let kinds: BTreeSet<&str> = ["test_notice", "role_granted", "hours_credited"].into();
    let lists = [
        List::new(
            "/me/subscriptions".into(),
            &me,
            "/kind",
            kinds.iter().map(|k| json!(k)).collect(),
        ),
        List::new(
            "/admin/jobs".into(),
            &admin,
            "/queue",
            vec![json!("urgent"), json!("notify"), json!("dispatch")],
        )
        .keyed(),
        List::new("/admin/jobs/dead".into(), &admin, "/id", reversed(&jobs)).keyed(),
    ];
    for list in &lists {
        list.walk(&app).await;
    }
}

/// A schema, or the component it refers to.
fn resolved<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(name) => {
            &doc["components"]["schemas"][name.trim_start_matches("#/components/schemas/")]
        }
        None => schema,
    }
}

/// The served document says the same: no GET answers a bare array, and every answer with a page
/// of `items` takes `limit` and `cursor` and names its `next_cursor`.
#[tokio::test]
async fn the_openapi_document_describes_every_list_as_a_page() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json", None).await;
    let doc = doc.assert_status(200).clone();
    let mut pages = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let schema = &get["responses"]["200"]["content"]["application/json"]["schema"];
        // The grid is a tree (its roots, each with its children), read whole: not a list.
        if path != "/api/v1/communities/{id}/grid" {
            assert_ne!(schema["type"], "array", "GET {path} answers a bare array");
        }
        let properties = &resolved(&doc, schema)["properties"];
        let listed = ["items", "entries"]
            .iter()
            .any(|field| properties[field]["type"] == "array");
        // A standing order's `items` are its weekly meals (at most 14): one object, not a list.
        if !listed || path.ends_with("/standing-order") {
            continue;
        }
        pages.push(path.clone());
        assert!(
            properties["next_cursor"].is_object(),
            "GET {path} names next_cursor: {schema}"
        );
        let params: Vec<&str> = get["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        for name in ["limit", "cursor"] {
            assert!(
                params.contains(&name),
                "GET {path} takes {name}: {params:?}"
            );
        }
    }
    for path in [
        "/api/v1/me/dependents",
        "/api/v1/me/enrollments",
        "/api/v1/me/reservations",
        "/api/v1/me/deliveries",
        "/api/v1/me/subscriptions",
        "/api/v1/canteen/menus",
        "/api/v1/canteen/menus/{id}/reservations",
        "/api/v1/courses/{id}/attendance",
        "/api/v1/courses/{id}/audit",
        "/api/v1/admin/jobs",
        "/api/v1/admin/jobs/dead",
        "/api/v1/volunteer/hours",
        "/api/v1/communities/{id}/leaderboard",
    ] {
        assert!(
            pages.iter().any(|p| p == path),
            "GET {path} is described as a page"
        );
    }
}
