//! API keys: `igk_<key_id>_<secret>`. Only a SHA-256 of the secret is stored, compared in
//! constant time; scopes, expiry, rotation with a grace period, revocation.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::ids::{from_hex, hex, random_base62, random_bytes};

pub const KEY_PREFIX: &str = "igk_";
const SECRET_LEN: usize = 40;

/// What a key may do. `admin` implies every other scope.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Scope {
    #[serde(rename = "images:write")]
    ImagesWrite,
    #[serde(rename = "jobs:read")]
    JobsRead,
    #[serde(rename = "usage:read")]
    UsageRead,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::ImagesWrite,
        Scope::JobsRead,
        Scope::UsageRead,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ImagesWrite => "images:write",
            Scope::JobsRead => "jobs:read",
            Scope::UsageRead => "usage:read",
            Scope::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name that is not one of [`Scope::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}` (known: images:write, jobs:read, usage:read, admin)")]
pub struct UnknownScope(pub String);

impl std::str::FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

pub use super::limits::KeyLimits;

/// The secret a rotated key still accepts until `valid_until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    pub secret_sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
}

/// A stored key. Never holds the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub key_id: String,
    pub tenant: String,
    pub scopes: Vec<Scope>,
    pub secret_sha256: String,
    pub previous: Option<PreviousSecret>,
    pub limits: KeyLimits,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Bumped on every change; writes are conditional on it.
    pub version: u64,
    /// Where the end of this key's jobs is sent when a request names no `webhook_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<super::webhooks::JobWebhook>,
}

/// Why a presented key was refused. Clients see only "unauthorized"; logs see the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("no x-api-key header")]
    Missing,
    #[error("malformed api key")]
    Malformed,
    #[error("unknown api key")]
    Unknown,
    #[error("wrong secret")]
    WrongSecret,
    #[error("api key expired")]
    Expired,
    #[error("api key revoked")]
    Revoked,
}

impl AuthFailure {
    /// What the client is told: enough to act on, nothing that helps guessing.
    pub fn public_message(self) -> &'static str {
        match self {
            AuthFailure::Missing => "an x-api-key header is required",
            AuthFailure::Expired => "this api key has expired",
            AuthFailure::Revoked => "this api key has been revoked",
            AuthFailure::Malformed | AuthFailure::Unknown | AuthFailure::WrongSecret => {
                "the api key is not valid"
            }
        }
    }
}

/// An authenticated caller: the key's tenant, scopes and the limits in force for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: String,
    /// `None` for the bootstrap admin credential, which has no key record.
    pub key_id: Option<String>,
    pub scopes: Vec<Scope>,
    pub limits: super::limits::EffectiveLimits,
    /// The key's default webhook.
    pub webhook: Option<super::webhooks::JobWebhook>,
}

impl Caller {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }
}

pub fn sha256_hex(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Whether `secret`'s SHA-256 is the stored digest, compared without leaking where they differ.
/// Every check of a presented secret (keys, the bootstrap admin credential) goes through here.
pub fn secret_matches(secret: &str, stored_hex: &str) -> bool {
    let Some(stored) = from_hex(stored_hex) else {
        return false;
    };
    let presented = Sha256::digest(secret.as_bytes());
    presented.as_slice().ct_eq(&stored).into()
}

/// [`valid_key_id`] as the OpenAPI document states it.
pub const KEY_ID_PATTERN: &str = "^[0-9a-fA-F]{12}$";

/// Whether `key_id` has the shape of an issued key id (12 hex digits).
pub fn valid_key_id(key_id: &str) -> bool {
    key_id.len() == 12 && key_id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Splits `igk_<key_id>_<secret>` without judging the parts' validity beyond shape.
pub fn parse_presented(presented: &str) -> Option<(&str, &str)> {
    let rest = presented.strip_prefix(KEY_PREFIX)?;
    let (key_id, secret) = rest.split_once('_')?;
    let secret_ok = secret.len() == SECRET_LEN && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    (valid_key_id(key_id) && secret_ok).then_some((key_id, secret))
}

fn new_secret() -> String {
    random_base62(SECRET_LEN)
}

fn format_key(key_id: &str, secret: &str) -> String {
    format!("{KEY_PREFIX}{key_id}_{secret}")
}

/// A request for a new key: the body of `POST /v1/admin/keys` and the flags of
/// `cargo xtask keys create`. Both go through [`NewKey::issue`], so their rules cannot diverge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub tenant: String,
    pub scopes: Vec<Scope>,
    pub limits: KeyLimits,
    pub expires_at: Option<OffsetDateTime>,
    /// The key's default webhook (its URL already checked where it was given).
    pub webhook: Option<super::webhooks::JobWebhook>,
}

/// One rule a [`NewKey`] breaks: the field and a stable issue code (the HTTP API reports them
/// as `details`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProblem {
    pub field: &'static str,
    pub issue: &'static str,
}

