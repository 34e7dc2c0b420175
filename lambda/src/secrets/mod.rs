//! Secrets: the Gemini API key, from wherever the deployment keeps it.
//!
//! [`SecretSource`] is the port; adapters fetch a value. [`CachedSecret`] sits in front of a
//! source so the hot path does not call Secrets Manager per request, and so a key rotated in
//! Secrets Manager is picked up either when the TTL runs out or at once after Gemini rejects
//! the old key (see [`CachedSecret::invalidate_rejected`]).
//!
//! Nothing here ever prints a secret: [`SecretString`]'s `Debug` says `[REDACTED]`, it has no
//! `Display`, and [`SecretsError`] carries only descriptions of what went wrong.

#[cfg(feature = "aws")]
pub mod secrets_manager;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long a fetched secret is trusted before the source is asked again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5 * 60);

/// Secret values are `secrecy`'s: zeroized when dropped, `Debug` redacted, no `Display` and no
/// `PartialEq` (a comparison is written out with `expose_secret`, so every read is greppable).
pub use secrecy::{ExposeSecret, SecretString};

/// Why a secret could not be had. Messages describe the failure, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The source could not be reached or refused (network, throttling, permissions, missing
    /// secret). `message` must not contain the value; adapters build it from their error.
    #[error("secret source unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The source answered with an empty value: a deployment mistake, not a transient fault.
    #[error("secret value is empty")]
    Empty,
    /// The source answered with something that is not a usable secret (e.g. JSON without the
    /// expected field). `reason` must not quote the value.
    #[error("secret value is malformed: {reason}")]
    Malformed { reason: String },
}

impl SecretsError {
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    /// Whether asking again later may succeed (an outage or throttle, not a misconfiguration).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// Where a secret comes from. Object-safe so callers hold an `Arc<dyn SecretSource>`.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn fetch(&self) -> Result<SecretString, SecretsError>;
}

/// A fixed value known at start-up.
///
/// Only the `dev` binary may use this (with `GEMINI_API_KEY` from its environment); deployed
/// functions read the key from Secrets Manager so it never sits in Lambda configuration.
#[derive(Debug, Clone)]
pub struct StaticSecret(SecretString);

impl StaticSecret {
    pub fn new(value: SecretString) -> Self {
        Self(value)
    }
}

#[async_trait]
impl SecretSource for StaticSecret {
    async fn fetch(&self) -> Result<SecretString, SecretsError> {
        if self.0.expose_secret().trim().is_empty() {
            return Err(SecretsError::Empty);
        }
        Ok(self.0.clone())
    }
}

/// A [`SecretSource`] behind a TTL cache.
///
/// The lock is held while fetching, so concurrent `get()`s during a fetch wait for it and then
/// read the cached value: one fetch, no stampede on the source. A failed fetch caches nothing,
/// so the next caller tries again.
pub struct CachedSecret {
    source: Arc<dyn SecretSource>,
    ttl: Duration,
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    value: SecretString,
    // tokio's clock so tests can pause and advance time instead of sleeping.
    fetched_at: Instant,
}

impl CachedSecret {
    /// Caches for [`DEFAULT_TTL`].
    pub fn new(source: Arc<dyn SecretSource>) -> Self {
        Self::with_ttl(source, DEFAULT_TTL)
    }

    pub fn with_ttl(source: Arc<dyn SecretSource>, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// The cached value while it is younger than the TTL, otherwise a fresh one from the source.
    pub async fn get(&self) -> Result<SecretString, SecretsError> {
        let mut cached = self.cached.lock().await;
        if let Some(entry) = cached.as_ref()
            && entry.fetched_at.elapsed() < self.ttl
        {
            return Ok(entry.value.clone());
        }
        let value = self.source.fetch().await?;
        if value.expose_secret().is_empty() {
            return Err(SecretsError::Empty);
        }
        *cached = Some(Cached {
            value: value.clone(),
            fetched_at: Instant::now(),
        });
        Ok(value)
    }

    /// Forget the cached value: the next `get()` fetches.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// Forget the cached value only if it is still `rejected`.
    ///
    /// Use this after the upstream rejects a key (401/403): when several in-flight calls are
    /// rejected together, the first one's refetch already replaced the value, and the others
    /// then reuse the new value instead of each fetching again.
    pub async fn invalidate_rejected(&self, rejected: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|entry| entry.value.expose_secret() == rejected.expose_secret())
        {
            *cached = None;
        }
    }
}

