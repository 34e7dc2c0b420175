//! Webhooks end to end: a job's end event signed per Standard Webhooks (checked by the reference
//! implementation), sent by the real reqwest client to a receiver on 127.0.0.1, each attempt
//! recorded and listed, retried on the schedule and then dead-lettered, redelivered, filtered
//! by event, signed with both secrets during a rotation, and the destination guard (no
//! private addresses, no redirects, bounded time and answer).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use imagegen::domain::ids::JobId;
use imagegen::domain::webhooks::{DeliveryOutcome, MAX_ATTEMPTS, RETRY_DELAYS};
use imagegen::queue::JobMessage;
use imagegen::queue::local::WebhookDelivery;
use imagegen::usecases::janitor;
use imagegen::usecases::webhooks::{Delivered, Sender};
use imagegen::webhooks::http::{Destinations, HttpWebhookClient};
use imagegen::webhooks::{SendError, WebhookClient, WebhookRequest};
use serde_json::{Value, json};

use crate::common::*;

/// What a receiver got: the headers and the body of each POST.
type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver on 127.0.0.1 that answers every POST with `status`.
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
    (serve(app).await, received)
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

fn harness() -> Harness {
    Harness::builder()
        .config(|c| c.webhooks_to_loopback = true)
        .build()
}

fn sender(h: &Harness) -> Sender {
    let client =
        HttpWebhookClient::new(Destinations::PublicAndLoopback, Duration::from_secs(5)).unwrap();
    Sender::new(h.app.clone(), Arc::new(client))
}

async fn make_secret(h: &Harness, key: &Key) -> String {
    let res = h
        .call("POST", "/v1/webhooks/secret", Some(&key.key), None)
        .await;
    res.assert_status(201);
    res.json["secret"].as_str().unwrap().to_owned()
}

async fn redeliver(h: &Harness, key: &Key, job_id: &str) -> Resp {
    let path = format!("/v1/jobs/{job_id}/webhooks/redeliver");
    h.call("POST", &path, Some(&key.key), None).await
}

/// Runs the worker, then returns the webhook deliveries that queued.
async fn finish(h: &Harness) -> Vec<WebhookDelivery> {
    h.run_worker().await;
    h.webhook_deliveries()
}

async fn deliveries(h: &Harness, key: &Key, job_id: &str) -> Value {
    let res = h
        .call(
            "GET",
            &format!("/v1/jobs/{job_id}/webhooks"),
            Some(&key.key),
            None,
        )
        .await;
    res.assert_status(200);
    res.json
}

/// Every field of `value` is a property of the document's schema `name` (refs followed into
/// objects and arrays), and every required one is there.
fn described(doc: &Value, name: &str, value: &Value) {
    fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
        let schema = schema
            .get("oneOf")
            .and_then(|o| o.as_array()?.iter().find(|s| s["type"] != "null"))
            .unwrap_or(schema);
        match schema["$ref"].as_str() {
            Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap(),
            None => schema,
        }
    }
    fn check(doc: &Value, schema: &Value, value: &Value, path: &str) {
        let schema = resolve(doc, schema);
        match value {
            Value::Object(fields) if schema.get("properties").is_some() => {
                for (key, v) in fields {
                    let child = &schema["properties"][key];
                    assert!(!child.is_null(), "{path}.{key} is not in the schema");
                    check(doc, child, v, &format!("{path}.{key}"));
                }
                for required in schema["required"].as_array().into_iter().flatten() {
                    let key = required.as_str().unwrap();
                    assert!(fields.contains_key(key), "{path}.{key} is required");
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    check(doc, &schema["items"], item, &format!("{path}[{i}]"));
                }
            }
            _ => {}
        }
    }
    let root = &doc["components"]["schemas"][name];
    assert!(!root.is_null(), "no schema {name}");
    check(doc, root, value, name);
}

