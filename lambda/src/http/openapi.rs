//! The OpenAPI document as served: utoipa's description of the routes and types, made exact.
//!
//! utoipa states types; the rules the server enforces on top of them (lengths, bounds, enums,
//! patterns) are written in here from the very constants the validation code checks, so the
//! document cannot promise more or less than the server does. Every error status is one shared
//! response component, and the statuses any route can answer (405, 408, 414, 431, 500) are added to
//! every operation. JSON body errors read their rules back from this document (`json.rs`), so
//! an error message and the document say the same thing.

use std::sync::OnceLock;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::domain::ids::{ID_HEX_PATTERN, MAX_TENANT_LEN, TENANT_PATTERN};
use crate::domain::jobs::JobStatus;
use crate::domain::jobs::OUTCOME_CODES;
use crate::domain::keys::KEY_ID_PATTERN;
use crate::domain::request::{
    ASPECT_RATIOS, IMAGE_SIZES, MAX_COUNT, MAX_PROMPT_CHARS, MAX_QUALITY, MAX_REFERENCE_IMAGES,
    MIN_COUNT, MIN_QUALITY, OUTPUT_FORMATS, prompt_pattern,
};
use crate::domain::webhooks::{MAX_ATTEMPTS, MAX_URL_LEN, WebhookEvent};
use crate::http::routes::images::MAX_IDEMPOTENCY_KEY;
use crate::http::routes::images::{CANCEL_AFTER_PATTERN, MAX_CANCEL_AFTER, MIN_CANCEL_AFTER};
use crate::http::routes::jobs::{CURSOR_PATTERN, MAX_PAGE, MIN_PAGE};
use crate::images::ImageFormat;

/// Standard base64 with canonical padding, as `base64::engine::general_purpose::STANDARD`
/// decodes it: the last character before padding carries no stray bits.
pub const BASE64_PATTERN: &str = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)$";
/// `Idempotency-Key`: visible ASCII.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]+$";

/// Every error status the service answers, with its shared response component. 408, 414 and
/// 431 come from the server in front of the router (headers and URI are read before routing).
pub const ERROR_RESPONSES: [(u16, &str, &str); 15] = [
    (
        400,
        "BadRequest",
        "The request breaks a rule of this document (syntax, type, bound, pattern or unknown field); `details` names each field and rule",
    ),
    (
        401,
        "Unauthorized",
        "`x-api-key` is missing, malformed, unknown, expired or revoked",
    ),
    (
        403,
        "Forbidden",
        "The key lacks the scope this operation needs",
    ),
    (
        404,
        "NotFound",
        "No such resource for this tenant, or an id of the wrong shape",
    ),
    (
        405,
        "MethodNotAllowed",
        "The path does not take this method; `Allow` lists those it takes",
    ),
    (
        408,
        "RequestTimeout",
        "The request's head or body did not arrive, or was not answered, in time",
    ),
    (409, "Conflict", "The resource's state forbids this now"),
    (
        413,
        "PayloadTooLarge",
        "The body (or a reference image) is larger than the service accepts",
    ),
    (414, "UriTooLong", "The request target is too long"),
    (
        415,
        "UnsupportedMediaType",
        "The body is not JSON, or a reference image is not PNG, JPEG or WebP or not in its declared format",
    ),
    (
        422,
        "Unprocessable",
        "Well-formed, but unusable: a rule spanning fields, a time already past, a reference image that is corrupt, too large in pixels or not uploaded",
    ),
    (
        429,
        "TooManyRequests",
        "A rate limit or quota is used up; retry after `Retry-After` seconds",
    ),
    (
        431,
        "HeadersTooLarge",
        "The request's headers are too large",
    ),
    (500, "Internal", "The service failed; retry"),
    (
        502,
        "BadGateway",
        "A dependency of the service failed; retry",
    ),
];

/// Statuses every operation can answer, whatever it does.
const EVERY_OPERATION: [u16; 5] = [405, 408, 414, 431, 500];

/// A 1x1 PNG for the request examples: a reference image the server accepts.
const EXAMPLE_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The document for a service running with `config` (the upload limit is configurable).
pub fn document(config: &Config) -> Value {
    let mut doc = base().clone();
    configured(&mut doc, config);
    doc
}

/// The document with the default configuration; field rules of error messages come from here.
pub fn base() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc =
            serde_json::to_value(super::api_routes().into_openapi()).unwrap_or_else(|_| json!({}));
        refine(&mut doc);
        configured(&mut doc, &Config::default());
        doc
    })
}

fn configured(doc: &mut Value, config: &Config) {
    set(
        doc,
        "/components/schemas/CreateUploadRequest/properties/content_length",
        json!({"maximum": config.upload_max_bytes}),
    );
}

