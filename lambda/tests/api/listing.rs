//! `GET /v1/jobs`: newest first, paging without duplicates or gaps, and tenant isolation.

use std::collections::BTreeSet;

use serde_json::json;

use crate::common::*;

/// Pages through the caller's jobs `limit` at a time; returns the ids in order and the page sizes.
async fn all_pages(h: &Harness, key: &Key, limit: usize) -> (Vec<String>, Vec<usize>) {
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/jobs?limit={limit}&cursor={c}"),
            None => format!("/v1/jobs?limit={limit}"),
        };
        let res = h.call("GET", &path, Some(&key.key), None).await;
        res.assert_status(200);
        let page = res.json["jobs"].as_array().unwrap();
        sizes.push(page.len());
        ids.extend(
            page.iter()
                .map(|j| j["job_id"].as_str().unwrap().to_owned()),
        );
        match res.json["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (ids, sizes),
        }
        assert!(sizes.len() < 100, "paging does not end");
    }
}

#[tokio::test]
async fn newest_first_with_pages_that_neither_repeat_nor_skip() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let mut created = Vec::new();
    for n in 0..7 {
        created.push(h.submit(&key, &format!("prompt {n}")).await);
        h.advance(time::Duration::seconds(1));
    }
    // A few created in the same instant: ties are still ordered and still paged exactly.
    for n in 7..11 {
        created.push(h.submit(&key, &format!("prompt {n}")).await);
    }

    let res = h.call("GET", "/v1/jobs", Some(&key.key), None).await;
    res.assert_status(200);
    let jobs = res.json["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 11, "default limit 20 holds all");
    assert!(res.json["next_cursor"].is_null());
    let first_page: Vec<String> = jobs
        .iter()
        .map(|j| j["job_id"].as_str().unwrap().to_owned())
        .collect();
    // Distinct creation times come newest first.
    let timed: Vec<&String> = first_page
        .iter()
        .filter(|id| created[..7].contains(id))
        .collect();
    let expected: Vec<&String> = created[..7].iter().rev().collect();
    assert_eq!(timed, expected);
    // The same-instant batch is newer than all of them.
    assert!(first_page[..4].iter().all(|id| created[7..].contains(id)));
    // Each entry is a full job view.
    for job in jobs {
        assert_eq!(job["status"], "queued");
        assert!(job["created_at"].is_string() && job["links"]["self"].is_string());
    }

    for limit in [1, 2, 3, 4, 10, 11, 100] {
        let (ids, sizes) = all_pages(&h, &key, limit).await;
        assert_eq!(ids, first_page, "limit {limit}");
        assert!(sizes.iter().all(|&s| s <= limit));
        let unique: BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "limit {limit}: duplicates");
        if limit < 11 {
            assert_eq!(sizes[0], limit);
        }
    }
    // Jobs created while paging appear at the front, never inside a page already read.
    let res = h
        .call("GET", "/v1/jobs?limit=3", Some(&key.key), None)
        .await;
    let cursor = res.json["next_cursor"].as_str().unwrap().to_owned();
    h.advance(time::Duration::seconds(5));
    let newer = h.submit(&key, "newer").await;
    let res = h
        .call(
            "GET",
            &format!("/v1/jobs?limit=100&cursor={cursor}"),
            Some(&key.key),
            None,
        )
        .await;
    let rest: Vec<&str> = res.json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(rest.len(), 8);
    assert!(!rest.contains(&newer.as_str()));
}

#[tokio::test]
async fn an_empty_list_has_no_cursor() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let res = h.call("GET", "/v1/jobs", Some(&key.key), None).await;
    res.assert_status(200);
    assert_eq!(res.json, json!({"jobs": [], "next_cursor": null}));
}

