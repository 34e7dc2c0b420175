//! `output_format`, `quality` and `image_size`: the worker re-encodes what the model sent into
//! the format asked for, the stored type follows the bytes, and a size reaches the model only
//! when the model takes one.

use serde_json::json;

use crate::common::*;

/// Submits, runs the worker, and returns the job's first image as served: its declared type,
/// dimensions and bytes.
async fn made(h: &Harness, key: &Key, body: serde_json::Value) -> (String, (u64, u64), Vec<u8>) {
    let res = h.post_image(key, body).await;
    res.assert_status(202);
    let job_id = res.json["job_id"].as_str().unwrap().to_owned();
    h.run_worker().await;
    let job = h.get_job(key, &job_id).await;
    assert_eq!(job.json["status"], "succeeded", "{}", job.json);
    let image = &job.json["images"][0];
    let download = h.fetch(image["url"].as_str().unwrap()).await;
    download.assert_status(200);
    assert_eq!(download.header("content-type"), image["mime_type"].as_str());
    assert_eq!(image["bytes"], download.bytes.len());
    (
        image["mime_type"].as_str().unwrap().to_owned(),
        (
            image["width"].as_u64().unwrap(),
            image["height"].as_u64().unwrap(),
        ),
        download.bytes.to_vec(),
    )
}

#[tokio::test]
async fn images_come_in_the_format_asked_for() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let (png_type, size, png) = made(&h, &key, json!({"prompt": "a fox"})).await;
    assert_eq!(png_type, "image/png");
    assert!(png.starts_with(b"\x89PNG"));
    let (_, _, explicit) = made(&h, &key, json!({"prompt": "a fox", "output_format": "png"})).await;
    assert!(explicit.starts_with(b"\x89PNG"));

    let (jpeg_type, jpeg_size, good) = made(
        &h,
        &key,
        json!({"prompt": "a fox", "output_format": "jpeg", "quality": 95}),
    )
    .await;
    assert_eq!(jpeg_type, "image/jpeg");
    assert!(good.starts_with(&[0xff, 0xd8, 0xff]));
    assert_eq!(jpeg_size, size, "re-encoded at its own size");
    let (_, _, poor) = made(
        &h,
        &key,
        json!({"prompt": "a fox", "output_format": "jpeg", "quality": 10}),
    )
    .await;
    assert!(poor.len() < good.len(), "{} >= {}", poor.len(), good.len());
    let decoded = image::load_from_memory(&good).unwrap();
    assert_eq!(
        (u64::from(decoded.width()), u64::from(decoded.height())),
        size
    );

    let (webp_type, webp_size, webp) = made(
        &h,
        &key,
        json!({"prompt": "a fox", "output_format": "webp"}),
    )
    .await;
    assert_eq!(webp_type, "image/webp");
    assert!(webp.starts_with(b"RIFF") && &webp[8..12] == b"WEBP");
    assert_eq!(webp_size, size);
    // Lossless: the pixels are the model's.
    assert_eq!(
        image::load_from_memory(&webp).unwrap().into_rgba8(),
        image::load_from_memory(&png).unwrap().into_rgba8()
    );
    // With a quality, lossy: smaller as the quality drops, the same size, close to the model's.
    let mut lossy = Vec::new();
    for quality in [90, 20] {
        let (mime, at, bytes) = made(
            &h,
            &key,
            json!({"prompt": "a fox", "output_format": "webp", "quality": quality}),
        )
        .await;
        assert_eq!((mime.as_str(), at), ("image/webp", size));
        // A lossy WebP holds a `VP8 ` bitstream (lossless ones `VP8L`).
        assert!(bytes.windows(4).any(|w| w == b"VP8 "), "not lossy");
        lossy.push(bytes);
    }
    assert!(
        lossy[1].len() < lossy[0].len(),
        "{} >= {}",
        lossy[1].len(),
        lossy[0].len()
    );
    let decoded = image::load_from_memory(&lossy[0]).unwrap().into_rgb8();
    let original = image::load_from_memory(&png).unwrap().into_rgb8();
    let error: f64 = decoded
        .as_raw()
        .iter()
        .zip(original.as_raw())
        .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
        .sum::<f64>()
        / decoded.as_raw().len() as f64;
    let psnr = 10.0 * (255.0f64.powi(2) / error.max(1e-9)).log10();
    assert!(psnr > 30.0, "quality 90 came out at {psnr:.1} dB");
    // No quality means the API's default for JPEG.
    assert_eq!(
        imagegen::images::DEFAULT_JPEG_QUALITY,
        imagegen::domain::request::DEFAULT_QUALITY
    );
}

#[tokio::test]
async fn output_fields_are_checked_against_each_other_and_the_model() {
    let generator = TestGenerator::new(Mode::Offline);
    let h = Harness::builder().generator(generator.clone()).build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    for (body, status, field, issue) in [
        (
            json!({"prompt": "x", "output_format": "gif"}),
            400,
            "output_format",
            "unsupported",
        ),
        (
            json!({"prompt": "x", "output_format": "jpeg", "quality": 0}),
            400,
            "quality",
            "out_of_range",
        ),
        (
            json!({"prompt": "x", "output_format": "jpeg", "quality": 101}),
            400,
            "quality",
            "out_of_range",
        ),
        (
            json!({"prompt": "x", "output_format": "png", "quality": 80}),
            422,
            "quality",
            "needs_jpeg_or_webp",
        ),
        (
            json!({"prompt": "x", "quality": 80}),
            422,
            "quality",
            "needs_jpeg_or_webp",
        ),
        (
            json!({"prompt": "x", "image_size": "8K"}),
            400,
            "image_size",
            "unsupported",
        ),
        // The deployed default model, Gemini 2.5 Flash Image, takes no size.
        (
            json!({"prompt": "x", "image_size": "2K"}),
            422,
            "image_size",
            "not_supported_by_model",
        ),
    ] {
        let res = h.post_image(&key, body.clone()).await;
        assert_eq!(res.status.as_u16(), status, "{body}: {}", res.json);
        res.assert_detail(field, issue);
    }
    assert!(h.deliveries().is_empty(), "refused requests queue nothing");

    // With Gemini 3 Pro Image the size goes to the model.
    let generator = TestGenerator::new(Mode::Offline);
    let h = Harness::builder()
        .generator(generator.clone())
        .config(|c| c.model = "gemini-3-pro-image-preview".into())
        .build();
    let key = h.create_key("acme", ALL_SCOPES).await;
    h.post_image(&key, json!({"prompt": "x", "image_size": "4K"}))
        .await
        .assert_status(202);
    h.run_worker().await;
    let requests = generator.requests.lock().unwrap();
    assert_eq!(requests[0].image_size.as_deref(), Some("4K"));
}
