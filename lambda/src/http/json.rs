//! JSON request bodies with client-actionable errors: wrong content type is 415, too large is
//! 413, and every syntax, type or unknown-field problem is a 400 naming the field and the rule
//! the OpenAPI document states for it, never the parser's words (Rust types, struct names).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::ToSchema;

use super::schema::{self, Schemas};
use super::{ApiError, ErrorCode};

/// Like `axum::Json`, but its rejections are our envelope. Also keeps the raw bytes, which
/// idempotency compares.
pub struct JsonBody<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned + ToSchema,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        // The router hands every request the document; without it errors name no rule.
        let schemas = req
            .extensions()
            .get::<Schemas>()
            .map_or(&Value::Null, |s| s.0);
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
        let value = parse::<T>(&raw, schemas)?;
        Ok(Self { value, raw })
    }
}

/// Deserializes with the failing field's path and rule in the error.
pub fn parse<T: DeserializeOwned + ToSchema>(raw: &[u8], schemas: &Value) -> Result<T, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "the request body is missing: expected a JSON object",
        )
        .with_detail("body", "missing"));
    }
    let root = T::name();
    // Syntax first (with line and column), then the shape serde would bend, then the fields.
    let json: serde_json::Value =
        serde_json::from_slice(raw).map_err(|e| json_error(schemas, &root, ".", &e))?;
    if let Some(path) = schema::array_for_object(schemas, &root, &json) {
        let field = if path.is_empty() {
            "body".to_owned()
        } else {
            path
        };
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("{field}: must be a JSON object"),
        )
        .with_detail(field, "invalid_type"));
    }
    // From the bytes again, not the parsed value: a duplicate field is an error there.
    let mut de = serde_json::Deserializer::from_slice(raw);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_error(schemas, &root, &path, e.inner())
    })?;
    de.end().map_err(|e| json_error(schemas, &root, ".", &e))?;
    Ok(value)
}

/// An unsigned integer field that takes any JSON number with an integral value: JSON Schema
/// (and so the document) counts `3.0` as the integer 3, and clients that only have floats send
/// it that way.
pub fn integer<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    use serde::de::{Error, Unexpected, Visitor};
    struct Integral;
    impl Visitor<'_> for Integral {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an unsigned integer")
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<u64, E> {
            // 2^64 is the first float past u64::MAX; smaller integral floats convert exactly.
            if v.fract() != 0.0 || !v.is_finite() {
                Err(E::invalid_type(Unexpected::Float(v), &self))
            } else if (0.0..18_446_744_073_709_551_616.0).contains(&v) {
                Ok(v as u64)
            } else {
                Err(E::invalid_value(Unexpected::Float(v), &self))
            }
        }
    }
    let n = de.deserialize_any(Integral)?;
    T::try_from(n)
        .map_err(|_| D::Error::invalid_value(Unexpected::Unsigned(n), &"an integer in range"))
}

/// [`integer`] for an optional field (`null` or absent is `None`).
pub fn optional_integer<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    #[derive(serde::Deserialize)]
    struct Wrap<T: TryFrom<u64>>(#[serde(deserialize_with = "integer")] T);
    let wrapped: Option<Wrap<T>> = serde::Deserialize::deserialize(de)?;
    Ok(wrapped.map(|Wrap(v)| v))
}

fn json_error(schemas: &Value, root: &str, path: &str, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let parser_message = e.to_string();
    let field = if path == "." || path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    let (field, issue, message) = match e.classify() {
        Category::Syntax => (
            "body".to_owned(),
            "malformed_json",
            format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        ),
        Category::Eof => (
            "body".to_owned(),
            "malformed_json",
            "the body ends before its JSON value does".to_owned(),
        ),
        Category::Io => (
            "body".to_owned(),
            "unreadable",
            "the request body could not be read".to_owned(),
        ),
        Category::Data => {
            if let Some(name) = between(&parser_message, "unknown field `", "`") {
                let field = join(&field, name);
                let parent = parent_of(&field);
                let known = schema::known_fields(schemas, root, parent);
                let message = format!("{field}: unknown field (known: {})", known.join(", "));
                (field, "unknown_field", message)
            } else if let Some(name) = between(&parser_message, "duplicate field `", "`") {
                let field = join(&field, name);
                let message = format!("{field}: given more than once");
                (field, "duplicate_field", message)
            } else if let Some(name) = between(&parser_message, "missing field `", "`") {
                let field = join(&field, name);
                let message = format!("{field}: required");
                (field, "missing", message)
            } else {
                let issue = if parser_message.starts_with("invalid type") {
                    "invalid_type"
                } else {
                    "invalid_value"
                };
                let rule = if field == "body" {
                    "must be a JSON object".to_owned()
                } else {
                    schema::field_schema(schemas, root, &field)
                        .map(schema::describe)
                        .unwrap_or_else(|| "has an invalid value".to_owned())
                };
                let message = format!("{field}: {rule}");
                (field, issue, message)
            }
        }
    };
    ApiError::new(ErrorCode::InvalidRequest, message).with_detail(field, issue)
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &s[s.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// `a.b[0].c` -> `a.b[0]`; a top-level field's parent is the body itself (``).
fn parent_of(field: &str) -> &str {
    field.rfind('.').map(|i| &field[..i]).unwrap_or("")
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

    #[derive(Debug, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        prompt: String,
        count: Option<u8>,
        refs: Option<Vec<Ref>>,
    }

    #[derive(Debug, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Ref {
        data: String,
    }

    fn detail(raw: &str) -> (String, String) {
        let e = parse::<Body>(raw.as_bytes(), &Value::Null).unwrap_err();
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
        assert!(parse::<Body>(br#"{"prompt":"x"}"#, &Value::Null).is_ok());
    }
}