impl KeyProblem {
    /// The rule in words, for people at a terminal.
    pub fn message(self) -> String {
        match (self.field, self.issue) {
            ("tenant", _) => "tenant must be 1..=64 of a-z, 0-9, `-` and `_`".into(),
            ("scopes", _) => "at least one scope is required".into(),
            ("expires_at", _) => "expires_at must be in the future".into(),
            (field, "must_be_positive") => format!("{field} must be at least 1"),
            (field, issue) => format!("{field}: {issue}"),
        }
    }
}

/// Every rule a [`NewKey`] breaks, in field order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid key request: {}", self.problems.iter().map(|p| p.message()).collect::<Vec<_>>().join("; "))]
pub struct InvalidKey {
    pub problems: Vec<KeyProblem>,
}

impl NewKey {
    /// Checks every rule and reports all that are broken at once.
    pub fn validate(&self, now: OffsetDateTime) -> Result<(), InvalidKey> {
        let mut problems = Vec::new();
        let mut broken = |field, issue| problems.push(KeyProblem { field, issue });
        if !super::ids::valid_tenant(&self.tenant) {
            broken("tenant", "invalid");
        }
        if self.scopes.is_empty() {
            broken("scopes", "empty");
        }
        for (field, value) in [
            ("rate_per_minute", self.limits.rate_per_minute),
            ("burst", self.limits.burst),
            ("daily_refusal_limit", self.limits.daily_refusal_limit),
        ] {
            if value == Some(0) {
                broken(field, "must_be_positive");
            }
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            broken("expires_at", "in_the_past");
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(InvalidKey { problems })
        }
    }

    /// The key and its plaintext (shown once), if the request keeps every rule.
    pub fn issue(self, now: OffsetDateTime) -> Result<(ApiKey, String), InvalidKey> {
        self.validate(now)?;
        let (mut key, plaintext) =
            issue(&self.tenant, self.scopes, self.limits, self.expires_at, now);
        key.webhook = self.webhook;
        Ok((key, plaintext))
    }
}

/// A key's state as operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    /// Active, and a rotated-out secret still works until its grace period ends.
    Rotating,
    Expired,
    Revoked,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Rotating => "rotating",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

