//! Composition for the deployed functions: AWS clients and adapters built from environment
//! variables that Terraform sets, validated at start-up.

use std::sync::Arc;

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_dynamodb::config::SharedInterceptor;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
pub use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::App;
use crate::blobs::cloudfront::CloudFrontUrls;
use crate::blobs::s3::S3Blobs;
use crate::config::{Config, ConfigError, Vars};
use crate::domain::SystemClock;
use crate::domain::pricing::ModelPrice;
use crate::gateway::api_gateway::{ApiGatewayKeys, Plans};
use crate::gemini::client::GeminiClient;
use crate::queue::sqs::{SqsMessageControl, SqsQueue, SqsWebhookQueue};
use crate::secrets::CachedSecret;
use crate::secrets::secrets_manager::SecretsManagerSource;
use crate::store::dynamo::{DynamoStore, TableNames};
use crate::store::layout;
use crate::telemetry::Metrics;
use crate::webhooks::http::{self as webhook_http, Destinations, HttpWebhookClient};

/// Names of the deployed resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub tables: TableNames,
    pub bucket: String,
    pub queue_url: String,
    /// The webhook queue (`IMAGEGEN_WEBHOOK_QUEUE_URL`).
    pub webhook_queue_url: String,
    /// An emulator or VPC endpoint instead of AWS (`AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
}

impl Resources {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let endpoint_url = vars.optional("AWS_ENDPOINT_URL");
        if let Some(url) = &endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError {
                var: "AWS_ENDPOINT_URL",
                problem: format!("`{url}` is not an http(s) URL"),
            });
        }
        Ok(Self {
            tables: TableNames {
                jobs: vars.required(layout::JOBS.env_var)?,
                api_keys: vars.required(layout::API_KEYS.env_var)?,
                counters: vars.required(layout::COUNTERS.env_var)?,
                idempotency: vars.required(layout::IDEMPOTENCY.env_var)?,
                webhooks: vars.required(layout::WEBHOOKS.env_var)?,
            },
            bucket: vars.required("IMAGEGEN_BUCKET")?,
            queue_url: vars.required("IMAGEGEN_QUEUE_URL")?,
            webhook_queue_url: vars.required("IMAGEGEN_WEBHOOK_QUEUE_URL")?,
            endpoint_url,
        })
    }
}

/// Where deployed downloads come from: the CloudFront distribution in front of the bucket's
/// `generated/` objects (`IMAGEGEN_DOWNLOAD_BASE_URL`, `https://…` without a trailing slash) and
/// the secret that holds its signing key (`IMAGEGEN_DOWNLOAD_SIGNING_KEY_SECRET_ARN`). Both or
/// neither: without them downloads are presigned S3 URLs (an emulator has no CloudFront).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloads {
    pub base_url: String,
    pub signing_key_secret_arn: String,
}

impl Downloads {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(
        vars: &Vars<F>,
    ) -> Result<Option<Self>, ConfigError> {
        const BASE: &str = "IMAGEGEN_DOWNLOAD_BASE_URL";
        const SECRET: &str = "IMAGEGEN_DOWNLOAD_SIGNING_KEY_SECRET_ARN";
        let (base_url, secret) = (vars.optional(BASE), vars.optional(SECRET));
        let (base_url, signing_key_secret_arn) = match (base_url, secret) {
            (None, None) => return Ok(None),
            (Some(base), Some(secret)) => (base, secret),
            (Some(_), None) => return vars.required(SECRET).map(|_| None),
            (None, Some(_)) => return vars.required(BASE).map(|_| None),
        };
        let host = base_url.strip_prefix("https://").unwrap_or_default();
        if host.is_empty() || host.contains(['/', '?', '#', '@']) {
            return Err(ConfigError {
                var: BASE,
                problem: format!(
                    "`{base_url}` is not an https:// origin without path or trailing slash"
                ),
            });
        }
        Ok(Some(Self {
            base_url,
            signing_key_secret_arn,
        }))
    }
}

