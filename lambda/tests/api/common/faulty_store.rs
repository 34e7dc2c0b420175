//! A store that fails chosen operations once armed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use imagegen::domain::ids::JobId;
use imagegen::domain::jobs::{Expected, Job};
use imagegen::domain::keys::ApiKey;
use imagegen::domain::limits::CounterAdd;
use imagegen::domain::webhooks::{DeliveryAttempt, SigningSecrets};
use imagegen::store::memory::MemoryStore;
use imagegen::store::{
    IdempotencyRecord, JobCursor, JobFilter, KeyCursor, Reservation, Store, StoreError,
};

/// A store that fails chosen operations once armed: `Unavailable` is a dependency outage
/// (502), `Corrupt` a bug (500).
pub struct FaultyStore {
    inner: Arc<MemoryStore>,
    armed: AtomicBool,
    /// Operations that fail; empty means all.
    ops: Vec<&'static str>,
    make: fn() -> StoreError,
}

impl FaultyStore {
    pub fn new(
        inner: Arc<MemoryStore>,
        ops: &[&'static str],
        make: fn() -> StoreError,
    ) -> Arc<Self> {
        Arc::new(Self {
            inner,
            armed: AtomicBool::new(false),
            ops: ops.to_vec(),
            make,
        })
    }

    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    pub fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }

    fn check(&self, op: &str) -> Result<(), StoreError> {
        if self.armed.load(Ordering::SeqCst) && (self.ops.is_empty() || self.ops.contains(&op)) {
            return Err((self.make)());
        }
        Ok(())
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.check("create_key")?;
        self.inner.create_key(key).await
    }
    async fn get_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        self.check("get_key")?;
        self.inner.get_key(key_id).await
    }
    async fn replace_key(&self, key: &ApiKey, expected_version: u64) -> Result<(), StoreError> {
        self.check("replace_key")?;
        self.inner.replace_key(key, expected_version).await
    }
    async fn list_keys(
        &self,
        limit: usize,
        cursor: Option<&KeyCursor>,
    ) -> Result<(Vec<ApiKey>, Option<KeyCursor>), StoreError> {
        self.check("list_keys")?;
        self.inner.list_keys(limit, cursor).await
    }
    async fn reserve(&self, counters: &[CounterAdd]) -> Result<Reservation, StoreError> {
        self.check("reserve")?;
        self.inner.reserve(counters).await
    }
    async fn release(&self, counters: &[CounterAdd]) -> Result<(), StoreError> {
        self.check("release")?;
        self.inner.release(counters).await
    }
    async fn counter_values(&self, pks: &[String]) -> Result<Vec<u64>, StoreError> {
        self.check("counter_values")?;
        self.inner.counter_values(pks).await
    }
    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.check("claim_idempotency")?;
        self.inner.claim_idempotency(record).await
    }
    async fn get_idempotency(&self, pk: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.check("get_idempotency")?;
        self.inner.get_idempotency(pk).await
    }
    async fn delete_idempotency(&self, pk: &str) -> Result<(), StoreError> {
        self.check("delete_idempotency")?;
        self.inner.delete_idempotency(pk).await
    }
    async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        self.check("create_job")?;
        self.inner.create_job(job).await
    }
    async fn get_job(&self, job_id: &JobId) -> Result<Option<Job>, StoreError> {
        self.check("get_job")?;
        self.inner.get_job(job_id).await
    }
    async fn update_job(&self, job: &Job, expected: Expected) -> Result<(), StoreError> {
        self.check("update_job")?;
        self.inner.update_job(job, expected).await
    }
    async fn overdue_jobs(
        &self,
        now: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError> {
        self.check("overdue_jobs")?;
        self.inner.overdue_jobs(now, limit).await
    }
    async fn list_jobs(
        &self,
        tenant: &str,
        filter: &JobFilter,
        limit: usize,
        cursor: Option<&JobCursor>,
    ) -> Result<(Vec<Job>, Option<JobCursor>), StoreError> {
        self.check("list_jobs")?;
        self.inner.list_jobs(tenant, filter, limit, cursor).await
    }
    async fn delete_job(&self, job_id: &JobId) -> Result<(), StoreError> {
        self.check("delete_job")?;
        self.inner.delete_job(job_id).await
    }
    async fn get_signing_secrets(
        &self,
        tenant: &str,
    ) -> Result<Option<SigningSecrets>, StoreError> {
        self.check("get_signing_secrets")?;
        self.inner.get_signing_secrets(tenant).await
    }
    async fn put_signing_secrets(
        &self,
        secrets: &SigningSecrets,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.check("put_signing_secrets")?;
        self.inner
            .put_signing_secrets(secrets, expected_version)
            .await
    }
    async fn record_delivery(
        &self,
        attempt: &DeliveryAttempt,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.check("record_delivery")?;
        self.inner.record_delivery(attempt, expires_at).await
    }
    async fn list_deliveries(
        &self,
        job_id: &JobId,
        limit: usize,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        self.check("list_deliveries")?;
        self.inner.list_deliveries(job_id, limit).await
    }
    async fn delete_deliveries(&self, job_id: &JobId) -> Result<(), StoreError> {
        self.check("delete_deliveries")?;
        self.inner.delete_deliveries(job_id).await
    }
}
