//! JSON request bodies with client-actionable errors: wrong content type is 415, too large is
//! 413, and every syntax, type or unknown-field problem is a 400 naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::{ApiError, ErrorCode};

/// Like `axum::Json`, but its rejections are our envelope. Also keeps the raw bytes, which
/// idempotency compares.
pub struct JsonBody<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json_content = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !json_content {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "the body must be JSON (content-type: application/json)",
            )
            .with_detail("content-type", "expected_application_json"));
        }
        let raw = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
                    .with_detail("body", "too_large")
            } else {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    "the request body could not be read",
                )
                .with_detail("body", "unreadable")
            }
        })?;
        let value = parse(&raw)?;
        Ok(Self { value, raw })
    }
}

/// Deserializes with the failing field's path in the error.
pub fn parse<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(raw);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_error(&path, e.inner())
    })?;
    de.end().map_err(|e| json_error(".", &e))?;
    Ok(value)
}

fn json_error(path: &str, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let message = e.to_string();
    let field = if path == "." || path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    let (field, issue) = match e.classify() {
        Category::Syntax | Category::Eof => ("body".to_owned(), "malformed_json"),
        Category::Io => ("body".to_owned(), "unreadable"),
        Category::Data => {
            if let Some(name) = between(&message, "unknown field `", "`") {
                (join(&field, name), "unknown_field")
            } else if let Some(name) = between(&message, "missing field `", "`") {
                (join(&field, name), "missing")
            } else if message.starts_with("invalid type") {
                (field, "invalid_type")
            } else {
                (field, "invalid_value")
            }
        }
    };
    // serde's message names the field and the expectation; it never echoes the input's value.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    ApiError::new(ErrorCode::InvalidRequest, message).with_detail(field, issue)
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &s[s.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// For unknown/missing fields serde reports the parent's path; name the field itself.
fn join(path: &str, name: &str) -> String {
    // The path already ends with an unknown field's name, but stops at the parent of a
    // missing one.
    if path == "body" {
        name.to_owned()
    } else if path == name || path.ends_with(&format!(".{name}")) {
        path.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        prompt: String,
        count: Option<u8>,
        refs: Option<Vec<Ref>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Ref {
        data: String,
    }

    fn detail(raw: &str) -> (String, String) {
        let e = parse::<Body>(raw.as_bytes()).unwrap_err();
        (e.details[0].field.clone(), e.details[0].issue.clone())
    }

    #[test]
    fn each_kind_of_bad_json_names_its_field() {
        assert_eq!(detail("{"), ("body".into(), "malformed_json".into()));
        assert_eq!(
            detail(r#"{"prompt":"x","extra":1}"#),
            ("extra".into(), "unknown_field".into())
        );
        assert_eq!(
            detail(r#"{"count":1}"#),
            ("prompt".into(), "missing".into())
        );
        assert_eq!(
            detail(r#"{"prompt":5}"#),
            ("prompt".into(), "invalid_type".into())
        );
        assert_eq!(
            detail(r#"{"prompt":"x","count":300}"#),
            ("count".into(), "invalid_value".into())
        );
        assert_eq!(
            detail(r#"{"prompt":"x","refs":[{"data":"a","x":1}]}"#),
            ("refs[0].x".into(), "unknown_field".into())
        );
        assert_eq!(
            detail(r#"{"prompt":"x"} trailing"#),
            ("body".into(), "malformed_json".into())
        );
        assert!(parse::<Body>(br#"{"prompt":"x"}"#).is_ok());
    }
}
