//! Hostile input on every operation of the served OpenAPI document, so a new route is covered
//! without a new test: ids that cannot exist are 404, malformed JSON is 400, NUL in a body is
//! 422 naming the field and in a query 400, never a 500 and never a status the document does
//! not list. Runs on SQLite, and on PostgreSQL with `TEST_DATABASE_URL`.
use std::collections::BTreeSet;

use linli_tests::{Answer, TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Map, Value, json};

/// Path ids the path guard refuses before any route: NUL, control characters, bytes that are
/// not UTF-8, more than an id could be.
const IMPOSSIBLE_IDS: [&str; 6] = ["x%00", "%00", "a%0Ab", "%ff", "%C0%80", LONG_ID];
const LONG_ID: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/// Ids that reach the routes and must miss there like any other.
const STRANGE_IDS: [&str; 5] = [
    "..%2f",
    "%E9%82%BB%E9%87%8C",
    "'%20or%201=1--",
    "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    "null",
];

/// One operation of the document.
struct Operation {
    method: Method,
    path: String,
    documented: BTreeSet<u16>,
    /// The request body's schema, resolved.
    body: Option<Value>,
    query: Vec<String>,
}

impl Operation {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn has_path_params(&self) -> bool {
        self.path.contains('{')
    }

    /// The path with every parameter replaced; `community` for a leading `/communities/{id}`.
    fn path_with(&self, id: &str, community: Option<&str>) -> String {
        let mut out = String::new();
        for (index, segment) in self.path.split('/').enumerate() {
            if index > 0 {
                out.push('/');
            }
            let first_community_id = index == 4 && self.path.starts_with("/api/v1/communities/");
            match (segment.starts_with('{'), first_community_id, community) {
                (true, true, Some(community)) => out.push_str(community),
                (true, _, _) => out.push_str(id),
                (false, _, _) => out.push_str(segment),
            }
        }
        out
    }

    #[track_caller]
    fn assert_documented(&self, answer: &Answer, sent: &str) {
        assert!(
            answer.status < 500,
            "{} with {sent}: {} {:?}",
            self.name(),
            answer.status,
            answer.body
        );
        assert!(
            self.documented.contains(&answer.status),
            "{} with {sent}: {} is not documented ({:?}) {:?}",
            self.name(),
            answer.status,
            self.documented,
            answer.body
        );
    }
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let documented = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|s| s.parse().ok())
                .collect();
            let body = operation["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .map(|schema| resolve(doc, &Value::Object(schema.clone())));
            let query = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            out.push(Operation {
                method,
                path: path.clone(),
                documented,
                body,
                query,
            });
        }
    }
    assert!(out.len() > 50, "the document lists the operations");
    out
}

/// Follows a `$ref` (and a one-element `allOf`/`oneOf` wrapping one) to the schema it names.
fn resolve(doc: &Value, schema: &Value) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        return resolve(doc, &pointer(doc, reference));
    }
    for wrapper in ["allOf", "oneOf", "anyOf"] {
        if let Some(first) = schema[wrapper]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["type"] != "null"))
        {
            return resolve(doc, first);
        }
    }
    schema.clone()
}

fn pointer(doc: &Value, reference: &str) -> Value {
    let target = reference
        .strip_prefix('#')
        .and_then(|p| doc.pointer(p))
        .unwrap_or(&Value::Null);
    assert!(!target.is_null(), "`{reference}` resolves");
    target.clone()
}

/// A value of the schema's shape: every required property, plain values.
fn example(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds.iter().find(|k| *k != "null").cloned(),
        other => Some(other.clone()),
    };
    match kind.as_ref().and_then(Value::as_str) {
        Some("string") => match schema["format"].as_str() {
            Some("date-time") => json!("2030-01-01T08:00:00Z"),
            Some("date") => json!("2030-01-01"),
            _ => json!("x"),
        },
        Some("integer") | Some("number") => schema.get("minimum").cloned().unwrap_or(json!(1)),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        _ => {
            let mut object = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for name in required {
                object.insert(name.to_owned(), example(doc, &schema["properties"][name]));
            }
            Value::Object(object)
        }
    }
}

/// The names of a body's string properties.
fn string_fields(doc: &Value, schema: &Value) -> Vec<String> {
    let properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    properties
        .into_iter()
        .filter(|(_, property)| {
            let property = resolve(doc, property);
            property["type"] == "string"
                || property["type"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!("string")))
        })
        .map(|(name, _)| name)
        .collect()
}

struct Caller<'a> {
    app: &'a TestApp,
    token: String,
}

impl Caller<'_> {
    async fn call(&self, method: &Method, path: &str, body: Option<Vec<u8>>) -> Answer {
        let url = format!("{}{path}", self.app.address);
        let mut request = self
            .app
            .http
            .request(method.clone(), url)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        self.app.send(request).await
    }
}

/// The document, an admin who is also staff of a community (so role checks pass and the
/// lookups are what answers), and the community.
async fn setup(app: &TestApp) -> (Value, Caller<'_>, String) {
    let doc = app
        .get("/openapi.json", None)
        .await
        .assert_status(200)
        .clone();
    let admin = app.login_as_admin().await;
    let community = app.create_community(&admin, "hostile").await;
    app.join(&admin, &community).await;
    app.grant(&admin, &community, &admin, "staff", json!({}))
        .await
        .assert_status(204);
    let caller = Caller {
        app,
        token: admin.access_token,
    };
    (doc, caller, community)
}

