//! The API's OpenAPI 3.1 document, served at `/api/openapi.json`. Nothing in it is written
//! here but its title and the answers the middleware gives on every route (the `Host` and
//! `Origin` checks, the token, the deadline): the paths, parameters and schemas come from the
//! handlers as [`api::router`] registers them, so a route is documented exactly when it is
//! served, with the types that parse and answer it. `schemathesis` checks the server against
//! it in the test suite.

use std::sync::LazyLock;

use axum::body::Bytes;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;

use super::AppState;
use super::api;
use super::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "portfolio-bridge read API",
        description = "CL calendar spreads from IBKR-native combos, leg positions, net greeks \
                       and the bridge's health. Accounts appear by alias only. With \
                       BRIDGE_API_TOKEN set, send `Authorization: Bearer <token>`."
    ),
    components(schemas(ErrorBody))
)]
struct Base;

/// The security scheme's name.
const BEARER: &str = "bearer";

fn error(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// Adds `status` to `op`'s answers unless the handler documents it itself.
fn answer(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| error(description));
}

/// The document. With `token_required`, every operation but `/healthz` needs the bearer token.
pub fn document(token_required: bool) -> utoipa::openapi::OpenApi {
    let router: OpenApiRouter<AppState> = OpenApiRouter::with_openapi(Base::openapi());
    let (_, mut doc) = router.merge(api::router()).split_for_parts();
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            (&mut item.get, false),
            (&mut item.post, true),
            (&mut item.patch, true),
            (&mut item.put, true),
            (&mut item.delete, true),
        ];
        for (op, changes) in operations {
            let Some(op) = op.as_mut() else { continue };
            let open = op.security.is_some();
            answer(
                op,
                "421",
                "The Host header names something this bridge does not answer to \
                 (BRIDGE_ALLOWED_HOSTS)",
            );
            if changes {
                answer(op, "403", "The request came from another site's page");
            }
            if token_required && !open {
                answer(
                    op,
                    "401",
                    "BRIDGE_API_TOKEN is set and the request did not carry it",
                );
            }
            if path != "/healthz" {
                answer(
                    op,
                    "503",
                    "PostgreSQL is unavailable or did not answer within 2 s",
                );
            }
        }
    }
    if token_required {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        if let Some(components) = doc.components.as_mut() {
            components.add_security_scheme(BEARER, SecurityScheme::Http(scheme));
        }
        doc.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    }
    doc
}

/// The document as `/api/openapi.json` serves it, made once.
pub fn served(token_required: bool) -> Bytes {
    fn json(token_required: bool) -> Bytes {
        document(token_required)
            .to_json()
            .expect("the document serialises")
            .into()
    }
    static WITH_TOKEN: LazyLock<Bytes> = LazyLock::new(|| json(true));
    static OPEN: LazyLock<Bytes> = LazyLock::new(|| json(false));
    if token_required {
        WITH_TOKEN.clone()
    } else {
        OPEN.clone()
    }
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
