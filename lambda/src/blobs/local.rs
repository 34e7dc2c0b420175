//! Blobs in a local directory, with HMAC-SHA256 signed URLs served by the dev server.
//! The signature covers method, key, expiry and, for uploads, the declared content type and
//! length, so a tampered or expired URL, or an upload other than the one declared, is 403.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::{Blob, BlobError, BlobStore, SignedUrl, UploadBounds, valid_key};
use crate::domain::ids::{from_hex, hex};

/// Signs and checks the dev server's blob URLs.
#[derive(Clone)]
pub struct UrlSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner([redacted])")
    }
}

/// Why a signed URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the URL's signature does not match")]
    Invalid,
    #[error("the URL has expired")]
    Expired,
}

impl UrlSigner {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn mac(&self, grant: &Grant<'_>) -> Vec<u8> {
        // A key of any length is accepted by HMAC; this cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return Vec::new();
        };
        let (content_type, content_length) = match grant.upload {
            Some(b) => (b.content_type, b.content_length.to_string()),
            None => ("", String::new()),
        };
        let Grant {
            method,
            key,
            expires,
            ..
        } = grant;
        mac.update(
            format!("{method}\n{key}\n{expires}\n{content_type}\n{content_length}").as_bytes(),
        );
        mac.finalize().into_bytes().to_vec()
    }

    pub fn sign(&self, grant: &Grant<'_>) -> String {
        hex(&self.mac(grant))
    }

    pub fn verify(
        &self,
        grant: &Grant<'_>,
        signature: &str,
        now: OffsetDateTime,
    ) -> Result<(), SignatureError> {
        let expires = grant.expires;
        let expected = self.mac(grant);
        let given = from_hex(signature).ok_or(SignatureError::Invalid)?;
        if !bool::from(expected.ct_eq(&given)) {
            return Err(SignatureError::Invalid);
        }
        if now.unix_timestamp() >= expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

/// What a signed URL grants: one method on one key until `expires` (unix seconds), and for an
/// upload exactly the declared bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant<'a> {
    pub method: &'a str,
    pub key: &'a str,
    pub expires: i64,
    pub upload: Option<UploadBounds<'a>>,
}

/// Files under `root`, content type in a sidecar file.
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
    base_url: String,
    signer: UrlSigner,
}

impl LocalBlobs {
    /// `base_url` is where the dev server serves `/blobs/...`.
    pub fn new(root: impl Into<PathBuf>, base_url: impl Into<String>, signer: UrlSigner) -> Self {
        Self {
            root: root.into(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            signer,
        }
    }

    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        if !valid_key(key) {
            return Err(BlobError::InvalidKey(key.to_owned()));
        }
        Ok(self.root.join(key))
    }

    fn content_type_path(path: &Path) -> PathBuf {
        let mut p = path.as_os_str().to_owned();
        p.push(CONTENT_TYPE_SUFFIX);
        PathBuf::from(p)
    }

    fn url(&self, grant: &Grant<'_>) -> String {
        let sig = self.signer.sign(grant);
        let Grant {
            method,
            key,
            expires,
            upload,
        } = grant;
        // Content types are ours to choose (image/png, …): nothing in them needs escaping.
        let declared = upload
            .map(|b| {
                format!(
                    "&content_type={}&content_length={}",
                    b.content_type, b.content_length
                )
            })
            .unwrap_or_default();
        format!(
            "{}/blobs/{key}?method={method}&expires={expires}{declared}&sig={sig}",
            self.base_url
        )
    }
}

/// Beside each object, a file of this name suffix holds its content type.
const CONTENT_TYPE_SUFFIX: &str = ".content-type";