/// A new key and its plaintext, which is shown once and never stored.
pub fn issue(
    tenant: &str,
    scopes: Vec<Scope>,
    limits: KeyLimits,
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> (ApiKey, String) {
    let key_id = hex(&random_bytes::<6>());
    let secret = new_secret();
    let mut scopes = scopes;
    scopes.sort();
    scopes.dedup();
    let key = ApiKey {
        key_id: key_id.clone(),
        tenant: tenant.to_owned(),
        scopes,
        secret_sha256: sha256_hex(&secret),
        previous: None,
        limits,
        created_at: now,
        expires_at,
        revoked_at: None,
        version: 1,
        webhook: None,
    };
    (key, format_key(&key_id, &secret))
}

impl ApiKey {
    /// Checks a presented secret: current secret, or the previous one inside its grace period.
    pub fn verify(&self, secret: &str, now: OffsetDateTime) -> Result<(), AuthFailure> {
        let current = secret_matches(secret, &self.secret_sha256);
        let previous = self
            .previous
            .as_ref()
            .is_some_and(|p| secret_matches(secret, &p.secret_sha256) && now < p.valid_until);
        if !(current || previous) {
            return Err(AuthFailure::WrongSecret);
        }
        if self.revoked_at.is_some_and(|t| t <= now) {
            return Err(AuthFailure::Revoked);
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            return Err(AuthFailure::Expired);
        }
        Ok(())
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    /// A new secret for the same key id, tenant and limits; the old one works for `grace`.
    pub fn rotated(&self, now: OffsetDateTime, grace: time::Duration) -> (ApiKey, String) {
        let secret = new_secret();
        let mut next = self.clone();
        next.previous = Some(PreviousSecret {
            secret_sha256: self.secret_sha256.clone(),
            valid_until: now + grace,
        });
        next.secret_sha256 = sha256_hex(&secret);
        next.version += 1;
        (next, format_key(&self.key_id, &secret))
    }

    pub fn revoked(&self, now: OffsetDateTime) -> ApiKey {
        let mut next = self.clone();
        next.revoked_at = Some(now);
        next.previous = None;
        next.version += 1;
        next
    }

    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none_or(|t| t > now) && self.expires_at.is_none_or(|t| t > now)
    }

    pub fn status(&self, now: OffsetDateTime) -> KeyStatus {
        if self.revoked_at.is_some_and(|t| t <= now) {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|t| t <= now) {
            KeyStatus::Expired
        } else if self.previous.as_ref().is_some_and(|p| now < p.valid_until) {
            KeyStatus::Rotating
        } else {
            KeyStatus::Active
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 12:00 UTC);

    fn key() -> (ApiKey, String) {
        issue(
            "acme",
            vec![Scope::JobsRead, Scope::ImagesWrite],
            KeyLimits::default(),
            None,
            NOW,
        )
    }

    #[test]
    fn an_issued_key_verifies_and_stores_only_a_digest() {
        let (stored, plaintext) = key();
        let (key_id, secret) = parse_presented(&plaintext).unwrap();
        assert_eq!(key_id, stored.key_id);
        assert!(!serde_json::to_string(&stored).unwrap().contains(secret));
        assert_eq!(stored.verify(secret, NOW), Ok(()));
        let mut wrong: Vec<u8> = secret.bytes().collect();
        wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
        let wrong = String::from_utf8(wrong).unwrap();
        assert_eq!(stored.verify(&wrong, NOW), Err(AuthFailure::WrongSecret));
    }

    #[test]
    fn malformed_keys_are_rejected_by_shape() {
        assert!(parse_presented("igk_abc_def").is_none());
        assert!(parse_presented("Bearer x").is_none());
        assert!(parse_presented(&format!("igk_0123456789ab_{}", "a".repeat(39))).is_none());
        assert!(parse_presented(&format!("igk_0123456789ab_{}", "a".repeat(40))).is_some());
    }

    #[test]
    fn rotation_keeps_the_old_secret_for_the_grace_period_only() {
        let (stored, old) = key();
        let (_, old_secret) = parse_presented(&old).unwrap();
        let (rotated, new) = stored.rotated(NOW, time::Duration::hours(1));
        let (key_id, new_secret) = parse_presented(&new).unwrap();
        assert_eq!(key_id, stored.key_id);
        assert_eq!(rotated.verify(new_secret, NOW), Ok(()));
        assert_eq!(
            rotated.verify(old_secret, NOW + time::Duration::minutes(59)),
            Ok(())
        );
        assert_eq!(
            rotated.verify(old_secret, NOW + time::Duration::minutes(61)),
            Err(AuthFailure::WrongSecret)
        );
        assert_eq!(rotated.version, stored.version + 1);
    }

    #[test]
    fn revoked_and_expired_keys_stop_working() {
        let (stored, plaintext) = key();
        let (_, secret) = parse_presented(&plaintext).unwrap();
        assert_eq!(
            stored.revoked(NOW).verify(secret, NOW),
            Err(AuthFailure::Revoked)
        );
        let mut expiring = stored.clone();
        expiring.expires_at = Some(NOW + time::Duration::seconds(10));
        assert_eq!(expiring.verify(secret, NOW), Ok(()));
        assert_eq!(
            expiring.verify(secret, NOW + time::Duration::seconds(10)),
            Err(AuthFailure::Expired)
        );
    }

    #[test]
    fn a_new_key_request_reports_every_broken_rule_in_field_order() {
        let request = NewKey {
            tenant: "Acme Corp".into(),
            scopes: Vec::new(),
            limits: KeyLimits {
                rate_per_minute: Some(0),
                burst: Some(0),
                ..KeyLimits::default()
            },
            expires_at: Some(NOW),
            webhook: None,
        };
        let err = request.issue(NOW).unwrap_err();
        let found: Vec<_> = err.problems.iter().map(|p| (p.field, p.issue)).collect();
        assert_eq!(
            found,
            [
                ("tenant", "invalid"),
                ("scopes", "empty"),
                ("rate_per_minute", "must_be_positive"),
                ("burst", "must_be_positive"),
                ("expires_at", "in_the_past"),
            ]
        );
        let message = err.to_string();
        assert!(
            message.starts_with("invalid key request: tenant must be"),
            "{message}"
        );
        assert!(message.contains("burst must be at least 1"), "{message}");
    }

    #[test]
    fn a_valid_new_key_request_issues_a_key_with_its_limits() {
        let limits = KeyLimits {
            daily_quota: Some(5),
            ..KeyLimits::default()
        };
        let (key, plaintext) = NewKey {
            tenant: "acme".into(),
            scopes: vec![Scope::UsageRead, Scope::JobsRead, Scope::UsageRead],
            limits,
            expires_at: Some(NOW + time::Duration::days(1)),
            webhook: None,
        }
        .issue(NOW)
        .unwrap();
        assert_eq!(key.scopes, [Scope::JobsRead, Scope::UsageRead]);
        assert_eq!(key.limits, limits);
        assert!(parse_presented(&plaintext).is_some());
    }

    #[test]
    fn scopes_parse_from_their_names_only() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        let err = "root".parse::<Scope>().unwrap_err();
        assert!(err.to_string().contains("images:write"));
    }

    #[test]
    fn status_follows_revocation_expiry_and_rotation() {
        let (stored, _) = key();
        assert_eq!(stored.status(NOW), KeyStatus::Active);
        let (rotated, _) = stored.rotated(NOW, time::Duration::minutes(5));
        assert_eq!(rotated.status(NOW), KeyStatus::Rotating);
        assert_eq!(
            rotated.status(NOW + time::Duration::minutes(5)),
            KeyStatus::Active
        );
        assert_eq!(rotated.revoked(NOW).status(NOW), KeyStatus::Revoked);
        let mut expiring = stored;
        expiring.expires_at = Some(NOW);
        assert_eq!(expiring.status(NOW), KeyStatus::Expired);
    }

    #[test]
    fn admin_implies_every_scope() {
        let (mut stored, _) = key();
        assert!(stored.allows(Scope::JobsRead));
        assert!(!stored.allows(Scope::UsageRead));
        stored.scopes = vec![Scope::Admin];
        assert!(stored.allows(Scope::UsageRead));
    }
}
