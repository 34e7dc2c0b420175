//! Signed CloudFront URLs for downloads.
//!
//! Deployed downloads go through a CloudFront distribution in front of the bucket's
//! `generated/` objects, not through presigned S3 URLs: S3 cannot add response headers such as
//! `X-Content-Type-Options: nosniff`, and the distribution's response headers policy does.
//! CloudFront admits a request only with a signature from a key in the distribution's trusted
//! key group (its origin access control is the only reader the bucket allows for `generated/`).
//!
//! A URL uses a canned policy (one resource, an expiry) signed with RSA and SHA-256
//! (`Hash-Algorithm=SHA256`): CloudFront's documented scheme. No crate for CloudFront URL
//! signing is kept up to date (the ones on crates.io sign with SHA-1 and read key files), so
//! the ~40 lines are ours; ring signs, and the tests check every URL with an independent RSA
//! implementation and the public key.
//!
//! The key pair id and the private key come together from one Secrets Manager value (JSON
//! `{"key_pair_id": …, "private_key_pem": …}`), written by the Terraform that registers the
//! public key, so a rotation can never pair one key's id with another key.

use crate::secrets::ExposeSecret;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::secrets::{CachedSecret, SecretString, SecretsError};

/// The key CloudFront verifies signatures with, by its id in the trusted key group.
pub struct SigningKey {
    key_pair_id: String,
    key: RsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_pair_id", &self.key_pair_id)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct SecretValue {
    key_pair_id: String,
    private_key_pem: String,
}

impl SigningKey {
    /// From the secret's JSON value. Errors describe what is wrong, never the key.
    pub fn from_secret(value: &SecretString) -> Result<Self, SecretsError> {
        let malformed = |reason: &str| SecretsError::Malformed {
            reason: format!("download signing key: {reason}"),
        };
        let value: SecretValue = serde_json::from_str(value.expose_secret())
            .map_err(|_| malformed("not JSON with key_pair_id and private_key_pem"))?;
        if value.key_pair_id.is_empty()
            || !value.key_pair_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(malformed("key_pair_id is not a CloudFront public key id"));
        }
        let der = PrivatePkcs8KeyDer::from_pem_slice(value.private_key_pem.as_bytes())
            .map_err(|_| malformed("private_key_pem is not a PKCS#8 PEM private key"))?;
        let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|e| malformed(&format!("private_key_pem is not a usable RSA key ({e})")))?;
        Ok(Self {
            key_pair_id: value.key_pair_id,
            key,
        })
    }

    pub fn key_pair_id(&self) -> &str {
        &self.key_pair_id
    }

    /// `resource` (a full `https://` URL without query) readable until `expires`.
    pub fn sign(&self, resource: &str, expires: OffsetDateTime) -> Result<String, SecretsError> {
        let epoch = expires.unix_timestamp();
        let policy = canned_policy(resource, epoch);
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                policy.as_bytes(),
                &mut signature,
            )
            .map_err(|_| SecretsError::Malformed {
                reason: "download signing key: signing failed".into(),
            })?;
        Ok(format!(
            "{resource}?Expires={epoch}&Signature={}&Key-Pair-Id={}&Hash-Algorithm=SHA256",
            url_safe(&STANDARD.encode(signature)),
            self.key_pair_id,
        ))
    }
}

/// The policy CloudFront rebuilds from a URL with `Expires` and no `Policy` parameter: exactly
/// these bytes, no whitespace.
pub fn canned_policy(resource: &str, expires_epoch: i64) -> String {
    format!(
        r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires_epoch}}}}}}}]}}"#
    )
}

/// CloudFront's URL-safe base64: `+` `=` `/` become `-` `_` `~`.
pub fn url_safe(base64: &str) -> String {
    base64
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            c => c,
        })
        .collect()
}

/// Download URLs under `base_url` (the distribution, `https://…` without a trailing slash),
/// signed with the key from Secrets Manager. The key is parsed again only when the cached
/// secret's value changes.
pub struct CloudFrontUrls {
    base_url: String,
    secret: CachedSecret,
    parsed: Mutex<Option<(SecretString, Arc<SigningKey>)>>,
}