fn io(e: std::io::Error) -> BlobError {
    BlobError::Unavailable(e.to_string())
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put(&self, key: &str, content_type: &str, data: Vec<u8>) -> Result<(), BlobError> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        // Write then rename, so a reader never sees half a file.
        let tmp = path.with_extension("partial");
        tokio::fs::write(&tmp, &data).await.map_err(io)?;
        tokio::fs::write(Self::content_type_path(&path), content_type)
            .await
            .map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        let path = self.path(key)?;
        let data = match tokio::fs::read(&path).await {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let content_type = tokio::fs::read_to_string(Self::content_type_path(&path))
            .await
            .unwrap_or_else(|_| "application/octet-stream".to_owned());
        Ok(Some(Blob { content_type, data }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path(key)?;
        for p in [Self::content_type_path(&path), path] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u32, BlobError> {
        let folder = prefix
            .strip_suffix('/')
            .ok_or_else(|| BlobError::InvalidKey(prefix.to_owned()))?;
        let dir = self.path(folder)?;
        let mut objects = 0;
        let mut pending = vec![dir.clone()];
        while let Some(folder) = pending.pop() {
            let mut entries = match tokio::fs::read_dir(&folder).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(io)? {
                let path = entry.path();
                if entry.file_type().await.map_err(io)?.is_dir() {
                    pending.push(path);
                } else if !path.to_string_lossy().ends_with(CONTENT_TYPE_SUFFIX) {
                    objects += 1;
                }
            }
        }
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(objects),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(objects),
            Err(e) => Err(io(e)),
        }
    }

    async fn signed_get_url(
        &self,
        key: &str,
        ttl: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<SignedUrl, BlobError> {
        self.path(key)?;
        let expires_at = now + ttl;
        Ok(SignedUrl {
            url: self.url(&Grant {
                method: "GET",
                key,
                expires: expires_at.unix_timestamp(),
                upload: None,
            }),
            expires_at,
        })
    }

    async fn signed_put_url(
        &self,
        key: &str,
        bounds: UploadBounds<'_>,
        ttl: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<SignedUrl, BlobError> {
        self.path(key)?;
        let expires_at = now + ttl;
        Ok(SignedUrl {
            url: self.url(&Grant {
                method: "PUT",
                key,
                expires: expires_at.unix_timestamp(),
                upload: Some(bounds),
            }),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 12:00 UTC);

    #[test]
    fn signatures_bind_method_key_expiry_and_the_declared_upload() {
        let signer = UrlSigner::new([7; 32]);
        let get = Grant {
            method: "GET",
            key: "generated/a/b/0.png",
            expires: 100,
            upload: None,
        };
        let sig = signer.sign(&get);
        let later = OffsetDateTime::from_unix_timestamp(99).unwrap();
        assert_eq!(signer.verify(&get, &sig, later), Ok(()));
        let png = UploadBounds {
            content_type: "image/png",
            content_length: 10,
        };
        for tampered in [
            Grant {
                key: "generated/a/b/1.png",
                ..get
            },
            Grant {
                method: "PUT",
                ..get
            },
            Grant {
                expires: 101,
                ..get
            },
            Grant {
                upload: Some(png),
                ..get
            },
        ] {
            assert_eq!(
                signer.verify(&tampered, &sig, later),
                Err(SignatureError::Invalid),
                "{tampered:?}"
            );
        }
        let at_expiry = OffsetDateTime::from_unix_timestamp(100).unwrap();
        assert_eq!(
            signer.verify(&get, &sig, at_expiry),
            Err(SignatureError::Expired)
        );
        let other = UrlSigner::new([8; 32]);
        assert_eq!(
            other.verify(&get, &sig, later),
            Err(SignatureError::Invalid)
        );

        // An upload's signature holds its type and exact length.
        let put = Grant {
            method: "PUT",
            upload: Some(png),
            ..get
        };
        let sig = signer.sign(&put);
        assert_eq!(signer.verify(&put, &sig, later), Ok(()));
        for declared in [
            UploadBounds {
                content_length: 11,
                ..png
            },
            UploadBounds {
                content_type: "image/jpeg",
                ..png
            },
        ] {
            let tampered = Grant {
                upload: Some(declared),
                ..put
            };
            assert_eq!(
                signer.verify(&tampered, &sig, later),
                Err(SignatureError::Invalid)
            );
        }
    }

    #[tokio::test]
    async fn put_get_delete_round_trip_and_traversal_is_refused() {
        let dir = tempfile::TempDir::with_prefix("imagegen-blobs-").unwrap();
        let blobs = LocalBlobs::new(dir.path(), "http://127.0.0.1:1", UrlSigner::new([1; 32]));
        blobs
            .put("generated/t/j/0.png", "image/png", vec![1, 2, 3])
            .await
            .unwrap();
        let blob = blobs.get("generated/t/j/0.png").await.unwrap().unwrap();
        assert_eq!(
            blob,
            Blob {
                content_type: "image/png".into(),
                data: vec![1, 2, 3]
            }
        );
        assert!(blobs.get("generated/t/j/1.png").await.unwrap().is_none());
        assert!(matches!(
            blobs.put("../etc/x", "a", vec![]).await,
            Err(BlobError::InvalidKey(_))
        ));
        assert!(matches!(
            blobs.get("generated/../../x").await,
            Err(BlobError::InvalidKey(_))
        ));
        blobs.delete("generated/t/j/0.png").await.unwrap();
        assert!(blobs.get("generated/t/j/0.png").await.unwrap().is_none());
        let url = blobs
            .signed_get_url(
                "generated/t/j/0.png",
                std::time::Duration::from_secs(60),
                NOW,
            )
            .await
            .unwrap();
        assert!(
            url.url
                .starts_with("http://127.0.0.1:1/blobs/generated/t/j/0.png?method=GET&expires=")
        );
    }
}
