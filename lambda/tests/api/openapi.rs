//! The OpenAPI document: snapshotted, kept equal to the contract table below (which the router
//! really serves), valid where generated clients break, and exact: its bounds are the server's,
//! and every status the router answers for an operation is one the operation documents.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::*;

/// The v1 contract, written out by hand: (method, path).
const CONTRACT: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/images"),
    ("GET", "/v1/jobs/{id}"),
    ("GET", "/v1/jobs"),
    ("POST", "/v1/jobs/{id}/cancel"),
    ("DELETE", "/v1/jobs/{id}"),
    ("POST", "/v1/uploads"),
    ("GET", "/v1/usage"),
    ("POST", "/v1/webhooks/secret"),
    ("GET", "/v1/jobs/{id}/webhooks"),
    ("POST", "/v1/jobs/{id}/webhooks/redeliver"),
    ("POST", "/v1/admin/keys"),
    ("POST", "/v1/admin/keys/{key_id}/rotate"),
    ("DELETE", "/v1/admin/keys/{key_id}"),
];

const UNAUTHENTICATED: &[&str] = &["/healthz", "/openapi.json"];

async fn document(h: &Harness) -> Value {
    let res = h.call("GET", "/openapi.json", None, None).await;
    res.assert_status(200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    res.json
}

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_document_lists_exactly_the_contract() {
    let h = Harness::new();
    let doc = document(&h).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let expected: BTreeSet<(String, String)> = CONTRACT
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(operations(&doc), expected);

    // Protected operations declare the api key; the open ones do not.
    for (method, path) in CONTRACT {
        let op = &doc["paths"][path][method.to_lowercase()];
        let secured = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("api_key").is_some()));
        assert_eq!(secured, !UNAUTHENTICATED.contains(path), "{method} {path}");
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"],
        serde_json::json!({"type": "apiKey", "in": "header", "name": "x-api-key"})
    );
    // The error envelope is documented with every code of the contract.
    let codes: BTreeSet<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in [
        "invalid_request",
        "unauthorized",
        "forbidden",
        "not_found",
        "conflict",
        "payload_too_large",
        "unsupported_media_type",
        "unprocessable",
        "rate_limited",
        "quota_exceeded",
        "upstream_error",
        "internal",
    ] {
        assert!(codes.contains(code), "{code}");
    }
}

#[tokio::test]
async fn the_router_serves_every_documented_operation() {
    let h = Harness::new();
    for (method, path) in CONTRACT {
        let concrete = path
            .replace("{id}", "job_0123456789abcdef0123456789abcdef")
            .replace("{key_id}", "0123456789ab");
        let res = h.call(method, &concrete, None, None).await;
        // Not the router's "no route" 404 nor its 405: the route exists, and it is either
        // open (200) or asks for a key (401).
        assert!(
            !(res.status == 404 && res.json["error"]["message"] == "no route matches this path"),
            "{method} {path} has no route"
        );
        assert_ne!(res.status, 405, "{method} {path}");
        if UNAUTHENTICATED.contains(path) {
            res.assert_status(200);
        } else {
            res.assert_error(401, "unauthorized");
        }
    }
}

#[tokio::test]
async fn the_document_matches_its_snapshot() {
    let h = Harness::new();
    let mut doc = document(&h).await;
    // The version changes with every release; the shape must not change by accident.
    doc["info"]["version"] = Value::from("[version]");
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_json_snapshot!("openapi", doc);
    });
}

/// Resolves a `$ref` inside the document.
fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => deref(doc, doc.pointer(r.strip_prefix('#').unwrap()).unwrap()),
        None => v,
    }
}

fn op<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method.to_lowercase()];
    assert!(op.is_object(), "{method} {path} is not documented");
    op
}

fn documented(doc: &Value, method: &str, path: &str) -> BTreeSet<u16> {
    op(doc, method, path)["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn parameters_are_where_the_server_reads_them() {
    let h = Harness::new();
    let doc = document(&h).await;
    for (method, path) in CONTRACT {
        let params = op(&doc, method, path)["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let template: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        let in_path: BTreeSet<String> = params
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        // A path parameter that is not in the template makes the document invalid.
        assert_eq!(in_path, template, "{method} {path}");
        for p in &params {
            if p["in"] == "path" {
                assert_eq!(p["required"], true, "{method} {path} {p}");
            } else {
                assert_ne!(p["required"], true, "{method} {path}: {p} is optional");
            }
            // A header or query value is never JSON null.
            assert!(p["schema"]["type"].is_string(), "{method} {path} {p}");
        }
    }
    let list = op(&doc, "GET", "/v1/jobs")["parameters"]
        .as_array()
        .unwrap();
    let names: BTreeSet<(&str, &str)> = list
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            ("created_after", "query"),
            ("created_before", "query"),
            ("cursor", "query"),
            ("limit", "query"),
            ("status", "query"),
        ])
    );
}

