//! Reference images: signed uploads, inline references, and what the generator receives.

use serde_json::json;

use crate::common::*;

/// Width and height of encoded image bytes, and whether the bytes are a format we send.
fn decoded(bytes: &[u8]) -> (u32, u32) {
    let format = image::guess_format(bytes).unwrap();
    assert!(
        matches!(
            format,
            image::ImageFormat::Png | image::ImageFormat::Jpeg | image::ImageFormat::WebP
        ),
        "{format:?}"
    );
    let img = image::load_from_memory(bytes).unwrap();
    (img.width(), img.height())
}

fn mime_of(bytes: &[u8]) -> &'static str {
    match image::guess_format(bytes).unwrap() {
        image::ImageFormat::Png => "image/png",
        image::ImageFormat::Jpeg => "image/jpeg",
        image::ImageFormat::WebP => "image/webp",
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn upload_then_reference_reaches_the_generator_prepared() {
    let generator = TestGenerator::new(Mode::Offline);
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;

    // Wider than the 1536 px longest side the model gets (and thin, so debug builds are quick).
    let original = png(1600, 100);
    let res = h.declare_upload(&key.key, &original, "image/png").await;
    res.assert_status(201);
    let upload_id = res.json["upload_id"].as_str().unwrap().to_owned();
    assert!(upload_id.starts_with("upl_") && upload_id.len() == 36);
    assert_eq!(res.json["max_bytes"], h.app.config.upload_max_bytes);
    assert_eq!(res.json["expires_at"], "2026-11-26T10:15:00Z");
    assert_eq!(
        res.json["headers"],
        json!({"content-type": "image/png", "content-length": original.len().to_string()}),
        "the client is told exactly what to send"
    );
    let url = res.json["url"].as_str().unwrap().to_owned();
    assert!(url.contains(&upload_id));

    h.put_url(&url, original.clone(), "image/png")
        .await
        .assert_status(200);

    let res = h
        .post_image(
            &key,
            json!({"prompt": "in this style", "reference_upload_ids": [upload_id]}),
        )
        .await;
    res.assert_status(202);
    let job_id = res.json["job_id"].as_str().unwrap().to_owned();
    h.run_worker().await;
    h.get_job(&key, &job_id).await.assert_status(200);
    assert_eq!(h.get_job(&key, &job_id).await.json["status"], "succeeded");

    let requests = generator.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].prompt, "in this style");
    let refs = &requests[0].reference_images;
    assert_eq!(refs.len(), 1, "one inline image for the model");
    let sent = &refs[0];
    assert_ne!(sent.data, original, "re-encoded, not passed through");
    assert_eq!(
        sent.mime_type,
        mime_of(&sent.data),
        "declared type matches the bytes"
    );
    let (w, h_px) = decoded(&sent.data);
    assert_eq!(w.max(h_px), 1536, "downscaled to the longest side");
    assert_eq!((w, h_px), (1536, 96), "aspect ratio kept");
}

#[tokio::test]
async fn inline_references_are_prepared_too_and_mixed_with_uploads() {
    let generator = TestGenerator::new(Mode::Offline);
    let h = Harness::builder()
        .generator(generator.clone())
        .config(|c| c.reference_longest_side = 64)
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let uploaded = jpeg(40, 30);
    let upload = h.declare_upload(&key.key, &uploaded, "image/jpeg").await;
    h.put_url(upload.json["url"].as_str().unwrap(), uploaded, "image/jpeg")
        .await
        .assert_status(200);
    let res = h
        .post_image(
            &key,
            json!({
                "prompt": "combine",
                "reference_images": [
                    {"data": b64(&jpeg(300, 100)), "mime_type": "image/jpeg"},
                    {"data": b64(&png(20, 50)), "mime_type": "image/png"}
                ],
                "reference_upload_ids": [upload.json["upload_id"]]
            }),
        )
        .await;
    res.assert_status(202);
    h.run_worker().await;
    let requests = generator.requests.lock().unwrap().clone();
    let dims: Vec<(u32, u32)> = requests[0]
        .reference_images
        .iter()
        .map(|r| {
            assert_eq!(r.mime_type, mime_of(&r.data));
            decoded(&r.data)
        })
        .collect();
    // The configured longest side applies; smaller images keep their size.
    assert_eq!(dims, [(64, 21), (20, 50), (40, 30)]);
}