#[tokio::test]
async fn every_reference_in_the_openapi_document_resolves() {
    let app = spawn_app().await;
    let doc = app
        .get("/openapi.json", None)
        .await
        .assert_status(200)
        .clone();
    let mut references = BTreeSet::new();
    collect_refs(&doc, &mut references);
    assert!(!references.is_empty());
    for reference in references {
        pointer(&doc, &reference);
    }
}

fn collect_refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                match (key.as_str(), member) {
                    ("$ref", Value::String(reference)) => {
                        out.insert(reference.clone());
                    }
                    _ => collect_refs(member, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

#[tokio::test]
async fn ids_that_cannot_exist_are_not_found_on_every_operation() {
    let app = spawn_app().await;
    let (doc, caller, community) = setup(&app).await;
    for operation in operations(&doc).iter().filter(|o| o.has_path_params()) {
        assert!(operation.documented.contains(&404), "{}", operation.name());
        let body = operation
            .body
            .as_ref()
            .map(|schema| example(&doc, schema).to_string().into_bytes());
        // A real community with the other ids hostile reaches the lookups behind the first.
        let deeper = operation.path.matches('{').count() > 1;
        let communities = [None, Some(community.as_str()).filter(|_| deeper)];
        for community in communities.into_iter().collect::<BTreeSet<_>>() {
            for id in IMPOSSIBLE_IDS {
                let path = operation.path_with(id, community);
                let answer = caller.call(&operation.method, &path, body.clone()).await;
                answer.assert_error(404, "not_found");
            }
            for id in STRANGE_IDS {
                let path = operation.path_with(id, community);
                let answer = caller.call(&operation.method, &path, body.clone()).await;
                operation.assert_documented(&answer, &path);
                assert!(answer.status >= 400, "{path}: {:?}", answer.body);
            }
        }
    }
}

#[tokio::test]
async fn malformed_json_is_a_bad_request_on_every_operation_with_a_body() {
    let app = spawn_app().await;
    let (doc, caller, community) = setup(&app).await;
    let garbage: [&[u8]; 9] = [
        b"{\"a\"",
        b"{",
        b"[1,",
        b"nul",
        b"\xff\xfe\x00\x01",
        b"{\"a\": 1} trailing",
        b"{'a': 1}",
        b"{\"a\": \"\\u00\"}",
        b"]",
    ];
    for operation in &operations(&doc) {
        let Some(schema) = &operation.body else {
            continue;
        };
        let path = operation.path_with("0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Some(&community));
        let mut bodies: Vec<Vec<u8>> = garbage.iter().map(|b| b.to_vec()).collect();
        // Cut off after a real field name of this body, where a field error used to win.
        let fields: Vec<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for field in &fields {
            bodies.push(format!("{{\"{field}\"").into_bytes());
            bodies.push(format!("{{\"{field}\": ").into_bytes());
            bodies.push(format!("{{\"{field}\": 1, \"zz").into_bytes());
            bodies.push(format!("{{\"{field}\": [").into_bytes());
        }
        let full = example(&doc, schema).to_string();
        bodies.push(full.as_bytes()[..full.len().saturating_sub(1)].to_vec());
        for body in bodies {
            let answer = caller
                .call(&operation.method, &path, Some(body.clone()))
                .await;
            assert_eq!(
                (answer.status, answer.code()),
                (400, "bad_request"),
                "{} with {:?}: {:?}",
                operation.name(),
                String::from_utf8_lossy(&body),
                answer.body
            );
            operation.assert_documented(&answer, "a malformed body");
        }
    }
}

#[tokio::test]
async fn nul_in_a_body_or_a_query_never_reaches_the_database() {
    let app = spawn_app().await;
    let (doc, caller, community) = setup(&app).await;
    for operation in &operations(&doc) {
        let path = operation.path_with("0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Some(&community));
        if let Some(schema) = &operation.body {
            let valid = example(&doc, schema);
            for field in string_fields(&doc, schema) {
                let mut body = valid.clone();
                body[field.as_str()] = json!("a\u{0}b");
                let answer = caller
                    .call(
                        &operation.method,
                        &path,
                        Some(body.to_string().into_bytes()),
                    )
                    .await;
                assert_eq!(
                    (answer.status, answer.code()),
                    (422, "validation_failed"),
                    "{} with NUL in `{field}`: {:?}",
                    operation.name(),
                    answer.body
                );
                assert!(
                    answer.body["error"]["details"][field.as_str()].is_array(),
                    "{} names `{field}`: {:?}",
                    operation.name(),
                    answer.body
                );
            }
        }
        for name in &operation.query {
            let answer = caller
                .call(&operation.method, &format!("{path}?{name}=a%00"), None)
                .await;
            assert_eq!(
                (answer.status, answer.code()),
                (400, "bad_request"),
                "{} with NUL in `{name}`: {:?}",
                operation.name(),
                answer.body
            );
            operation.assert_documented(&answer, "NUL in a query");
        }
    }
}