/// Verifies a received event with the Standard Webhooks reference implementation: its own
/// signature of `id.timestamp.body` must be among those sent. (Its `verify` also holds the
/// timestamp to the real clock, while this harness's clock is a fixed one; the domain's unit
/// test runs `verify` itself.)
fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers[name].to_str().unwrap();
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap();
    let expected = standardwebhooks::Webhook::new(secret)
        .unwrap()
        .sign(header("webhook-id"), timestamp, body)
        .unwrap();
    header("webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

#[tokio::test]
async fn a_finished_job_is_signed_sent_and_its_attempt_listed() {
    let h = harness();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let secret = make_secret(&h, &key).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let (url, received) = receiver(StatusCode::NO_CONTENT).await;
    let res = h
        .post_image(&key, json!({"prompt": "a fox", "webhook_url": url}))
        .await;
    res.assert_status(202);
    let job_id = res.json["job_id"].as_str().unwrap().to_owned();
    let job = h.get_job(&key, &job_id).await;
    assert_eq!(
        job.json["webhook"],
        json!({"url": url, "events": ["job.succeeded", "job.failed", "job.canceled"]})
    );

    let queued = finish(&h).await;
    assert_eq!(queued.len(), 1, "one event for one ended job");
    assert_eq!(queued[0].delay, Duration::ZERO);
    let sent = sender(&h).deliver(&queued[0].message).await.unwrap();
    assert_eq!(sent, Delivered::Attempted(DeliveryOutcome::Delivered));

    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    assert!(
        verify(&secret, headers, body),
        "the reference verifier refused it"
    );
    assert_eq!(
        headers["webhook-timestamp"].to_str().unwrap(),
        h.app.clock.now().unix_timestamp().to_string()
    );
    assert_eq!(headers["content-type"], "application/json");
    let id = headers["webhook-id"].to_str().unwrap();
    assert_eq!(id, format!("msg_{}_succeeded", &job_id[4..]));
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["type"], "job.succeeded");
    assert_eq!(event["data"]["job_id"], job_id.as_str());
    assert_eq!(event["data"]["status"], "succeeded");
    assert_eq!(event["data"]["charged_images"], 1);
    assert_eq!(event["data"]["links"]["self"], format!("/v1/jobs/{job_id}"));
    // What arrived is what the document's `webhooks` describes, headers included.
    let doc = h.call("GET", "/openapi.json", None, None).await.json;
    let hook = &doc["webhooks"]["jobEnded"]["post"];
    assert_eq!(
        hook["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/JobEvent"
    );
    described(&doc, "JobEvent", &event);
    for parameter in hook["parameters"].as_array().unwrap() {
        let name = parameter["name"].as_str().unwrap();
        let pattern = parameter["schema"]["pattern"].as_str().unwrap();
        let value = headers[name].to_str().unwrap();
        assert!(
            regex_lite::Regex::new(pattern).unwrap().is_match(value),
            "{name}: {value} !~ {pattern}"
        );
    }
    // Someone else's secret does not verify it.
    assert!(!verify(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        headers,
        body
    ));

    let listed = deliveries(&h, &key, &job_id).await;
    let attempts = listed["deliveries"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["message_id"], id);
    assert_eq!(attempts[0]["event"], "job.succeeded");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["status_code"], 204);
    assert_eq!(attempts[0]["outcome"], "delivered");
    assert!(attempts[0]["latency_ms"].is_u64());
    assert!(attempts[0].get("next_attempt_at").is_none());

    // Another tenant sees no such job; a job's deletion takes its attempts along.
    let other = h.create_key("globex", ALL_SCOPES).await;
    h.call(
        "GET",
        &format!("/v1/jobs/{job_id}/webhooks"),
        Some(&other.key),
        None,
    )
    .await
    .assert_error(404, "not_found");
    h.call(
        "DELETE",
        &format!("/v1/jobs/{job_id}"),
        Some(&key.key),
        None,
    )
    .await
    .assert_status(204);
    let job_id = JobId::parse(&job_id).unwrap();
    assert!(
        h.memory
            .list_deliveries(&job_id, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_failing_receiver_is_retried_for_about_a_day_then_dead_lettered() {
    let h = harness();
    let key = h.create_key("acme", ALL_SCOPES).await;
    make_secret(&h, &key).await;
    let (url, received) = receiver(StatusCode::SERVICE_UNAVAILABLE).await;
    let job_id = h
        .post_image(&key, json!({"prompt": "a fox", "webhook_url": url}))
        .await
        .json["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sender = sender(&h);
    let mut queued = finish(&h).await;
    let mut waited = Duration::ZERO;
    for attempt in 1..=MAX_ATTEMPTS {
        assert_eq!(queued.len(), 1, "attempt {attempt}");
        let message = queued.remove(0).message;
        assert_eq!(message.attempt, attempt);
        // Handed out early (SQS delays by 15 minutes at most): sent on until its time.
        if message.not_before > h.app.clock.now().unix_timestamp() {
            assert_eq!(
                sender.deliver(&message).await.unwrap(),
                Delivered::Postponed
            );
            let again = h.webhook_deliveries();
            assert_eq!(again.len(), 1);
            assert!(again[0].delay <= Duration::from_secs(900));
            assert_eq!(again[0].message, message);
            let wait = message.not_before - h.app.clock.now().unix_timestamp();
            h.advance(time::Duration::seconds(wait));
            waited += Duration::from_secs(u64::try_from(wait).unwrap());
        }
        let outcome = sender.deliver(&message).await.unwrap();
        queued = h.webhook_deliveries();
        if attempt == 1 {
            // While it is retried, a redelivery would start a second series: refused.
            redeliver(&h, &key, &job_id)
                .await
                .assert_error(409, "conflict")
                .assert_detail("id", "delivery_retrying");
        }
        if attempt < MAX_ATTEMPTS {
            assert_eq!(outcome, Delivered::Attempted(DeliveryOutcome::Retrying));
            let next = &queued[0];
            let delay = RETRY_DELAYS[usize::try_from(attempt - 1).unwrap()];
            assert_eq!(next.delay, delay.min(Duration::from_secs(900)));
            assert_eq!(
                next.message.not_before,
                h.app.clock.now().unix_timestamp() + i64::try_from(delay.as_secs()).unwrap()
            );
        } else {
            assert_eq!(outcome, Delivered::Attempted(DeliveryOutcome::DeadLettered));
            assert!(queued.is_empty());
        }
    }
    assert_eq!(received.lock().unwrap().len(), 8);
    assert!(
        (Duration::from_secs(20 * 3600)..Duration::from_secs(28 * 3600)).contains(&waited),
        "retried over {waited:?}"
    );
    let dead = h.webhooks.dead_letters();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].1.contains("503"), "{}", dead[0].1);
    // Dead-lettered as a first attempt: redriven by an operator, it gets every retry again.
    assert_eq!(dead[0].0.attempt, 1);
    assert_eq!(dead[0].0.not_before, 0);

    let listed = deliveries(&h, &key, &job_id).await;
    let attempts = listed["deliveries"].as_array().unwrap();
    let outcomes: Vec<_> = attempts.iter().map(|a| a["outcome"].clone()).collect();
    assert_eq!(outcomes.len(), 8);
    assert!(outcomes[..7].iter().all(|o| o == "retrying"));
    assert_eq!(outcomes[7], "dead_lettered");
    assert!(attempts[0]["next_attempt_at"].is_string());
    assert_eq!(attempts[0]["status_code"], 503);
    assert_eq!(attempts[0]["error"], "the receiver answered 503");

    // A redelivery starts over, with the same webhook-id.
    let res = redeliver(&h, &key, &job_id).await;
    res.assert_status(202);
    assert_eq!(res.json["message_id"], attempts[0]["message_id"]);
    let again = h.webhook_deliveries();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.attempt, 1);
}

#[tokio::test]
async fn a_rotation_signs_with_both_secrets_until_the_overlap_ends() {
    let h = harness();
    let key = h.create_key("acme", ALL_SCOPES).await;
    let old = make_secret(&h, &key).await;
    let res = h
        .call("POST", "/v1/webhooks/secret", Some(&key.key), None)
        .await;
    res.assert_status(201);
    let new = res.json["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(res.json["previous_secret_valid_until"].is_string());
    let (url, received) = receiver(StatusCode::OK).await;
    let sender = sender(&h);
    for _ in 0..2 {
        h.post_image(&key, json!({"prompt": "a fox", "webhook_url": url}))
            .await
            .assert_status(202);
        for queued in finish(&h).await {
            sender.deliver(&queued.message).await.unwrap();
        }
        // The second job ends after the overlap.
        h.advance(time::Duration::hours(25));
    }
    let got = received.lock().unwrap().clone();
    let (during, after) = (&got[0], &got[1]);
    assert!(verify(&new, &during.0, &during.1) && verify(&old, &during.0, &during.1));
    assert_eq!(
        during.0["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    assert!(verify(&new, &after.0, &after.1));
    assert!(!verify(&old, &after.0, &after.1));
}

#[tokio::test]
async fn only_the_chosen_events_are_sent() {
    let h = harness();
    let key = h.create_key("acme", ALL_SCOPES).await;
    make_secret(&h, &key).await;
    let (url, _) = receiver(StatusCode::OK).await;
    let body = json!({"prompt": "a fox", "webhook_url": url, "webhook_events": ["job.canceled"]});
    let done = h.post_image(&key, body.clone()).await.json["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(finish(&h).await.is_empty(), "a success was not asked for");
    let res = redeliver(&h, &key, &done).await;
    res.assert_error(409, "conflict")
        .assert_detail("id", "event_not_subscribed");

    let canceled = h.post_image(&key, body).await.json["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.call(
        "POST",
        &format!("/v1/jobs/{canceled}/cancel"),
        Some(&key.key),
        None,
    )
    .await
    .assert_status(200);
    let queued = h.webhook_deliveries();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].message.job_id.as_str(), canceled);
    assert_eq!(
        queued[0].message.event,
        imagegen::domain::webhooks::WebhookEvent::Canceled
    );
    h.run_worker().await;
    assert!(h.webhook_deliveries().is_empty());
}

#[tokio::test]
async fn webhook_requests_are_checked() {
    let h = harness();
    let key = h.create_key("acme", ALL_SCOPES).await;
    // No signing secret yet.
    h.post_image(
        &key,
        json!({"prompt": "a fox", "webhook_url": "https://hooks.example.com/x"}),
    )
    .await
    .assert_error(422, "unprocessable")
    .assert_detail("webhook_url", "no_signing_secret");
    make_secret(&h, &key).await;
    let long = format!("https://hooks.example.com/{}", "x".repeat(2048));
    for (body, status, field) in [
        (
            json!({"webhook_url": "http://hooks.example.com/x"}),
            422,
            "webhook_url",
        ),
        (
            json!({"webhook_url": "https://10.0.0.7/x"}),
            422,
            "webhook_url",
        ),
        (
            json!({"webhook_url": "https://169.254.169.254/latest"}),
            422,
            "webhook_url",
        ),
        (
            json!({"webhook_url": "https://u:p@hooks.example.com/"}),
            422,
            "webhook_url",
        ),
        (json!({"webhook_url": "not a url"}), 422, "webhook_url"),
        (json!({"webhook_url": long}), 400, "webhook_url"),
        (
            json!({"webhook_events": ["job.failed"]}),
            422,
            "webhook_events",
        ),
        (
            json!({"webhook_url": "https://hooks.example.com/x", "webhook_events": []}),
            400,
            "webhook_events",
        ),
        (
            json!({"webhook_url": "https://hooks.example.com/x", "webhook_events": ["job.failed", "job.failed"]}),
            400,
            "webhook_events",
        ),
    ] {
        let mut request = body.clone();
        request["prompt"] = json!("a fox");
        let res = h.post_image(&key, request).await;
        assert_eq!(res.status.as_u16(), status, "{body}: {}", res.json);
        assert!(
            res.details().iter().any(|(f, _)| f == field),
            "{body}: {:?}",
            res.details()
        );
    }
    let res = h
        .post_image(
            &key,
            json!({"prompt": "a fox", "webhook_url": "https://hooks.example.com/x", "webhook_events": ["job.done"]}),
        )
        .await;
    res.assert_status(400);
    // A job without a webhook has none to redeliver; a running one has not ended.
    let plain = h.submit(&key, "a fox").await;
    redeliver(&h, &key, &plain)
        .await
        .assert_error(409, "conflict")
        .assert_detail("id", "job_active");
    h.run_worker().await;
    redeliver(&h, &key, &plain)
        .await
        .assert_error(409, "conflict")
        .assert_detail("id", "no_webhook");
    let listed = deliveries(&h, &key, &plain).await;
    assert_eq!(listed, json!({"job_id": plain, "deliveries": []}));
}

#[tokio::test]
async fn a_keys_default_webhook_applies_and_its_tenant_gets_a_secret_once() {
    let h = harness();
    let (url, received) = receiver(StatusCode::OK).await;
    let first = h
        .create_key_with(json!({
            "tenant": "acme", "scopes": ALL_SCOPES,
            "webhook_url": url, "webhook_events": ["job.succeeded"],
        }))
        .await;
    let secret = first.body["webhook_signing_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        first.body["webhook"],
        json!({"url": url, "events": ["job.succeeded"]})
    );
    let second = h
        .create_key_with(json!({"tenant": "acme", "scopes": ALL_SCOPES, "webhook_url": url}))
        .await;
    assert!(second.body.get("webhook_signing_secret").is_none());

    let job_id = h.submit(&first, "a fox").await;
    assert_eq!(
        h.get_job(&first, &job_id).await.json["webhook"]["url"],
        url.as_str()
    );
    for queued in finish(&h).await {
        sender(&h).deliver(&queued.message).await.unwrap();
    }
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert!(verify(&secret, &got[0].0, &got[0].1));
    // A key with a loopback http default is refused where loopback is not allowed.
    let deployed = Harness::new();
    let res = deployed
        .call(
            "POST",
            "/v1/admin/keys",
            Some(ADMIN_KEY),
            Some(json!({"tenant": "acme", "scopes": ALL_SCOPES, "webhook_url": url})),
        )
        .await;
    res.assert_error(422, "unprocessable")
        .assert_detail("webhook_url", "invalid");
}

#[tokio::test]
async fn an_event_the_queue_refused_is_queued_later_by_the_janitor_or_a_redelivery() {
    let h = harness();
    let key = h.create_key("acme", ALL_SCOPES).await;
    make_secret(&h, &key).await;
    let (url, _) = receiver(StatusCode::OK).await;
    let mut jobs = Vec::new();
    for prompt in ["a fox", "a hen"] {
        let res = h
            .post_image(&key, json!({"prompt": prompt, "webhook_url": url}))
            .await;
        jobs.push(res.json["job_id"].as_str().unwrap().to_owned());
    }
    let (first, second) = (&jobs[0], &jobs[1]);
    // SQS refuses the events when the jobs end.
    h.webhooks_refusing.store(true, Ordering::SeqCst);
    assert!(finish(&h).await.is_empty());
    assert!(pending(&h, first).await && pending(&h, second).await);
    assert!(
        h.emf()
            .iter()
            .any(|r| r.get("WebhookEnqueueFailed").is_some())
    );
    h.webhooks_refusing.store(false, Ordering::SeqCst);

    // The first job's message comes back (its worker died before deleting it): the event goes
    // out then.
    let message = JobMessage {
        job_id: JobId::parse(first).unwrap(),
    };
    h.worker.process(&message, 2).await.unwrap();
    let queued = h.webhook_deliveries();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].message.job_id.as_str(), first.as_str());
    assert!(!pending(&h, first).await);

    // The second one waits for the janitor: not within the grace, then once.
    janitor::run(&h.worker, None).await;
    assert!(h.webhook_deliveries().is_empty());
    h.advance(time::Duration::minutes(5) + time::Duration::SECOND);
    janitor::run(&h.worker, None).await;
    let queued = h.webhook_deliveries();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].message.job_id.as_str(), second.as_str());
    assert!(!pending(&h, second).await);
    janitor::run(&h.worker, None).await;
    assert!(h.webhook_deliveries().is_empty(), "queued twice");
}

