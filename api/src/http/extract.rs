//! JSON body and query extractors that answer in the error envelope: malformed input is
//! `400 bad_request`, well-formed input with wrong or missing fields is `422 validation_failed`
//! with the offending field named, and a body over the limit is `413`.
use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationError, ValidationErrors, ValidationErrorsKind};

use crate::error::{AppError, FieldErrors};

/// The largest JSON body any endpoint takes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A validated JSON body. An empty body reads as `{}` (some endpoints take an optional body).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + Validate + 'static> FromRequest for Json<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = is_json_content_type(req);
        let mut payload = payload.take();
        Box::pin(async move {
            let body = read_body(&mut payload).await?;
            let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
                b"{}"
            } else if !content_type_ok {
                return Err(AppError::UnsupportedMediaType);
            } else {
                &body
            };
            refuse_nul_strings(body)?;
            let value: T = parse_json(body)?;
            validate(&value)?;
            Ok(Json(value))
        })
    }
}

fn is_json_content_type(req: &HttpRequest) -> bool {
    match req.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(value) => value.to_str().is_ok_and(|v| {
            let mime = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        }),
    }
}

/// Reads a whole body, refusing one over `BODY_LIMIT`.
pub(crate) async fn read_body(payload: &mut Payload) -> Result<web::BytesMut, AppError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| AppError::BadRequest("could not read the body".into()))?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses JSON, naming the field that is wrong.
///
/// The typed parse stops at the first thing it dislikes, which in a truncated or broken
/// document can come before the syntax error (`{"unknown"` or `[1,` fail on the field or the
/// type first). So a failure is a field error only if the whole document is well-formed JSON;
/// otherwise it is malformed, whatever it contains.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let malformed = || AppError::BadRequest("the body is not valid JSON".into());
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let data = inner.classify() == serde_json::error::Category::Data;
        if data && is_well_formed(body) {
            data_error(&path, &inner.to_string())
        } else {
            malformed()
        }
    })?;
    // Anything after the document (`{…} x`, `{…}{…}`) makes the body malformed too.
    de.end().map_err(|_| malformed())?;
    Ok(value)
}

/// Whether `body` is one complete JSON document, whatever its shape.
fn is_well_formed(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// A string holding NUL (`\u0000`) is refused with the fields that hold one: no text of ours
/// can hold it, and PostgreSQL refuses it in text with an error rather than storing or matching
/// it. Only a body that spells the escape is parsed twice.
pub fn refuse_nul_strings(body: &[u8]) -> Result<(), AppError> {
    const ESCAPE: &[u8] = b"\\u0000";
    if !body.windows(ESCAPE.len()).any(|w| w == ESCAPE) {
        return Ok(());
    }
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Err(AppError::BadRequest("the body is not valid JSON".into()));
    };
    let mut fields = FieldErrors::new();
    nul_paths(&document, "", &mut fields);
    if fields.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(fields))
    }
}

/// Collects the path of every string (value or key) holding NUL, named as field errors are.
fn nul_paths(value: &serde_json::Value, path: &str, out: &mut FieldErrors) {
    let name = |path: &str| {
        if path.is_empty() {
            "body".to_owned()
        } else {
            path.to_owned()
        }
    };
    match value {
        serde_json::Value::String(text) if text.contains('\0') => {
            out.entry(name(path))
                .or_default()
                .push("invalid_character".into());
        }
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                nul_paths(item, &format!("{}[{index}]", name(path)), out);
            }
        }
        serde_json::Value::Object(members) => {
            for (key, member) in members {
                let field = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if key.contains('\0') {
                    // The key itself cannot be a field of ours; name it without the NUL.
                    out.entry(field.replace('\0', ""))
                        .or_default()
                        .push("invalid_character".into());
                } else {
                    nul_paths(member, &field, out);
                }
            }
        }
        _ => {}
    }
}

/// Turns serde's message for a data error into a field and a stable reason.
fn data_error(path: &str, message: &str) -> AppError {
    let backticked = || message.split('`').nth(1).unwrap_or("").to_owned();
    let join = |field: String| {
        if path == "." || path.is_empty() {
            field
        } else {
            format!("{path}.{field}")
        }
    };
    let (field, reason) = if message.starts_with("missing field") {
        (join(backticked()), "required")
    } else if message.starts_with("unknown field") {
        // The path already ends at the unknown key.
        let name = backticked();
        let field = if path.ends_with(&name) {
            path.to_owned()
        } else {
            join(name)
        };
        (field, "unknown_field")
    } else if message.starts_with("unknown variant") {
        (path.to_owned(), "unknown_value")
    } else if message.starts_with("invalid type") {
        (path.to_owned(), "invalid_type")
    } else {
        (path.to_owned(), "invalid")
    };
    let field = if field.is_empty() || field == "." {
        "body".to_owned()
    } else {
        field
    };
    AppError::field(&field, reason)
}