/// The SDK configuration from `AWS_REGION` (or `AWS_DEFAULT_REGION`), the execution role's
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and
/// `AWS_ENDPOINT_URL` for an emulator. Missing credentials fail the first AWS call, not
/// start-up (a function that is only asked for `/healthz` needs none).
///
/// Not aws-config's default chains: profile files, SSO, web identity through STS, container
/// and instance metadata never apply on Lambda, and linking them (an STS client among them)
/// took about 0.8 MB of each binary.
pub fn sdk_config_from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> SdkConfig {
    let credentials = match (
        vars.optional("AWS_ACCESS_KEY_ID"),
        vars.optional("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(key_id), Some(secret)) => SharedCredentialsProvider::new(Credentials::new(
            key_id,
            secret,
            vars.optional("AWS_SESSION_TOKEN"),
            None,
            "environment",
        )),
        _ => SharedCredentialsProvider::new(NoCredentials),
    };
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client())
        .credentials_provider(credentials);
    config.set_region(
        vars.optional("AWS_REGION")
            .or_else(|| vars.optional("AWS_DEFAULT_REGION"))
            .map(Region::new),
    );
    config.set_endpoint_url(vars.optional("AWS_ENDPOINT_URL"));
    config.build()
}

/// What the SDK is given when the environment holds no credentials.
#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
        )))
    }
}

/// The SDK's hyper + rustls client on ring (see [`crate::tls`]), trusting the OS roots. The SDK
/// is built without its default client (rustls on aws-lc-rs), so every `SdkConfig` needs this.
pub fn http_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The AWS SDK clients the adapters use, all from one `SdkConfig`.
#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets_manager: aws_sdk_secretsmanager::Client,
}

impl Clients {
    pub fn new(sdk: &SdkConfig, resources: &Resources) -> Self {
        Self::build(sdk, resources, None)
    }

    /// The same clients with `interceptor` on each of them (tests count AWS calls with one).
    pub fn with_interceptor(
        sdk: &SdkConfig,
        resources: &Resources,
        interceptor: SharedInterceptor,
    ) -> Self {
        Self::build(sdk, resources, Some(interceptor))
    }

    fn build(
        sdk: &SdkConfig,
        resources: &Resources,
        interceptor: Option<SharedInterceptor>,
    ) -> Self {
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk);
        // Emulators serve buckets by path, not by virtual host.
        let mut s3 = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(resources.endpoint_url.is_some());
        let mut sqs = aws_sdk_sqs::config::Builder::from(sdk);
        let mut secrets_manager = aws_sdk_secretsmanager::config::Builder::from(sdk);
        if let Some(interceptor) = interceptor {
            dynamodb.push_interceptor(interceptor.clone());
            s3.push_interceptor(interceptor.clone());
            sqs.push_interceptor(interceptor.clone());
            secrets_manager.push_interceptor(interceptor);
        }
        Self {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            secrets_manager: aws_sdk_secretsmanager::Client::from_conf(secrets_manager.build()),
        }
    }
}

/// The App on AWS adapters.
pub fn app(sdk: &SdkConfig, config: Config, resources: &Resources, metrics: Metrics) -> App {
    app_on(&Clients::new(sdk, resources), config, resources, metrics)
}

/// The App on AWS adapters that use `clients`, downloads as presigned S3 URLs.
pub fn app_on(clients: &Clients, config: Config, resources: &Resources, metrics: Metrics) -> App {
    app_serving(clients, config, resources, None, metrics)
}

/// The App on AWS adapters that use `clients`, downloads through `downloads` when given.
pub fn app_serving(
    clients: &Clients,
    config: Config,
    resources: &Resources,
    downloads: Option<&Downloads>,
    metrics: Metrics,
) -> App {
    let mut blobs = S3Blobs::new(clients.s3.clone(), resources.bucket.clone());
    if let Some(downloads) = downloads {
        let source = SecretsManagerSource::new(
            clients.secrets_manager.clone(),
            downloads.signing_key_secret_arn.clone(),
        );
        blobs = blobs.with_downloads(Arc::new(CloudFrontUrls::new(
            downloads.base_url.clone(),
            CachedSecret::new(Arc::new(source)),
        )));
    }
    App {
        store: Arc::new(DynamoStore::new(
            clients.dynamodb.clone(),
            resources.tables.clone(),
        )),
        blobs: Arc::new(blobs),
        queue: Arc::new(SqsQueue::new(
            clients.sqs.clone(),
            resources.queue_url.clone(),
        )),
        webhooks: Arc::new(SqsWebhookQueue::new(
            clients.sqs.clone(),
            resources.webhook_queue_url.clone(),
            None,
        )),
        clock: Arc::new(SystemClock),
        config: Arc::new(config),
        metrics,
        gateway: None,
    }
}

