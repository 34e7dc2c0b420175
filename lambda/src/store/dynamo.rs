//! The DynamoDB store, on the tables of [`super::layout`]. Every state change is a conditional
//! write, so concurrent Lambdas and redelivered messages cannot overshoot a limit, admit a key
//! twice or finish a job twice. Records are kept whole as JSON in `record`; the key and
//! condition attributes sit beside it.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use futures_util::future::join_all;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::layout::{self, API_KEYS, COUNTERS, IDEMPOTENCY, JOBS, WEBHOOKS};
use super::{IdempotencyRecord, JobCursor, JobFilter, KeyCursor, Reservation, Store, StoreError};
use crate::domain::ids::JobId;
use crate::domain::jobs::{Expected, Job};
use crate::domain::keys::ApiKey;
use crate::domain::limits::CounterAdd;
use crate::domain::webhooks::{DeliveryAttempt, SigningSecrets};

/// Rows one filtered list query reads at a time (DynamoDB applies `Limit` before the filter).
const FILTERED_READ: usize = 200;
/// Rows one filtered list request reads at most before it answers with what it found and a
/// cursor: a rare status among many jobs must not cost one request the whole partition.
const MAX_EXAMINED: usize = 2_000;

/// The deployed table names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub jobs: String,
    pub api_keys: String,
    pub counters: String,
    pub idempotency: String,
    pub webhooks: String,
}

impl TableNames {
    /// `<prefix>-<suffix>` for every table of the layout.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            jobs: format!("{prefix}-{}", JOBS.suffix),
            api_keys: format!("{prefix}-{}", API_KEYS.suffix),
            counters: format!("{prefix}-{}", COUNTERS.suffix),
            idempotency: format!("{prefix}-{}", IDEMPOTENCY.suffix),
            webhooks: format!("{prefix}-{}", WEBHOOKS.suffix),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
}

const RECORD: &str = "record";
const COUNT: &str = "n";
const BY_TENANT: &str = "by_tenant";
const OPEN_BY_DEADLINE: &str = "open_by_deadline";

