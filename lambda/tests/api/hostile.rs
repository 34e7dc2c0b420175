//! Input rules (each a 4xx with `details`) and a table of hostile inputs: whatever a client
//! sends, the answer is a 4xx envelope, never a 500 and never a panic.

use serde_json::{Value, json};

use crate::common::*;

/// POSTs `body` to /v1/images and expects a 400 `invalid_request` naming `field`/`issue`.
async fn rejects(h: &Harness, key: &Key, body: Value, field: &str, issue: &str) {
    let res = h.post_image(key, body.clone()).await;
    assert_eq!(res.status, 400, "{body} -> {}", res.json);
    res.assert_error(400, "invalid_request")
        .assert_detail(field, issue);
}

#[tokio::test]
async fn image_requests_break_each_rule_with_a_detail() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let png = b64(&png(4, 4));
    let reference = json!({"data": png, "mime_type": "image/png"});

    rejects(
        &h,
        &key,
        json!({"prompt": "x", "colour": "red"}),
        "colour",
        "unknown_field",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "reference_images": [{"data": png, "mime_type": "image/png", "url": "http://x"}]}),
        "reference_images[0].url",
        "unknown_field",
    )
    .await;
    rejects(&h, &key, json!({"count": 1}), "prompt", "missing").await;
    rejects(&h, &key, json!({"prompt": 42}), "prompt", "invalid_type").await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "count": "2"}),
        "count",
        "invalid_type",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "count": 2.5}),
        "count",
        "invalid_type",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "count": -1}),
        "count",
        "invalid_value",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "count": 300}),
        "count",
        "invalid_value",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "count": 0}),
        "count",
        "out_of_range",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "count": 5}),
        "count",
        "out_of_range",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x".repeat(4001)}),
        "prompt",
        "too_long",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "é".repeat(4001)}),
        "prompt",
        "too_long",
    )
    .await;
    rejects(&h, &key, json!({"prompt": ""}), "prompt", "empty").await;
    rejects(&h, &key, json!({"prompt": " \n\t "}), "prompt", "empty").await;
    rejects(
        &h,
        &key,
        json!({"prompt": "a\u{0}b"}),
        "prompt",
        "control_characters",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "aspect_ratio": "7:3"}),
        "aspect_ratio",
        "unsupported",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "aspect_ratio": ""}),
        "aspect_ratio",
        "unsupported",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "reference_images": [reference, reference, reference, reference]}),
        "reference_images",
        "too_many",
    )
    .await;
    // Within each array's bound, over the total: a rule across fields, 422.
    h.post_image(
        &key,
        json!({"prompt": "x", "reference_images": [reference, reference],
               "reference_upload_ids": ["upl_0123456789abcdef0123456789abcdef", "upl_0123456789abcdef0123456789abcdee"]}),
    )
    .await
    .assert_error(422, "unprocessable")
    .assert_detail("reference_images", "too_many_in_total");
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "reference_images": [{"data": "%%%not base64%%%", "mime_type": "image/png"}]}),
        "reference_images[0].data",
        "invalid_base64",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "reference_images": [reference, {"data": "", "mime_type": "image/png"}]}),
        "reference_images[1].data",
        "empty",
    )
    .await;
    rejects(
        &h,
        &key,
        json!({"prompt": "x", "reference_images": [{"data": png}]}),
        "reference_images[0].mime_type",
        "missing",
    )
    .await;
    for bad in [
        "upl_1",
        "job_0123456789abcdef0123456789abcdef",
        "../../etc/passwd",
        "",
    ] {
        rejects(
            &h,
            &key,
            json!({"prompt": "x", "reference_upload_ids": [bad]}),
            "reference_upload_ids[0]",
            "malformed",
        )
        .await;
    }
    // Every problem at once is reported at once.
    let res = h
        .post_image(&key, json!({"prompt": "", "aspect_ratio": "x", "count": 9}))
        .await;
    res.assert_error(400, "invalid_request")
        .assert_detail("prompt", "empty")
        .assert_detail("aspect_ratio", "unsupported")
        .assert_detail("count", "out_of_range");
    // The boundaries themselves are accepted.
    for body in [
        json!({"prompt": "x".repeat(4000)}),
        json!({"prompt": "x", "count": 4, "aspect_ratio": "21:9"}),
        json!({"prompt": "x", "count": 1, "reference_images": [reference, reference, reference]}),
    ] {
        h.post_image(&key, body).await.assert_status(202);
    }
    // Nothing refused was queued.
    assert_eq!(h.deliveries().len(), 3);
}