/// The `api` function's start-up: everything it reads from its environment, and the App on
/// AWS adapters (downloads signed for CloudFront when [`Downloads`] are set; keys registered
/// with the REST API's usage plans when `IMAGEGEN_REST_API_ID` is set). `bin/api.rs` passes the process environment; the settings structure test
/// passes a recorder.
pub fn api_from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<App, ConfigError> {
    let config = Config::from_vars(vars)?;
    let resources = Resources::from_vars(vars)?;
    let downloads = Downloads::from_vars(vars)?;
    let sdk = sdk_config_from_vars(vars);
    let metrics = Metrics::stdout(&config.metrics_namespace, &config.environment);
    let rest_api_id = vars.optional("IMAGEGEN_REST_API_ID");
    let clients = Clients::new(&sdk, &resources);
    let environment = config.environment.clone();
    let mut app = app_serving(&clients, config, &resources, downloads.as_ref(), metrics);
    // Keys made over HTTP go on the gateway's usage plan too, as `cargo xtask keys` does.
    app.gateway = rest_api_id.map(|rest_api_id| {
        Arc::new(ApiGatewayKeys::new(
            aws_sdk_apigateway::Client::new(&sdk),
            environment,
            rest_api_id,
            Plans::OfApi,
        )) as Arc<dyn crate::gateway::KeyGateway>
    });
    Ok(app)
}

/// What the `worker` function runs on.
pub struct WorkerParts {
    pub app: App,
    pub generator: GeminiClient,
    /// The price of the model's tokens (`IMAGEGEN_PRICES`, or the built-in list).
    pub price: Option<ModelPrice>,
    /// Visibility changes and dead-lettering on the jobs queue.
    pub control: SqsMessageControl,
    /// Dead-lettering unreadable messages of the webhook queue.
    pub webhook_control: SqsMessageControl,
    /// The webhook queue's name: batches from it go to the sender.
    pub webhook_queue_name: String,
    /// Sends webhooks to public receivers only.
    pub webhook_client: HttpWebhookClient,
}

/// The `worker` function's start-up: the api's settings, the Gemini client with its key from
/// Secrets Manager (`IMAGEGEN_GEMINI_SECRET_ARN`), the dead-letter queues
/// (`IMAGEGEN_DEAD_LETTER_QUEUE_URL`, `IMAGEGEN_WEBHOOK_DEAD_LETTER_QUEUE_URL`) and the
/// webhook sender's client.
pub fn worker_from_vars<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<WorkerParts, ConfigError> {
    let config = Config::from_vars(vars)?;
    let resources = Resources::from_vars(vars)?;
    let dead_letter_url = vars.required("IMAGEGEN_DEAD_LETTER_QUEUE_URL")?;
    let webhook_dead_letter_url = vars.required("IMAGEGEN_WEBHOOK_DEAD_LETTER_QUEUE_URL")?;
    let sdk = sdk_config_from_vars(vars);
    let clients = Clients::new(&sdk, &resources);
    let generator = gemini_on(clients.secrets_manager.clone(), vars)?;
    config.check_gemini_fits(generator.config())?;
    let price = crate::config::model_price(vars, &generator.config().model)?;
    let metrics = Metrics::stdout(&config.metrics_namespace, &config.environment);
    let control = SqsMessageControl::new(
        clients.sqs.clone(),
        resources.queue_url.clone(),
        dead_letter_url,
    );
    let webhook_control = SqsMessageControl::new(
        clients.sqs.clone(),
        resources.webhook_queue_url.clone(),
        webhook_dead_letter_url,
    );
    let webhook_client = HttpWebhookClient::new(Destinations::Public, webhook_http::TIMEOUT)
        .map_err(|e| ConfigError {
            // The OS trust store, which the client's TLS reads, is what failed.
            var: "SSL_CERT_FILE",
            problem: format!("webhook client: {e}"),
        })?;
    let mut app = app_on(&clients, config, &resources, metrics);
    app.webhooks = Arc::new(SqsWebhookQueue::new(
        clients.sqs.clone(),
        resources.webhook_queue_url.clone(),
        Some(webhook_control.clone()),
    ));
    Ok(WorkerParts {
        app,
        generator,
        price,
        control,
        webhook_control,
        webhook_queue_name: crate::queue::queue_name(&resources.webhook_queue_url).to_owned(),
        webhook_client,
    })
}

