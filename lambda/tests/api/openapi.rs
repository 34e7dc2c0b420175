//! The OpenAPI document: snapshotted, and kept equal to the contract table of §4, which the
//! router really serves.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::*;

/// §4's table, written out by hand: (method, path).
const CONTRACT: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/images"),
    ("GET", "/v1/jobs/{id}"),
    ("GET", "/v1/jobs"),
    ("POST", "/v1/uploads"),
    ("GET", "/v1/usage"),
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
