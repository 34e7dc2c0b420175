//! Every response carries `x-request-id`; error envelopes repeat it.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use super::ApiError;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served, available to handlers as an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// A caller-supplied id is kept only when it is short and plain, so it is safe in logs.
fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn choose(req: &Request) -> String {
    if let Some(id) = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
    {
        return id.to_owned();
    }
    // On Lambda the gateway's own id ties our logs to its access logs.
    if let Some(lambda_http::request::RequestContext::ApiGatewayV1(ctx)) =
        req.extensions()
            .get::<lambda_http::request::RequestContext>()
        && let Some(id) = ctx.request_id.as_deref().filter(|id| acceptable(id))
    {
        return id.to_owned();
    }
    uuid::Uuid::new_v4().to_string()
}

pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = choose(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    // Every log line of this request carries its id.
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = tracing::Instrument::instrument(next.run(req), span).await;
    if let Some(err) = res.extensions_mut().remove::<ApiError>() {
        res = err.to_response(&id);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    res
}