#[tokio::test]
async fn an_upload_is_declared_first_and_bounded_by_max_bytes_and_type() {
    let h = Harness::builder()
        .config(|c| c.upload_max_bytes = 4096)
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let declare =
        |body: serde_json::Value| h.call("POST", "/v1/uploads", Some(&key.key), Some(body));

    // A declared length over the limit is a field out of range, stated with the limit.
    let res = declare(json!({"content_type": "image/png", "content_length": 4097})).await;
    res.assert_error(400, "invalid_request")
        .assert_detail("content_length", "too_large");
    assert_eq!(
        res.json["error"]["message"],
        "content_length: must be an integer between 1 and 4096"
    );
    declare(json!({"content_type": "image/gif", "content_length": 10}))
        .await
        .assert_error(415, "unsupported_media_type")
        .assert_detail("content_type", "unsupported");
    declare(json!({"content_type": "image/png", "content_length": 0}))
        .await
        .assert_error(400, "invalid_request")
        .assert_detail("content_length", "must_be_positive");
    declare(json!({"content_type": "image/png"}))
        .await
        .assert_error(400, "invalid_request");

    // Exactly the limit is accepted, and then exactly those bytes.
    let res = declare(json!({"content_type": "image/png", "content_length": 4096})).await;
    res.assert_status(201);
    assert_eq!(res.json["max_bytes"], 4096);
    h.put_url(
        res.json["url"].as_str().unwrap(),
        vec![0u8; 4096],
        "image/png",
    )
    .await
    .assert_status(200);
}

#[tokio::test]
async fn an_upload_other_than_the_declared_one_is_refused_as_s3_would() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let image = png(8, 8);
    let res = h.declare_upload(&key.key, &image, "image/png").await;
    let url = res.json["url"].as_str().unwrap().to_owned();

    let mut longer = image.clone();
    longer.push(0);
    h.put_url(&url, longer, "image/png")
        .await
        .assert_error(403, "forbidden")
        .assert_detail("content-length", "does_not_match_signed");
    h.put_url(&url, image.clone(), "image/jpeg")
        .await
        .assert_error(403, "forbidden")
        .assert_detail("content-type", "does_not_match_signed");
    // Rewriting the declared length in the URL breaks its signature.
    let rewritten = url.replace(
        &format!("content_length={}", image.len()),
        &format!("content_length={}", image.len() + 1),
    );
    assert_ne!(rewritten, url);
    let mut longer = image.clone();
    longer.push(0);
    h.put_url(&rewritten, longer, "image/png")
        .await
        .assert_error(403, "forbidden");
    // Nothing was stored by any of it; the declared upload still goes through.
    h.put_url(&url, image, "image/png").await.assert_status(200);
}

#[tokio::test]
async fn unknown_or_unusable_uploads_are_client_errors() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;

    // Never uploaded (a URL was issued, nothing was PUT), or never issued at all.
    let issued = h.declare_upload(&key.key, &png(8, 8), "image/png").await;
    for id in [
        issued.json["upload_id"].as_str().unwrap(),
        "upl_0123456789abcdef0123456789abcdef",
    ] {
        h.post_image(&key, json!({"prompt": "x", "reference_upload_ids": [id]}))
            .await
            .assert_error(422, "unprocessable")
            .assert_detail("reference_upload_ids[0]", "not_found");
    }

    // Uploaded, but not an image we take: sniffed, whatever the declared content type said.
    for (bytes, ct) in [
        (b"hello, world".to_vec(), "image/png"),
        (GIF.to_vec(), "image/webp"),
    ] {
        let up = h.declare_upload(&key.key, &bytes, ct).await;
        h.put_url(up.json["url"].as_str().unwrap(), bytes, ct)
            .await
            .assert_status(200);
        h.post_image(
            &key,
            json!({"prompt": "x", "reference_upload_ids": [up.json["upload_id"]]}),
        )
        .await
        .assert_error(415, "unsupported_media_type")
        .assert_detail("reference_upload_ids[0]", "unsupported_format");
    }

    // Nothing was charged or queued for any of it.
    assert_eq!(h.used(&key, "day").await, 0);
    assert!(h.deliveries().is_empty());
}

#[tokio::test]
async fn upload_urls_expire_and_cannot_be_tampered_with() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let image = png(8, 8);
    let res = h.declare_upload(&key.key, &image, "image/png").await;
    let url = res.json["url"].as_str().unwrap().to_owned();
    // Another key than the one signed is refused.
    let elsewhere = url.replace("uploads/acme/", "uploads/acme/x");
    assert_ne!(elsewhere, url);
    h.put_url(&elsewhere, image.clone(), "image/png")
        .await
        .assert_error(403, "forbidden");
    // The upload URL does not download.
    h.fetch(&url).await.assert_error(403, "forbidden");
    h.advance(time::Duration::minutes(15));
    h.put_url(&url, image, "image/png")
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_from_its_header() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let started = std::time::Instant::now();
    let res = h
        .post_image(
            &key,
            json!({"prompt": "x", "reference_images": [{"data": b64(&png_claiming(100_000, 100_000)), "mime_type": "image/png"}]}),
        )
        .await;
    assert!(res.status.is_client_error(), "{}", res.json);
    assert_eq!(res.details()[0].0, "reference_images[0].data");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "decoded before checking"
    );
    assert_eq!(h.used(&key, "day").await, 0);
}
