//! The DynamoDB store on the tables of `imagegen::store::layout`.

use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use futures_util::future::join_all;
use imagegen::domain::ids::JobId;
use imagegen::domain::jobs::{Job, JobFailure, JobParams, JobStatus};
use imagegen::domain::keys::{KeyLimits, Scope, issue};
use imagegen::domain::limits::CounterAdd;
use imagegen::store::layout::TABLES;
use imagegen::store::{IdempotencyRecord, JobFilter, Reservation, Store, StoreError, all_keys};
use imagegen_tests::aws::TestEnv;
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    // DynamoDB keeps what we write; microseconds keep the by-tenant sort key exact.
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.microsecond() * 1_000).unwrap()
}

fn job(tenant: &str, created_at: OffsetDateTime) -> Job {
    Job {
        job_id: JobId::generate(),
        tenant: tenant.to_owned(),
        key_id: Some("0123456789ab".into()),
        status: JobStatus::Queued,
        prompt_sha256: "00".repeat(32),
        params: JobParams {
            prompt: "a lighthouse at dusk".into(),
            aspect_ratio: Some("16:9".into()),
            count: 2,
            reference_keys: Vec::new(),
            output_format: None,
            quality: None,
            image_size: None,
        },
        attempts: 0,
        images: Vec::new(),
        outcomes: Vec::new(),
        error: None,
        quota_counters: vec![format!("img#tenant#{tenant}#d")],
        refusal_counter: None,
        reserved_images: 2,
        refunded_images: 0,
        refused_images: 0,
        created_at,
        updated_at: created_at,
        expires_at: (created_at + Duration::days(30)).unix_timestamp(),
        deadline_at: (created_at + Duration::hours(1)).unix_timestamp(),
        cancel_at: 0,
        cancel_requested: false,
        idempotency_pk: None,
        usage: Default::default(),
        webhook: None,
        webhook_pending: false,
    }
}

