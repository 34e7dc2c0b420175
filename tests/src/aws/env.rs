//! One test's own AWS resources on the emulator, uniquely named so tests run in parallel with
//! no resets, and the service composed on them exactly as the Lambdas compose it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_dynamodb::config::SharedInterceptor;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use futures_util::future::try_join_all;
use http_body_util::BodyExt;
use imagegen::App;
use imagegen::aws::{Clients, Resources, SdkConfig};
use imagegen::config::{Config, Vars};
use imagegen::domain::keys::{KeyLimits, Scope};
use imagegen::gemini::client::GeminiClient;
use imagegen::queue::sqs::SqsMessageControl;
use imagegen::store::dynamo::TableNames;
use imagegen::store::layout::{TABLES, TableLayout};
use imagegen::telemetry::Metrics;
use imagegen::usecases::generation::Worker;
use imagegen::worker::handle_batch;
use serde_json::Value;
use tower::ServiceExt;

use super::calls::CallCounter;
use super::emulator::{Emulator, Error, emulator};

/// The Gemini key the test secret holds.
pub const FAKE_GEMINI_KEY: &str = "AIzaSy-imagegen-integration-test-key";
pub const REGION: &str = "us-east-1";

/// An SDK configuration for the emulator, composed as the Lambdas compose theirs, from
/// variables: fixed region, static `test` credentials (LocalStack verifies presigned URLs only
/// with the secret `test`), the emulator's endpoint.
pub fn sdk_config(emulator: &Emulator) -> SdkConfig {
    let endpoint = emulator.endpoint.clone();
    imagegen::aws::sdk_config_from_vars(&Vars(move |name: &str| match name {
        "AWS_REGION" => Some(REGION.to_owned()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".to_owned()),
        "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
        _ => None,
    }))
}

/// An answer of the router.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

pub struct TestEnv {
    pub emulator: &'static Emulator,
    pub sdk: SdkConfig,
    /// Counts every call the clients below make (setup included: take() before measuring).
    pub calls: CallCounter,
    pub clients: Clients,
    pub resources: Resources,
    pub queue_arn: String,
    pub dlq_url: String,
    pub webhook_queue_arn: String,
    pub webhook_dlq_url: String,
    pub secret_arn: String,
    pub app: App,
}

impl TestEnv {
    /// Fresh resources and the service on them with the default configuration.
    pub async fn new() -> Result<Self, Error> {
        Self::with_config(Config::default()).await
    }

    pub async fn with_config(config: Config) -> Result<Self, Error> {
        let emulator = emulator().await?;
        let sdk = sdk_config(emulator);
        let prefix = format!("ig-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let resources = Resources {
            tables: TableNames::with_prefix(&prefix),
            bucket: format!("{prefix}-images"),
            queue_url: String::new(),
            webhook_queue_url: String::new(),
            endpoint_url: Some(emulator.endpoint.clone()),
        };
        let calls = CallCounter::default();
        let clients =
            Clients::with_interceptor(&sdk, &resources, SharedInterceptor::new(calls.clone()));

        let (_, _, (queue_url, queue_arn, dlq_url), webhook_queues, secret_arn) = tokio::try_join!(
            create_tables(&clients.dynamodb, &prefix),
            create_bucket(&clients.s3, &resources.bucket),
            create_queues(&clients.sqs, &prefix, "jobs", config.max_receive_count),
            // Terraform's webhook queue redrives after 5 receives.
            create_queues(&clients.sqs, &prefix, "jobs-webhooks", 5),
            create_secret(&clients.secrets_manager, &prefix),
        )?;
        let (webhook_queue_url, webhook_queue_arn, webhook_dlq_url) = webhook_queues;
        let resources = Resources {
            queue_url,
            webhook_queue_url,
            ..resources
        };
        let app = imagegen::aws::app_on(&clients, config, &resources, Metrics::off());
        Ok(Self {
            emulator,
            sdk,
            calls,
            clients,
            resources,
            queue_arn,
            dlq_url,
            webhook_queue_arn,
            webhook_dlq_url,
            secret_arn,
            app,
        })
    }

    /// A stored API key for `tenant` with `scopes`; returns the presentable key.
    pub async fn api_key(&self, tenant: &str, scopes: &[Scope]) -> Result<String, Error> {
        let (key, plaintext) = imagegen::domain::keys::issue(
            tenant,
            scopes.to_vec(),
            KeyLimits::default(),
            None,
            self.app.clock.now(),
        );
        self.app.store.create_key(&key).await?;
        Ok(plaintext)
    }

    /// One request through `imagegen::http::router` on this environment's adapters, with
    /// `api_key` and an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        api_key: &str,
        body: Option<Value>,
    ) -> Result<Reply, Error> {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("x-api-key", api_key);
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&json)?)
            }
            None => Body::empty(),
        };
        self.send(request.body(body)?).await
    }

    /// Any request through `imagegen::http::router` on this environment's adapters.
    /// A source address is added as the server would (API Gateway's `sourceIp`), so the
    /// per-IP limit runs too.
    pub async fn send(&self, request: Request<Body>) -> Result<Reply, Error> {
        route(&self.app, request).await
    }

    /// The variables a deployed function gets from Terraform, for this environment's
    /// resources on the emulator: start-ups (`imagegen::aws::api_from_vars`) take these plus
    /// whatever the test adds.
    pub fn lambda_vars(&self) -> HashMap<&'static str, String> {
        let tables = &self.resources.tables;
        HashMap::from([
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_ENDPOINT_URL", self.emulator.endpoint.clone()),
            ("IMAGEGEN_JOBS_TABLE", tables.jobs.clone()),
            ("IMAGEGEN_KEYS_TABLE", tables.api_keys.clone()),
            ("IMAGEGEN_COUNTERS_TABLE", tables.counters.clone()),
            ("IMAGEGEN_IDEMPOTENCY_TABLE", tables.idempotency.clone()),
            ("IMAGEGEN_WEBHOOKS_TABLE", tables.webhooks.clone()),
            ("IMAGEGEN_BUCKET", self.resources.bucket.clone()),
            ("IMAGEGEN_QUEUE_URL", self.resources.queue_url.clone()),
            (
                "IMAGEGEN_WEBHOOK_QUEUE_URL",
                self.resources.webhook_queue_url.clone(),
            ),
        ])
    }

    /// The Gemini client exactly as the worker Lambda builds it from its environment
    /// (`aws::gemini_from_vars`' variables), with its key read from this environment's
    /// secret through the counted Secrets Manager client.
    pub fn gemini(&self, base_url: &str, max_attempts: u32) -> Result<GeminiClient, Error> {
        let vars: HashMap<&str, String> = HashMap::from([
            ("IMAGEGEN_GEMINI_SECRET_ARN", self.secret_arn.clone()),
            ("IMAGEGEN_GEMINI_BASE_URL", base_url.to_owned()),
            ("IMAGEGEN_GEMINI_MAX_ATTEMPTS", max_attempts.to_string()),
            ("IMAGEGEN_GEMINI_TIMEOUT_SECONDS", "10".to_owned()),
        ]);
        let vars = Vars(move |name: &str| vars.get(name).cloned());
        Ok(imagegen::aws::gemini_on(
            self.clients.secrets_manager.clone(),
            &vars,
        )?)
    }

    pub fn worker(&self, gemini: GeminiClient) -> Worker {
        let attempts = gemini.config().max_attempts;
        Worker::new(self.app.clone(), Arc::new(gemini), attempts).with_price(
            imagegen::config::model_price(
                &imagegen::config::Vars(|_| None),
                "gemini-2.5-flash-image",
            )
            .ok()
            .flatten(),
        )
    }

    /// The worker's hold on the jobs queue and the dead-letter queue, as `bin/worker.rs` has it.
    pub fn message_control(&self) -> SqsMessageControl {
        SqsMessageControl::new(
            self.clients.sqs.clone(),
            self.resources.queue_url.clone(),
            self.dlq_url.clone(),
        )
    }

    /// Receives up to `want` messages of the jobs queue (with ApproximateReceiveCount),
    /// polling for at most `within`.
    pub async fn receive(&self, want: usize, within: Duration) -> Result<Vec<Message>, Error> {
        receive(&self.clients.sqs, &self.resources.queue_url, want, within).await
    }

    /// Messages waiting in the dead-letter queue (received and left in place).
    pub async fn dead_letters(&self) -> Result<Vec<Message>, Error> {
        receive(
            &self.clients.sqs,
            &self.dlq_url,
            10,
            Duration::from_millis(300),
        )
        .await
    }

    /// Receives up to `want` messages of the webhook queue, polling for at most `within`.
    pub async fn webhook_messages(
        &self,
        want: usize,
        within: Duration,
    ) -> Result<Vec<Message>, Error> {
        let url = &self.resources.webhook_queue_url;
        receive(&self.clients.sqs, url, want, within).await
    }

    /// Messages waiting in the webhook dead-letter queue (received and left in place).
    pub async fn webhook_dead_letters(&self) -> Result<Vec<Message>, Error> {
        let url = &self.webhook_dlq_url;
        receive(&self.clients.sqs, url, 10, Duration::from_millis(300)).await
    }

    /// The App as the worker Lambda has it: its webhook queue also holds the webhook
    /// dead-letter queue.
    pub fn worker_app(&self) -> App {
        let mut app = self.app.clone();
        app.webhooks = Arc::new(imagegen::queue::sqs::SqsWebhookQueue::new(
            self.clients.sqs.clone(),
            self.resources.webhook_queue_url.clone(),
            Some(self.webhook_control()),
        ));
        app
    }

    /// The worker's hold on the webhook queue, as `bin/worker.rs` has it.
    pub fn webhook_control(&self) -> SqsMessageControl {
        SqsMessageControl::new(
            self.clients.sqs.clone(),
            self.resources.webhook_queue_url.clone(),
            self.webhook_dlq_url.clone(),
        )
    }

    /// The event the webhook queue's event source mapping would hand the worker.
    pub fn webhook_event(&self, messages: &[Message]) -> SqsEvent {
        let mut event = self.sqs_event(messages);
        for record in &mut event.records {
            record.event_source_arn = Some(self.webhook_queue_arn.clone());
        }
        event
    }

    /// The event Lambda's SQS event source mapping would hand the worker for `messages`.
    pub fn sqs_event(&self, messages: &[Message]) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = messages
            .iter()
            .map(|m| {
                let mut record = SqsMessage::default();
                record.message_id = m.message_id.clone();
                record.receipt_handle = m.receipt_handle.clone();
                record.body = m.body.clone();
                record.md5_of_body = m.md5_of_body.clone();
                record.attributes = m
                    .attributes()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                    .collect();
                record.event_source = Some("aws:sqs".into());
                record.event_source_arn = Some(self.queue_arn.clone());
                record.aws_region = Some(REGION.into());
                record
            })
            .collect();
        event
    }

    /// One worker Lambda invocation on `messages`: `imagegen::worker::handle_batch` with
    /// `Worker::process`, as `bin/worker.rs` runs it.
    pub async fn run_worker(&self, worker: &Worker, messages: &[Message]) -> SqsBatchResponse {
        handle_batch(
            self.sqs_event(messages),
            &self.message_control(),
            |message, receives| async move { worker.process(&message, receives).await },
        )
        .await
    }

    /// What the SQS event source mapping does with the worker's answer: deletes the messages
    /// that succeeded; makes the reported failures visible again at once (instead of after
    /// the visibility timeout), so the next receive redelivers them.
    pub async fn settle(
        &self,
        messages: &[Message],
        response: &SqsBatchResponse,
    ) -> Result<(), Error> {
        for m in messages {
            let failed = response
                .batch_item_failures
                .iter()
                .any(|f| Some(f.item_identifier.as_str()) == m.message_id());
            if failed {
                self.make_visible(m).await?;
            } else {
                self.clients
                    .sqs
                    .delete_message()
                    .queue_url(&self.resources.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await?;
            }
        }
        Ok(())
    }

    /// What the webhook queue's event source mapping does after a batch the worker fully
    /// handled: deletes its messages.
    pub async fn settle_webhooks(&self, messages: &[Message]) -> Result<(), Error> {
        for m in messages {
            self.clients
                .sqs
                .delete_message()
                .queue_url(&self.resources.webhook_queue_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await?;
        }
        Ok(())
    }

    /// Ends `message`'s visibility timeout now (a redelivery without the wait).
    pub async fn make_visible(&self, message: &Message) -> Result<(), Error> {
        self.clients
            .sqs
            .change_message_visibility()
            .queue_url(&self.resources.queue_url)
            .receipt_handle(message.receipt_handle().unwrap_or_default())
            .visibility_timeout(0)
            .send()
            .await?;
        Ok(())
    }

    /// Every version and delete marker under `prefix` in the bucket (what a plain delete of a
    /// versioned object leaves behind).
    pub async fn object_versions(&self, prefix: &str) -> Result<usize, Error> {
        let out = self
            .clients
            .s3
            .list_object_versions()
            .bucket(&self.resources.bucket)
            .prefix(prefix)
            .send()
            .await?;
        Ok(out.versions().len() + out.delete_markers().len())
    }

    /// Keys of the objects under `prefix` in the bucket.
    pub async fn object_keys(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let out = self
            .clients
            .s3
            .list_objects_v2()
            .bucket(&self.resources.bucket)
            .prefix(prefix)
            .send()
            .await?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect())
    }
}

