//! The S3 blob store: objects with content type and SSE, presigned GET and PUT over HTTP.

use std::time::Duration;

use aws_sdk_s3::types::ServerSideEncryption;
use imagegen::blobs::{BlobError, UploadBounds};
use imagegen::config::Config;
use imagegen::telemetry::Metrics;
use imagegen_tests::aws::{TestEnv, http_client, report};
use time::OffsetDateTime;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n-not-decoded-here-";

async fn head(env: &TestEnv, key: &str) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
    env.clients
        .s3
        .head_object()
        .bucket(&env.resources.bucket)
        .key(key)
        .send()
        .await
        .unwrap()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

#[tokio::test]
async fn objects_are_stored_encrypted_with_their_content_type_and_deleted() {
    let env = TestEnv::new().await.unwrap();
    // The production entry point, not the counted clients: `aws::app` from an SdkConfig.
    let app = imagegen::aws::app(&env.sdk, Config::default(), &env.resources, Metrics::off());
    let blobs = &app.blobs;
    let key = "generated/acme/job_1/0.png";

    blobs.put(key, "image/png", PNG.to_vec()).await.unwrap();
    let head = head(&env, key).await;
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.content_length(), Some(PNG.len() as i64));

    let blob = blobs.get(key).await.unwrap().unwrap();
    assert_eq!(blob.content_type, "image/png");
    assert_eq!(blob.data, PNG);

    assert_eq!(blobs.get("generated/acme/job_1/9.png").await.unwrap(), None);
    blobs.delete(key).await.unwrap();
    assert_eq!(blobs.get(key).await.unwrap(), None);
    // Deleting what is not there is not an error (S3 answers 204).
    blobs.delete(key).await.unwrap();
    assert!(matches!(
        blobs.put("../escape", "image/png", Vec::new()).await,
        Err(BlobError::InvalidKey(_))
    ));
}

#[tokio::test]
async fn presigned_urls_download_and_upload_over_plain_http() {
    let env = TestEnv::new().await.unwrap();
    let blobs = &env.app.blobs;
    let http = http_client().unwrap();
    let now = OffsetDateTime::now_utc();

    let key = "generated/acme/job_2/0.png";
    blobs.put(key, "image/png", PNG.to_vec()).await.unwrap();
    let get = blobs
        .signed_get_url(key, Duration::from_secs(60), now)
        .await
        .unwrap();
    assert_eq!(get.expires_at, now + Duration::from_secs(60));
    let response = http.get(&get.url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", get.url);
    assert_eq!(response.bytes().await.unwrap(), PNG);

    // The upload is bounded where it lands: the declared type and exact length are signed,
    // and they are the only headers the client must add (`host` it sends by itself; no SSE
    // header, which the client is not told about).
    let upload = "uploads/acme/upl_1";
    let put = blobs
        .signed_put_url(upload, png_upload(), Duration::from_secs(60), now)
        .await
        .unwrap();
    assert_eq!(
        query_param(&put.url, "X-Amz-SignedHeaders").as_deref(),
        Some("content-length%3Bcontent-type%3Bhost"),
        "{}",
        put.url
    );
    let response = http
        .put(&put.url)
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(status, 200, "{}", response.text().await.unwrap_or_default());
    let uploaded = blobs.get(upload).await.unwrap().unwrap();
    assert_eq!(uploaded.data, PNG);
    assert_eq!(uploaded.content_type, "image/png");
    // The bucket's default encryption (SSE-S3, as Terraform configures it) covers uploads.
    assert_eq!(
        head(&env, upload).await.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
}

#[tokio::test]
async fn tampered_and_expired_presigned_urls_are_refused() {
    let env = TestEnv::new().await.unwrap();
    let kind = env.emulator.kind;
    if !kind.verifies_presigned_urls() {
        report(format!(
            "NOT RUN on {}: tampered and expired presigned URLs, and uploads other than the \
             declared one, are refused (moto does not verify presigned-URL signatures or \
             expiry: all would get 200). They run on \
             LocalStack with S3_SKIP_SIGNATURE_VALIDATION=0, where a Docker daemon answers \
             (GitHub Actions).",
            kind.name()
        ));
        return;
    }
    let blobs = &env.app.blobs;
    let http = http_client().unwrap();
    let key = "generated/acme/job_3/0.png";
    blobs.put(key, "image/png", PNG.to_vec()).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let url = blobs
        .signed_get_url(key, Duration::from_secs(60), now)
        .await
        .unwrap()
        .url;
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);

    // Another object under the same signature.
    let other_key = url.replace("/0.png?", "/1.png?");
    blobs
        .put("generated/acme/job_3/1.png", "image/png", PNG.to_vec())
        .await
        .unwrap();
    assert_eq!(http.get(&other_key).send().await.unwrap().status(), 403);
    // A changed signature.
    let signature = query_param(&url, "X-Amz-Signature").unwrap();
    let flipped: String = signature.chars().rev().collect();
    let tampered = url.replace(&signature, &flipped);
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403);
    // A longer validity than was signed.
    let longer = url.replace("X-Amz-Expires=60", "X-Amz-Expires=86400");
    assert_eq!(http.get(&longer).send().await.unwrap().status(), 403);

    // An upload other than the declared one: S3 checks the signed type and length.
    let upload = "uploads/acme/upl_2";
    let put = blobs
        .signed_put_url(upload, png_upload(), Duration::from_secs(60), now)
        .await
        .unwrap()
        .url;
    let mut longer_body = PNG.to_vec();
    longer_body.push(0);
    for (content_type, body) in [("image/png", longer_body), ("image/jpeg", PNG.to_vec())] {
        let status = http
            .put(&put)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 403, "{content_type}");
    }
    assert!(blobs.get(upload).await.unwrap().is_none());

    // Expired.
    let short = blobs
        .signed_get_url(key, Duration::from_secs(1), OffsetDateTime::now_utc())
        .await
        .unwrap()
        .url;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(http.get(&short).send().await.unwrap().status(), 403);
    report(format!(
        "ran on {}: tampered and expired presigned URLs, and uploads other than the declared \
         one, are refused with 403",
        kind.name()
    ));
}