/// The webhooks table's partition of a tenant's secrets and of a job's delivery attempts.
fn secrets_pk(tenant: &str) -> String {
    format!("tenant#{tenant}")
}
const SECRETS_SK: &str = "secret";
fn deliveries_pk(job_id: &JobId) -> String {
    format!("job#{job_id}")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn unavailable<E: std::error::Error + 'static>(
    e: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError {
    StoreError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

fn is_condition_failure<
    E: std::error::Error + 'static + aws_sdk_dynamodb::error::ProvideErrorMetadata,
>(
    e: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

fn encode<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(value)
        .map(AttributeValue::S)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode<T: DeserializeOwned>(item: &HashMap<String, AttributeValue>) -> Result<T, StoreError> {
    let raw = item
        .get(RECORD)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt("item has no record attribute".into()))?;
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn number(item: Option<&HashMap<String, AttributeValue>>, name: &str) -> u64 {
    item.and_then(|i| i.get(name))
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl DynamoStore {
    pub fn new(client: Client, tables: TableNames) -> Self {
        Self { client, tables }
    }

    fn job_item(job: &Job) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let mut item = HashMap::from([
            (JOBS.hash_key.to_owned(), s(job.job_id.as_str())),
            ("tenant".to_owned(), s(&job.tenant)),
            ("created_sort".to_owned(), s(job.created_sort())),
            ("status".to_owned(), s(job.status.as_str())),
            ("attempts".to_owned(), n(job.attempts)),
            (
                "cancel_requested".to_owned(),
                AttributeValue::Bool(job.cancel_requested),
            ),
            ("expires_at".to_owned(), n(job.expires_at)),
            (RECORD.to_owned(), encode(job)?),
        ]);
        if let Some(sort) = job.open_deadline_sort() {
            item.insert("open".to_owned(), s(layout::OPEN));
            item.insert("deadline_sort".to_owned(), s(sort));
        }
        Ok(item)
    }

    fn key_item(key: &ApiKey) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let mut item = HashMap::from([
            (API_KEYS.hash_key.to_owned(), s(&key.key_id)),
            ("tenant".to_owned(), s(&key.tenant)),
            ("version".to_owned(), n(key.version)),
            (RECORD.to_owned(), encode(key)?),
        ]);
        // Expired keys linger a month (so callers hear "expired", not "unknown"), then go.
        if let Some(expires) = key.expires_at {
            item.insert(
                "expires_at".into(),
                n((expires + time::Duration::days(30)).unix_timestamp()),
            );
        }
        Ok(item)
    }

    /// The record under `key` in `table`, read strongly consistent; `None` if there is none.
    async fn get_record<T: DeserializeOwned, const N: usize>(
        &self,
        table: &str,
        key: [(&str, AttributeValue); N],
    ) -> Result<Option<T>, StoreError> {
        let key = key.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item().map(decode).transpose()
    }

    /// One counter: add iff it stays within its limit; the new value, or the current one.
    async fn add_one(&self, c: &CounterAdd) -> Result<Result<u64, u64>, StoreError> {
        let Some(ceiling) = c.limit.checked_sub(c.amount) else {
            return Ok(Err(0));
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.counters)
            .key(COUNTERS.hash_key, s(&c.pk))
            .update_expression("ADD #n :amount SET #exp = if_not_exists(#exp, :exp)")
            .condition_expression("attribute_not_exists(#n) OR #n <= :ceiling")
            .expression_attribute_names("#n", COUNT)
            .expression_attribute_names("#exp", "expires_at")
            .expression_attribute_values(":amount", n(c.amount))
            .expression_attribute_values(":ceiling", n(ceiling))
            .expression_attribute_values(":exp", n(c.expires_at))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Ok(number(out.attributes(), COUNT))),
            Err(e) if is_condition_failure(&e) => {
                let current = e
                    .as_service_error()
                    .and_then(|se| match se {
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
                            c.item().map(|i| number(Some(i), COUNT))
                        }
                        _ => None,
                    })
                    .unwrap_or(c.limit);
                Ok(Err(current))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn subtract(&self, c: &CounterAdd) -> Result<(), StoreError> {
        // Never below zero: the condition skips counters already smaller than the refund.
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.counters)
            .key(COUNTERS.hash_key, s(&c.pk))
            .update_expression("ADD #n :neg")
            .condition_expression("#n >= :amount")
            .expression_attribute_names("#n", COUNT)
            .expression_attribute_values(":neg", AttributeValue::N(format!("-{}", c.amount)))
            .expression_attribute_values(":amount", n(c.amount))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.api_keys)
            .set_item(Some(Self::key_item(key)?))
            .condition_expression("attribute_not_exists(key_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => {
                Err(StoreError::Conflict(format!("key {} exists", key.key_id)))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        let key = [(API_KEYS.hash_key, s(key_id))];
        self.get_record(&self.tables.api_keys, key).await
    }

    async fn replace_key(&self, key: &ApiKey, expected_version: u64) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.api_keys)
            .set_item(Some(Self::key_item(key)?))
            .condition_expression("#v = :expected")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":expected", n(expected_version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => {
                Err(StoreError::Conflict(format!("key {} changed", key.key_id)))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// A paginated, strongly consistent Scan: operators list keys rarely and there are few, so
    /// no index is kept for it. Every page decodes whole records; none is printed as is.
    async fn list_keys(
        &self,
        limit: usize,
        cursor: Option<&KeyCursor>,
    ) -> Result<(Vec<ApiKey>, Option<KeyCursor>), StoreError> {
        let limit = i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
        let out = self
            .client
            .scan()
            .table_name(&self.tables.api_keys)
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(
                cursor.map(|c| HashMap::from([(API_KEYS.hash_key.to_owned(), s(&c.key_id))])),
            )
            .send()
            .await
            .map_err(unavailable)?;
        let keys = out
            .items()
            .iter()
            .map(decode)
            .collect::<Result<Vec<ApiKey>, _>>()?;
        let next = out
            .last_evaluated_key()
            .and_then(|k| k.get(API_KEYS.hash_key))
            .and_then(|v| v.as_s().ok())
            .map(|key_id| KeyCursor {
                key_id: key_id.clone(),
            });
        Ok((keys, next))
    }

    /// Each counter is one conditional `ADD`, all sent at once; if any is refused, the ones
    /// that passed are given back. A counter can never exceed its limit; a refused request may
    /// briefly hold capacity it then returns (it errs on the side of refusing).
    async fn reserve(&self, counters: &[CounterAdd]) -> Result<Reservation, StoreError> {
        let results = join_all(counters.iter().map(|c| self.add_one(c))).await;
        let mut values = Vec::with_capacity(counters.len());
        let mut denied = None;
        let mut failure = None;
        let mut granted = Vec::new();
        for (index, result) in results.into_iter().enumerate() {
            match result {
                Ok(Ok(value)) => {
                    values.push(value);
                    granted.push(counters[index].clone());
                }
                Ok(Err(current)) => {
                    denied.get_or_insert((index, current));
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if denied.is_some() || failure.is_some() {
            self.release(&granted).await?;
        }
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(match denied {
            Some((index, current)) => Reservation::Denied { index, current },
            None => Reservation::Granted { values },
        })
    }

    async fn release(&self, counters: &[CounterAdd]) -> Result<(), StoreError> {
        for result in join_all(counters.iter().map(|c| self.subtract(c))).await {
            result?;
        }
        Ok(())
    }

    async fn counter_values(&self, pks: &[String]) -> Result<Vec<u64>, StoreError> {
        let reads = pks.iter().map(|pk| {
            self.client
                .get_item()
                .table_name(&self.tables.counters)
                .key(COUNTERS.hash_key, s(pk))
                .consistent_read(true)
                .send()
        });
        join_all(reads)
            .await
            .into_iter()
            .map(|r| r.map(|out| number(out.item(), COUNT)).map_err(unavailable))
            .collect()
    }

    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.idempotency)
            .item(IDEMPOTENCY.hash_key, s(&record.pk))
            .item("expires_at", n(record.expires_at))
            .item(RECORD, encode(record)?)
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(e) if is_condition_failure(&e) => {
                // The record that won comes back with the refusal (ALL_OLD): no second read.
                let existing = match e.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(c)) => {
                        c.item().map(decode).transpose()?
                    }
                    _ => None,
                };
                match existing {
                    Some(record) => Ok(Some(record)),
                    None => self.get_idempotency(&record.pk).await,
                }
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_idempotency(&self, pk: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let key = [(IDEMPOTENCY.hash_key, s(pk))];
        self.get_record(&self.tables.idempotency, key).await
    }

    async fn delete_idempotency(&self, pk: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.idempotency)
            .key(IDEMPOTENCY.hash_key, s(pk))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.jobs)
            .set_item(Some(Self::job_item(job)?))
            .condition_expression("attribute_not_exists(job_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => {
                Err(StoreError::Conflict(format!("job {} exists", job.job_id)))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_job(&self, job_id: &JobId) -> Result<Option<Job>, StoreError> {
        let key = [(JOBS.hash_key, s(job_id.as_str()))];
        self.get_record(&self.tables.jobs, key).await
    }

    async fn update_job(&self, job: &Job, expected: Expected) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.jobs)
            .set_item(Some(Self::job_item(job)?))
            // Records written before cancels have no flag: absent reads as not requested.
            .condition_expression(if expected.cancel_requested {
                "#s = :status AND attempts = :attempts AND cancel_requested = :cancel"
            } else {
                "#s = :status AND attempts = :attempts AND \
                 (attribute_not_exists(cancel_requested) OR cancel_requested = :cancel)"
            })
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":status", s(expected.status.as_str()))
            .expression_attribute_values(":attempts", n(expected.attempts))
            .expression_attribute_values(":cancel", AttributeValue::Bool(expected.cancel_requested))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::Conflict(format!(
                "job {} is no longer {} at attempt {}",
                job.job_id,
                expected.status.as_str(),
                expected.attempts
            ))),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn overdue_jobs(
        &self,
        now: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.jobs)
            .index_name(OPEN_BY_DEADLINE)
            .key_condition_expression("#open = :o AND deadline_sort < :d")
            .expression_attribute_names("#open", "open")
            .expression_attribute_values(":o", s(layout::OPEN))
            .expression_attribute_values(":d", s(crate::domain::jobs::overdue_before(now)))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        // One unreadable row must not stop the janitor: log it and go on.
        Ok(out
            .items()
            .iter()
            .filter_map(|item| {
                let id = item
                    .get(JOBS.hash_key)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|s| JobId::parse(s));
                if id.is_none() {
                    tracing::error!(item = ?item.keys().collect::<Vec<_>>(), "an open job without a readable id");
                }
                id
            })
            .collect())
    }

    async fn list_jobs(
        &self,
        tenant: &str,
        filter: &JobFilter,
        limit: usize,
        cursor: Option<&JobCursor>,
    ) -> Result<(Vec<Job>, Option<JobCursor>), StoreError> {
        // The creation range and the cursor are bounds on the index's sort key; the status is
        // a filter, so a query reads past rows it does not return: with one, pages are read
        // large, until there is a page and one more job, the range ends, or MAX_EXAMINED rows
        // were read (then the page may be short, and the cursor is where reading stopped).
        let (lower, upper) = filter.sort_range(cursor);
        if lower > upper {
            return Ok((Vec::new(), None));
        }
        let read = if filter.status.is_some() {
            FILTERED_READ.max(limit + 1)
        } else {
            limit + 1
        };
        let mut jobs: Vec<Job> = Vec::new();
        let mut start = None;
        let mut examined = 0;
        let mut stopped_at = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.tables.jobs)
                .index_name(BY_TENANT)
                .scan_index_forward(false)
                .limit(i32::try_from(read).unwrap_or(i32::MAX))
                .key_condition_expression("tenant = :t AND created_sort BETWEEN :lo AND :hi")
                .expression_attribute_values(":t", s(tenant))
                .expression_attribute_values(":lo", s(&lower))
                .expression_attribute_values(":hi", s(&upper))
                .set_exclusive_start_key(start.take());
            if let Some(status) = filter.status {
                query = query
                    .filter_expression("#s = :status")
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_values(":status", s(status.as_str()));
            }
            let out = query.send().await.map_err(unavailable)?;
            for item in out.items() {
                jobs.push(decode::<Job>(item)?);
            }
            examined += usize::try_from(out.scanned_count()).unwrap_or(0);
            match out.last_evaluated_key() {
                Some(key) if jobs.len() <= limit && examined >= MAX_EXAMINED => {
                    stopped_at = key.get("created_sort").and_then(|v| v.as_s().ok()).cloned();
                    break;
                }
                Some(key) if jobs.len() <= limit => start = Some(key.clone()),
                _ => break,
            }
        }
        let next = if jobs.len() > limit {
            jobs.truncate(limit);
            jobs.last().map(|j| JobCursor {
                created_sort: j.created_sort(),
            })
        } else {
            stopped_at.map(|created_sort| JobCursor { created_sort })
        };
        Ok((jobs, next))
    }

    async fn delete_job(&self, job_id: &JobId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.jobs)
            .key(JOBS.hash_key, s(job_id.as_str()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_signing_secrets(
        &self,
        tenant: &str,
    ) -> Result<Option<SigningSecrets>, StoreError> {
        let key = [
            (WEBHOOKS.hash_key, s(secrets_pk(tenant))),
            (webhooks_sk(), s(SECRETS_SK)),
        ];
        self.get_record(&self.tables.webhooks, key).await
    }

    async fn put_signing_secrets(
        &self,
        secrets: &SigningSecrets,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.tables.webhooks)
            .item(WEBHOOKS.hash_key, s(secrets_pk(&secrets.tenant)))
            .item(webhooks_sk(), s(SECRETS_SK))
            .item("version", n(secrets.version))
            .item(RECORD, encode(secrets)?);
        let put = match expected_version {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(version) => put
                .condition_expression("#v = :expected")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":expected", n(version)),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::Conflict(format!(
                "signing secrets of {} changed",
                secrets.tenant
            ))),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn record_delivery(
        &self,
        attempt: &DeliveryAttempt,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.webhooks)
            .item(WEBHOOKS.hash_key, s(deliveries_pk(&attempt.job_id)))
            .item(webhooks_sk(), s(attempt.sort_key()))
            .item("expires_at", n(expires_at))
            .item(RECORD, encode(attempt)?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_deliveries(
        &self,
        job_id: &JobId,
        limit: usize,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let limit = i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
        // Newest first, then put in order: the latest `limit` of them.
        let out = self
            .client
            .query()
            .table_name(&self.tables.webhooks)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", WEBHOOKS.hash_key)
            .expression_attribute_values(":pk", s(deliveries_pk(job_id)))
            .scan_index_forward(false)
            .limit(limit)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let mut attempts = out
            .items()
            .iter()
            .map(decode)
            .collect::<Result<Vec<DeliveryAttempt>, _>>()?;
        attempts.reverse();
        Ok(attempts)
    }

    async fn delete_deliveries(&self, job_id: &JobId) -> Result<(), StoreError> {
        let sk = webhooks_sk();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.tables.webhooks)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", WEBHOOKS.hash_key)
                .expression_attribute_names("#sk", sk)
                .expression_attribute_values(":pk", s(deliveries_pk(job_id)))
                .projection_expression("#pk, #sk")
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            // A job has a handful of attempts: one DeleteItem each keeps the IAM to one action.
            let deletes = out.items().iter().map(|item| {
                self.client
                    .delete_item()
                    .table_name(&self.tables.webhooks)
                    .set_key(Some(item.clone()))
                    .send()
            });
            for result in join_all(deletes).await {
                result.map_err(unavailable)?;
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(()),
            }
        }
    }
}

/// The webhooks table's sort key.
fn webhooks_sk() -> &'static str {
    WEBHOOKS.range_key.unwrap_or("sk")
}
