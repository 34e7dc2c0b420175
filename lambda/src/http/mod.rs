//! The HTTP surface: one router for every route of the v1 contract, served by `bin/api.rs` on
//! Lambda and by `bin/dev.rs` on 127.0.0.1. Request ids, access logs, rate-limit headers and
//! error rendering are layers; authentication, scopes and limits are one extractor.

pub mod auth;
pub mod dev;
mod error;
pub mod json;
mod observe;
pub mod openapi;
mod request_id;
pub mod routes;
pub mod schema;
pub mod serve;
pub mod views;

pub use error::{ApiError, ErrorBody, ErrorCode, ErrorEnvelope, FieldIssue};
pub use request_id::{REQUEST_ID_HEADER, RequestId};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::App;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "imagegen",
        description = "Prompt (plus optional reference images) to images with Gemini. Authenticate with `x-api-key: igk_<key_id>_<secret>`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&ApiKeyScheme),
    components(schemas(crate::usecases::webhooks::JobEvent)),
    tags(
        (name = "images", description = "Create image jobs and upload reference images"),
        (name = "jobs", description = "Read jobs and their images"),
        (name = "usage", description = "Limits and usage"),
        (name = "webhooks", description = "Signed events when jobs end: the signing secret, deliveries, redelivery"),
        (name = "admin", description = "API key management"),
        (name = "meta", description = "Health and this document"),
    )
)]
struct ApiDoc;

struct ApiKeyScheme;

impl utoipa::Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(auth::API_KEY_HEADER))),
        );
    }
}

/// Every route of the contract, with its OpenAPI description: one list, so the router and
/// the document cannot drift apart.
fn api_routes() -> OpenApiRouter<App> {
    use routes::{admin, images, jobs, meta, uploads, usage, webhooks};
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::openapi))
        .routes(routes!(images::create_image))
        .routes(routes!(uploads::create_upload))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job, jobs::delete_job))
        .routes(routes!(jobs::cancel_job))
        .routes(routes!(usage::usage))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(admin::create_key))
        .routes(routes!(admin::rotate_key))
        .routes(routes!(admin::revoke_key))
}

/// The OpenAPI 3.1 document of the v1 contract, for the default configuration.
pub fn openapi() -> serde_json::Value {
    openapi::base().clone()
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no route matches this path")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not accept this method",
    )
}

/// Health and the OpenAPI document only, for a function started without its adapters.
pub fn meta_router() -> Router {
    Router::new()
        .route("/healthz", axum::routing::get(routes::meta::healthz))
        .route("/openapi.json", axum::routing::get(routes::meta::openapi))
        .fallback(not_found)
        .layer(axum::Extension(schema::Document(std::sync::Arc::new(
            openapi::base().clone(),
        ))))
        .layer(axum::middleware::from_fn(request_id::layer))
}

/// The API's routes without layers or state; [`dev::router`] adds its own to them.
fn api_routes_router() -> Router<App> {
    api_routes().split_for_parts().0
}

/// The service's router; the `api` Lambda serves exactly this.
pub fn router(app: App) -> Router {
    with_layers(api_routes_router(), app)
}

/// Applies the shared layers to `routes`.
fn with_layers(routes: Router<App>, app: App) -> Router {
    routes
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(app.config.max_body_bytes))
        .layer(axum::Extension(schema::Schemas(openapi::base())))
        .layer(axum::Extension(schema::Document(std::sync::Arc::new(
            openapi::document(&app.config),
        ))))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            observe::access_log,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            observe::panic_response,
        ))
        .layer(axum::middleware::from_fn(request_id::layer))
        .with_state(app)
}
