//! Unauthenticated routes: health and the API's own description.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::App;

/// Body of `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
}

/// Liveness: answers without touching any dependency.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, body = Health, description = "the service is up")))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: crate::VERSION,
    })
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "this OpenAPI 3.1 document")))]
pub async fn openapi(State(app): State<App>) -> Json<Value> {
    Json(crate::http::openapi::document(&app.config))
}

/// This document, for a router without the service's configuration.
pub async fn openapi_default() -> Json<Value> {
    Json(crate::http::openapi())
}
