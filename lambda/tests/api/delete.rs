//! `DELETE /v1/jobs/{id}`: a finished job's images leave storage and its record goes;
//! idempotent and tenant-scoped; an active job must be canceled first.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn a_finished_job_is_deleted_with_every_object_it_stored() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    // Sent twice with the same Idempotency-Key: before the delete and after it.
    let order = json!({
        "prompt": "a fox",
        "count": 2,
        "reference_images": [{"mime_type": "image/png", "data": b64(&png(64, 64))}],
    });
    let res = h
        .req("POST", "/v1/images")
        .key(&key.key)
        .header("idempotency-key", "order-1")
        .json(&order)
        .send()
        .await;
    res.assert_status(202);
    let job_id = res.json["job_id"].as_str().unwrap().to_owned();
    h.run_worker().await;
    let job = h.get_job(&key, &job_id).await;
    assert_eq!(job.json["status"], "succeeded");
    let url = job.json["images"][0]["url"].as_str().unwrap().to_owned();
    h.fetch(&url).await.assert_status(200);
    assert_eq!(h.generated_files(), 2);
    let reference = h.stored_job(&job_id).await.params.reference_keys[0].clone();
    assert!(reference.starts_with("uploads/acme/"), "{reference}");

    // Another tenant cannot delete it, and cannot tell it exists.
    let other = h.create_key("globex", ALL_SCOPES).await;
    h.call(
        "DELETE",
        &format!("/v1/jobs/{job_id}"),
        Some(&other.key),
        None,
    )
    .await
    .assert_status(204);
    h.get_job(&key, &job_id).await.assert_status(200);

    let deleted = h
        .call(
            "DELETE",
            &format!("/v1/jobs/{job_id}"),
            Some(&key.key),
            None,
        )
        .await;
    deleted.assert_status(204);
    assert!(deleted.bytes.is_empty());
    assert_eq!(h.generated_files(), 0, "its images are gone from storage");
    assert!(
        !h.blob_exists(&reference),
        "its prepared reference image is gone too"
    );
    h.fetch(&url).await.assert_status(404);
    h.get_job(&key, &job_id)
        .await
        .assert_error(404, "not_found");
    let list = h.call("GET", "/v1/jobs", Some(&key.key), None).await;
    assert_eq!(list.json["jobs"].as_array().unwrap().len(), 0);
    // Idempotent: deleting it again is the same success.
    h.call(
        "DELETE",
        &format!("/v1/jobs/{job_id}"),
        Some(&key.key),
        None,
    )
    .await
    .assert_status(204);

    // Its Idempotency-Key went with it: the same request makes a new job.
    let again = h
        .req("POST", "/v1/images")
        .key(&key.key)
        .header("idempotency-key", "order-1")
        .json(&order)
        .send()
        .await;
    again.assert_status(202);
    assert_ne!(again.json["job_id"], job_id.as_str());
    assert!(again.header("idempotent-replayed").is_none());
}

#[tokio::test]
async fn an_active_job_is_canceled_before_it_is_deleted() {
    let h = Harness::new();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let job_id = h.submit(&key, "a fox").await;
    h.call(
        "DELETE",
        &format!("/v1/jobs/{job_id}"),
        Some(&key.key),
        None,
    )
    .await
    .assert_error(409, "conflict")
    .assert_detail("id", "job_active");
    h.get_job(&key, &job_id).await.assert_status(200);
    h.call(
        "POST",
        &format!("/v1/jobs/{job_id}/cancel"),
        Some(&key.key),
        None,
    )
    .await
    .assert_status(200);
    h.call(
        "DELETE",
        &format!("/v1/jobs/{job_id}"),
        Some(&key.key),
        None,
    )
    .await
    .assert_status(204);
    h.get_job(&key, &job_id)
        .await
        .assert_error(404, "not_found");
    h.call("DELETE", "/v1/jobs/job_nope", Some(&key.key), None)
        .await
        .assert_error(404, "not_found")
        .assert_detail("id", "malformed");
}