fn refine(doc: &mut Value) {
    doc["info"]["version"] = json!(crate::VERSION);
    unsigned_formats(doc);
    request_rules(doc);
    parameters(doc);
    responses(doc);
    examples(doc);
    links(doc);
    webhooks(doc);
}

/// The request the service makes to a job's webhook (OpenAPI 3.1 `webhooks`): the event, and
/// the Standard Webhooks headers that sign it.
fn webhooks(doc: &mut Value) {
    let header = |name: &str, description: &str, pattern: &str| {
        json!({
            "name": name, "in": "header", "required": true, "description": description,
            "schema": {"type": "string", "pattern": pattern},
        })
    };
    doc["webhooks"] = json!({"jobEnded": {"post": {
        "summary": "A job ended (sent to its `webhook_url` if its `webhook_events` take the event)",
        "description": "Signed per Standard Webhooks with the tenant's secret. Retried after 5 s, 5 min, 30 min, 2 h, 5 h, 8 h and 8 h until a 2xx answer within 10 s, then dead-lettered; redirects are not followed.",
        "operationId": "job_ended",
        "tags": ["webhooks"],
        "parameters": [
            header("webhook-id", "The event's id: the same for every attempt and redelivery of it", "^msg_[0-9a-f]{32}_(succeeded|failed|canceled)$"),
            header("webhook-timestamp", "When this attempt was signed, in epoch seconds", "^[0-9]+$"),
            header("webhook-signature", "`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under each secret in force, space-separated", "^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$"),
        ],
        "requestBody": {"required": true, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/JobEvent"},
        }}},
        "responses": {"2XX": {"description": "Received; any other answer (or none within 10 s) is retried"}},
    }}});
}

/// Merges `fields` into the object at `pointer` (no-op when utoipa did not emit it: the tests that
/// compare the document with the validation constants then fail).
fn set(doc: &mut Value, pointer: &str, fields: Value) {
    if let (Some(target), Value::Object(fields)) = (
        doc.pointer_mut(pointer).and_then(Value::as_object_mut),
        fields,
    ) {
        target.extend(fields);
    }
}

/// utoipa calls every unsigned integer `int32`; a `u32` needs `int64` to hold its range.
fn unsigned_formats(doc: &mut Value) {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if map.get("format") == Some(&json!("int32"))
                    && map.get("minimum") == Some(&json!(0))
                {
                    map.insert("format".into(), json!("int64"));
                    map.insert("maximum".into(), json!(u32::MAX));
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if let Some(schemas) = doc.pointer_mut("/components/schemas") {
        walk(schemas);
    }
}

fn mime_types() -> Vec<&'static str> {
    ImageFormat::ALL.iter().map(|f| f.mime_type()).collect()
}