async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    want: usize,
    within: Duration,
) -> Result<Vec<Message>, Error> {
    let started = Instant::now();
    let mut messages = Vec::new();
    while messages.len() < want {
        let batch = i32::try_from((want - messages.len()).min(10)).unwrap_or(10);
        // Both spellings of "give me ApproximateReceiveCount": emulators older than the
        // 2024 `MessageSystemAttributeNames` parameter know only `AttributeNames`.
        #[allow(deprecated)]
        let receive = sqs
            .receive_message()
            .attribute_names(QueueAttributeName::All);
        let out = receive
            .queue_url(queue_url)
            .max_number_of_messages(batch)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await?;
        messages.extend(out.messages.unwrap_or_default());
        if messages.len() >= want || started.elapsed() >= within {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(messages)
}

/// The tables of `imagegen::store::layout::TABLES`, as Terraform's database module declares
/// them: string keys, GSIs projecting everything, on-demand billing, TTL.
async fn create_tables(dynamodb: &aws_sdk_dynamodb::Client, prefix: &str) -> Result<(), Error> {
    try_join_all(TABLES.iter().map(|t| create_table(dynamodb, prefix, t))).await?;
    Ok(())
}

fn key_schema(hash: &str, range: Option<&str>) -> Result<Vec<KeySchemaElement>, Error> {
    let mut keys = vec![
        KeySchemaElement::builder()
            .attribute_name(hash)
            .key_type(KeyType::Hash)
            .build()?,
    ];
    if let Some(range) = range {
        keys.push(
            KeySchemaElement::builder()
                .attribute_name(range)
                .key_type(KeyType::Range)
                .build()?,
        );
    }
    Ok(keys)
}

async fn create_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    prefix: &str,
    table: &TableLayout,
) -> Result<(), Error> {
    let name = format!("{prefix}-{}", table.suffix);
    let mut attributes: Vec<&str> = vec![table.hash_key];
    attributes.extend(table.range_key);
    for index in table.indexes {
        attributes.push(index.hash_key);
        attributes.extend(index.range_key);
    }
    attributes.sort_unstable();
    attributes.dedup();
    let mut create = dynamodb
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(table.hash_key, table.range_key)?));
    for attribute in attributes {
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        );
    }
    for index in table.indexes {
        create = create.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .set_key_schema(Some(key_schema(index.hash_key, index.range_key)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection))
                        .build(),
                )
                .build()?,
        );
    }
    create.send().await?;
    wait_until_active(dynamodb, &name).await?;
    if let Some(ttl) = table.ttl_attribute {
        dynamodb
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(ttl)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await?;
    }
    Ok(())
}