/// Runs the type's `validator` rules; each failing field gets its rules' codes.
pub fn validate<T: Validate>(value: &T) -> Result<(), AppError> {
    value
        .validate()
        .map_err(|errors| AppError::Validation(flatten(&errors, "")))
}

/// A refusal by a check of the whole type (`#[validate(schema(…))]`), charged to `field`.
/// `validator` files such refusals under `__all__`, which names nothing the client sent; the
/// field rides along as a parameter and `flatten` puts the reason under it.
pub fn refuse_field(field: &'static str, code: &'static str) -> ValidationError {
    let mut error = ValidationError::new(code);
    error.add_param(FIELD_PARAM.into(), &field);
    error
}

const FIELD_PARAM: &str = "field";

fn flatten(errors: &ValidationErrors, prefix: &str) -> FieldErrors {
    let join = |field: &str| {
        if prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{prefix}.{field}")
        }
    };
    let mut out = FieldErrors::new();
    for (field, kind) in errors.errors() {
        let name = join(field);
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    let named = error.params.get(FIELD_PARAM).and_then(|v| v.as_str());
                    let target = match named {
                        Some(field) => join(field),
                        // A schema check that named nothing: the object it checked.
                        None if field == "__all__" && prefix.is_empty() => "body".to_owned(),
                        None if field == "__all__" => prefix.to_owned(),
                        None => name.clone(),
                    };
                    out.entry(target).or_default().push(error.code.to_string());
                }
            }
            ValidationErrorsKind::Struct(inner) => out.extend(flatten(inner, &name)),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    out.extend(flatten(inner, &format!("{name}[{index}]")));
                }
            }
        }
    }
    out
}

/// A validated query string; an unparsable one is `400 bad_request`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + Validate> FromRequest for Query<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()))
    }
}