impl fmt::Debug for CachedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedSecret")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Answers `key-1`, `key-2`, … so tests can tell fetches apart; optionally slow.
    struct CountingSource {
        fetches: AtomicU32,
        delay: Duration,
    }

    impl CountingSource {
        fn new(delay: Duration) -> Arc<Self> {
            Arc::new(Self {
                fetches: AtomicU32::new(0),
                delay,
            })
        }
        fn fetches(&self) -> u32 {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl SecretSource for CountingSource {
        async fn fetch(&self) -> Result<SecretString, SecretsError> {
            let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(self.delay).await;
            Ok(SecretString::from(format!("key-{n}")))
        }
    }

    struct FailingSource;

    #[async_trait]
    impl SecretSource for FailingSource {
        async fn fetch(&self) -> Result<SecretString, SecretsError> {
            Err(SecretsError::unavailable("throttled"))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn caches_until_ttl_expires() {
        let source = CountingSource::new(Duration::ZERO);
        let cache = CachedSecret::with_ttl(source.clone(), Duration::from_secs(60));

        assert_eq!(cache.get().await.unwrap().expose_secret(), "key-1");
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(cache.get().await.unwrap().expose_secret(), "key-1");
        assert_eq!(source.fetches(), 1);

        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.get().await.unwrap().expose_secret(), "key-2");
        assert_eq!(source.fetches(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn default_ttl_is_five_minutes() {
        let source = CountingSource::new(Duration::ZERO);
        let cache = CachedSecret::new(source.clone());
        cache.get().await.unwrap();
        tokio::time::advance(Duration::from_secs(299)).await;
        cache.get().await.unwrap();
        assert_eq!(source.fetches(), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        cache.get().await.unwrap();
        assert_eq!(source.fetches(), 2);
    }

    #[tokio::test]
    async fn invalidate_forces_a_refetch() {
        let source = CountingSource::new(Duration::ZERO);
        let cache = CachedSecret::new(source.clone());
        assert_eq!(cache.get().await.unwrap().expose_secret(), "key-1");
        cache.invalidate().await;
        assert_eq!(cache.get().await.unwrap().expose_secret(), "key-2");
        assert_eq!(cache.get().await.unwrap().expose_secret(), "key-2");
        assert_eq!(source.fetches(), 2);
    }

    #[tokio::test]
    async fn invalidate_rejected_ignores_a_value_already_replaced() {
        let source = CountingSource::new(Duration::ZERO);
        let cache = CachedSecret::new(source.clone());
        let old = cache.get().await.unwrap();

        // First rejected call refreshes …
        cache.invalidate_rejected(&old).await;
        assert_eq!(cache.get().await.unwrap().expose_secret(), "key-2");
        // … a second call rejected with the same old key must not throw the new one away.
        cache.invalidate_rejected(&old).await;
        assert_eq!(cache.get().await.unwrap().expose_secret(), "key-2");
        assert_eq!(source.fetches(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_gets_fetch_once() {
        let source = CountingSource::new(Duration::from_millis(100));
        let cache = Arc::new(CachedSecret::new(source.clone()));

        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.get().await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().expose_secret(), "key-1");
        }
        assert_eq!(source.fetches(), 1);
    }

    #[tokio::test]
    async fn failed_fetch_is_not_cached() {
        let cache = CachedSecret::new(Arc::new(FailingSource));
        let err = cache.get().await.unwrap_err();
        assert!(err.is_transient());
        assert!(cache.get().await.is_err());
    }

    #[tokio::test]
    async fn static_secret_rejects_empty_values() {
        let source = StaticSecret::new(SecretString::from("  "));
        assert!(matches!(source.fetch().await, Err(SecretsError::Empty)));
        let source = StaticSecret::new(SecretString::from("abc"));
        assert_eq!(source.fetch().await.unwrap().expose_secret(), "abc");
    }

    #[test]
    fn debug_redacts() {
        let secret = SecretString::from("AIzaSy-very-secret");
        assert!(!format!("{secret:?}").contains("very-secret"));
        let wrapped = StaticSecret::new(secret);
        assert!(!format!("{wrapped:?}").contains("very-secret"));
    }
}