fn request_rules(doc: &mut Value) {
    let image = "/components/schemas/CreateImageRequest/properties";
    set(
        doc,
        &format!("{image}/prompt"),
        json!({"minLength": 1, "maxLength": MAX_PROMPT_CHARS, "pattern": prompt_pattern()}),
    );
    set(
        doc,
        &format!("{image}/reference_images"),
        json!({"maxItems": MAX_REFERENCE_IMAGES}),
    );
    set(
        doc,
        &format!("{image}/reference_upload_ids"),
        json!({
            "maxItems": MAX_REFERENCE_IMAGES,
            "items": {"type": "string", "pattern": format!("^upl_{ID_HEX_PATTERN}$")},
        }),
    );
    let mut ratios: Vec<Value> = ASPECT_RATIOS.iter().map(|r| json!(r)).collect();
    ratios.push(Value::Null);
    set(
        doc,
        &format!("{image}/aspect_ratio"),
        json!({"enum": ratios}),
    );
    set(
        doc,
        &format!("{image}/count"),
        json!({"format": "int32", "minimum": MIN_COUNT, "maximum": MAX_COUNT, "default": 1}),
    );
    let mut formats: Vec<Value> = OUTPUT_FORMATS.iter().map(|f| json!(f)).collect();
    formats.push(Value::Null);
    set(
        doc,
        &format!("{image}/output_format"),
        json!({"enum": formats}),
    );
    set(
        doc,
        &format!("{image}/quality"),
        json!({"format": "int32", "minimum": MIN_QUALITY, "maximum": MAX_QUALITY}),
    );
    let mut sizes: Vec<Value> = IMAGE_SIZES.iter().map(|s| json!(s)).collect();
    sizes.push(Value::Null);
    set(doc, &format!("{image}/image_size"), json!({"enum": sizes}));
    for request in ["CreateImageRequest", "CreateKeyRequest"] {
        let fields = format!("/components/schemas/{request}/properties");
        set(
            doc,
            &format!("{fields}/webhook_url"),
            json!({"maxLength": MAX_URL_LEN, "format": "uri"}),
        );
        set(
            doc,
            &format!("{fields}/webhook_events"),
            json!({"minItems": 1, "maxItems": WebhookEvent::ALL.len(), "uniqueItems": true}),
        );
    }
    let delivery = "/components/schemas/DeliveryView/properties";
    set(
        doc,
        &format!("{delivery}/attempt"),
        json!({"format": "int32", "minimum": 1, "maximum": MAX_ATTEMPTS}),
    );
    set(
        doc,
        &format!("{delivery}/status_code"),
        json!({"format": "int32", "minimum": 100, "maximum": 999}),
    );
    set(
        doc,
        "/components/schemas/DeliveryList/properties/deliveries",
        json!({"maxItems": crate::usecases::webhooks::LISTED_ATTEMPTS}),
    );
    let webhook = "/components/schemas/WebhookView/properties";
    set(
        doc,
        &format!("{webhook}/url"),
        json!({"maxLength": MAX_URL_LEN, "format": "uri"}),
    );
    set(
        doc,
        &format!("{webhook}/events"),
        json!({"minItems": 1, "maxItems": WebhookEvent::ALL.len(), "uniqueItems": true}),
    );
    let reference = "/components/schemas/ReferenceImage/properties";
    set(
        doc,
        &format!("{reference}/data"),
        json!({"pattern": BASE64_PATTERN, "contentEncoding": "base64"}),
    );
    set(
        doc,
        &format!("{reference}/mime_type"),
        json!({"enum": mime_types()}),
    );

    let upload = "/components/schemas/CreateUploadRequest/properties";
    set(
        doc,
        &format!("{upload}/content_type"),
        json!({"enum": mime_types()}),
    );
    set(
        doc,
        &format!("{upload}/content_length"),
        json!({"format": "int64", "minimum": 1}),
    );

    // Codes are part of the contract: a client can switch on them.
    let mut codes: Vec<Value> = OUTCOME_CODES.iter().map(|c| json!(c)).collect();
    set(
        doc,
        "/components/schemas/JobFailure/properties/code",
        json!({"enum": codes.clone()}),
    );
    codes.push(Value::Null);
    for outcome in ["ImageOutcomeView", "JobEventOutcome"] {
        set(
            doc,
            &format!("/components/schemas/{outcome}/properties/code"),
            json!({"enum": codes.clone()}),
        );
    }

    let key = "/components/schemas/CreateKeyRequest/properties";
    set(
        doc,
        &format!("{key}/tenant"),
        json!({"minLength": 1, "maxLength": MAX_TENANT_LEN, "pattern": TENANT_PATTERN}),
    );
    set(doc, &format!("{key}/scopes"), json!({"minItems": 1}));
    for positive in ["rate_per_minute", "burst", "daily_refusal_limit"] {
        set(doc, &format!("{key}/{positive}"), json!({"minimum": 1}));
    }
    set(
        doc,
        &format!("{key}/expires_at"),
        json!({"format": "date-time"}),
    );
}

fn operations(doc: &mut Value) -> Vec<&mut Map<String, Value>> {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return Vec::new();
    };
    paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(Value::as_object_mut)
        .collect()
}

/// Parameter schemas as the handlers read them: a header or query value is never `null`.
fn parameters(doc: &mut Value) {
    for op in operations(doc) {
        let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
            continue;
        };
        for param in params {
            let schema = match param["name"].as_str().unwrap_or_default() {
                "id" => json!({"type": "string", "pattern": format!("^job_{ID_HEX_PATTERN}$")}),
                "key_id" => json!({"type": "string", "pattern": KEY_ID_PATTERN}),
                "limit" => json!({
                    "type": "integer", "format": "int32",
                    "minimum": MIN_PAGE, "maximum": MAX_PAGE, "default": 20,
                }),
                "cursor" => json!({"type": "string", "pattern": CURSOR_PATTERN}),
                "Idempotency-Key" => json!({
                    "type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY,
                    "pattern": IDEMPOTENCY_KEY_PATTERN,
                }),
                "Prefer" => json!({"type": "string"}),
                "Cancel-After" => json!({
                    "type": "string", "pattern": CANCEL_AFTER_PATTERN,
                    "description": format!("whole seconds, {MIN_CANCEL_AFTER} to {MAX_CANCEL_AFTER}"),
                }),
                "status" => json!({
                    "type": "string",
                    "enum": JobStatus::ALL.map(JobStatus::as_str),
                }),
                "created_after" | "created_before" => {
                    json!({"type": "string", "format": "date-time"})
                }
                _ => continue,
            };
            param["schema"] = schema;
        }
    }
}

