//! Every response carries `x-request-id`; error envelopes repeat it.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::{ApiError, ErrorCode};

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

fn is_error(status: StatusCode) -> bool {
    status.is_client_error() || status.is_server_error()
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/json"))
}

fn code_for(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::CONFLICT => ErrorCode::Conflict,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::Unprocessable,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::BAD_GATEWAY => ErrorCode::UpstreamError,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
        StatusCode::URI_TOO_LONG => ErrorCode::UriTooLong,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ErrorCode::HeadersTooLarge,
        s if s.is_client_error() => ErrorCode::InvalidRequest,
        _ => ErrorCode::Internal,
    }
}

pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = choose(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    // Every log line of this request carries its id.
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = tracing::Instrument::instrument(next.run(req), span).await;
    let error = match res.extensions_mut().remove::<ApiError>() {
        Some(err) => Some(err),
        // An extractor's own rejection (say, a path segment that is not UTF-8) is plain text;
        // it gets the envelope too.
        None if is_error(res.status()) && !is_json(&res) => Some(ApiError::new(
            code_for(res.status()),
            res.status()
                .canonical_reason()
                .unwrap_or("the request failed")
                .to_ascii_lowercase(),
        )),
        None => None,
    };
    if let Some(err) = error {
        let mut rendered = err.to_response(&id);
        let own: Vec<_> = rendered.headers().keys().cloned().collect();
        // Keep what inner layers added (RateLimit-*, Allow, ...), but not the old body's framing.
        for (name, value) in res.headers() {
            if !own.contains(name) && name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH
            {
                rendered.headers_mut().append(name, value.clone());
            }
        }
        res = rendered;
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    res
}

/// An error answered without running the router (the server's own limits and timeouts): the
/// envelope and `x-request-id`, the id chosen as for every request.
pub(super) fn respond(req: &Request, err: &ApiError) -> Response {
    let id = choose(req);
    let mut res = err.to_response(&id);
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    res
}
