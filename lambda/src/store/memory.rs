//! The embedded store: everything in one mutex-guarded map. Each operation holds the lock for
//! its whole read-check-write, which gives the same atomicity DynamoDB's conditional writes do.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{IdempotencyRecord, JobCursor, JobFilter, KeyCursor, Reservation, Store, StoreError};
use crate::domain::ids::JobId;
use crate::domain::jobs::{Expected, Job};
use crate::domain::keys::ApiKey;
use crate::domain::limits::CounterAdd;
use crate::domain::webhooks::{DeliveryAttempt, SigningSecrets};

#[derive(Debug, Default)]
struct State {
    keys: HashMap<String, ApiKey>,
    counters: HashMap<String, u64>,
    idempotency: HashMap<String, IdempotencyRecord>,
    jobs: HashMap<JobId, Job>,
    /// (tenant, created_sort) -> job id: the by-tenant index.
    by_tenant: BTreeMap<(String, String), JobId>,
    signing_secrets: HashMap<String, SigningSecrets>,
    /// (job id, attempt sort key) -> attempt: a job's attempts in order.
    deliveries: BTreeMap<(JobId, String), DeliveryAttempt>,
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A panic while holding the lock cannot leave a half-applied write: every operation
        // checks before it mutates, so the data is still consistent.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.with(|s| {
            if s.keys.contains_key(&key.key_id) {
                return Err(StoreError::Conflict(format!("key {} exists", key.key_id)));
            }
            s.keys.insert(key.key_id.clone(), key.clone());
            Ok(())
        })
    }

    async fn get_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.with(|s| s.keys.get(key_id).cloned()))
    }

    async fn replace_key(&self, key: &ApiKey, expected_version: u64) -> Result<(), StoreError> {
        self.with(|s| match s.keys.get(&key.key_id) {
            Some(current) if current.version == expected_version => {
                s.keys.insert(key.key_id.clone(), key.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict(format!("key {} changed", key.key_id))),
        })
    }

    async fn list_keys(
        &self,
        limit: usize,
        cursor: Option<&KeyCursor>,
    ) -> Result<(Vec<ApiKey>, Option<KeyCursor>), StoreError> {
        Ok(self.with(|s| {
            // Key id order, so a cursor is simply the last id returned.
            let mut ids: Vec<&String> = s
                .keys
                .keys()
                .filter(|id| cursor.is_none_or(|c| id.as_str() > c.key_id.as_str()))
                .collect();
            ids.sort_unstable();
            let more = ids.len() > limit;
            let page: Vec<ApiKey> = ids
                .into_iter()
                .take(limit)
                .filter_map(|id| s.keys.get(id).cloned())
                .collect();
            let next = match page.last() {
                Some(last) if more => Some(KeyCursor {
                    key_id: last.key_id.clone(),
                }),
                _ => None,
            };
            (page, next)
        }))
    }

    async fn reserve(&self, counters: &[CounterAdd]) -> Result<Reservation, StoreError> {
        Ok(self.with(|s| {
            for (index, c) in counters.iter().enumerate() {
                let current = s.counters.get(&c.pk).copied().unwrap_or(0);
                if current + c.amount > c.limit {
                    return Reservation::Denied { index, current };
                }
            }
            let values = counters
                .iter()
                .map(|c| {
                    let v = s.counters.entry(c.pk.clone()).or_insert(0);
                    *v += c.amount;
                    *v
                })
                .collect();
            Reservation::Granted { values }
        }))
    }

    async fn release(&self, counters: &[CounterAdd]) -> Result<(), StoreError> {
        self.with(|s| {
            for c in counters {
                if let Some(v) = s.counters.get_mut(&c.pk) {
                    *v = v.saturating_sub(c.amount);
                }
            }
        });
        Ok(())
    }

    async fn counter_values(&self, pks: &[String]) -> Result<Vec<u64>, StoreError> {
        Ok(self.with(|s| {
            pks.iter()
                .map(|pk| s.counters.get(pk).copied().unwrap_or(0))
                .collect()
        }))
    }

    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.with(|s| {
            if let Some(existing) = s.idempotency.get(&record.pk) {
                return Some(existing.clone());
            }
            s.idempotency.insert(record.pk.clone(), record.clone());
            None
        }))
    }

    async fn get_idempotency(&self, pk: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.with(|s| s.idempotency.get(pk).cloned()))
    }

    async fn delete_idempotency(&self, pk: &str) -> Result<(), StoreError> {
        self.with(|s| s.idempotency.remove(pk));
        Ok(())
    }

    async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        self.with(|s| {
            if s.jobs.contains_key(&job.job_id) {
                return Err(StoreError::Conflict(format!("job {} exists", job.job_id)));
            }
            s.by_tenant
                .insert((job.tenant.clone(), job.created_sort()), job.job_id.clone());
            s.jobs.insert(job.job_id.clone(), job.clone());
            Ok(())
        })
    }

    async fn get_job(&self, job_id: &JobId) -> Result<Option<Job>, StoreError> {
        Ok(self.with(|s| s.jobs.get(job_id).cloned()))
    }

    async fn update_job(&self, job: &Job, expected: Expected) -> Result<(), StoreError> {
        self.with(|s| match s.jobs.get(&job.job_id) {
            Some(current) if current.expected() == expected => {
                s.jobs.insert(job.job_id.clone(), job.clone());
                Ok(())
            }
            Some(current) => Err(StoreError::Conflict(format!(
                "job {} is {} (attempt {})",
                job.job_id,
                current.status.as_str(),
                current.attempts
            ))),
            None => Err(StoreError::Conflict(format!(
                "job {} does not exist",
                job.job_id
            ))),
        })
    }

    async fn overdue_jobs(
        &self,
        now: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError> {
        // A scan: the embedded store holds one developer's jobs.
        let before = crate::domain::jobs::overdue_before(now);
        Ok(self.with(|s| {
            let mut open: Vec<(String, JobId)> = s
                .jobs
                .values()
                .filter_map(|job| Some((job.open_deadline_sort()?, job.job_id.clone())))
                .filter(|(sort, _)| *sort < before)
                .collect();
            open.sort_by(|a, b| a.0.cmp(&b.0));
            open.into_iter().take(limit).map(|(_, id)| id).collect()
        }))
    }

    async fn list_jobs(
        &self,
        tenant: &str,
        filter: &JobFilter,
        limit: usize,
        cursor: Option<&JobCursor>,
    ) -> Result<(Vec<Job>, Option<JobCursor>), StoreError> {
        let (lower, upper) = filter.sort_range(cursor);
        if lower > upper {
            return Ok((Vec::new(), None));
        }
        Ok(self.with(|s| {
            let page: Vec<Job> = s
                .by_tenant
                .range((tenant.to_owned(), lower)..=(tenant.to_owned(), upper))
                .rev()
                .filter_map(|(_, id)| s.jobs.get(id))
                .filter(|job| filter.matches(job))
                .take(limit + 1)
                .cloned()
                .collect();
            if page.len() > limit {
                let mut page = page;
                page.truncate(limit);
                let next = page.last().map(|j| JobCursor {
                    created_sort: j.created_sort(),
                });
                (page, next)
            } else {
                (page, None)
            }
        }))
    }

    async fn delete_job(&self, job_id: &JobId) -> Result<(), StoreError> {
        self.with(|s| {
            if let Some(job) = s.jobs.remove(job_id) {
                s.by_tenant
                    .remove(&(job.tenant.clone(), job.created_sort()));
            }
        });
        Ok(())
    }

    async fn get_signing_secrets(
        &self,
        tenant: &str,
    ) -> Result<Option<SigningSecrets>, StoreError> {
        Ok(self.with(|s| s.signing_secrets.get(tenant).cloned()))
    }

    async fn put_signing_secrets(
        &self,
        secrets: &SigningSecrets,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.with(|s| {
            let stored = s.signing_secrets.get(&secrets.tenant).map(|k| k.version);
            if stored != expected_version {
                return Err(StoreError::Conflict(format!(
                    "signing secrets of {} changed",
                    secrets.tenant
                )));
            }
            s.signing_secrets
                .insert(secrets.tenant.clone(), secrets.clone());
            Ok(())
        })
    }

    async fn record_delivery(
        &self,
        attempt: &DeliveryAttempt,
        _expires_at: i64,
    ) -> Result<(), StoreError> {
        self.with(|s| {
            s.deliveries.insert(
                (attempt.job_id.clone(), attempt.sort_key()),
                attempt.clone(),
            );
        });
        Ok(())
    }

    async fn list_deliveries(
        &self,
        job_id: &JobId,
        limit: usize,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        Ok(self.with(|s| {
            let mine: Vec<_> = s
                .deliveries
                .range((job_id.clone(), String::new())..)
                .take_while(|((id, _), _)| id == job_id)
                .map(|(_, attempt)| attempt.clone())
                .collect();
            let skip = mine.len().saturating_sub(limit);
            mine.into_iter().skip(skip).collect()
        }))
    }

    async fn delete_deliveries(&self, job_id: &JobId) -> Result<(), StoreError> {
        self.with(|s| s.deliveries.retain(|(id, _), _| id != job_id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn add(pk: &str, amount: u64, limit: u64) -> CounterAdd {
        CounterAdd {
            pk: pk.to_owned(),
            amount,
            limit,
            expires_at: 0,
        }
    }

    #[tokio::test]
    async fn every_key_is_listed_once_across_pages() {
        use crate::domain::keys::{KeyLimits, Scope, issue};
        let store = MemoryStore::new();
        let now = time::OffsetDateTime::now_utc();
        let mut created: Vec<String> = Vec::new();
        for tenant in ["a", "b", "c", "d", "e"] {
            let (key, _) = issue(
                tenant,
                vec![Scope::JobsRead],
                KeyLimits::default(),
                None,
                now,
            );
            store.create_key(&key).await.unwrap();
            created.push(key.key_id);
        }
        let (first, cursor) = store.list_keys(2, None).await.unwrap();
        assert_eq!(first.len(), 2);
        assert!(cursor.is_some());
        let mut listed: Vec<String> = super::super::all_keys(&store)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.key_id)
            .collect();
        listed.sort();
        created.sort();
        assert_eq!(listed, created);
        let (all, none) = store.list_keys(5, None).await.unwrap();
        assert_eq!((all.len(), none), (5, None));
    }

    #[tokio::test]
    async fn reservations_are_all_or_nothing() {
        let store = MemoryStore::new();
        let both = [add("day", 2, 3), add("month", 2, 10)];
        assert_eq!(
            store.reserve(&both).await.unwrap(),
            Reservation::Granted { values: vec![2, 2] }
        );
        assert_eq!(
            store.reserve(&both).await.unwrap(),
            Reservation::Denied {
                index: 0,
                current: 2
            }
        );
        // The denied reservation left the month counter alone.
        assert_eq!(store.counter_values(&["month".into()]).await.unwrap(), [2]);
        store.release(&both).await.unwrap();
        assert_eq!(
            store
                .counter_values(&["day".into(), "month".into()])
                .await
                .unwrap(),
            [0, 0]
        );
    }

    #[tokio::test]
    async fn concurrent_reservations_never_pass_the_limit() {
        let store = Arc::new(MemoryStore::new());
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.reserve(&[add("quota", 1, 25)]).await.unwrap() })
            })
            .collect();
        let mut granted = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), Reservation::Granted { .. }) {
                granted += 1;
            }
        }
        assert_eq!(granted, 25);
    }
}