#[tokio::test]
async fn tenants_never_see_each_others_jobs_usage_images_or_uploads() {
    let h = Harness::new();
    let a = h.create_key("tenant-a", ALL_SCOPES).await;
    let b = h.create_key("tenant-b", ALL_SCOPES).await;
    let mut a_jobs = BTreeSet::new();
    for n in 0..5 {
        a_jobs.insert(h.submit(&a, &format!("a {n}")).await);
        h.advance(time::Duration::seconds(1));
    }
    let b_job = h.submit(&b, "b 0").await;
    h.run_worker().await;

    // Listing: each sees only its own, whatever cursor it is handed.
    let (b_ids, _) = all_pages(&h, &b, 1).await;
    assert_eq!(b_ids, [b_job]);
    let (a_ids, _) = all_pages(&h, &a, 2).await;
    assert_eq!(a_ids.iter().cloned().collect::<BTreeSet<_>>(), a_jobs);
    let a_page = h.call("GET", "/v1/jobs?limit=1", Some(&a.key), None).await;
    let a_cursor = a_page.json["next_cursor"].as_str().unwrap();
    let res = h
        .call(
            "GET",
            &format!("/v1/jobs?cursor={a_cursor}"),
            Some(&b.key),
            None,
        )
        .await;
    res.assert_status(200);
    for job in res.json["jobs"].as_array().unwrap() {
        assert!(!a_jobs.contains(job["job_id"].as_str().unwrap()));
    }

    // A's job ids, even finished ones with images, are 404 for B.
    for id in &a_jobs {
        let res = h.get_job(&b, id).await;
        res.assert_error(404, "not_found");
        assert!(!res.json.to_string().contains("tenant-a"));
    }

    // Usage is per tenant.
    let usage_b = h.call("GET", "/v1/usage", Some(&b.key), None).await;
    assert_eq!(usage_b.json["tenant"], "tenant-b");
    assert_eq!(h.used(&b, "day").await, 1);
    assert_eq!(h.used(&a, "day").await, 5);

    // A's upload id is not B's to use.
    let upload = h.declare_upload(&a.key, &png(16, 16), "image/png").await;
    upload.assert_status(201);
    h.put_url(
        upload.json["url"].as_str().unwrap(),
        png(16, 16),
        "image/png",
    )
    .await
    .assert_status(200);
    let upload_id = upload.json["upload_id"].as_str().unwrap();
    h.post_image(
        &b,
        json!({"prompt": "steal", "reference_upload_ids": [upload_id]}),
    )
    .await
    .assert_error(422, "unprocessable")
    .assert_detail("reference_upload_ids[0]", "not_found");
    // ...while A may.
    h.post_image(
        &a,
        json!({"prompt": "mine", "reference_upload_ids": [upload_id]}),
    )
    .await
    .assert_status(202);
    // B's signed upload URL cannot be bent to write into A's uploads.
    let b_upload = h.declare_upload(&b.key, &png(16, 16), "image/png").await;
    let b_url = b_upload.json["url"].as_str().unwrap();
    let bent = b_url.replace("uploads/tenant-b/", "uploads/tenant-a/");
    h.put_url(&bent, png(16, 16), "image/png")
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn filtered_by_status_and_creation_time_across_pages() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    // Six jobs a minute apart from 10:00; the first four run, the fifth is canceled.
    let mut ids = Vec::new();
    for n in 0..6 {
        if n == 4 {
            h.run_worker().await;
        }
        ids.push(h.submit(&key, &format!("job {n}")).await);
        h.advance(time::Duration::minutes(1));
    }
    h.call(
        "POST",
        &format!("/v1/jobs/{}/cancel", ids[4]),
        Some(&key.key),
        None,
    )
    .await
    .assert_status(200);
    let list = |query: String| {
        let h = &h;
        let key = &key;
        async move {
            let mut found = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    Some(c) => format!("/v1/jobs?limit=1&{query}&cursor={c}"),
                    None => format!("/v1/jobs?limit=1&{query}"),
                };
                let res = h.call("GET", &path, Some(&key.key), None).await;
                res.assert_status(200);
                for job in res.json["jobs"].as_array().unwrap() {
                    found.push(job["job_id"].as_str().unwrap().to_owned());
                }
                match res.json["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => return found,
                }
            }
        }
    };
    let newest_first =
        |idx: &[usize]| -> Vec<String> { idx.iter().rev().map(|&i| ids[i].clone()).collect() };
    assert_eq!(
        list("status=succeeded".into()).await,
        newest_first(&[0, 1, 2, 3])
    );
    assert_eq!(list("status=canceled".into()).await, newest_first(&[4]));
    assert_eq!(list("status=queued".into()).await, newest_first(&[5]));
    assert!(list("status=failed".into()).await.is_empty());
    // After is inclusive, before exclusive: 10:01 up to 10:03 is jobs 1 and 2.
    assert_eq!(
        list("created_after=2026-11-26T10:01:00Z&created_before=2026-11-26T10:03:00Z".into()).await,
        newest_first(&[1, 2])
    );
    assert_eq!(
        list("status=succeeded&created_after=2026-11-26T11:01:00%2B01:00".into()).await,
        newest_first(&[1, 2, 3]),
        "any offset"
    );
    assert_eq!(
        list(
            "created_after=2026-11-26T10:03:00Z&created_before=2026-11-26T10:03:00.000001Z".into()
        )
        .await,
        newest_first(&[3]),
        "one microsecond: job 3 alone"
    );
    assert!(
        list("created_after=2026-11-26T10:03:00Z&created_before=2026-11-26T10:01:00Z".into())
            .await
            .is_empty(),
        "a range that ends before it starts holds nothing"
    );

    for (query, field) in [
        ("status=done", "status"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2026-11-26", "created_before"),
        ("status=queued&status=failed", "status"),
    ] {
        let res = h
            .call("GET", &format!("/v1/jobs?{query}"), Some(&key.key), None)
            .await;
        res.assert_error(400, "invalid_request");
        assert!(
            res.details().iter().any(|(f, _)| f == field),
            "{query}: {}",
            res.json
        );
    }
}
