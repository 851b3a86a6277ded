//! The OpenAPI document: paths come from the handlers' annotations (collected by
//! `utoipa-actix-web`); here the document gets its title, the bearer scheme, the schemas that
//! only query parameters name, and the answers that follow from an operation's shape (a path
//! id that can miss, a JSON body that can be malformed, a token that can be missing, an
//! `Idempotency-Key` that can be in use), so that each handler lists only its own.
use utoipa::{
    OpenApi,
    openapi::{
        OpenApi as Document, RefOr, Required, Response, ResponseBuilder,
        content::ContentBuilder,
        path::{Operation, ParameterBuilder, ParameterIn},
        schema::{ObjectBuilder, Type},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::{
    conversations::dto::ReportStatus,
    deliveries::dto::DeliveryStatus,
    error::ErrorEnvelope,
    problems::service::ProblemStatus,
    volunteers::dto::ApplicationStatus,
    welfare::dto::AlertStatus,
    wishes::dto::{MyRole, WishStatus},
};

// Enums named only by query parameters (`IntoParams`) are not collected from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Linli (邻里) API",
        description = "The HTTP contract of the Linli community mini-program: wishes, classes, canteen and deliveries, and the people behind them."
    ),
    components(schemas(
        ErrorEnvelope,
        ApplicationStatus,
        AlertStatus,
        DeliveryStatus,
        MyRole,
        WishStatus,
        ProblemStatus,
        ReportStatus
    ))
)]
struct Base;

pub fn base() -> Document {
    Base::openapi()
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "ErrorEnvelope",
                    ))))
                    .build(),
            )
            .build(),
    )
}

/// What about an operation decides which shared answers it can give.
#[derive(Debug, Default, Clone, Copy)]
struct Shape {
    /// Needs a bearer token.
    secured: bool,
    /// A POST by a logged-in caller: the idempotency middleware reads its body and key.
    idempotent_post: bool,
    path_params: bool,
    query_params: bool,
    json_body: bool,
}

impl Shape {
    fn of(operation: &Operation, post: bool) -> Self {
        let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
        let params_in = |place: ParameterIn| {
            operation.parameters.iter().flatten().any(|p| match p {
                RefOr::T(p) => p.parameter_in == place,
                RefOr::Ref(_) => false,
            })
        };
        Self {
            secured,
            idempotent_post: post && secured,
            path_params: params_in(ParameterIn::Path),
            query_params: params_in(ParameterIn::Query),
            json_body: operation.request_body.is_some(),
        }
    }
}

/// The answers every operation of this shape can give, whatever its handler does.
fn shared_answers(shape: Shape) -> Vec<(&'static str, &'static str)> {
    let mut answers = vec![("500", "`internal`")];
    if shape.secured {
        answers.push(("401", "`unauthorized`: no valid access token"));
    }
    if shape.path_params {
        answers.push((
            "404",
            "`not_found`: nothing has this id (or it is in another community)",
        ));
    }
    if shape.json_body || shape.query_params {
        answers.push(("400", "`bad_request`: malformed JSON or parameters"));
        answers.push(("422", "`validation_failed`, with `details` per field"));
    }
    if shape.json_body {
        answers.push(("415", "`unsupported_media_type`: the body is not JSON"));
    }
    if shape.json_body || shape.idempotent_post {
        answers.push(("413", "`payload_too_large`: a body over 64 KiB"));
    }
    if shape.idempotent_post {
        answers.push((
            "409",
            "`idempotency_key_in_use`: a request with this `Idempotency-Key` is still being answered",
        ));
        answers.push((
            "422",
            "`validation_failed`: an `Idempotency-Key` that is not 1–255 visible characters, or reused with another request",
        ));
    }
    answers
}

/// The `Idempotency-Key` header every logged-in POST honours.
fn idempotency_key() -> RefOr<utoipa::openapi::path::Parameter> {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(255));
    RefOr::T(
        ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "The same key from the same user within 24 h answers the first answer again and does nothing new.",
            ))
            .schema(Some(schema))
            .build(),
    )
}

pub fn finish(mut doc: Document) -> Document {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    for item in doc.paths.paths.values_mut() {
        let operations = [
            (&mut item.get, false),
            (&mut item.post, true),
            (&mut item.put, false),
            (&mut item.patch, false),
            (&mut item.delete, false),
        ];
        for (operation, post) in operations {
            if let Some(operation) = operation {
                complete(operation, Shape::of(operation, post));
            }
        }
    }
    doc
}

/// Adds the shared answers and the header. Where the handler describes a status itself (its
/// domain codes), the shared reasons for that status are added to its description.
fn complete(operation: &mut Operation, shape: Shape) {
    let responses = &mut operation.responses.responses;
    for (status, description) in shared_answers(shape) {
        match responses.get_mut(status) {
            None => {
                responses.insert(status.to_owned(), error_response(description));
            }
            Some(RefOr::T(response)) if !response.description.contains(description) => {
                response.description = if response.description.is_empty() {
                    description.to_owned()
                } else {
                    format!("{}; {description}", response.description)
                };
            }
            Some(_) => {}
        }
    }
    if shape.idempotent_post {
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(idempotency_key());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(shape: Shape) -> Vec<&'static str> {
        let mut out: Vec<_> = shared_answers(shape).into_iter().map(|(s, _)| s).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    #[test]
    fn shared_answers_follow_the_shape() {
        let public = Shape::default();
        let cases = [
            (public, vec!["500"]),
            (
                Shape {
                    secured: true,
                    path_params: true,
                    ..public
                },
                vec!["401", "404", "500"],
            ),
            (
                Shape {
                    query_params: true,
                    ..public
                },
                vec!["400", "422", "500"],
            ),
            (
                Shape {
                    json_body: true,
                    ..public
                },
                vec!["400", "413", "415", "422", "500"],
            ),
            (
                Shape {
                    secured: true,
                    idempotent_post: true,
                    ..public
                },
                vec!["401", "409", "413", "422", "500"],
            ),
        ];
        for (shape, expected) in cases {
            assert_eq!(statuses(shape), expected, "{shape:?}");
        }
    }
}