#[tokio::test]
async fn every_response_is_described() {
    let h = Harness::new();
    let doc = document(&h).await;
    for (method, path) in CONTRACT {
        for (status, response) in op(&doc, method, path)["responses"].as_object().unwrap() {
            let response = deref(&doc, response);
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.trim().is_empty()),
                "{method} {path} {status} has no description"
            );
            // Error answers are the envelope, always.
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorEnvelope",
                    "{method} {path} {status}"
                );
            }
        }
    }
}

/// Every status the router answers is one the operation documents: malformed ids, wrong
/// methods, oversized and non-JSON bodies, no key, a key without the scope.
#[tokio::test]
async fn every_status_the_router_answers_is_documented() {
    let h = Harness::builder()
        .config(|c| c.max_body_bytes = 2048)
        .build();
    let doc = document(&h).await;
    let reader = h.create_key("acme", &["jobs:read"]).await;
    let writer = h.create_key("acme", &["images:write"]).await;
    let mut checked = 0;
    let mut check = |method: &str, path: &str, res: &Resp| {
        let status = res.status.as_u16();
        assert!(
            documented(&doc, method, path).contains(&status),
            "{method} {path} answered {status}, which it does not document: {}",
            res.json
        );
        checked += 1;
    };
    let job = "/v1/jobs/{id}";
    for id in ["job_1", "%FF%FE", "job_0123456789abcdef0123456789abcdef"] {
        let res = h
            .call("GET", &format!("/v1/jobs/{id}"), Some(&reader.key), None)
            .await;
        check("GET", job, &res);
        // Writing needs images:write: 403 from a reader; 404 or 204 from a writer.
        let path = format!("/v1/jobs/{id}");
        for key in [&reader.key, &writer.key] {
            let res = h.call("DELETE", &path, Some(key), None).await;
            check("DELETE", job, &res);
            let res = h
                .call("POST", &format!("{path}/cancel"), Some(key), None)
                .await;
            check("POST", "/v1/jobs/{id}/cancel", &res);
        }
    }
    for (method, path) in [
        ("POST", "/v1/admin/keys/{key_id}/rotate"),
        ("DELETE", "/v1/admin/keys/{key_id}"),
    ] {
        for id in ["not-a-key", "%FF", "0123456789ab"] {
            let res = h
                .call(method, &path.replace("{key_id}", id), Some(ADMIN_KEY), None)
                .await;
            check(method, path, &res);
        }
    }
    for (method, path) in CONTRACT {
        let concrete = path
            .replace("{id}", "job_0123456789abcdef0123456789abcdef")
            .replace("{key_id}", "0123456789ab");
        // Another method on the same path.
        let other = if *method == "GET" { "PATCH" } else { "PUT" };
        let res = h.call(other, &concrete, Some(ADMIN_KEY), None).await;
        res.assert_status(405);
        check(method, path, &res);
        // No key, and a key without the scope.
        for key in [None, Some(reader.key.as_str())] {
            let res = h.call(method, &concrete, key, None).await;
            check(method, path, &res);
        }
        // Rotate, cancel, the signing secret and redelivery take no body (and read none).
        let bodiless = ["rotate", "/cancel", "/secret", "/redeliver"];
        if *method == "POST" && !bodiless.iter().any(|end| path.ends_with(end)) {
            // Oversized, not JSON, empty, and not an object.
            let big = h
                .req(method, &concrete)
                .key(ADMIN_KEY)
                .raw(vec![b' '; 4096], Some("application/json"))
                .send()
                .await;
            big.assert_status(413);
            check(method, path, &big);
            let text = h
                .req(method, &concrete)
                .key(ADMIN_KEY)
                .raw(b"{}".to_vec(), Some("text/plain"))
                .send()
                .await;
            text.assert_status(415);
            check(method, path, &text);
            for body in [&b""[..], b"[]", b"{"] {
                let res = h
                    .req(method, &concrete)
                    .key(ADMIN_KEY)
                    .raw(body.to_vec(), Some("application/json"))
                    .send()
                    .await;
                res.assert_status(400);
                check(method, path, &res);
            }
        }
    }
    assert!(checked > 40);
}