async fn wait_until_active(dynamodb: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        let out = dynamodb.describe_table().table_name(name).send().await?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!("table {name} is not ACTIVE after 60 s").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A private, versioned bucket encrypting by default with SSE-S3, like Terraform's storage
/// module.
async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<(), Error> {
    s3.create_bucket().bucket(bucket).send().await?;
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()?,
                        )
                        .build(),
                )
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// The jobs queue and its dead-letter queue, redriving after `max_receive_count` receives.
/// Returns the jobs queue's URL and ARN, and the DLQ's URL.
/// A queue `<prefix>-<name>` and its dead-letter queue `<prefix>-<name>-dlq`, as Terraform's
/// queue module makes them: their URL, ARN and the dead-letter queue's URL.
async fn create_queues(
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
    name: &str,
    max_receive_count: u32,
) -> Result<(String, String, String), Error> {
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{prefix}-{name}-dlq"))
        .send()
        .await?
        .queue_url
        .ok_or("CreateQueue returned no URL for the DLQ")?;
    let dlq_arn = queue_arn(sqs, &dlq_url).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": max_receive_count.to_string(),
    });
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{prefix}-{name}"))
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await?
        .queue_url
        .ok_or("CreateQueue returned no URL for the queue")?;
    let arn = queue_arn(sqs, &queue_url).await?;
    Ok((queue_url, arn, dlq_url))
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, Error> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| format!("no QueueArn for {url}").into())
}

async fn create_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    prefix: &str,
) -> Result<String, Error> {
    let out = secrets
        .create_secret()
        .name(format!("{prefix}/gemini-api-key"))
        .secret_string(FAKE_GEMINI_KEY)
        .send()
        .await?;
    out.arn.ok_or_else(|| "CreateSecret returned no ARN".into())
}

/// SQS's ApproximateReceiveCount of a received message (0 if it was not asked for).
pub fn receive_count(message: &Message) -> u32 {
    message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Any request through `imagegen::http::router` on `app`. A source address is added as the
/// server would (API Gateway's `sourceIp`), so the per-IP limit runs too.
pub async fn route(app: &App, mut request: Request<Body>) -> Result<Reply, Error> {
    if request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_none()
    {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 7], 50_000))));
    }
    let response = imagegen::http::router(app.clone()).oneshot(request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await?.to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)?
    };
    Ok(Reply {
        status,
        headers,
        json,
    })
}
