//! Object storage port: put/get image bytes, signed download and upload URLs.
//! Adapters: `local` (a directory plus HMAC-signed URLs the dev server checks) and S3 (with
//! signed CloudFront URLs for downloads, `cloudfront`).

pub mod cloudfront;
pub mod local;
#[cfg(feature = "aws")]
pub mod s3;

use async_trait::async_trait;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid object key `{0}`")]
    InvalidKey(String),
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub content_type: String,
    pub data: Vec<u8>,
}

/// What a signed upload URL admits: exactly `content_length` bytes declared as `content_type`.
/// Both are covered by the signature, so the storage refuses any other upload: the size and
/// type are bounded where the bytes land, not only when a job later reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadBounds<'a> {
    pub content_type: &'a str,
    pub content_length: u64,
}

/// A URL that grants one operation on one object until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUrl {
    pub url: String,
    pub expires_at: OffsetDateTime,
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    async fn put(&self, key: &str, content_type: &str, data: Vec<u8>) -> Result<(), BlobError>;
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError>;
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
    /// Deletes every object whose key starts with `prefix` (a folder: it ends with `/`);
    /// returns how many there were.
    async fn delete_prefix(&self, prefix: &str) -> Result<u32, BlobError>;
    /// A URL to download the object, valid for `ttl`.
    async fn signed_get_url(
        &self,
        key: &str,
        ttl: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<SignedUrl, BlobError>;
    /// A URL to upload exactly what `bounds` declares to `key`, valid for `ttl`. The client
    /// must send `Content-Type` and `Content-Length` as declared.
    async fn signed_put_url(
        &self,
        key: &str,
        bounds: UploadBounds<'_>,
        ttl: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<SignedUrl, BlobError>;
}

/// Object keys are ours, but still checked: no traversal, no surprises in URLs.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'))
}

/// Where image `n` of a job goes, per attempt: a worker whose lease ran out writes beside the
/// attempt that won instead of over it, and the job record names the objects it owns (the
/// others expire with the bucket's lifecycle rule for `generated/`).
pub fn generated_key(
    tenant: &str,
    job_id: &str,
    attempt: u32,
    n: usize,
    extension: &str,
) -> String {
    format!("generated/{tenant}/{job_id}/a{attempt}/{n}.{extension}")
}

/// The `Content-Disposition` a download carries: shown in the browser, saved under a name that
/// says which job and image it is (`<job id>-<n>.<ext>` for generated images).
pub fn content_disposition(key: &str) -> String {
    let mut parts = key.rsplit('/');
    let file = parts.next().unwrap_or("image");
    let name = match (key.starts_with("generated/"), parts.nth(1)) {
        (true, Some(job)) => format!("{job}-{file}"),
        _ => file.to_owned(),
    };
    // Keys are ours ([A-Za-z0-9_.-] and `/`), so the name needs no quoting beyond this.
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    format!("inline; filename=\"{name}\"")
}

/// A folder prefix ends with `/` and is otherwise a valid key.
pub fn valid_prefix(prefix: &str) -> bool {
    prefix.strip_suffix('/').is_some_and(valid_key)
}

/// Every folder that holds a job's objects: the images of each of its attempts, and its
/// prepared reference images. Job ids (`job_…`) never collide with upload ids (`upl_…`).
pub fn job_prefixes(tenant: &str, job_id: &str) -> [String; 2] {
    [
        format!("generated/{tenant}/{job_id}/"),
        format!("uploads/{tenant}/{job_id}/"),
    ]
}

/// Where a client's signed upload lands.
pub fn upload_key(tenant: &str, upload_id: &str) -> String {
    format!("uploads/{tenant}/{upload_id}")
}

/// Where a job's prepared reference images are kept for the worker.
pub fn reference_key(tenant: &str, job_id: &str, n: usize, extension: &str) -> String {
    format!("uploads/{tenant}/{job_id}/ref-{n}.{extension}")
}