/// What `POST /v1/uploads` declares for the `PNG` fixture.
fn png_upload() -> UploadBounds<'static> {
    UploadBounds {
        content_type: "image/png",
        content_length: PNG.len() as u64,
    }
}

/// The api function's start-up with a distribution configured: download URLs are CloudFront
/// URLs for the object, signed with the key pair the Secrets Manager value names. The signing
/// itself is proven against an independent RSA implementation in `blobs::cloudfront`; RSA
/// PKCS#1 v1.5 signatures are deterministic, so an equal URL is an equally valid one.
#[tokio::test]
async fn deployed_downloads_are_cloudfront_urls_signed_with_the_key_in_secrets_manager() {
    use imagegen::blobs::cloudfront::SigningKey;
    use imagegen::secrets::SecretString;

    let env = TestEnv::new().await.unwrap();
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../lambda/tests/fixtures/cloudfront-test-key.pem"),
    )
    .unwrap();
    let value =
        serde_json::json!({ "key_pair_id": "K3TESTKEYPAIR", "private_key_pem": pem }).to_string();
    let secret_arn = env
        .clients
        .secrets_manager
        .create_secret()
        .name(format!("{}-download-signing-key", env.resources.bucket))
        .secret_string(&value)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();

    let mut vars = env.lambda_vars();
    vars.insert(
        "IMAGEGEN_DOWNLOAD_BASE_URL",
        "https://d111111abcdef8.cloudfront.net".to_owned(),
    );
    vars.insert("IMAGEGEN_DOWNLOAD_SIGNING_KEY_SECRET_ARN", secret_arn);
    let app = imagegen::aws::api_from_vars(&imagegen::config::Vars(|name| vars.get(name).cloned()))
        .unwrap();

    let key = "generated/acme/job_4/a1/0.png";
    app.blobs.put(key, "image/png", PNG.to_vec()).await.unwrap();
    let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
    let url = app
        .blobs
        .signed_get_url(key, Duration::from_millis(60_500), now)
        .await
        .unwrap();

    // Whole seconds, as the canned policy states them.
    assert_eq!(url.expires_at.unix_timestamp(), 1_900_000_060);
    let resource = format!("https://d111111abcdef8.cloudfront.net/{key}");
    let expected = SigningKey::from_secret(&SecretString::from(value))
        .unwrap()
        .sign(&resource, url.expires_at)
        .unwrap();
    assert_eq!(url.url, expected);
    assert!(
        url.url
            .contains("&Key-Pair-Id=K3TESTKEYPAIR&Hash-Algorithm=SHA256")
    );
}
