//! The HTTP surface: one router for every route, served by `bin/api.rs` on Lambda and by
//! `bin/dev.rs` on 127.0.0.1.

mod error;
mod request_id;

pub use error::{ApiError, ErrorCode, FieldIssue};
pub use request_id::{REQUEST_ID_HEADER, RequestId};

use axum::{Json, Router, routing::get};
use serde::Serialize;

/// Body of `GET /healthz`.
#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
}

async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: crate::VERSION,
    })
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no route matches this path")
}

/// The service's router; every binary serves exactly this.
pub fn router() -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(request_id::layer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn call(req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let res = router().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, headers, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn healthz_reports_ok_and_the_crate_version() {
        let (status, headers, body) =
            call(Request::get("/healthz").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
        assert!(headers.contains_key(REQUEST_ID_HEADER));
    }

    #[tokio::test]
    async fn unknown_route_answers_the_not_found_envelope_with_the_request_id() {
        let (status, headers, body) = call(
            Request::get("/nope")
                .header(REQUEST_ID_HEADER, "req-123")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
        assert_eq!(body["error"]["request_id"], "req-123");
        assert_eq!(headers[REQUEST_ID_HEADER], "req-123");
    }

    #[tokio::test]
    async fn a_hostile_request_id_is_replaced_not_echoed() {
        let long = "x".repeat(500);
        let (_, headers, body) = call(
            Request::get("/nope")
                .header(REQUEST_ID_HEADER, long.as_str())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let id = headers[REQUEST_ID_HEADER].to_str().unwrap();
        assert_ne!(id, long);
        assert_eq!(body["error"]["request_id"], id);
    }
}