/// The server refuses what the schema refuses and takes what it allows: the bounds in the
/// document are the validation constants themselves.
#[tokio::test]
async fn request_schemas_carry_the_rules_the_server_enforces() {
    use imagegen::domain::request::*;
    let h = Harness::new();
    let doc = document(&h).await;
    let schema = |name: &str| doc["components"]["schemas"][name]["properties"].clone();

    let image = schema("CreateImageRequest");
    assert_eq!(image["prompt"]["minLength"], 1);
    assert_eq!(image["prompt"]["maxLength"], MAX_PROMPT_CHARS);
    assert_eq!(image["prompt"]["pattern"], prompt_pattern());
    assert_eq!(image["count"]["minimum"], MIN_COUNT);
    assert_eq!(image["count"]["maximum"], MAX_COUNT);
    let mut ratios: Vec<Value> = ASPECT_RATIOS.iter().map(|r| json!(r)).collect();
    ratios.push(Value::Null);
    assert_eq!(image["aspect_ratio"]["enum"], json!(ratios));
    assert_eq!(image["reference_images"]["maxItems"], MAX_REFERENCE_IMAGES);
    assert_eq!(
        image["reference_upload_ids"]["maxItems"],
        MAX_REFERENCE_IMAGES
    );
    let formats: Vec<&str> = imagegen::images::ImageFormat::ALL
        .iter()
        .map(|f| f.mime_type())
        .collect();
    assert_eq!(
        schema("ReferenceImage")["mime_type"]["enum"],
        json!(formats)
    );

    let upload = schema("CreateUploadRequest");
    assert_eq!(upload["content_type"]["enum"], json!(formats));
    assert_eq!(upload["content_length"]["minimum"], 1);
    assert_eq!(
        upload["content_length"]["maximum"],
        h.app.config.upload_max_bytes
    );

    let key = schema("CreateKeyRequest");
    assert_eq!(
        key["tenant"]["pattern"],
        imagegen::domain::ids::TENANT_PATTERN
    );
    assert_eq!(key["tenant"]["maxLength"], 64);
    assert_eq!(key["scopes"]["minItems"], 1);
    for field in ["rate_per_minute", "burst"] {
        assert_eq!(key[field]["minimum"], 1, "{field}");
    }
    for field in ["rate_per_minute", "burst", "daily_quota", "monthly_quota"] {
        assert_eq!(key[field]["maximum"], u32::MAX, "{field}");
    }

    let limit = &op(&doc, "GET", "/v1/jobs")["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()["schema"];
    assert_eq!(limit["minimum"], imagegen::http::routes::jobs::MIN_PAGE);
    assert_eq!(limit["maximum"], imagegen::http::routes::jobs::MAX_PAGE);

    // No integer is declared narrower than the Rust type that parses it.
    fn formats_fit(v: &Value, at: &str) {
        match v {
            Value::Object(map) => {
                if map.get("format") == Some(&json!("int32")) {
                    let max = map.get("maximum").and_then(Value::as_u64);
                    assert!(
                        max.is_some_and(|m| m <= i32::MAX as u64),
                        "{at}: int32 without a bound that fits"
                    );
                }
                for (k, v) in map {
                    formats_fit(v, &format!("{at}/{k}"));
                }
            }
            Value::Array(items) => items.iter().for_each(|v| formats_fit(v, at)),
            _ => {}
        }
    }
    formats_fit(&doc["components"], "components");
    formats_fit(&doc["paths"], "paths");

    // The boundaries the document states, at the server: one past each is refused.
    let key = h.create_key("acme", ALL_SCOPES).await;
    for (body, status) in [
        (json!({"prompt": "x".repeat(MAX_PROMPT_CHARS)}), 202),
        (json!({"prompt": "x".repeat(MAX_PROMPT_CHARS + 1)}), 400),
        (json!({"prompt": "x", "count": MAX_COUNT}), 202),
        (json!({"prompt": "x", "count": MAX_COUNT + 1}), 400),
        (json!({"prompt": "x", "count": MIN_COUNT - 1}), 400),
        (
            json!({"prompt": "x", "aspect_ratio": null, "count": null}),
            202,
        ),
        // JSON Schema's integers include integral floats; so does the server.
        (json!({"prompt": "x", "count": 2.0}), 202),
        (json!({"prompt": "x", "count": 2.5}), 400),
    ] {
        h.post_image(&key, body).await.assert_status(status);
    }
}

/// The document's request examples are requests the server accepts; its links name real
/// operations and parameters.
#[tokio::test]
async fn examples_are_accepted_and_links_lead_somewhere() {
    let h = Harness::new();
    let doc = document(&h).await;
    let mut examples = 0;
    for (method, path) in CONTRACT {
        let media = &op(&doc, method, path)["requestBody"]["content"]["application/json"];
        let mut bodies: Vec<Value> = media["examples"]
            .as_object()
            .map(|e| e.values().map(|v| v["value"].clone()).collect())
            .unwrap_or_default();
        bodies.extend(media.get("example").cloned());
        for body in bodies {
            let res = h
                .call(method, path, Some(ADMIN_KEY), Some(body.clone()))
                .await;
            assert!(
                res.status.is_success(),
                "{method} {path} {body}: {}",
                res.json
            );
            examples += 1;
        }
    }
    assert_eq!(examples, 4);

    let ids: BTreeSet<&str> = CONTRACT
        .iter()
        .map(|(m, p)| op(&doc, m, p)["operationId"].as_str().unwrap())
        .collect();
    let mut links = 0;
    for (method, path) in CONTRACT {
        for response in op(&doc, method, path)["responses"]
            .as_object()
            .unwrap()
            .values()
        {
            let Some(found) = deref(&doc, response)["links"].as_object() else {
                continue;
            };
            for link in found.values() {
                let target = link["operationId"].as_str().unwrap();
                assert!(ids.contains(target), "{target}");
                let (tm, tp) = CONTRACT
                    .iter()
                    .find(|(m, p)| op(&doc, m, p)["operationId"] == target)
                    .unwrap();
                for name in link["parameters"].as_object().unwrap().keys() {
                    assert!(
                        tp.contains(&format!("{{{name}}}")),
                        "{tm} {tp} has no {name}"
                    );
                }
                links += 1;
            }
        }
    }
    assert!(links >= 4, "{links}");
}
