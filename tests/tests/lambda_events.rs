//! The handlers answer saved, real Lambda events the way the deployed functions must.

use http_body_util::BodyExt;
use imagegen_tests::data;
use tower::ServiceExt;

#[tokio::test]
async fn the_router_answers_a_real_api_gateway_rest_event_for_healthz() {
    let event = data("apigw-rest-get-healthz.json").unwrap();
    let request = lambda_http::request::from_str(&event).unwrap();
    let response = imagegen::http::meta_router()
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The gateway's request id is echoed so our logs join its access logs.
    assert_eq!(
        response.headers()["x-request-id"],
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn a_saved_sqs_event_decodes_and_reports_failures_per_message() {
    let event: aws_lambda_events::sqs::SqsEvent =
        serde_json::from_str(&data("sqs-job-message.json").unwrap()).unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let response = imagegen::worker::handle_batch(event, |job, receives| {
        seen.lock()
            .unwrap()
            .push((job.job_id.to_string(), receives));
        async { Ok::<(), std::convert::Infallible>(()) }
    })
    .await;
    assert_eq!(
        *seen.lock().unwrap(),
        [("job_5b1f0c3e9a7d4e2f8c6b0a1d3e5f7a9b".to_owned(), 1)]
    );
    let ids: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(ids, ["2e1424d4-f796-459a-8184-9c92662be6da"]);
}
