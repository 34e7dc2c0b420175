//! The whole job flow as a client lives it: key -> job -> worker -> job view -> download.

use serde_json::json;
use time::format_description::well_known::Rfc3339;

use crate::common::*;

#[tokio::test]
async fn create_key_submit_run_poll_and_download() {
    let h = Harness::new();

    // The admin creates a key: 201, the full key shown in this response only.
    let res = h
        .call(
            "POST",
            "/v1/admin/keys",
            Some(ADMIN_KEY),
            Some(json!({"tenant": "acme", "scopes": ["images:write", "jobs:read", "usage:read"], "daily_quota": 10})),
        )
        .await;
    res.assert_status(201);
    let key = res.json["key"].as_str().unwrap().to_owned();
    let key_id = res.json["key_id"].as_str().unwrap();
    assert!(key.starts_with(&format!("igk_{key_id}_")), "{key}");
    assert_eq!(res.json["tenant"], "acme");
    assert_eq!(
        res.json["scopes"],
        json!(["images:write", "jobs:read", "usage:read"])
    );
    assert_eq!(res.json["limits"]["daily_quota"], 10);
    assert!(res.json["created_at"].is_string());
    // Only a digest is stored.
    let stored = h.memory.get_key(key_id).await.unwrap().unwrap();
    let secret = key.rsplit('_').next().unwrap();
    assert!(!serde_json::to_string(&stored).unwrap().contains(secret));
    let key = Key {
        key_id: key_id.to_owned(),
        key,
        body: res.json.clone(),
    };

    // Submit: 202 with Location, the job id, status queued and rate-limit headers.
    let res = h
        .post_image(
            &key,
            json!({"prompt": "a lighthouse at dusk", "aspect_ratio": "16:9", "count": 2}),
        )
        .await;
    res.assert_status(202);
    let job_id = res.json["job_id"].as_str().unwrap().to_owned();
    assert!(job_id.starts_with("job_"));
    assert_eq!(
        res.header("location"),
        Some(format!("/v1/jobs/{job_id}").as_str())
    );
    assert_eq!(res.json["status"], "queued");
    assert_eq!(res.json["links"]["self"], format!("/v1/jobs/{job_id}"));
    time::OffsetDateTime::parse(res.json["created_at"].as_str().unwrap(), &Rfc3339).unwrap();
    let (quota, window, remaining, reset) = res.rate_policy("minute");
    assert!(quota > 0 && window == 60 && remaining < quota && reset >= 1);
    let (quota, _, remaining, _) = res.rate_policy("daily");
    assert_eq!(remaining, quota - 2, "both images reserved");
    assert!(res.header("idempotent-replayed").is_none());
    assert!(res.header("preference-applied").is_none());

    // Before the worker ran: queued, no images.
    let res = h.get_job(&key, &job_id).await;
    res.assert_status(200);
    assert_eq!(res.json["status"], "queued");
    assert_eq!(res.json["images"], json!([]));
    assert!(res.json.get("error").is_none());

    // The worker runs it.
    h.advance(time::Duration::seconds(3));
    let outcomes = h.run_worker().await;
    assert_eq!(outcomes.len(), 1);
    assert!(matches!(
        outcomes[0].1,
        Ok(imagegen::usecases::generation::StepOutcome::Succeeded)
    ));

    let res = h.get_job(&key, &job_id).await;
    res.assert_status(200);
    let job = &res.json;
    assert_eq!(job["job_id"], job_id);
    assert_eq!(job["status"], "succeeded");
    assert!(job.get("error").is_none());
    let created =
        time::OffsetDateTime::parse(job["created_at"].as_str().unwrap(), &Rfc3339).unwrap();
    let updated =
        time::OffsetDateTime::parse(job["updated_at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(updated - created, time::Duration::seconds(3));
    let images = job["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    let mut downloads = Vec::new();
    for image in images {
        assert_eq!(image["mime_type"], "image/png");
        assert_eq!(
            (image["width"].as_u64(), image["height"].as_u64()),
            (Some(512), Some(288))
        );
        let expires =
            time::OffsetDateTime::parse(image["expires_at"].as_str().unwrap(), &Rfc3339).unwrap();
        assert_eq!(
            expires,
            START + time::Duration::seconds(3) + h.app.config.url_ttl
        );

        // Download through the signed URL: a real PNG of the advertised size.
        let url = image["url"].as_str().unwrap();
        let dl = h.fetch(url).await;
        dl.assert_status(200);
        assert_eq!(dl.header("content-type"), Some("image/png"));
        // Never sniffed as anything else, never able to run anything, saved under a name
        // that says which job and image it is.
        assert_eq!(dl.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            dl.header("content-security-policy"),
            Some("default-src 'none'")
        );
        let disposition = dl.header("content-disposition").unwrap();
        assert!(
            disposition.starts_with("inline; filename=\"job_") && disposition.ends_with(".png\""),
            "{disposition}"
        );
        assert_eq!(dl.bytes.len() as u64, image["bytes"].as_u64().unwrap());
        assert!(dl.bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        let decoded =
            image::load_from_memory_with_format(&dl.bytes, image::ImageFormat::Png).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (512, 288));
        downloads.push(dl.bytes.clone());
    }
    assert_ne!(downloads[0], downloads[1], "two images, not one twice");

    // Usage shows the two images.
    assert_eq!(h.used(&key, "day").await, 2);
    assert_eq!(h.used(&key, "month").await, 2);

    // A tampered signature, key or expiry is 403.
    let url = images[0]["url"].as_str().unwrap().to_owned();
    let sig_at = url.find("sig=").unwrap() + 4;
    let mut tampered = url.clone().into_bytes();
    tampered[sig_at] = if tampered[sig_at] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    h.fetch(&tampered).await.assert_error(403, "forbidden");
    h.fetch(&url.replace("/0.png", "/1.png"))
        .await
        .assert_error(403, "forbidden");
    let expires_at = url
        .split("expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let later: i64 = expires_at.parse::<i64>().unwrap() + 3600;
    h.fetch(&url.replace(
        &format!("expires={expires_at}"),
        &format!("expires={later}"),
    ))
    .await
    .assert_error(403, "forbidden");
    // A download URL does not upload, and an unsigned URL does nothing.
    h.put_url(
        &url.replace("method=GET", "method=PUT"),
        b"x".to_vec(),
        "image/png",
    )
    .await
    .assert_error(403, "forbidden");
    h.put_url(&url, b"x".to_vec(), "image/png")
        .await
        .assert_error(403, "forbidden");
    h.fetch(&format!(
        "{BLOB_BASE}/blobs/{}",
        url.split("/blobs/")
            .nth(1)
            .unwrap()
            .split('?')
            .next()
            .unwrap()
    ))
    .await
    .assert_error(403, "forbidden");
    // The image is unchanged by the refused upload.
    assert_eq!(h.fetch(&url).await.bytes, downloads[0]);

    // Expired: past url_ttl the same URL is refused; a fresh view signs a fresh URL.
    h.advance(time::Duration::try_from(h.app.config.url_ttl).unwrap() + time::Duration::seconds(1));
    h.fetch(&url).await.assert_error(403, "forbidden");
    let res = h.get_job(&key, &job_id).await;
    let fresh = res.json["images"][0]["url"].as_str().unwrap();
    assert_ne!(fresh, url);
    h.fetch(fresh).await.assert_status(200);
}

#[tokio::test]
async fn every_route_of_the_contract_works_for_its_scope() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    h.call("GET", "/healthz", None, None)
        .await
        .assert_status(200);
    let doc = h.call("GET", "/openapi.json", None, None).await;
    doc.assert_status(200);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3."));
    let job = h.submit(&key, "a fox").await;
    h.get_job(&key, &job).await.assert_status(200);
    let list = h.call("GET", "/v1/jobs", Some(&key.key), None).await;
    list.assert_status(200);
    assert_eq!(list.json["jobs"][0]["job_id"], job);
    assert!(list.json["next_cursor"].is_null());
    let up = h.declare_upload(&key.key, &png(8, 8), "image/png").await;
    up.assert_status(201);
    assert!(up.json["upload_id"].as_str().unwrap().starts_with("upl_"));
    let usage = h.call("GET", "/v1/usage", Some(&key.key), None).await;
    usage.assert_status(200);
    assert_eq!(usage.json["tenant"], "acme");
    assert_eq!(usage.json["key_id"], key.key_id);
    let windows: Vec<_> = usage.json["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["window"].as_str().unwrap(),
                w["measure"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        windows,
        [
            ("minute", "requests"),
            ("day", "images"),
            ("month", "images"),
            ("day", "refused")
        ]
    );
    for w in usage.json["windows"].as_array().unwrap() {
        assert_eq!(
            w["limit"].as_u64().unwrap() - w["used"].as_u64().unwrap(),
            w["remaining"].as_u64().unwrap()
        );
        time::OffsetDateTime::parse(w["resets_at"].as_str().unwrap(), &Rfc3339).unwrap();
    }
    let day = &usage.json["windows"][1];
    assert_eq!(day["used"], 1);
    assert_eq!(day["resets_at"], "2026-11-27T00:00:00Z");
    assert_eq!(
        usage.json["windows"][2]["resets_at"],
        "2026-12-01T00:00:00Z"
    );

    let rotated = h
        .call(
            "POST",
            &format!("/v1/admin/keys/{}/rotate", key.key_id),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    rotated.assert_status(200);
    assert_eq!(rotated.json["key_id"], key.key_id);
    assert_ne!(rotated.json["key"], key.key);
    assert!(rotated.json["previous_key_valid_until"].is_string());
    h.call(
        "DELETE",
        &format!("/v1/admin/keys/{}", key.key_id),
        Some(ADMIN_KEY),
        None,
    )
    .await
    .assert_status(200);
}