/// The janitor's query: open jobs past their deadline, through the sparse index, and never a
/// finished one (its record no longer carries the index keys).
#[tokio::test]
async fn overdue_jobs_are_the_open_ones_past_their_deadline() {
    let env = TestEnv::new().await.unwrap();
    let store = &env.app.store;
    let now = now();
    let mut overdue = job("acme", now - Duration::hours(3));
    overdue.deadline_at = (now - Duration::minutes(5)).unix_timestamp();
    let mut running = job("acme", now - Duration::hours(2));
    running.deadline_at = (now - Duration::minutes(1)).unix_timestamp();
    let fresh = job("acme", now);
    let mut finished = job("acme", now - Duration::hours(4));
    finished.deadline_at = (now - Duration::hours(3)).unix_timestamp();
    for j in [&overdue, &running, &fresh, &finished] {
        store.create_job(j).await.unwrap();
    }
    let claimed = running.claimed(now);
    store
        .update_job(&claimed, running.expected())
        .await
        .unwrap();
    let done = finished.failed(
        JobFailure {
            code: "internal".into(),
            message: "x".into(),
        },
        now,
    );
    store.update_job(&done, finished.expected()).await.unwrap();

    let found: Vec<_> = store
        .overdue_jobs(now, 10)
        .await
        .unwrap()
        .into_iter()
        .collect();
    // Earliest deadline first.
    assert_eq!(found, [overdue.job_id.clone(), running.job_id.clone()]);
    assert_eq!(store.overdue_jobs(now, 1).await.unwrap().len(), 1);
    assert!(
        store
            .overdue_jobs(now - Duration::hours(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

fn counter(pk: &str, amount: u64, limit: u64) -> CounterAdd {
    CounterAdd {
        pk: pk.to_owned(),
        amount,
        limit,
        expires_at: (OffsetDateTime::now_utc() + Duration::days(2)).unix_timestamp(),
    }
}

#[tokio::test]
async fn the_tables_follow_the_layout_with_ttl_on() {
    let env = TestEnv::new().await.unwrap();
    let dynamodb = &env.clients.dynamodb;
    for (table, name) in TABLES.iter().zip([
        &env.resources.tables.jobs,
        &env.resources.tables.api_keys,
        &env.resources.tables.counters,
        &env.resources.tables.idempotency,
    ]) {
        let ttl = dynamodb
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .unwrap();
        let ttl = ttl.time_to_live_description().unwrap();
        assert_eq!(ttl.attribute_name(), table.ttl_attribute, "{name}");
        assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    }
}

#[tokio::test]
async fn api_keys_are_created_read_and_replaced_only_at_the_expected_version() {
    let env = TestEnv::new().await.unwrap();
    let store = &env.app.store;
    let now = now();
    let (key, _) = issue(
        "acme",
        vec![Scope::JobsRead, Scope::ImagesWrite],
        KeyLimits {
            daily_quota: Some(7),
            ..KeyLimits::default()
        },
        Some(now + Duration::days(1)),
        now,
    );
    store.create_key(&key).await.unwrap();
    assert!(matches!(
        store.create_key(&key).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_key(&key.key_id).await.unwrap(), Some(key.clone()));
    assert_eq!(store.get_key("0123456789ab").await.unwrap(), None);

    // The TTL attribute: expired keys linger 30 days, then DynamoDB deletes them.
    let item = env
        .clients
        .dynamodb
        .get_item()
        .table_name(&env.resources.tables.api_keys)
        .key("key_id", AttributeValue::S(key.key_id.clone()))
        .send()
        .await
        .unwrap();
    let expires = item.item().unwrap()["expires_at"].as_n().unwrap().clone();
    assert_eq!(
        expires,
        (now + Duration::days(31)).unix_timestamp().to_string()
    );

    let (rotated, _) = key.rotated(now, Duration::hours(1));
    assert_eq!(rotated.version, 2);
    store.replace_key(&rotated, 1).await.unwrap();
    // A writer that read version 1 before the rotation loses.
    let stale = key.revoked(now);
    assert!(matches!(
        store.replace_key(&stale, 1).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_key(&key.key_id).await.unwrap(), Some(rotated));
}

#[tokio::test]
async fn every_key_is_listed_once_across_scan_pages() {
    let env = TestEnv::new().await.unwrap();
    let store = &env.app.store;
    let mut created = Vec::new();
    for tenant in ["a", "b", "c", "d", "e"] {
        let (key, _) = issue(
            tenant,
            vec![Scope::JobsRead],
            KeyLimits::default(),
            None,
            now(),
        );
        store.create_key(&key).await.unwrap();
        created.push(key);
    }
    let mut listed = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let (page, next) = store.list_keys(2, cursor.as_ref()).await.unwrap();
        assert!(page.len() <= 2);
        listed.extend(page);
        pages += 1;
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(pages >= 3, "{pages} pages");
    listed.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    created.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    assert_eq!(listed, created);
    assert_eq!(all_keys(&**store).await.unwrap().len(), 5);
}

#[tokio::test]
async fn jobs_are_written_conditionally_and_listed_newest_first_across_pages() {
    let env = TestEnv::new().await.unwrap();
    let store = &env.app.store;
    let t0 = now() - Duration::minutes(10);
    let jobs: Vec<Job> = (0..5)
        .map(|i| job("acme", t0 + Duration::seconds(i)))
        .collect();
    for j in &jobs {
        store.create_job(j).await.unwrap();
    }
    store.create_job(&job("other", t0)).await.unwrap();
    assert!(matches!(
        store.create_job(&jobs[0]).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.get_job(&jobs[0].job_id).await.unwrap(),
        Some(jobs[0].clone())
    );
    assert_eq!(store.get_job(&JobId::generate()).await.unwrap(), None);

    // queued -> running, conditional on what was read.
    let claimed = jobs[0].claimed(now());
    store
        .update_job(&claimed, jobs[0].expected())
        .await
        .unwrap();
    assert_eq!(
        store.get_job(&jobs[0].job_id).await.unwrap(),
        Some(claimed.clone())
    );
    // A second worker holding the stale (queued, 0) view cannot claim it again.
    let again = jobs[0].claimed(now());
    assert!(matches!(
        store.update_job(&again, jobs[0].expected()).await,
        Err(StoreError::Conflict(_))
    ));
    let newest_first: Vec<JobId> = jobs.iter().rev().map(|j| j.job_id.clone()).collect();

    // Pages of 2: 2 + 2 + 1, each after the cursor of the one before.
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let (page, next) = store
            .list_jobs("acme", &JobFilter::default(), 2, cursor.as_ref())
            .await
            .unwrap();
        pages += 1;
        assert!(page.len() <= 2);
        seen.extend(page.into_iter().map(|j| j.job_id));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, newest_first);

    // A page that holds everything has no next cursor.
    let (all, next) = store
        .list_jobs("acme", &JobFilter::default(), 5, None)
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(next, None);
    assert_eq!(all[4], claimed, "the listed job is the stored record");
    let (other, _) = store
        .list_jobs("other", &JobFilter::default(), 10, None)
        .await
        .unwrap();
    assert_eq!(other.len(), 1);

    // A status and a creation range: the status filter reads past the rows it drops, and
    // pages of 1 still end after the last match.
    let running = JobFilter {
        status: Some(JobStatus::Running),
        ..JobFilter::default()
    };
    let (page, next) = store.list_jobs("acme", &running, 1, None).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0], claimed);
    assert_eq!(next, None);
    let middle = JobFilter {
        created_after: Some(t0 + Duration::seconds(1)),
        created_before: Some(t0 + Duration::seconds(3)),
        ..JobFilter::default()
    };
    let (first, next) = store.list_jobs("acme", &middle, 1, None).await.unwrap();
    let (second, last) = store
        .list_jobs("acme", &middle, 1, next.as_ref())
        .await
        .unwrap();
    assert_eq!(
        [first[0].job_id.clone(), second[0].job_id.clone()],
        [jobs[2].job_id.clone(), jobs[1].job_id.clone()],
        "after (inclusive) and before (exclusive), newest first"
    );
    assert_eq!(last, None);
    let empty = JobFilter {
        created_after: Some(t0 + Duration::seconds(3)),
        created_before: Some(t0),
        ..JobFilter::default()
    };
    assert_eq!(
        store.list_jobs("acme", &empty, 5, None).await.unwrap().0,
        []
    );

    // A cancel asked while a worker holds the job: the worker's write, from what it read
    // before, no longer matches.
    let mut asked = claimed.clone();
    asked.cancel_requested = true;
    store.update_job(&asked, claimed.expected()).await.unwrap();
    let stale = claimed.requeued(claimed.outcomes.clone(), now());
    assert!(matches!(
        store.update_job(&stale, claimed.expected()).await,
        Err(StoreError::Conflict(_))
    ));
    let ended = asked.canceled(
        asked.outcomes.clone(),
        imagegen::domain::jobs::CancelReason::Requested,
        now(),
    );
    store.update_job(&ended, asked.expected()).await.unwrap();
    assert_eq!(
        store
            .get_job(&jobs[0].job_id)
            .await
            .unwrap()
            .map(|j| j.status),
        Some(JobStatus::Canceled)
    );

    // Deleted, the job is gone from reads and lists; deleting again changes nothing.
    store.delete_job(&jobs[0].job_id).await.unwrap();
    store.delete_job(&jobs[0].job_id).await.unwrap();
    assert_eq!(store.get_job(&jobs[0].job_id).await.unwrap(), None);
    let (all, _) = store
        .list_jobs("acme", &JobFilter::default(), 10, None)
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
}

#[tokio::test]
async fn an_idempotency_claim_returns_the_record_that_won() {
    let env = TestEnv::new().await.unwrap();
    let store = &env.app.store;
    let expires_at = (OffsetDateTime::now_utc() + Duration::hours(24)).unix_timestamp();
    let first = IdempotencyRecord {
        pk: "acme#order-1".into(),
        job_id: JobId::generate(),
        request_sha256: "a".repeat(64),
        expires_at,
    };
    let second = IdempotencyRecord {
        job_id: JobId::generate(),
        request_sha256: "b".repeat(64),
        ..first.clone()
    };
    assert_eq!(store.claim_idempotency(&first).await.unwrap(), None);
    env.calls.take();
    assert_eq!(
        store.claim_idempotency(&second).await.unwrap(),
        Some(first.clone())
    );
    // The refusal carries the winner (ReturnValuesOnConditionCheckFailure): one call.
    let calls = env.calls.take();
    assert_eq!(calls.total(), 1, "{calls}");
    assert_eq!(
        store.get_idempotency(&first.pk).await.unwrap(),
        Some(first.clone())
    );
    store.delete_idempotency(&first.pk).await.unwrap();
    assert_eq!(store.get_idempotency(&first.pk).await.unwrap(), None);
    assert_eq!(store.claim_idempotency(&second).await.unwrap(), None);
}

#[tokio::test]
async fn counters_reserve_all_or_nothing_and_release_never_below_zero() {
    let env = TestEnv::new().await.unwrap();
    let store = &env.app.store;
    let day = "img#tenant#acme#2026-11-26";
    let month = "img#tenant#acme#2026-11";

    assert_eq!(
        store.reserve(&[counter(day, 3, 10)]).await.unwrap(),
        Reservation::Granted { values: vec![3] }
    );
    assert_eq!(
        store.reserve(&[counter(day, 8, 10)]).await.unwrap(),
        Reservation::Denied {
            index: 0,
            current: 3
        }
    );
    assert_eq!(
        store
            .reserve(&[counter(day, 2, 10), counter(month, 2, 5)])
            .await
            .unwrap(),
        Reservation::Granted { values: vec![5, 2] }
    );
    // Denied on the second counter: the first is left as it was.
    assert_eq!(
        store
            .reserve(&[counter(day, 1, 10), counter(month, 4, 5)])
            .await
            .unwrap(),
        Reservation::Denied {
            index: 1,
            current: 2
        }
    );
    let pks = [
        day.to_owned(),
        month.to_owned(),
        "img#never-written".to_owned(),
    ];
    assert_eq!(store.counter_values(&pks).await.unwrap(), [5, 2, 0]);
    // An amount above the limit is refused without a write.
    assert!(matches!(
        store.reserve(&[counter(day, 11, 10)]).await.unwrap(),
        Reservation::Denied { index: 0, .. }
    ));

    store.release(&[counter(day, 5, 10)]).await.unwrap();
    // A refund larger than the counter is skipped, not taken below zero.
    store.release(&[counter(month, 10, 5)]).await.unwrap();
    assert_eq!(store.counter_values(&pks).await.unwrap(), [0, 2, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_reservations_against_a_cap_of_25_admit_exactly_25() {
    let env = TestEnv::new().await.unwrap();
    let store: Arc<dyn Store> = env.app.store.clone();
    let pk = "img#global#2026-11-26";
    let results = join_all((0..200).map(|_| {
        let store = store.clone();
        // Each on its own task, so they really race.
        tokio::spawn(async move { store.reserve(&[counter(pk, 1, 25)]).await })
    }))
    .await;
    let mut granted = 0;
    let mut denied = 0;
    for result in results {
        match result.unwrap().unwrap() {
            Reservation::Granted { values } => {
                assert!(values[0] <= 25, "a counter passed its cap: {values:?}");
                granted += 1;
            }
            Reservation::Denied { .. } => denied += 1,
        }
    }
    assert_eq!((granted, denied), (25, 175));
    assert_eq!(store.counter_values(&[pk.to_owned()]).await.unwrap(), [25]);
}