fn responses(doc: &mut Value) {
    let envelope =
        json!({"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}});
    let mut shared = Map::new();
    for (status, name, description) in ERROR_RESPONSES {
        let mut response = json!({"description": description, "content": envelope.clone()});
        if status == 429 {
            response["headers"] = json!({
                "Retry-After": {
                    "description": "Seconds until the limit or quota that was hit resets",
                    "required": true,
                    "schema": {"type": "integer", "minimum": 0},
                },
                "RateLimit-Policy": {
                    "description": "The limit or quota that refused the request \
                        (draft-ietf-httpapi-ratelimit-headers): a structured-field List of \
                        `\"<name>\";q=<quota>;w=<window seconds>`",
                    "schema": {"type": "string"},
                },
                "RateLimit": {
                    "description": "What remains of it (`r`, 0 here) and the seconds until it \
                        resets (`t`): `\"<name>\";r=<remaining>;t=<seconds>`",
                    "schema": {"type": "string"},
                },
            });
        }
        shared.insert(name.to_owned(), response);
    }
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        components.insert("responses".into(), Value::Object(shared));
    }
    for op in operations(doc) {
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        for status in EVERY_OPERATION {
            responses.entry(status.to_string()).or_insert(Value::Null);
        }
        for (status, response) in responses.iter_mut() {
            let name = ERROR_RESPONSES
                .iter()
                .find(|(code, ..)| code.to_string() == *status)
                .map(|(_, name, _)| *name);
            if let Some(name) = name {
                *response = json!({"$ref": format!("#/components/responses/{name}")});
            }
        }
        // Keep the statuses in numeric order, as readers expect.
        let mut sorted: Vec<_> = std::mem::take(responses).into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        responses.extend(sorted);
    }
    let location = json!({
        "Location": {
            "description": "The job's URL",
            "required": true,
            "schema": {"type": "string"},
        }
    });
    for status in ["200", "202"] {
        set(
            doc,
            &format!("/paths/~1v1~1images/post/responses/{status}"),
            json!({"headers": location.clone()}),
        );
    }
    set(
        doc,
        "/paths/~1openapi.json/get/responses/200",
        json!({"content": {"application/json": {"schema": {"type": "object"}}}}),
    );
}

/// Request examples: what the examples phase of a contract test sends first.
fn examples(doc: &mut Value) {
    let png = base64::engine::general_purpose::STANDARD.encode(EXAMPLE_PNG);
    let media = |path: &str| format!("/paths/{path}/post/requestBody/content/application~1json");
    set(
        doc,
        &media("~1v1~1images"),
        json!({"examples": {
            "prompt": {"summary": "A prompt", "value": {"prompt": "a lighthouse at dusk", "aspect_ratio": "16:9", "count": 2}},
            "reference": {"summary": "A prompt and a reference image", "value": {
                "prompt": "the same scene in watercolour",
                "reference_images": [{"data": png, "mime_type": "image/png"}],
            }},
        }}),
    );
    set(
        doc,
        &media("~1v1~1uploads"),
        json!({"example": {"content_type": "image/png", "content_length": EXAMPLE_PNG.len()}}),
    );
    set(
        doc,
        &media("~1v1~1admin~1keys"),
        json!({"example": {"tenant": "acme", "scopes": ["images:write", "jobs:read"], "rate_per_minute": 60}}),
    );
}

/// How the answers of one operation feed the next (a client's flow; a stateful test's too).
fn links(doc: &mut Value) {
    let created = |operation: &str, description: &str| {
        json!({
            "operationId": operation,
            "parameters": {"id": "$response.body#/job_id"},
            "description": description,
        })
    };
    let job = json!({
        "GetJob": created("get_job", "The job this request created"),
        "ListDeliveries": created("list_deliveries", "Its webhook's delivery attempts"),
        "Redeliver": created("redeliver", "Send its end event to its webhook again"),
    });
    for status in ["200", "202"] {
        set(
            doc,
            &format!("/paths/~1v1~1images/post/responses/{status}"),
            json!({"links": job.clone()}),
        );
    }
    let key = |operation: &str, description: &str| {
        json!({
            "operationId": operation,
            "parameters": {"key_id": "$response.body#/key_id"},
            "description": description,
        })
    };
    set(
        doc,
        "/paths/~1v1~1admin~1keys/post/responses/201",
        json!({"links": {
            "RotateKey": key("rotate_key", "Rotate the key just created"),
            "RevokeKey": key("revoke_key", "Revoke the key just created"),
        }}),
    );
    set(
        doc,
        "/paths/~1v1~1admin~1keys~1{key_id}~1rotate/post/responses/200",
        json!({"links": {
            "RotateKey": key("rotate_key", "Rotate it again"),
            "RevokeKey": key("revoke_key", "Revoke the rotated key"),
        }}),
    );
}
