//! Webhooks on the emulator: a job's end event goes through the real SQS webhook queue to the
//! worker's batch handler and the sender, is signed with the secret kept in DynamoDB (checked
//! by the Standard Webhooks reference implementation) and POSTed to a receiver on 127.0.0.1;
//! each attempt lands in the webhooks table; a failed attempt comes back through SQS with its
//! delay; the last one goes to the webhook dead-letter queue; deleting the job deletes its
//! attempts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use imagegen::config::Config;
use imagegen::domain::ids::JobId;
use imagegen::domain::keys::Scope;
use imagegen::domain::webhooks::MAX_ATTEMPTS;
use imagegen::queue::WebhookMessage;
use imagegen::usecases::webhooks::Sender;
use imagegen::webhooks::http::{Destinations, HttpWebhookClient};
use imagegen::worker::{Invocation, handle_batch};
use imagegen_tests::aws::TestEnv;
use serde_json::{Value, json};

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver on 127.0.0.1 answering `status`; its URL and what it got.
async fn receiver(status: StatusCode) -> (String, Received) {
    let received: Received = Arc::default();
    let log = received.clone();
    let app = Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push((headers, body));
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), received)
}

async fn env() -> TestEnv {
    TestEnv::with_config(Config {
        // The receiver is on this machine; deployed, only public https receivers are taken.
        webhooks_to_loopback: true,
        ..Config::default()
    })
    .await
    .unwrap()
}

fn sender(env: &TestEnv) -> Sender {
    let client =
        HttpWebhookClient::new(Destinations::PublicAndLoopback, Duration::from_secs(5)).unwrap();
    Sender::new(env.worker_app(), Arc::new(client))
}

/// One worker invocation on the webhook queue's messages, as `bin/worker.rs` runs it (the
/// batch told from the jobs' by its queue).
async fn run_sender(env: &TestEnv, sender: &Sender, within: Duration) -> usize {
    let messages = env.webhook_messages(1, within).await.unwrap();
    let queue = imagegen::queue::queue_name(&env.resources.webhook_queue_url);
    let event = serde_json::to_value(env.webhook_event(&messages)).unwrap();
    let Ok(Invocation::Webhooks(batch)) = Invocation::parse(event, queue) else {
        panic!("a batch of the webhook queue was not taken for one");
    };
    let response = handle_batch(
        batch,
        &env.webhook_control(),
        |message: WebhookMessage, _| async move { sender.deliver(&message).await },
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    env.settle_webhooks(&messages).await.unwrap();
    messages.len()
}

async fn attempts(env: &TestEnv, key: &str, job_id: &str) -> Vec<Value> {
    let reply = env
        .call(
            Method::GET,
            &format!("/v1/jobs/{job_id}/webhooks"),
            key,
            None,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json["deliveries"].as_array().unwrap().clone()
}

/// A tenant's key and its webhook signing secret, made through the API (stored in DynamoDB).
async fn tenant(env: &TestEnv) -> (String, String) {
    let key = env
        .api_key("acme", &[Scope::ImagesWrite, Scope::JobsRead])
        .await
        .unwrap();
    let reply = env
        .call(Method::POST, "/v1/webhooks/secret", &key, None)
        .await
        .unwrap();
    assert_eq!(reply.status, 201, "{}", reply.json);
    (key, reply.json["secret"].as_str().unwrap().to_owned())
}

/// A queued job with a webhook, canceled at once: its end event is queued.
async fn canceled_job(env: &TestEnv, key: &str, url: &str) -> String {
    let reply = env
        .call(
            Method::POST,
            "/v1/images",
            key,
            Some(json!({"prompt": "a lighthouse", "webhook_url": url})),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 202, "{}", reply.json);
    let job_id = reply.json["job_id"].as_str().unwrap().to_owned();
    let reply = env
        .call(
            Method::POST,
            &format!("/v1/jobs/{job_id}/cancel"),
            key,
            None,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.json);
    job_id
}

#[tokio::test]
async fn an_ended_job_is_signed_and_delivered_through_the_webhook_queue() {
    let env = env().await;
    let (key, secret) = tenant(&env).await;
    let (url, received) = receiver(StatusCode::OK).await;
    let job_id = canceled_job(&env, &key, &url).await;

    let sender = sender(&env);
    assert_eq!(run_sender(&env, &sender, Duration::from_secs(5)).await, 1);
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    // The reference verifier, timestamp tolerance included (this clock is the real one).
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(body, headers)
        .unwrap();
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["type"], "job.canceled");
    assert_eq!(event["data"]["job_id"], job_id.as_str());

    let listed = attempts(&env, &key, &job_id).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["outcome"], "delivered");
    assert_eq!(listed[0]["status_code"], 200);

    // Deleting the job deletes its attempts from the table.
    let reply = env
        .call(Method::DELETE, &format!("/v1/jobs/{job_id}"), &key, None)
        .await
        .unwrap();
    assert_eq!(reply.status, 204);
    let id = JobId::parse(&job_id).unwrap();
    assert!(
        env.app
            .store
            .list_deliveries(&id, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_failed_attempt_comes_back_delayed_and_the_last_is_dead_lettered() {
    let env = env().await;
    let (key, _) = tenant(&env).await;
    let (url, received) = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let job_id = canceled_job(&env, &key, &url).await;
    let sender = sender(&env);
    assert_eq!(run_sender(&env, &sender, Duration::from_secs(5)).await, 1);
    let listed = attempts(&env, &key, &job_id).await;
    assert_eq!(listed[0]["outcome"], "retrying");
    assert_eq!(listed[0]["status_code"], 500);

    // The second attempt is held back by SQS for its delay (5 s), then handed out.
    assert!(
        env.webhook_messages(1, Duration::from_secs(2))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(run_sender(&env, &sender, Duration::from_secs(10)).await, 1);
    let listed = attempts(&env, &key, &job_id).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["attempt"], 2);
    assert_eq!(received.lock().unwrap().len(), 2);

    // The last attempt failing goes to the webhook dead-letter queue.
    let last = WebhookMessage {
        job_id: JobId::parse(&job_id).unwrap(),
        event: imagegen::domain::webhooks::WebhookEvent::Canceled,
        attempt: MAX_ATTEMPTS,
        not_before: 0,
    };
    sender.deliver(&last).await.unwrap();
    let dead = env.webhook_dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    let body: WebhookMessage = serde_json::from_str(dead[0].body().unwrap()).unwrap();
    // As a first attempt, so a redrive gets every retry again.
    assert_eq!(body, WebhookMessage { attempt: 1, ..last });
    let listed = attempts(&env, &key, &job_id).await;
    assert_eq!(listed.last().unwrap()["outcome"], "dead_lettered");
}
