//! Every error code of the v1 contract with the status, envelope and headers a client sees,
//! and messages in the client's terms: the field and the rule, never the parser's words.

use imagegen::store::StoreError;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn healthz_answers_without_a_key() {
    let h = Harness::new();
    let res = h.call("GET", "/healthz", None, None).await;
    res.assert_status(200);
    assert_eq!(
        res.json,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
}

#[tokio::test]
async fn a_client_request_id_is_echoed_and_a_bad_one_replaced() {
    let h = Harness::new();
    let res = h
        .req("GET", "/v1/jobs")
        .header("x-request-id", "trace-abc_123")
        .send()
        .await;
    res.assert_error(401, "unauthorized");
    assert_eq!(res.header("x-request-id"), Some("trace-abc_123"));
    assert_eq!(res.json["error"]["request_id"], "trace-abc_123");

    let res = h
        .req("GET", "/healthz")
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await;
    let id = res.header("x-request-id").unwrap();
    assert_ne!(id, "<script>alert(1)</script>");
    // Ids differ per request.
    let other = h.call("GET", "/healthz", None, None).await;
    assert_ne!(other.header("x-request-id"), Some(id));
}

#[tokio::test]
async fn unauthorized_covers_every_way_a_key_can_be_wrong() {
    let h = Harness::builder()
        .config(|c| c.key_rotation_grace = std::time::Duration::from_secs(60))
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;

    // Missing.
    let res = h.call("GET", "/v1/jobs", None, None).await;
    res.assert_error(401, "unauthorized");
    assert!(
        res.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-api-key")
    );

    // Malformed, in several shapes, including bytes that are not text.
    for bad in [
        "Bearer abc",
        "igk_",
        "igk_short_secret",
        "",
        &format!("{}x", key.key),
    ] {
        h.call("GET", "/v1/jobs", Some(bad), None)
            .await
            .assert_error(401, "unauthorized");
    }
    h.req("GET", "/v1/jobs")
        .header_bytes("x-api-key", b"igk_\xff\xfe")
        .send()
        .await
        .assert_error(401, "unauthorized");

    // Unknown key id, well formed.
    let unknown = format!("igk_0123456789ab_{}", "A".repeat(40));
    h.call("GET", "/v1/jobs", Some(&unknown), None)
        .await
        .assert_error(401, "unauthorized");

    // Known id, wrong secret.
    let wrong = format!("igk_{}_{}", key.key_id, "B".repeat(40));
    let res = h.call("GET", "/v1/jobs", Some(&wrong), None).await;
    res.assert_error(401, "unauthorized");
    assert_eq!(res.json["error"]["message"], "the api key is not valid");

    // Expired.
    let expiring = h
        .create_key_with(json!({
            "tenant": "acme", "scopes": ["jobs:read"],
            "expires_at": "2026-11-26T10:01:00Z"
        }))
        .await;
    h.call("GET", "/v1/jobs", Some(&expiring.key), None)
        .await
        .assert_status(200);
    h.advance(time::Duration::seconds(60));
    let res = h.call("GET", "/v1/jobs", Some(&expiring.key), None).await;
    res.assert_error(401, "unauthorized");
    assert_eq!(res.json["error"]["message"], "this api key has expired");

    // Revoked.
    h.call(
        "DELETE",
        &format!("/v1/admin/keys/{}", key.key_id),
        Some(ADMIN_KEY),
        None,
    )
    .await
    .assert_status(200);
    let res = h.call("GET", "/v1/jobs", Some(&key.key), None).await;
    res.assert_error(401, "unauthorized");
    assert_eq!(
        res.json["error"]["message"],
        "this api key has been revoked"
    );
    // A wrong secret for a revoked key says nothing about revocation.
    let res = h.call("GET", "/v1/jobs", Some(&wrong), None).await;
    assert_eq!(res.json["error"]["message"], "the api key is not valid");
}

#[tokio::test]
async fn forbidden_is_a_missing_scope() {
    let h = Harness::new();
    let reader = h.create_key("acme", &["jobs:read"]).await;
    let writer = h.create_key("acme", &["images:write"]).await;

    let res = h.post_image(&reader, json!({"prompt": "a fox"})).await;
    res.assert_error(403, "forbidden");
    assert!(
        res.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("images:write")
    );
    h.declare_upload(&reader.key, &png(8, 8), "image/png")
        .await
        .assert_error(403, "forbidden");
    h.call("GET", "/v1/usage", Some(&reader.key), None)
        .await
        .assert_error(403, "forbidden");
    h.call("GET", "/v1/jobs", Some(&writer.key), None)
        .await
        .assert_error(403, "forbidden");
    h.call(
        "POST",
        "/v1/admin/keys",
        Some(&writer.key),
        Some(json!({"tenant": "acme", "scopes": ["admin"]})),
    )
    .await
    .assert_error(403, "forbidden");
    for path in [
        format!("/v1/admin/keys/{}/rotate", reader.key_id),
        format!("/v1/admin/keys/{}", reader.key_id),
    ] {
        let method = if path.ends_with("rotate") {
            "POST"
        } else {
            "DELETE"
        };
        h.call(method, &path, Some(&writer.key), None)
            .await
            .assert_error(403, "forbidden");
    }
    // Nothing was revoked by the refused call.
    h.call("GET", "/v1/jobs", Some(&reader.key), None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn not_found_for_routes_jobs_and_keys() {
    let h = Harness::new();
    let a = h.create_key("tenant-a", ALL_SCOPES).await;
    let b = h.create_key("tenant-b", ALL_SCOPES).await;

    // Unknown route, with and without a key.
    for path in ["/nope", "/v1", "/v1/images/extra", "/v2/images", "/V1/JOBS"] {
        let res = h.call("GET", path, Some(&a.key), None).await;
        res.assert_error(404, "not_found");
    }

    // Another tenant's job looks exactly like a missing one.
    let job = h.submit(&a, "a fox").await;
    h.get_job(&a, &job).await.assert_status(200);
    let theirs = h.get_job(&b, &job).await;
    theirs.assert_error(404, "not_found");
    let missing = h.get_job(&b, "job_0123456789abcdef0123456789abcdef").await;
    missing.assert_error(404, "not_found");
    assert_eq!(
        theirs.json["error"]["message"],
        missing.json["error"]["message"]
    );
    assert_eq!(theirs.details(), missing.details());

    // Malformed job ids.
    for id in [
        "123",
        "job_XYZ",
        "upl_0123456789abcdef0123456789abcdef",
        "job_0123456789ABCDEF0123456789ABCDEF",
    ] {
        h.get_job(&a, id)
            .await
            .assert_error(404, "not_found")
            .assert_detail("id", "malformed");
    }

    // Unknown and malformed key ids.
    for (method, suffix) in [("POST", "/rotate"), ("DELETE", "")] {
        h.call(
            method,
            &format!("/v1/admin/keys/0123456789ab{suffix}"),
            Some(ADMIN_KEY),
            None,
        )
        .await
        .assert_error(404, "not_found");
        h.call(
            method,
            &format!("/v1/admin/keys/not-a-key{suffix}"),
            Some(ADMIN_KEY),
            None,
        )
        .await
        .assert_error(404, "not_found")
        .assert_detail("key_id", "malformed");
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_405_envelope() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    for (method, path) in [
        ("GET", "/v1/images"),
        ("DELETE", "/v1/images"),
        ("PUT", "/v1/jobs"),
        ("POST", "/v1/jobs/job_0123456789abcdef0123456789abcdef"),
        ("GET", "/v1/uploads"),
        ("POST", "/v1/usage"),
        ("GET", "/v1/admin/keys"),
        ("GET", "/v1/admin/keys/0123456789ab/rotate"),
        ("POST", "/healthz"),
        ("DELETE", "/openapi.json"),
    ] {
        let res = h.call(method, path, Some(&key.key), None).await;
        res.assert_error(405, "method_not_allowed");
        // RFC 9110: a 405 says which methods the resource takes.
        assert!(
            res.header("allow").is_some_and(|a| !a.is_empty()),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn conflict_for_rotating_a_revoked_key() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let path = format!("/v1/admin/keys/{}", key.key_id);
    let res = h.call("DELETE", &path, Some(ADMIN_KEY), None).await;
    res.assert_status(200);
    assert_eq!(res.json["key_id"], key.key_id);
    assert!(res.json["revoked_at"].is_string());
    h.call("POST", &format!("{path}/rotate"), Some(ADMIN_KEY), None)
        .await
        .assert_error(409, "conflict");
    h.call("DELETE", &path, Some(ADMIN_KEY), None)
        .await
        .assert_error(409, "conflict");
}

#[tokio::test]
async fn payload_too_large_over_max_body_bytes() {
    let h = Harness::builder()
        .config(|c| c.max_body_bytes = 2048)
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    // Just under the limit is fine; over it is 413, before any parsing.
    let prompt = "p".repeat(1900);
    h.post_image(&key, json!({"prompt": prompt}))
        .await
        .assert_status(202);
    let big = json!({"prompt": "x", "reference_images": [{"data": "A".repeat(4096), "mime_type": "image/png"}]});
    h.post_image(&key, big)
        .await
        .assert_error(413, "payload_too_large")
        .assert_detail("body", "too_large");
    // Not even JSON, but too large: still 413, not 400.
    h.req("POST", "/v1/images")
        .key(&key.key)
        .raw(vec![b'{'; 10_000], Some("application/json"))
        .send()
        .await
        .assert_error(413, "payload_too_large");
    // The admin route has the same limit.
    h.call(
        "POST",
        "/v1/admin/keys",
        Some(ADMIN_KEY),
        Some(json!({"tenant": "t".repeat(3000), "scopes": ["jobs:read"]})),
    )
    .await
    .assert_error(413, "payload_too_large");
}

#[tokio::test]
async fn unsupported_media_type_for_non_json_bodies_and_non_image_references() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let body = serde_json::to_vec(&json!({"prompt": "a fox"})).unwrap();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        h.req("POST", "/v1/images")
            .key(&key.key)
            .raw(body.clone(), ct)
            .send()
            .await
            .assert_error(415, "unsupported_media_type")
            .assert_detail("content-type", "expected_application_json");
    }
    // Parameters and +json types are JSON.
    for ct in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        h.req("POST", "/v1/images")
            .key(&key.key)
            .raw(body.clone(), Some(ct))
            .send()
            .await
            .assert_status(202);
    }

    // Reference bytes are sniffed: a GIF or text is refused whatever mime_type claims.
    for (bytes, claimed) in [
        (GIF.to_vec(), "image/png"),
        (b"just some text, not an image".to_vec(), "image/jpeg"),
    ] {
        let res = h
            .post_image(
                &key,
                json!({"prompt": "a fox", "reference_images": [{"data": b64(&bytes), "mime_type": claimed}]}),
            )
            .await;
        res.assert_error(415, "unsupported_media_type")
            .assert_detail("reference_images[0].data", "unsupported_format");
    }
    // A PNG labelled as JPEG: the declared type is checked against the bytes.
    h.post_image(
        &key,
        json!({"prompt": "a fox", "reference_images": [{"data": b64(&png(8, 8)), "mime_type": "image/jpeg"}]}),
    )
    .await
    .assert_error(415, "unsupported_media_type")
    .assert_detail("reference_images[0].mime_type", "does_not_match_data");
    // PNG magic with garbage after it: a 4xx, not a 500.
    let mut broken = png(8, 8);
    broken.truncate(30);
    let res = h
        .post_image(
            &key,
            json!({"prompt": "a fox", "reference_images": [{"data": b64(&broken), "mime_type": "image/png"}]}),
        )
        .await;
    assert!(res.status.is_client_error(), "{}", res.json);
}

#[tokio::test]
async fn rate_limited_per_key_minute_with_headers() {
    let h = Harness::new();
    let key = h
        .create_key_with(json!({"tenant": "acme", "scopes": ALL_SCOPES, "rate_per_minute": 2}))
        .await;
    let first = h.call("GET", "/v1/jobs", Some(&key.key), None).await;
    first.assert_status(200);
    // One named policy per limit: the key's burst (a second) and its minute.
    assert_eq!(first.rate_policies(), ["burst", "minute"]);
    let (burst, window, left, reset) = first.rate_policy("burst");
    assert_eq!((window, left, reset), (1, burst - 1, 1));
    let (quota, window, remaining, reset) = first.rate_policy("minute");
    assert_eq!((quota, window, remaining), (2, 60, 1));
    // The clock is at 10:00:00, so the minute window ends in 60 s.
    assert_eq!(reset, 60);
    let second = h.call("GET", "/v1/usage", Some(&key.key), None).await;
    second.assert_status(200);
    assert_eq!(second.rate_policy("minute").2, 0);

    let third = h.call("GET", "/v1/jobs", Some(&key.key), None).await;
    third.assert_error(429, "rate_limited");
    assert_eq!(third.rate_policies(), ["minute"], "only the spent limit");
    assert_eq!(third.rate_policy("minute"), (2, 60, 0, 60));
    assert_eq!(third.retry_after(), 60);

    // Another key of the same tenant has its own budget.
    let other = h.create_key("acme", ALL_SCOPES).await;
    h.call("GET", "/v1/jobs", Some(&other.key), None)
        .await
        .assert_status(200);

    // The next minute, the key works again.
    h.advance(time::Duration::seconds(60));
    h.call("GET", "/v1/jobs", Some(&key.key), None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn rate_limited_per_key_burst() {
    let h = Harness::new();
    let key = h
        .create_key_with(json!({"tenant": "acme", "scopes": ALL_SCOPES, "burst": 1}))
        .await;
    h.call("GET", "/v1/jobs", Some(&key.key), None)
        .await
        .assert_status(200);
    let res = h.call("GET", "/v1/jobs", Some(&key.key), None).await;
    res.assert_error(429, "rate_limited");
    assert_eq!(res.retry_after(), 1);
    assert_eq!(res.rate_policy("burst"), (1, 1, 0, 1));
    h.advance(time::Duration::seconds(1));
    h.call("GET", "/v1/jobs", Some(&key.key), None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn rate_limited_per_source_ip() {
    let h = Harness::builder()
        .config(|c| c.limits.ip_rate_per_minute = 3)
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await; // 1 request from CLIENT_IP
    for _ in 0..2 {
        h.call("GET", "/v1/jobs", Some(&key.key), None)
            .await
            .assert_status(200);
    }
    // The cap counts requests from the address, whatever key they carry (or none).
    let res = h.call("GET", "/v1/jobs", None, None).await;
    res.assert_error(429, "rate_limited");
    assert!(
        res.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ip")
    );
    assert_eq!(res.retry_after(), 60);
    assert_eq!(res.rate_policy("ip"), (3, 60, 0, 60));
    // Another address is not affected.
    h.req("GET", "/v1/jobs")
        .key(&key.key)
        .ip([198, 51, 100, 1])
        .send()
        .await
        .assert_status(200);
    // Health checks are not rate limited.
    h.call("GET", "/healthz", None, None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn rate_limited_by_the_global_cap() {
    let h = Harness::builder()
        .config(|c| c.limits.global_rate_per_minute = 4)
        .build();
    let a = h.create_key("tenant-a", ALL_SCOPES).await;
    let b = h.create_key("tenant-b", ALL_SCOPES).await;
    h.req("GET", "/v1/jobs")
        .key(&a.key)
        .ip([198, 51, 100, 1])
        .send()
        .await
        .assert_status(200);
    h.req("GET", "/v1/jobs")
        .key(&b.key)
        .ip([198, 51, 100, 2])
        .send()
        .await
        .assert_status(200);
    let res = h
        .req("GET", "/v1/jobs")
        .key(&b.key)
        .ip([198, 51, 100, 3])
        .send()
        .await;
    res.assert_error(429, "rate_limited");
    assert!(
        res.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("global")
    );
    assert_eq!(res.retry_after(), 60);
    assert_eq!(res.rate_policies(), ["global"]);
    assert_eq!(res.rate_policy("global"), (4, 60, 0, 60));
}

#[tokio::test]
async fn quota_exceeded_when_the_daily_quota_is_used() {
    let h = Harness::new();
    let key = h
        .create_key_with(json!({"tenant": "acme", "scopes": ALL_SCOPES, "daily_quota": 3}))
        .await;
    let accepted = h.post_image(&key, json!({"prompt": "a", "count": 2})).await;
    accepted.assert_status(202);
    // An accepted job reports the tenant's image quotas beside the key's request limits.
    assert_eq!(
        accepted.rate_policies(),
        ["burst", "minute", "daily", "monthly"]
    );
    assert_eq!(accepted.rate_policy("daily"), (3, 86_400, 1, 14 * 3600));
    assert!(
        accepted
            .header("ratelimit-policy")
            .unwrap()
            .contains(r#""daily";q=3;w=86400;imagegen-unit="image""#),
        "image quotas say what they count"
    );
    // 2 used, 1 left: asking for 2 is refused whole, asking for 1 fits.
    let res = h.post_image(&key, json!({"prompt": "b", "count": 2})).await;
    res.assert_error(429, "quota_exceeded")
        .assert_detail("quota", "daily");
    // Until midnight UTC: 14 h from 10:00.
    assert_eq!(res.retry_after(), 14 * 3600);
    assert_eq!(res.rate_policy("daily"), (3, 86_400, 1, 14 * 3600));
    h.post_image(&key, json!({"prompt": "c", "count": 1}))
        .await
        .assert_status(202);
    h.post_image(&key, json!({"prompt": "d"}))
        .await
        .assert_error(429, "quota_exceeded");
    assert_eq!(h.used(&key, "day").await, 3);
    // Refused requests queued nothing.
    assert_eq!(h.deliveries().len(), 2);
    // The next day the quota is back.
    h.advance(time::Duration::hours(14));
    h.post_image(&key, json!({"prompt": "e"}))
        .await
        .assert_status(202);
}

#[tokio::test]
async fn upstream_error_when_the_store_is_unavailable() {
    // Every store call fails: even authorization cannot proceed, and says 502 not 500.
    let (h, store) = Harness::with_faulty_store(Harness::builder(), &[], || {
        StoreError::Unavailable("connection reset".into())
    });
    let key = h.create_key("acme", ALL_SCOPES).await;
    store.arm();
    let res = h.call("GET", "/v1/jobs", Some(&key.key), None).await;
    res.assert_error(502, "upstream_error");
    // The outage's own words stay in the logs.
    assert!(!res.json.to_string().contains("connection reset"));
    h.call(
        "POST",
        "/v1/admin/keys",
        Some(ADMIN_KEY),
        Some(json!({"tenant": "x", "scopes": ["admin"]})),
    )
    .await
    .assert_error(502, "upstream_error");
    h.call("GET", "/healthz", None, None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn upstream_error_when_one_store_operation_is_unavailable() {
    let (h, store) = Harness::with_faulty_store(
        Harness::builder(),
        &["get_job", "create_job", "list_jobs"],
        || StoreError::Unavailable("throttled".into()),
    );
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job = h.submit(&key, "a fox").await;
    store.arm();
    h.get_job(&key, &job)
        .await
        .assert_error(502, "upstream_error");
    h.call("GET", "/v1/jobs", Some(&key.key), None)
        .await
        .assert_error(502, "upstream_error");
    h.post_image(&key, json!({"prompt": "b"}))
        .await
        .assert_error(502, "upstream_error");
    // The job that could not be stored gave its reservation back and queued nothing.
    store.disarm();
    assert_eq!(h.used(&key, "day").await, 1);
    assert_eq!(h.deliveries().len(), 1);
}

#[tokio::test]
async fn internal_when_the_store_returns_corrupt_records() {
    let (h, store) = Harness::with_faulty_store(Harness::builder(), &["get_job"], || {
        StoreError::Corrupt("bad item".into())
    });
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job = h.submit(&key, "a fox").await;
    store.arm();
    let res = h.get_job(&key, &job).await;
    res.assert_error(500, "internal");
    assert!(!res.json.to_string().contains("bad item"));

    // Everything corrupt: auth fails closed with a 500 envelope.
    let (h, store) = Harness::with_faulty_store(Harness::builder(), &[], || {
        StoreError::Corrupt("bad item".into())
    });
    let key = h.create_key("acme", ALL_SCOPES).await;
    store.arm();
    h.call("GET", "/v1/jobs", Some(&key.key), None)
        .await
        .assert_error(500, "internal");
}

#[tokio::test]
async fn a_reference_image_is_the_type_it_declares() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let post = |data: &[u8], mime_type: &str| {
        h.post_image(
            &key,
            json!({"prompt": "a fox", "reference_images": [
                {"data": b64(&png(8, 8)), "mime_type": "image/png"},
                {"data": b64(data), "mime_type": mime_type},
            ]}),
        )
    };
    // Declared and sniffed agree: accepted.
    post(&png(8, 8), "image/png").await.assert_status(202);
    post(&jpeg(8, 8), "image/jpeg").await.assert_status(202);

    // A PNG declared as a shell script: the declared type is not one we take.
    let res = post(&png(8, 8), "application/x-sh").await;
    res.assert_error(400, "invalid_request")
        .assert_detail("reference_images[1].mime_type", "invalid_value");
    assert_eq!(
        res.json["error"]["message"],
        "reference_images[1].mime_type: must be one of image/png, image/jpeg, image/webp"
    );

    // A JPEG declared as a PNG: the field and both types are named.
    let res = post(&jpeg(8, 8), "image/png").await;
    res.assert_error(415, "unsupported_media_type")
        .assert_detail("reference_images[1].mime_type", "does_not_match_data");
    assert_eq!(
        res.json["error"]["message"],
        "reference_images[1].mime_type: is image/png but `data` is image/jpeg"
    );
    // Nothing refused was queued.
    assert_eq!(h.deliveries().len(), 2);
}

/// The message of a 400 on `path` with `body`, checked to be in the client's terms.
async fn message(h: &Harness, path: &str, body: &[u8]) -> (String, Vec<(String, String)>) {
    let res = h
        .req("POST", path)
        .key(ADMIN_KEY)
        .raw(body.to_vec(), Some("application/json"))
        .send()
        .await;
    res.assert_error(400, "invalid_request");
    let text = res.json["error"]["message"].as_str().unwrap().to_owned();
    // serde's vocabulary: Rust types, struct names, "expected ...".
    for word in [
        "u8", "u32", "u64", "usize", "struct", "expected", "variant", "Request", "serde",
    ] {
        assert!(
            !text.contains(word),
            "{path} {}: {text}",
            String::from_utf8_lossy(body)
        );
    }
    (text, res.details())
}

#[tokio::test]
async fn body_errors_name_the_field_and_the_rule() {
    let h = Harness::new();
    let images = "/v1/images";
    for (body, text, field, issue) in [
        (
            r#"{"prompt":"x","count":300}"#,
            "count: must be an integer between 1 and 4",
            "count",
            "invalid_value",
        ),
        (
            r#"{"prompt":"x","count":"2"}"#,
            "count: must be an integer between 1 and 4",
            "count",
            "invalid_type",
        ),
        (
            r#"{"prompt":"x","count":0}"#,
            "count: must be an integer between 1 and 4",
            "count",
            "out_of_range",
        ),
        (
            r#"{"prompt":5}"#,
            "prompt: must be a string of 1 to 4000 characters",
            "prompt",
            "invalid_type",
        ),
        (r#"{}"#, "prompt: required", "prompt", "missing"),
        (
            r#"{"prompt":"x","reference_images":[{"data":"QQ=="}]}"#,
            "reference_images[0].mime_type: required",
            "reference_images[0].mime_type",
            "missing",
        ),
        (
            r#"{"prompt":"x","aspect_ratio":7}"#,
            "aspect_ratio: must be one of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9",
            "aspect_ratio",
            "invalid_type",
        ),
        (
            r#"{"prompt":"x","reference_images":{}}"#,
            "reference_images: must be an array of at most 3 items",
            "reference_images",
            "invalid_type",
        ),
        ("[]", "body: must be a JSON object", "body", "invalid_type"),
        (
            r#"{"prompt":"x"} trailing"#,
            "the body is not valid JSON (line 1, column 16)",
            "body",
            "malformed_json",
        ),
        (
            r#"{"prompt":"x""#,
            "the body ends before its JSON value does",
            "body",
            "malformed_json",
        ),
        (
            "",
            "the request body is missing: expected a JSON object",
            "body",
            "missing",
        ),
    ] {
        let (got, details) = if body.is_empty() {
            // "expected" is our own word here, not serde's: check the rest only.
            let res = h
                .req("POST", images)
                .key(ADMIN_KEY)
                .raw(Vec::new(), Some("application/json"))
                .send()
                .await;
            res.assert_error(400, "invalid_request");
            (
                res.json["error"]["message"].as_str().unwrap().to_owned(),
                res.details(),
            )
        } else {
            message(&h, images, body.as_bytes()).await
        };
        assert_eq!(got, text, "{body}");
        assert!(
            details.contains(&(field.to_owned(), issue.to_owned())),
            "{body}: {details:?}"
        );
    }

    // Unknown fields list the known ones.
    let (got, details) = message(&h, images, br#"{"prompt":"x","colour":"red"}"#).await;
    assert_eq!(
        got,
        "colour: unknown field (known: aspect_ratio, count, image_size, output_format, prompt, quality, reference_images, reference_upload_ids, webhook_events, webhook_url)"
    );
    assert_eq!(details, [("colour".into(), "unknown_field".into())]);

    let keys = "/v1/admin/keys";
    for (body, text) in [
        (
            r#"{"tenant":"acme","scopes":["root"]}"#,
            "scopes[0]: must be one of images:write, jobs:read, usage:read, admin",
        ),
        (
            r#"{"tenant":"acme","scopes":["jobs:read"],"rate_per_minute":-1}"#,
            "rate_per_minute: must be an integer between 1 and 4294967295",
        ),
        (
            r#"{"tenant":"acme","scopes":["jobs:read"],"daily_quota":4294967296}"#,
            "daily_quota: must be an integer between 0 and 4294967295",
        ),
        (
            r#"{"tenant":"acme","scopes":["jobs:read"],"burst":0}"#,
            "burst: must be an integer between 1 and 4294967295",
        ),
        (
            r#"{"tenant":"Acme","scopes":["jobs:read"]}"#,
            "tenant: must be 1 to 64 of a-z, 0-9, `-` and `_`",
        ),
        (
            r#"{"tenant":"acme","scopes":["jobs:read"],"expires_at":"tomorrow"}"#,
            "expires_at: must be an RFC 3339 date-time, e.g. 2027-01-31T00:00:00Z",
        ),
    ] {
        assert_eq!(message(&h, keys, body.as_bytes()).await.0, text, "{body}");
    }

    let uploads = "/v1/uploads";
    let max = h.app.config.upload_max_bytes;
    for body in [
        r#"{"content_type":"image/png","content_length":"big"}"#,
        r#"{"content_type":"image/png","content_length":-1}"#,
        r#"{"content_type":"image/png","content_length":1.5}"#,
    ] {
        assert_eq!(
            message(&h, uploads, body.as_bytes()).await.0,
            format!("content_length: must be an integer between 1 and {max}"),
            "{body}"
        );
    }

    // Query parameters, in the same terms.
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h
        .call("GET", "/v1/jobs?limit=many", Some(&key.key), None)
        .await;
    res.assert_error(400, "invalid_request");
    assert_eq!(
        res.json["error"]["message"],
        "limit: must be an integer between 1 and 100"
    );
}
