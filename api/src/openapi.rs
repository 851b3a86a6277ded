//! The OpenAPI document: paths come from the handlers' annotations (collected by
//! `utoipa-actix-web`); here the document gets its title, the bearer scheme, and the error
//! answers every operation can give, so that each handler lists only its own.
use utoipa::{
    OpenApi,
    openapi::{
        OpenApi as Document, RefOr, Response, ResponseBuilder,
        content::ContentBuilder,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::error::ErrorEnvelope;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Linli (邻里) API",
        description = "The HTTP contract of the Linli community mini-program: wishes, classes, canteen and deliveries, and the people behind them."
    ),
    components(schemas(ErrorEnvelope))
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
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(description));
            };
            add("400", "`bad_request`: malformed JSON or parameters");
            add("413", "`payload_too_large`");
            add("422", "`validation_failed`, with `details` per field");
            add("500", "`internal`");
            if secured {
                add("401", "`unauthorized`: no valid access token");
            }
        }
    }
    doc
}
