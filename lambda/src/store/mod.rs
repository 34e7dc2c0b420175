//! Persistence port: jobs, API keys, rate-limit windows, quota counters, idempotency records.
//! Adapters: `memory` (dev server, unit tests) and DynamoDB (deployed).

#[cfg(feature = "aws")]
pub mod dynamo;
pub mod layout;
pub mod memory;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::ids::JobId;
use crate::domain::jobs::{Expected, Job, JobStatus};
use crate::domain::keys::ApiKey;
use crate::domain::limits::CounterAdd;
use crate::domain::webhooks::{DeliveryAttempt, SigningSecrets};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found something other than what it expected.
    #[error("conditional write failed: {0}")]
    Conflict(String),
    /// The backing store failed or could not be reached.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

/// The outcome of an all-or-nothing counter reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// Every counter was incremented; their new values, in order.
    Granted { values: Vec<u64> },
    /// Nothing was incremented: counter `index` would pass its limit (it holds `current`).
    Denied { index: usize, current: u64 },
}

/// What an `Idempotency-Key` produced, stored under `<tenant>#<key>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub pk: String,
    pub job_id: JobId,
    pub request_sha256: String,
    pub expires_at: i64,
}

/// A position in the list of every key: the last key id returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCursor {
    pub key_id: String,
}

/// A position in a tenant's job list (opaque to clients).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCursor {
    pub created_sort: String,
}

/// Which of a tenant's jobs a list returns: one status, and a creation-time range
/// (`created_after` inclusive, `created_before` exclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub created_after: Option<time::OffsetDateTime>,
    pub created_before: Option<time::OffsetDateTime>,
}

impl JobFilter {
    pub fn matches(&self, job: &Job) -> bool {
        self.status.is_none_or(|s| s == job.status)
            && self.created_after.is_none_or(|t| job.created_at >= t)
            && self.created_before.is_none_or(|t| job.created_at < t)
    }

    /// The inclusive range of `Job::created_sort` keys to read, newest first from the upper
    /// bound, after `cursor`: `created_sort` is 20 digits of microseconds, `#` and the id, so
    /// `<micros>#` sorts before every key of that microsecond and `<micros>$` after them.
    pub fn sort_range(&self, cursor: Option<&JobCursor>) -> (String, String) {
        let micros = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000).max(0);
        let lower = match self.created_after {
            Some(t) => format!("{:020}#", micros(t)),
            None => "0".into(),
        };
        let mut upper = match self.created_before {
            // Exclusive: the last key before that microsecond.
            Some(t) => format!("{:020}#", micros(t)),
            None => "~".into(),
        };
        if let Some(c) = cursor
            && c.created_sort < upper
        {
            upper = c.created_sort.clone();
        }
        // Both bounds are inclusive in the query; neither `<micros>#` nor a cursor's own key
        // may be returned again: the one is no job's key, the other is dropped here.
        (lower, before(&upper))
    }
}

/// The greatest string below `key` that a job's sort key could be, for an inclusive upper
/// bound (job sort keys hold only digits, `#`, letters and `_`).
fn before(key: &str) -> String {
    let mut bytes = key.as_bytes().to_vec();
    match bytes.pop() {
        Some(last) if last > 0 => {
            bytes.push(last - 1);
            // Anything that starts with the shortened key and continues sorts below `key`.
            bytes.push(b'~');
            String::from_utf8(bytes).unwrap_or_default()
        }
        _ => String::new(),
    }
}

#[async_trait]
pub trait Store: Send + Sync {
    // --- API keys
    /// Stores a new key; `Conflict` if the key id exists.
    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn get_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError>;
    /// Replaces a key iff the stored one still has `expected_version`.
    async fn replace_key(&self, key: &ApiKey, expected_version: u64) -> Result<(), StoreError>;
    /// Every key (for operators), a page at a time in no particular order: at most `limit`
    /// after `cursor`, and where the next page starts (`None` after the last). Reads are
    /// strongly consistent. Records hold digests, never secrets.
    async fn list_keys(
        &self,
        limit: usize,
        cursor: Option<&KeyCursor>,
    ) -> Result<(Vec<ApiKey>, Option<KeyCursor>), StoreError>;

    // --- counters
    /// Adds every counter's amount iff each stays within its limit; all or nothing.
    async fn reserve(&self, counters: &[CounterAdd]) -> Result<Reservation, StoreError>;
    /// Gives amounts back (a refund), never below zero.
    async fn release(&self, counters: &[CounterAdd]) -> Result<(), StoreError>;
    /// Current values (0 for counters never written).
    async fn counter_values(&self, pks: &[String]) -> Result<Vec<u64>, StoreError>;

    // --- idempotency
    /// Stores the record unless one exists for its pk; returns the existing one if so.
    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    async fn get_idempotency(&self, pk: &str) -> Result<Option<IdempotencyRecord>, StoreError>;
    async fn delete_idempotency(&self, pk: &str) -> Result<(), StoreError>;

    // --- jobs
    /// Stores a new job; `Conflict` if the id exists.
    async fn create_job(&self, job: &Job) -> Result<(), StoreError>;
    async fn get_job(&self, job_id: &JobId) -> Result<Option<Job>, StoreError>;
    /// Writes `job` iff the stored one matches `expected`; `Conflict` otherwise.
    async fn update_job(&self, job: &Job, expected: Expected) -> Result<(), StoreError>;
    /// Ids of the jobs still queued or running whose deadline is before `now`, earliest first,
    /// `limit` at most.
    async fn overdue_jobs(
        &self,
        now: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError>;
    /// A tenant's jobs that `filter` admits, newest first, `limit` at most, after `cursor`.
    async fn list_jobs(
        &self,
        tenant: &str,
        filter: &JobFilter,
        limit: usize,
        cursor: Option<&JobCursor>,
    ) -> Result<(Vec<Job>, Option<JobCursor>), StoreError>;
    /// Removes a job's record; nothing happens if there is none.
    async fn delete_job(&self, job_id: &JobId) -> Result<(), StoreError>;

    // --- webhooks
    async fn get_signing_secrets(&self, tenant: &str)
    -> Result<Option<SigningSecrets>, StoreError>;
    /// Writes a tenant's secrets iff the stored ones still have `expected_version` (`None`:
    /// iff it has none); `Conflict` otherwise.
    async fn put_signing_secrets(
        &self,
        secrets: &SigningSecrets,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError>;
    /// Records one delivery attempt, kept until `expires_at` (epoch seconds: its job's).
    async fn record_delivery(
        &self,
        attempt: &DeliveryAttempt,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// A job's latest `limit` delivery attempts, oldest first.
    async fn list_deliveries(
        &self,
        job_id: &JobId,
        limit: usize,
    ) -> Result<Vec<DeliveryAttempt>, StoreError>;
    /// Removes every delivery attempt of a job.
    async fn delete_deliveries(&self, job_id: &JobId) -> Result<(), StoreError>;
}

/// Every key in the store, following [`Store::list_keys`]' pages.
pub async fn all_keys(store: &dyn Store) -> Result<Vec<ApiKey>, StoreError> {
    const PAGE: usize = 100;
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = store.list_keys(PAGE, cursor.as_ref()).await?;
        keys.extend(page);
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(keys),
        }
    }
}
