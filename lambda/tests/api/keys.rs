//! API keys: rotation with a grace period, immediate revocation, expiry, scopes.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn rotation_keeps_the_old_secret_for_the_grace_period_only() {
    let h = Harness::builder()
        .config(|c| c.key_rotation_grace = Duration::from_secs(300))
        .build();
    let old = h
        .create_key_with(
            json!({"tenant": "acme", "scopes": ["jobs:read", "images:write"], "daily_quota": 7}),
        )
        .await;
    let res = h
        .call(
            "POST",
            &format!("/v1/admin/keys/{}/rotate", old.key_id),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    res.assert_status(200);
    let new = res.json["key"].as_str().unwrap().to_owned();
    assert!(new.starts_with(&format!("igk_{}_", old.key_id)));
    assert_ne!(new, old.key);
    // Same tenant, scopes and limits.
    assert_eq!(res.json["tenant"], "acme");
    assert_eq!(res.json["scopes"], old.body["scopes"]);
    assert_eq!(res.json["limits"], old.body["limits"]);
    assert_eq!(res.json["previous_key_valid_until"], "2026-11-26T10:05:00Z");

    // Both work inside the grace period, as the same tenant.
    let job = h.submit(&old, "before rotation finished").await;
    for key in [&old.key, &new] {
        h.call("GET", &format!("/v1/jobs/{job}"), Some(key), None)
            .await
            .assert_status(200);
    }
    h.advance(time::Duration::seconds(299));
    h.call("GET", "/v1/jobs", Some(&old.key), None)
        .await
        .assert_status(200);

    // Then only the new one.
    h.advance(time::Duration::seconds(1));
    h.call("GET", "/v1/jobs", Some(&old.key), None)
        .await
        .assert_error(401, "unauthorized");
    h.call("GET", &format!("/v1/jobs/{job}"), Some(&new), None)
        .await
        .assert_status(200);

    // Rotating again retires the previous secret at once (only one previous is kept).
    let res = h
        .call(
            "POST",
            &format!("/v1/admin/keys/{}/rotate", old.key_id),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    res.assert_status(200);
    let newest = res.json["key"].as_str().unwrap();
    h.call("GET", "/v1/jobs", Some(&new), None)
        .await
        .assert_status(200);
    h.call("GET", "/v1/jobs", Some(newest), None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn revocation_is_immediate_for_current_and_previous_secrets() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let rotated = h
        .call(
            "POST",
            &format!("/v1/admin/keys/{}/rotate", key.key_id),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    let new = rotated.json["key"].as_str().unwrap().to_owned();
    h.call("GET", "/v1/jobs", Some(&key.key), None)
        .await
        .assert_status(200);

    let res = h
        .call(
            "DELETE",
            &format!("/v1/admin/keys/{}", key.key_id),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.json["revoked_at"], "2026-11-26T10:00:00Z");
    for k in [&key.key, &new] {
        let res = h.call("GET", "/v1/jobs", Some(k), None).await;
        res.assert_error(401, "unauthorized");
    }
    // A revoked key cannot be revived by rotation.
    h.call(
        "POST",
        &format!("/v1/admin/keys/{}/rotate", key.key_id),
        Some(ADMIN_KEY),
        None,
    )
    .await
    .assert_error(409, "conflict");
}

#[tokio::test]
async fn expiry_stops_a_key_at_its_expires_at() {
    let h = Harness::new();
    let res = h
        .call(
            "POST",
            "/v1/admin/keys",
            Some(ADMIN_KEY),
            Some(json!({"tenant": "acme", "scopes": ALL_SCOPES, "expires_at": "2026-11-26T11:00:00+00:00"})),
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.json["expires_at"], "2026-11-26T11:00:00Z");
    let key = Key {
        key_id: res.json["key_id"].as_str().unwrap().to_owned(),
        key: res.json["key"].as_str().unwrap().to_owned(),
        body: res.json.clone(),
    };
    h.submit(&key, "still valid").await;
    h.advance(time::Duration::minutes(59));
    h.call("GET", "/v1/jobs", Some(&key.key), None)
        .await
        .assert_status(200);
    h.advance(time::Duration::minutes(1));
    let res = h.call("GET", "/v1/jobs", Some(&key.key), None).await;
    res.assert_error(401, "unauthorized");
    assert_eq!(res.json["error"]["message"], "this api key has expired");
    // An expired key is not rotated back to life either.
    h.call(
        "POST",
        &format!("/v1/admin/keys/{}/rotate", key.key_id),
        Some(ADMIN_KEY),
        None,
    )
    .await
    .assert_error(409, "conflict");
}

#[tokio::test]
async fn scopes_decide_what_a_key_may_do() {
    let h = Harness::new();
    let reader = h.create_key("acme", &["jobs:read"]).await;
    let writer = h.create_key("acme", &["images:write"]).await;
    let usage = h.create_key("acme", &["usage:read"]).await;
    let admin = h.create_key("ops", &["admin"]).await;

    // jobs:read cannot create images, but reads the jobs its tenant created.
    h.post_image(&reader, json!({"prompt": "x"}))
        .await
        .assert_error(403, "forbidden");
    let job = h.submit(&writer, "x").await;
    h.get_job(&reader, &job).await.assert_status(200);
    h.call("GET", "/v1/jobs", Some(&reader.key), None)
        .await
        .assert_status(200);
    // images:write cannot read jobs or usage.
    h.get_job(&writer, &job)
        .await
        .assert_error(403, "forbidden");
    h.call("GET", "/v1/usage", Some(&writer.key), None)
        .await
        .assert_error(403, "forbidden");
    // usage:read only reads usage.
    h.call("GET", "/v1/usage", Some(&usage.key), None)
        .await
        .assert_status(200);
    h.call("GET", "/v1/jobs", Some(&usage.key), None)
        .await
        .assert_error(403, "forbidden");
    // admin implies every scope and manages keys.
    h.call("GET", "/v1/usage", Some(&admin.key), None)
        .await
        .assert_status(200);
    h.post_image(&admin, json!({"prompt": "x"}))
        .await
        .assert_status(202);
    let res = h
        .call(
            "POST",
            "/v1/admin/keys",
            Some(&admin.key),
            Some(json!({"tenant": "acme", "scopes": ["jobs:read", "jobs:read"]})),
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.json["scopes"], json!(["jobs:read"]), "deduplicated");
    // The bootstrap admin has only `admin`, which implies the rest.
    h.call("GET", "/v1/usage", Some(ADMIN_KEY), None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn the_full_key_appears_only_in_the_create_and_rotate_answers() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let secret = key.secret().to_owned();
    for path in ["/v1/usage", "/v1/jobs"] {
        let res = h.call("GET", path, Some(&key.key), None).await;
        assert!(
            !String::from_utf8_lossy(&res.bytes).contains(&secret),
            "{path}"
        );
    }
    let stored = h.memory.get_key(&key.key_id).await.unwrap().unwrap();
    assert!(!format!("{stored:?}").contains(&secret));
    assert_eq!(
        stored.secret_sha256,
        imagegen::domain::keys::sha256_hex(&secret)
    );
}