#[tokio::test]
async fn key_requests_break_each_rule_with_a_detail() {
    let h = Harness::new();
    let create = |body: Value| h.call("POST", "/v1/admin/keys", Some(ADMIN_KEY), Some(body));
    create(json!({"tenant": "Acme Corp", "scopes": ["jobs:read"]}))
        .await
        .assert_error(400, "invalid_request")
        .assert_detail("tenant", "invalid");
    create(json!({"tenant": "acme", "scopes": []}))
        .await
        .assert_error(400, "invalid_request")
        .assert_detail("scopes", "empty");
    create(json!({"tenant": "acme", "scopes": ["root"]}))
        .await
        .assert_error(400, "invalid_request")
        .assert_detail("scopes[0]", "invalid_value");
    create(json!({"tenant": "acme", "scopes": ["jobs:read"], "rate_per_minute": 0}))
        .await
        .assert_error(400, "invalid_request")
        .assert_detail("rate_per_minute", "must_be_positive");
    create(json!({"tenant": "acme", "scopes": ["jobs:read"], "burst": 0}))
        .await
        .assert_detail("burst", "must_be_positive");
    create(
        json!({"tenant": "acme", "scopes": ["jobs:read"], "expires_at": "2026-11-26T09:00:00Z"}),
    )
    .await
    .assert_error(422, "unprocessable")
    .assert_detail("expires_at", "in_the_past");
    create(json!({"tenant": "acme", "scopes": ["jobs:read"], "expires_at": "tomorrow"}))
        .await
        .assert_error(400, "invalid_request")
        .assert_detail("expires_at", "invalid_value");
    create(json!({"tenant": "acme", "scopes": ["jobs:read"], "daily_quota": -5}))
        .await
        .assert_error(400, "invalid_request")
        .assert_detail("daily_quota", "invalid_value");
    create(json!({"tenant": "acme", "scopes": ["jobs:read"], "key": "igk_mine"}))
        .await
        .assert_error(400, "invalid_request")
        .assert_detail("key", "unknown_field");
}

#[tokio::test]
async fn list_queries_break_each_rule_with_a_detail() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    for (query, field, issue) in [
        ("limit=0", "limit", "out_of_range"),
        ("limit=101", "limit", "out_of_range"),
        ("limit=abc", "limit", "invalid_type"),
        ("limit=-1", "limit", "invalid_type"),
        ("limit=99999999999999999999999", "limit", "invalid_type"),
        ("limit=1&limit=2", "limit", "repeated"),
        ("page=2", "page", "unknown_parameter"),
        ("cursor=not-a-cursor", "cursor", "invalid"),
        ("cursor=", "cursor", "invalid"),
        ("cursor=%FF%FE", "cursor", "invalid"),
        ("cursor=aGVsbG8", "cursor", "invalid"),
        // The right length, not the right shape.
        (
            "cursor=0000000000000000000x0123456789abcdef0123456789abcdef",
            "cursor",
            "invalid",
        ),
    ] {
        let res = h
            .call("GET", &format!("/v1/jobs?{query}"), Some(&key.key), None)
            .await;
        assert_eq!(res.status, 400, "{query}: {}", res.json);
        res.assert_error(400, "invalid_request")
            .assert_detail(field, issue);
    }
    h.call("GET", "/v1/jobs?limit=1", Some(&key.key), None)
        .await
        .assert_status(200);
    h.call("GET", "/v1/jobs?limit=100", Some(&key.key), None)
        .await
        .assert_status(200);
}

