//! The S3 blob store: objects encrypted at rest, uploads through presigned URLs, downloads
//! through signed CloudFront URLs when deployed (presigned S3 URLs without a distribution, as
//! against an emulator). The bucket itself stays private.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, ServerSideEncryption};
use time::OffsetDateTime;

use super::cloudfront::CloudFrontUrls;
use super::{Blob, BlobError, BlobStore, SignedUrl, UploadBounds, valid_key};

#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
    downloads: Option<Arc<CloudFrontUrls>>,
}

fn unavailable(e: impl std::error::Error + 'static) -> BlobError {
    BlobError::Unavailable(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

fn checked(key: &str) -> Result<(), BlobError> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(key.to_owned()))
    }
}

fn presigning(ttl: Duration) -> Result<PresigningConfig, BlobError> {
    PresigningConfig::expires_in(ttl)
        .map_err(|e| BlobError::Unavailable(format!("presigning: {e}")))
}

impl S3Blobs {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            downloads: None,
        }
    }

    /// Download URLs from `downloads` (the distribution in front of `generated/`) instead of
    /// presigned S3 URLs.
    pub fn with_downloads(mut self, downloads: Arc<CloudFrontUrls>) -> Self {
        self.downloads = Some(downloads);
        self
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn put(&self, key: &str, content_type: &str, data: Vec<u8>) -> Result<(), BlobError> {
        checked(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_disposition(super::content_disposition(key))
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        checked(key)?;
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
                return Ok(None);
            }
            Err(e) => return Err(unavailable(e)),
        };
        let content_type = out
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let data = out
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Unavailable(format!("reading {key}: {e}")))?
            .into_bytes()
            .to_vec();
        Ok(Some(Blob { content_type, data }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        checked(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Every version of every object under `prefix`, and their delete markers, so nothing is
    /// left in a versioned bucket (a plain delete there only hides the object).
    async fn delete_prefix(&self, prefix: &str) -> Result<u32, BlobError> {
        if !super::valid_prefix(prefix) {
            return Err(BlobError::InvalidKey(prefix.to_owned()));
        }
        let mut objects = std::collections::BTreeSet::new();
        let mut markers: (Option<String>, Option<String>) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(markers.0.take())
                .set_version_id_marker(markers.1.take())
                .send()
                .await
                .map_err(unavailable)?;
            let versions = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                );
            let mut ids = Vec::new();
            for (key, version) in versions {
                let Some(key) = key else { continue };
                objects.insert(key.to_owned());
                ids.push(
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.map(str::to_owned))
                        .build()
                        .map_err(unavailable)?,
                );
            }
            // A listing page holds at most 1,000 entries: one DeleteObjects call each.
            if !ids.is_empty() {
                let delete = Delete::builder()
                    .set_objects(Some(ids))
                    .quiet(true)
                    .build()
                    .map_err(unavailable)?;
                let out = self
                    .client
                    .delete_objects()
                    .bucket(&self.bucket)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(unavailable)?;
                if let Some(failed) = out.errors().first() {
                    return Err(BlobError::Unavailable(format!(
                        "deleting {}: {}",
                        failed.key().unwrap_or(prefix),
                        failed.message().unwrap_or("refused")
                    )));
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok(u32::try_from(objects.len()).unwrap_or(u32::MAX));
            }
            markers = (
                page.next_key_marker().map(str::to_owned),
                page.next_version_id_marker().map(str::to_owned),
            );
        }
    }

    async fn signed_get_url(
        &self,
        key: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<SignedUrl, BlobError> {
        checked(key)?;
        if let Some(downloads) = &self.downloads {
            // The canned policy's expiry is in whole seconds.
            let expires_at = OffsetDateTime::from_unix_timestamp((now + ttl).unix_timestamp())
                .map_err(|e| BlobError::Unavailable(format!("download expiry: {e}")))?;
            let url = downloads
                .url(key, expires_at)
                .await
                .map_err(|e| BlobError::Unavailable(e.to_string()))?;
            return Ok(SignedUrl { url, expires_at });
        }
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(super::content_disposition(key))
            .presigned(presigning(ttl)?)
            .await
            .map_err(unavailable)?;
        Ok(SignedUrl {
            url: request.uri().to_owned(),
            expires_at: now + ttl,
        })
    }

    /// A presigned PUT can bound an upload only by signing its exact `Content-Length` (a range
    /// needs a presigned POST policy, which no SDK builds): the client declares type and size
    /// first, both are signed, and S3 answers 403 `SignatureDoesNotMatch` to anything else.
    ///
    /// The signature covers no header the client is not told to send: no
    /// `x-amz-server-side-encryption` here (S3 would refuse an upload without it). The bucket's
    /// default encryption (SSE-S3, set by Terraform) encrypts the upload.
    async fn signed_put_url(
        &self,
        key: &str,
        bounds: UploadBounds<'_>,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<SignedUrl, BlobError> {
        checked(key)?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(bounds.content_type)
            .content_length(i64::try_from(bounds.content_length).unwrap_or(i64::MAX))
            .presigned(presigning(ttl)?)
            .await
            .map_err(unavailable)?;
        Ok(SignedUrl {
            url: request.uri().to_owned(),
            expires_at: now + ttl,
        })
    }
}
