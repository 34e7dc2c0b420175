//! Unauthenticated routes: health and the API's own description.

use axum::Extension;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::http::schema::Document;

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
pub async fn openapi(Extension(Document(doc)): Extension<Document>) -> Json<Value> {
    Json(Value::clone(&doc))
}