fn parse_query<T: DeserializeOwned + Validate>(query: &str) -> Result<Query<T>, AppError> {
    // No parameter of ours holds control characters, and a NUL would reach the database as an
    // error: such a query is malformed.
    if let Some((name, _)) = form_urlencoded_parse(query)
        .find(|(k, v)| k.contains(char::is_control) || v.contains(char::is_control))
    {
        let name: String = name.chars().filter(|c| !c.is_control()).collect();
        return Err(AppError::BadRequest(format!(
            "query parameter `{name}` is not valid"
        )));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
    let value: T = serde_path_to_error::deserialize(de).map_err(|err| {
        let field = err.path().to_string();
        let field = if field == "." { "query".into() } else { field };
        AppError::BadRequest(format!("query parameter `{field}` is not valid"))
    })?;
    validate(&value)?;
    Ok(Query(value))
}

fn form_urlencoded_parse(query: &str) -> url::form_urlencoded::Parse<'_> {
    url::form_urlencoded::parse(query.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use validator::Validate;

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        #[validate(length(min = 1, max = 5, code = "length"))]
        name: String,
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Estate,
    }

    fn details(err: AppError) -> FieldErrors {
        match err {
            AppError::Validation(fields) => fields,
            other => panic!("expected validation, got {other:?}"),
        }
    }

    #[test]
    fn bad_json_names_the_field_and_reason() {
        let cases: [(&str, &str, &str); 4] = [
            (r#"{}"#, "name", "required"),
            (r#"{"name": 5}"#, "name", "invalid_type"),
            (r#"{"name": "a", "kind": "moon"}"#, "kind", "unknown_value"),
            (r#"{"name": "a", "extra": 1}"#, "extra", "unknown_field"),
        ];
        for (body, field, reason) in cases {
            let err = parse_json::<Sample>(body.as_bytes()).err().unwrap();
            assert_eq!(
                details(err).get(field),
                Some(&vec![reason.to_owned()]),
                "{body}"
            );
        }
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        let err = parse_json::<Sample>(b"{not json").err().unwrap();
        assert_eq!(err.code(), "bad_request");
    }

    /// Truncated or broken documents are malformed whatever they start with: a real field, an
    /// unknown one, a value of the wrong type or a wrong shape must not turn them into 422.
    #[test]
    fn malformed_bodies_are_bad_requests_whatever_they_contain() {
        let cases: &[&[u8]] = &[
            b"{",
            b"[",
            b"[1,",
            b"nul",
            b"tru",
            b"\"",
            b"}",
            b"{\"name\"",
            b"{\"name\":",
            b"{\"name\": \"a\"",
            b"{\"name\": \"a\",",
            b"{\"name\": \"a\", \"ki",
            b"{\"name\": \"a\", \"kind\"",
            b"{\"name\": \"a\", \"kind\": \"moon\"",
            b"{\"name\": 5",
            b"{\"name\": [1, 2",
            b"{\"extra\"",
            b"{\"extra\": 1",
            b"{\"name\": \"a\"}}",
            b"{\"name\": \"a\"} x",
            b"{\"name\": \"a\"}{}",
            b"{'name': 'a'}",
            b"{name: \"a\"}",
            b"{\"name\": \"a\",}",
            b"{\"name\": \"\\u00\"}",
            b"{\"name\": \"\xff\xfe\"}",
            b"\xff\xfe\x00garbage",
            b"\x00",
            b"<xml/>",
        ];
        for body in cases {
            let err = parse_json::<Sample>(body).err().unwrap();
            assert_eq!(
                err.code(),
                "bad_request",
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn nul_in_any_string_names_its_field() {
        let cases: [(&str, &str); 5] = [
            (r#"{"name": "a\u0000"}"#, "name"),
            (r#"{"name": "ok", "kind": "\u0000"}"#, "kind"),
            (
                r#"{"items": [{"id": "x"}, {"id": "\u0000y"}]}"#,
                "items[1].id",
            ),
            (r#"{"na\u0000me": "a"}"#, "name"),
            (r#""\u0000""#, "body"),
        ];
        for (body, field) in cases {
            let err = refuse_nul_strings(body.as_bytes()).err().unwrap();
            assert_eq!(
                details(err).get(field),
                Some(&vec!["invalid_character".to_owned()]),
                "{body}"
            );
        }
        // An escaped backslash before `u0000` is no NUL.
        assert!(refuse_nul_strings(br#"{"name": "a\\u0000"}"#).is_ok());
        assert!(refuse_nul_strings(br#"{"name": "a"}"#).is_ok());
    }

    #[derive(Debug, Deserialize, Validate)]
    #[allow(dead_code)]
    struct Search {
        q: Option<String>,
    }

    #[test]
    fn control_characters_in_a_query_are_bad_requests() {
        for query in ["q=a%00", "q=%00", "q%00=a", "q=a%0Ab", "x=%01"] {
            let err = parse_query::<Search>(query).err().unwrap();
            assert_eq!(err.code(), "bad_request", "{query}");
        }
        assert!(parse_query::<Search>("q=%E9%82%BB").is_ok());
    }

    /// Parses and validates as the extractor does; the fields of the refusal.
    fn refused<T: DeserializeOwned + Validate>(body: &str) -> Vec<String> {
        let value: T = parse_json(body.as_bytes()).unwrap();
        details(validate(&value).err().unwrap())
            .into_keys()
            .collect()
    }

    /// Checks of a whole body name the field to correct, never `__all__`.
    #[test]
    fn schema_checks_name_real_fields() {
        use crate::{
            canteen::dto as canteen, courses::dto as courses, messaging::dto as messaging,
        };
        let course = |opens: &str, closes: &str, min: i32, session_end: &str| {
            format!(
                r#"{{"title": "t", "category": "c", "capacity": 5, "min_age": {min}, "max_age": 10,
                "registration_opens_at": "{opens}", "registration_closes_at": "{closes}",
                "sessions": [{{"starts_at": "2030-01-02T10:00:00Z", "ends_at": "2030-01-02T11:00:00Z"}},
                             {{"starts_at": "2030-01-03T10:00:00Z", "ends_at": "{session_end}"}}]}}"#
            )
        };
        let (early, late) = ("2030-01-01T00:00:00Z", "2030-01-01T08:00:00Z");
        let fine = "2030-01-03T11:00:00Z";
        let cases: Vec<(Vec<String>, &str)> = vec![
            (
                refused::<courses::CreateCourse>(&course(late, early, 1, fine)),
                "registration_closes_at",
            ),
            (
                refused::<courses::CreateCourse>(&course(early, late, 11, fine)),
                "max_age",
            ),
            (
                refused::<courses::CreateCourse>(&course(early, late, 1, "2030-01-03T09:00:00Z")),
                "sessions[1].ends_at",
            ),
            (
                refused::<canteen::PutStandingOrder>(
                    r#"{"items": [{"weekday": 1, "slot": "lunch", "mode": "dine_in"},
                                  {"weekday": 1, "slot": "lunch", "mode": "delivery"}]}"#,
                ),
                "items",
            ),
            (
                refused::<canteen::PutStandingOrder>(
                    r#"{"items": [], "paused_from": "2030-01-02", "paused_until": "2030-01-01"}"#,
                ),
                "paused_until",
            ),
            (refused::<messaging::MarkRead>(r#"{}"#), "ids"),
        ];
        for (fields, expected) in cases {
            assert_eq!(fields, vec![expected.to_owned()]);
        }
        let query: Vec<String> = parse_query::<canteen::MenuQuery>("from=2030-01-02&to=2030-01-01")
            .err()
            .map(details)
            .unwrap()
            .into_keys()
            .collect();
        assert_eq!(query, vec!["to".to_owned()]);
    }

    #[test]
    fn validation_rules_report_their_code() {
        let value: Sample = parse_json(br#"{"name": "too long"}"#).unwrap();
        let err = validate(&value).err().unwrap();
        assert_eq!(details(err).get("name"), Some(&vec!["length".to_owned()]));
    }
}