pub fn gemini_from_vars<F: Fn(&str) -> Option<String>>(
    sdk: &SdkConfig,
    vars: &Vars<F>,
) -> Result<GeminiClient, ConfigError> {
    gemini_on(aws_sdk_secretsmanager::Client::new(sdk), vars)
}

/// The Gemini client with its key read through `secrets_manager`.
pub fn gemini_on<F: Fn(&str) -> Option<String>>(
    secrets_manager: aws_sdk_secretsmanager::Client,
    vars: &Vars<F>,
) -> Result<GeminiClient, ConfigError> {
    let secret_arn = vars.required("IMAGEGEN_GEMINI_SECRET_ARN")?;
    let config = crate::config::gemini_config(vars)?;
    let source = SecretsManagerSource::new(secrets_manager, secret_arn);
    let key = Arc::new(CachedSecret::new(Arc::new(source)));
    GeminiClient::new(config, key).map_err(|e| ConfigError {
        var: "IMAGEGEN_GEMINI_MODEL",
        problem: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&'static str, &'static str)]) -> Vars<impl Fn(&str) -> Option<String>> {
        let pairs = pairs.to_vec();
        Vars(move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const ALL: [(&str, &str); 8] = [
        ("IMAGEGEN_JOBS_TABLE", "t-jobs"),
        ("IMAGEGEN_KEYS_TABLE", "t-api-keys"),
        ("IMAGEGEN_COUNTERS_TABLE", "t-counters"),
        ("IMAGEGEN_IDEMPOTENCY_TABLE", "t-idempotency"),
        ("IMAGEGEN_WEBHOOKS_TABLE", "t-webhooks"),
        ("IMAGEGEN_BUCKET", "b"),
        ("IMAGEGEN_QUEUE_URL", "https://sqs/q"),
        ("IMAGEGEN_WEBHOOK_QUEUE_URL", "https://sqs/q-webhooks"),
    ];

    #[test]
    fn every_missing_resource_is_named() {
        assert!(Resources::from_vars(&vars(&ALL)).is_ok());
        for (var, _) in ALL {
            let partial: Vec<_> = ALL.iter().filter(|(k, _)| *k != var).copied().collect();
            let err = Resources::from_vars(&vars(&partial)).unwrap_err();
            assert_eq!(err.var, var);
        }
        let mut bad = ALL.to_vec();
        bad.push(("AWS_ENDPOINT_URL", "localhost:4566"));
        assert_eq!(
            Resources::from_vars(&vars(&bad)).unwrap_err().var,
            "AWS_ENDPOINT_URL"
        );
    }

    #[test]
    fn downloads_need_both_settings_and_an_https_origin() {
        const BASE: &str = "IMAGEGEN_DOWNLOAD_BASE_URL";
        const SECRET: &str = "IMAGEGEN_DOWNLOAD_SIGNING_KEY_SECRET_ARN";
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k";
        assert_eq!(Downloads::from_vars(&vars(&[])), Ok(None));
        assert_eq!(
            Downloads::from_vars(&vars(&[(BASE, "https://d1.cloudfront.net"), (SECRET, arn)])),
            Ok(Some(Downloads {
                base_url: "https://d1.cloudfront.net".into(),
                signing_key_secret_arn: arn.into(),
            }))
        );
        let only_base = Downloads::from_vars(&vars(&[(BASE, "https://d1.cloudfront.net")]));
        assert_eq!(only_base.unwrap_err().var, SECRET);
        assert_eq!(
            Downloads::from_vars(&vars(&[(SECRET, arn)]))
                .unwrap_err()
                .var,
            BASE
        );
        for bad in [
            "http://d1.cloudfront.net",
            "https://d1.cloudfront.net/",
            "https://d1.cloudfront.net/images",
            "https://",
            "d1.cloudfront.net",
        ] {
            let err = Downloads::from_vars(&vars(&[(BASE, bad), (SECRET, arn)])).unwrap_err();
            assert_eq!(err.var, BASE, "{bad}");
        }
    }
}