impl std::fmt::Debug for CloudFrontUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudFrontUrls")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl CloudFrontUrls {
    pub fn new(base_url: impl Into<String>, secret: CachedSecret) -> Self {
        Self {
            base_url: base_url.into(),
            secret,
            parsed: Mutex::new(None),
        }
    }

    /// `key` (one of ours, already checked) readable until `expires`.
    pub async fn url(&self, key: &str, expires: OffsetDateTime) -> Result<String, SecretsError> {
        let value = self.secret.get().await?;
        let signer = {
            let mut parsed = self.parsed.lock().await;
            match parsed.as_ref() {
                Some((seen, signer)) if seen.expose_secret() == value.expose_secret() => {
                    Arc::clone(signer)
                }
                _ => {
                    let signer = Arc::new(SigningKey::from_secret(&value)?);
                    *parsed = Some((value, Arc::clone(&signer)));
                    signer
                }
            }
        };
        signer.sign(&format!("{}/{key}", self.base_url), expires)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{SecretSource, StaticSecret};
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::sha2::Sha256;
    use rsa::signature::Verifier;

    // A key made for these tests only (openssl genpkey -algorithm RSA, 2048 bits); it signs
    // nothing anywhere else.
    const TEST_KEY: &str = include_str!("../../tests/fixtures/cloudfront-test-key.pem");
    const TEST_PUBLIC_KEY: &str = include_str!("../../tests/fixtures/cloudfront-test-key.pub.pem");
    const BASE: &str = "https://d111111abcdef8.cloudfront.net";

    fn secret(key_pair_id: &str) -> SecretString {
        SecretString::from(
            serde_json::json!({ "key_pair_id": key_pair_id, "private_key_pem": TEST_KEY })
                .to_string(),
        )
    }

    /// What CloudFront does with a signed URL, written from its documentation with another RSA
    /// implementation: split off the four signing parameters, rebuild the canned policy from
    /// the rest and `Expires`, undo the URL-safe base64, verify RSA-SHA256 with the public key.
    /// Returns the key pair id the URL names.
    fn cloudfront_accepts(url: &str, now_epoch: i64) -> Result<String, String> {
        let (resource, query) = url.split_once('?').ok_or("no query")?;
        let params: Vec<(&str, &str)> = query
            .split('&')
            .map(|p| p.split_once('=').ok_or("parameter without ="))
            .collect::<Result<_, _>>()?;
        let names: Vec<&str> = params.iter().map(|(k, _)| *k).collect();
        if names != ["Expires", "Signature", "Key-Pair-Id", "Hash-Algorithm"] {
            return Err(format!("parameters {names:?}"));
        }
        let expires: i64 = params[0].1.parse().map_err(|_| "Expires is not a number")?;
        if params[3].1 != "SHA256" {
            return Err("not SHA256".into());
        }
        let signature: String = params[1]
            .1
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '=',
                '~' => '/',
                c => c,
            })
            .collect();
        let signature = STANDARD
            .decode(signature)
            .map_err(|_| "signature is not base64")?;
        let policy = format!(
            r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
        );
        let public = rsa::RsaPublicKey::from_public_key_pem(TEST_PUBLIC_KEY).unwrap();
        VerifyingKey::<Sha256>::new(public)
            .verify(
                policy.as_bytes(),
                &Signature::try_from(signature.as_slice()).map_err(|e| e.to_string())?,
            )
            .map_err(|e| format!("signature: {e}"))?;
        if now_epoch >= expires {
            return Err("expired".into());
        }
        Ok(params[2].1.to_owned())
    }

    #[test]
    fn a_signed_url_verifies_with_an_independent_rsa_implementation() {
        let key = SigningKey::from_secret(&secret("K2JCJMDEHXQW5F")).unwrap();
        let expires = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let resource = format!("{BASE}/generated/t1/job-1/a1/0.png");
        let url = key.sign(&resource, expires).unwrap();

        assert!(url.starts_with(&format!("{resource}?Expires=1900000000&Signature=")));
        assert_eq!(
            cloudfront_accepts(&url, 1_899_999_999).as_deref(),
            Ok("K2JCJMDEHXQW5F")
        );
        assert_eq!(
            cloudfront_accepts(&url, 1_900_000_000),
            Err("expired".into())
        );
        // The signature covers the object and the expiry: neither can be changed.
        let other_object = url.replace("/0.png", "/1.png");
        assert!(
            cloudfront_accepts(&other_object, 0)
                .unwrap_err()
                .starts_with("signature")
        );
        let later = url.replace("Expires=1900000000", "Expires=1900000001");
        assert!(
            cloudfront_accepts(&later, 0)
                .unwrap_err()
                .starts_with("signature")
        );
    }

    #[tokio::test]
    async fn urls_name_the_object_under_the_distribution_and_follow_a_rotated_secret() {
        struct Rotating(std::sync::Mutex<Vec<SecretString>>);
        #[async_trait::async_trait]
        impl SecretSource for Rotating {
            async fn fetch(&self) -> Result<SecretString, SecretsError> {
                let mut values = self.0.lock().unwrap();
                Ok(if values.len() > 1 {
                    values.remove(0)
                } else {
                    values[0].clone()
                })
            }
        }
        let source = Rotating(std::sync::Mutex::new(vec![secret("KOLD"), secret("KNEW")]));
        let urls = CloudFrontUrls::new(
            BASE,
            CachedSecret::with_ttl(Arc::new(source), std::time::Duration::ZERO),
        );
        let expires = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();

        let first = urls.url("generated/t1/j/a1/0.webp", expires).await.unwrap();
        assert!(first.starts_with(&format!("{BASE}/generated/t1/j/a1/0.webp?")));
        assert_eq!(cloudfront_accepts(&first, 0).as_deref(), Ok("KOLD"));
        let second = urls.url("generated/t1/j/a1/0.webp", expires).await.unwrap();
        assert_eq!(cloudfront_accepts(&second, 0).as_deref(), Ok("KNEW"));
    }

    #[tokio::test]
    async fn a_secret_that_is_not_a_signing_key_fails_the_download_url_not_the_process() {
        let urls = CloudFrontUrls::new(
            BASE,
            CachedSecret::new(Arc::new(StaticSecret::new(SecretString::from(
                "gemini-key",
            )))),
        );
        let err = urls
            .url("generated/t1/j/a1/0.png", OffsetDateTime::UNIX_EPOCH)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("download signing key"), "{err}");
    }

    #[test]
    fn canned_policy_is_the_documented_json_without_whitespace() {
        let policy = canned_policy(
            "https://d111111abcdef8.cloudfront.net/horizon.jpg",
            1357034400,
        );
        assert_eq!(
            policy,
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/horizon.jpg","Condition":{"DateLessThan":{"AWS:EpochTime":1357034400}}}]}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&policy).unwrap();
        assert_eq!(
            parsed["Statement"][0]["Condition"]["DateLessThan"]["AWS:EpochTime"],
            1357034400
        );
    }

    #[test]
    fn url_safe_base64_replaces_the_three_characters_cloudfront_names() {
        assert_eq!(url_safe("ab+/c=="), "ab-~c__");
    }

    #[test]
    fn a_malformed_secret_is_refused_without_quoting_it() {
        for value in [
            "not json",
            r#"{"key_pair_id":"K2JCJMDEHXQW5F"}"#,
            r#"{"key_pair_id":"K2JCJMDEHXQW5F","private_key_pem":"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"}"#,
            r#"{"key_pair_id":"K2 /x","private_key_pem":"x"}"#,
        ] {
            let err = SigningKey::from_secret(&SecretString::from(value)).unwrap_err();
            assert!(
                matches!(err, SecretsError::Malformed { .. }),
                "{value}: {err}"
            );
            assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
            assert!(!err.is_transient());
        }
    }
}