async fn pending(h: &Harness, job_id: &str) -> bool {
    let id = JobId::parse(job_id).unwrap();
    h.memory
        .get_job(&id)
        .await
        .unwrap()
        .unwrap()
        .webhook_pending
}

// --- the destination guard of the HTTP client

fn request(url: &str) -> WebhookRequest {
    WebhookRequest {
        url: url.parse().unwrap(),
        headers: vec![("content-type", "application/json".into())],
        body: b"{}".to_vec(),
    }
}

#[tokio::test]
async fn deployed_the_client_calls_no_private_address_and_no_plain_http() {
    let (url, received) = receiver(StatusCode::OK).await;
    let port = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let client = HttpWebhookClient::new(Destinations::Public, Duration::from_secs(2)).unwrap();
    for target in [
        format!("https://127.0.0.1:{port}/hook"),
        format!("https://[::1]:{port}/hook"),
        format!("https://localhost:{port}/hook"),
        format!("https://[::ffff:127.0.0.1]:{port}/hook"),
        url.clone(),
    ] {
        let result = client.post(request(&target)).await;
        assert!(
            matches!(result, Err(SendError::NotAllowed(_))),
            "{target}: {result:?}"
        );
    }
    assert!(received.lock().unwrap().is_empty(), "nothing was sent");
    // The dev server's client reaches the same receiver.
    let dev =
        HttpWebhookClient::new(Destinations::PublicAndLoopback, Duration::from_secs(2)).unwrap();
    assert_eq!(dev.post(request(&url)).await.unwrap(), 200);
}