/// One hostile request: method, path, content type, body, extra headers.
struct Hostile {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    headers: Vec<(&'static str, Vec<u8>)>,
}

fn post(name: &'static str, body: impl Into<Vec<u8>>) -> Hostile {
    Hostile {
        name,
        method: "POST",
        path: "/v1/images".into(),
        content_type: Some("application/json"),
        body: body.into(),
        headers: Vec::new(),
    }
}

fn to(mut h: Hostile, path: &str) -> Hostile {
    h.path = path.to_owned();
    h
}

fn with_header(mut h: Hostile, name: &'static str, value: &[u8]) -> Hostile {
    h.headers.push((name, value.to_vec()));
    h
}

#[tokio::test]
async fn hostile_inputs_are_always_a_4xx_envelope() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(
        r#"{{"prompt":"x","reference_images":{}}}"#,
        "[".repeat(50_000)
    );
    let cases = vec![
        post("empty body", ""),
        post("whitespace", "   \n"),
        post("null", "null"),
        post("array instead of object", "[]"),
        post("array of objects", r#"[{"prompt":"x"}]"#),
        post("string", r#""prompt""#),
        post("number", "42"),
        post("true", "true"),
        post("truncated", r#"{"prompt":"x""#),
        post("trailing garbage", r#"{"prompt":"x"}{"prompt":"y"}"#),
        post("trailing comma", r#"{"prompt":"x",}"#),
        post("single quotes", "{'prompt':'x'}"),
        post("comments", r#"{/* hi */"prompt":"x"}"#),
        post("NaN", r#"{"prompt":"x","count":NaN}"#),
        post("prompt null", r#"{"prompt":null}"#),
        post("prompt array", r#"{"prompt":["a","b"]}"#),
        post("prompt object", r#"{"prompt":{"text":"x"}}"#),
        post("huge count", r#"{"prompt":"x","count":1e400}"#),
        post("huge integer count", r#"{"prompt":"x","count":340282366920938463463374607431768211456}"#),
        post("negative zero count", r#"{"prompt":"x","count":-0.0}"#),
        post("count null", r#"{"prompt":"x","count":null,"aspect_ratio":null,"colour":null}"#),
        post("references object", r#"{"prompt":"x","reference_images":{"data":"x","mime_type":"image/png"}}"#),
        post("references null item", r#"{"prompt":"x","reference_images":[null]}"#),
        post("references string item", r#"{"prompt":"x","reference_images":["aGk="]}"#),
        post("reference data null", r#"{"prompt":"x","reference_images":[{"data":null,"mime_type":"image/png"}]}"#),
        post("reference data number", r#"{"prompt":"x","reference_images":[{"data":12,"mime_type":"image/png"}]}"#),
        post("upload ids nested", r#"{"prompt":"x","reference_upload_ids":[["upl_1"]]}"#),
        post("upload ids number", r#"{"prompt":"x","reference_upload_ids":[1e308]}"#),
        post("duplicate field", r#"{"prompt":"x","prompt":"y"}"#),
        post("lone surrogate", r#"{"prompt":"\ud800"}"#),
        post("bad escape", r#"{"prompt":"\q"}"#),
        post("non-UTF-8 bytes", b"\xff\xfe\x00{".to_vec()),
        post("non-UTF-8 in a string", b"{\"prompt\":\"\xc3\x28\"}".to_vec()),
        post("UTF-8 BOM", b"\xef\xbb\xbf{\"prompt\":\"x\"}".to_vec()),
        post("NUL byte", b"{\"prompt\":\"x\"}\x00".to_vec()),
        post("deep arrays", deep_array.clone()),
        post("deep references", deep_object),
        post("base64 of nothing", r#"{"prompt":"x","reference_images":[{"data":"====","mime_type":"image/png"}]}"#),
        post("base64 url-safe alphabet", r#"{"prompt":"x","reference_images":[{"data":"-_-_","mime_type":"image/png"}]}"#),
        post("zero-byte png header", format!(r#"{{"prompt":"x","reference_images":[{{"data":"{}","mime_type":"image/png"}}]}}"#, b64(b"\x89PNG\r\n\x1a\n"))),
        with_header(post("idempotency key too long", r#"{"prompt":"x"}"#), "idempotency-key", "k".repeat(300).as_bytes()),
        with_header(post("idempotency key with spaces", r#"{"prompt":"x"}"#), "idempotency-key", b"a b"),
        with_header(post("idempotency key not text", r#"{"prompt":"x"}"#), "idempotency-key", b"\xff\xfe"),
        to(post("admin: null", "null"), "/v1/admin/keys"),
        to(post("admin: scopes string", r#"{"tenant":"a","scopes":"admin"}"#), "/v1/admin/keys"),
        to(post("admin: huge rate", r#"{"tenant":"a","scopes":["admin"],"rate_per_minute":4294967296}"#), "/v1/admin/keys"),
        to(post("admin: expires_at number", r#"{"tenant":"a","scopes":["admin"],"expires_at":1}"#), "/v1/admin/keys"),
        to(post("admin: expires_at far future", r#"{"tenant":"a","scopes":["admin"],"expires_at":"+999999-01-01T00:00:00Z"}"#), "/v1/admin/keys"),
        to(post("admin: deep arrays", deep_array), "/v1/admin/keys"),
        to(post("admin: non-UTF-8", b"{\"tenant\":\"\xff\"}".to_vec()), "/v1/admin/keys"),
        to(post("admin: huge float", r#"{"tenant":"a","scopes":["admin"],"burst":1e999}"#), "/v1/admin/keys"),
        Hostile { name: "admin: key id junk", method: "DELETE", path: "/v1/admin/keys/%FF%FE".into(), content_type: None, body: vec![], headers: vec![] },
        Hostile { name: "job id with percent-encoded junk", method: "GET", path: "/v1/jobs/%FF%FE".into(), content_type: None, body: vec![], headers: vec![] },
        Hostile { name: "job id with a NUL", method: "GET", path: "/v1/jobs/job_%00".into(), content_type: None, body: vec![], headers: vec![] },
        Hostile { name: "job id traversal", method: "GET", path: "/v1/jobs/..%2F..%2Fadmin".into(), content_type: None, body: vec![], headers: vec![] },
        Hostile { name: "very long job id", method: "GET", path: format!("/v1/jobs/job_{}", "a".repeat(5000)), content_type: None, body: vec![], headers: vec![] },
        Hostile { name: "key id with junk", method: "DELETE", path: "/v1/admin/keys/%FF".into(), content_type: None, body: vec![], headers: vec![] },
        Hostile { name: "key id huge", method: "POST", path: format!("/v1/admin/keys/{}/rotate", "9".repeat(5000)), content_type: None, body: vec![], headers: vec![] },
        Hostile { name: "query junk", method: "GET", path: "/v1/jobs?limit=%FF&cursor=%00".into(), content_type: None, body: vec![], headers: vec![] },
        Hostile { name: "query repeated", method: "GET", path: "/v1/jobs?limit=1&limit=2".into(), content_type: None, body: vec![], headers: vec![] },
        Hostile { name: "blob path traversal", method: "GET", path: "/blobs/../../etc/passwd?method=GET&expires=1&max_bytes=0&sig=00".into(), content_type: None, body: vec![], headers: vec![] },
        Hostile { name: "blob path junk", method: "GET", path: "/blobs/%FF?method=GET&expires=99999999999&max_bytes=0&sig=zz".into(), content_type: None, body: vec![], headers: vec![] },
        Hostile { name: "blob huge expiry", method: "GET", path: "/blobs/generated/a/b/0.png?method=GET&expires=99999999999999999999999&max_bytes=0&sig=00".into(), content_type: None, body: vec![], headers: vec![] },
        Hostile { name: "blob upload unsigned", method: "PUT", path: "/blobs/uploads/acme/upl_0123456789abcdef0123456789abcdef".into(), content_type: Some("image/png"), body: b"x".to_vec(), headers: vec![] },
    ];
    for case in cases {
        // Admin routes get the admin key, so the input reaches the parsers.
        let caller = if case.path.starts_with("/v1/admin") {
            ADMIN_KEY
        } else {
            key.key.as_str()
        };
        let mut req = h.req(case.method, &case.path).key(caller);
        for (name, value) in &case.headers {
            req = req.header_bytes(name, value);
        }
        if case.method != "GET" || !case.body.is_empty() {
            req = req.raw(case.body.clone(), case.content_type);
        }
        let res = req.send().await;
        assert!(
            res.status.is_client_error(),
            "{}: {} {}",
            case.name,
            res.status,
            String::from_utf8_lossy(&res.bytes)
        );
    }

    for (method, path) in [
        ("POST", "/v1/admin/keys/%00/rotate"),
        ("DELETE", "/v1/admin/keys/0123456789ab%2F..%2F"),
    ] {
        let res = h.req(method, path).key(ADMIN_KEY).send().await;
        assert!(
            res.status.is_client_error(),
            "{method} {path}: {}",
            res.status
        );
    }

    // Hostile headers on an otherwise fine request.
    for (name, value) in [
        ("x-api-key", vec![b'a'; 8000]),
        ("x-api-key", b"igk_\xc3\xa9\t\xff".to_vec()),
        ("prefer", b"wait=99999999999999999999999999".to_vec()),
        ("prefer", b"wait=-1, wait=abc, \xff".to_vec()),
    ] {
        let mut req = h.req("POST", "/v1/images");
        if name != "x-api-key" {
            req = req.key(&key.key);
        }
        let res = req
            .header_bytes(name, &value)
            .json(&json!({"prompt": "x"}))
            .send()
            .await;
        assert!(!res.status.is_server_error(), "{name}: {}", res.status);
    }
    // Nothing hostile was admitted except the two well-formed requests with a junk Prefer.
    assert!(h.deliveries().len() <= 2);
}
