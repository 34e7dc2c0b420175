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
async fn a_saved_sqs_event_runs_each_job_and_dead_letters_what_is_not_a_job_message() {
    let event: serde_json::Value =
        serde_json::from_str(&data("sqs-job-message.json").unwrap()).unwrap();
    let imagegen::worker::Invocation::Jobs(batch) =
        imagegen::worker::Invocation::parse(event, "imagegen-test-jobs-webhooks").unwrap()
    else {
        panic!("an SQS event is a batch of jobs");
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let control = imagegen::queue::recorded::RecordedControl::default();
    let response = imagegen::worker::handle_batch(
        batch,
        &control,
        |job: imagegen::worker::JobMessage, receives| {
            seen.lock()
                .unwrap()
                .push((job.job_id.to_string(), receives));
            async {
                Ok::<_, imagegen::usecases::generation::StepError>(
                    imagegen::usecases::generation::StepOutcome::Succeeded,
                )
            }
        },
    )
    .await;
    assert_eq!(
        *seen.lock().unwrap(),
        [("job_5b1f0c3e9a7d4e2f8c6b0a1d3e5f7a9b".to_owned(), 1)]
    );
    // Not retried (it never becomes a job message): straight to the dead-letter queue.
    assert!(response.batch_item_failures.is_empty());
    let dead = control.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, "not a job message");
    assert!(
        dead[0].1.contains("not a message of this queue"),
        "{}",
        dead[0].1
    );
}

#[tokio::test]
async fn a_saved_sqs_event_of_the_webhook_queue_goes_to_the_sender() {
    let event: serde_json::Value =
        serde_json::from_str(&data("sqs-webhook-message.json").unwrap()).unwrap();
    let imagegen::worker::Invocation::Webhooks(batch) =
        imagegen::worker::Invocation::parse(event, "imagegen-staging-jobs-webhooks").unwrap()
    else {
        panic!("a batch of the webhook queue is a batch of deliveries");
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let control = imagegen::queue::recorded::RecordedControl::default();
    let response = imagegen::worker::handle_batch(
        batch,
        &control,
        |message: imagegen::worker::WebhookMessage, _| {
            seen.lock().unwrap().push(message.clone());
            async { Ok::<_, imagegen::usecases::webhooks::WebhookError>(()) }
        },
    )
    .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].attempt, 2);
    assert_eq!(seen[0].not_before, 1_734_599_735);
    // A job message on the webhook queue is no webhook message: dead-lettered, not retried.
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(control.dead_letters().len(), 1);
}

#[test]
fn the_janitor_schedule_input_invokes_the_janitor() {
    // What modules/queue's EventBridge target sends: jsonencode({ imagegen = "janitor" }).
    let event = serde_json::json!({"imagegen": "janitor"});
    assert!(matches!(
        imagegen::worker::Invocation::parse(event, "imagegen-test-jobs-webhooks"),
        Ok(imagegen::worker::Invocation::Janitor)
    ));
    assert!(
        imagegen::worker::Invocation::parse(
            serde_json::json!({"imagegen": "other"}),
            "imagegen-test-jobs-webhooks"
        )
        .is_err()
    );
}