#[tokio::test]
async fn the_client_follows_no_redirect_and_bounds_time_and_answer() {
    let (elsewhere, redirected) = receiver(StatusCode::OK).await;
    let app = Router::new()
        .route(
            "/moved",
            axum::routing::post(move || {
                let to = elsewhere.clone();
                async move { (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response() }
            }),
        )
        .route(
            "/slow",
            axum::routing::post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                StatusCode::OK
            }),
        )
        .route(
            "/endless",
            axum::routing::post(|| async {
                // An answer that never ends: 64 KiB chunks for ever.
                let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                let stream = futures_util::stream::repeat_with(move || {
                    Ok::<_, std::io::Error>(chunk.clone())
                });
                Response::new(Body::from_stream(stream))
            }),
        );
    let base = serve(app).await.trim_end_matches("/hook").to_owned();
    let client =
        HttpWebhookClient::new(Destinations::PublicAndLoopback, Duration::from_millis(1500))
            .unwrap();

    assert_eq!(
        client
            .post(request(&format!("{base}/moved")))
            .await
            .unwrap(),
        307
    );
    assert!(
        redirected.lock().unwrap().is_empty(),
        "the redirect was followed"
    );

    let started = std::time::Instant::now();
    let slow = client.post(request(&format!("{base}/slow"))).await;
    assert!(matches!(slow, Err(SendError::Timeout(_))), "{slow:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // With time to spare, an answer that never ends is cut at the size bound, not the timeout.
    let patient =
        HttpWebhookClient::new(Destinations::PublicAndLoopback, Duration::from_secs(60)).unwrap();
    let started = std::time::Instant::now();
    let endless = patient.post(request(&format!("{base}/endless"))).await;
    assert_eq!(endless.unwrap(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
