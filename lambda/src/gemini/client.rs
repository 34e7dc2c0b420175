//! [`GeminiClient`]: `POST {base}/v1beta/models/{model}:generateContent` over reqwest.

use crate::secrets::ExposeSecret;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::{DecodePaddingMode, general_purpose};
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use super::wire;
use super::{
    CallBudget, GeminiConfig, GenerateError, GeneratedImage, ImageAttempt, ImageGenerator,
    ImageRequest, Usage,
};
use crate::secrets::{CachedSecret, SecretString, SecretsError};

/// An answer with images is a few MB of base64; anything far beyond that is not an answer we
/// want to hold in a Lambda's memory.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;
/// Error bodies are small JSON; keep just enough to report them.
const MAX_ERROR_BYTES: usize = 64 * 1024;
/// Error messages from Gemini go into job errors and logs; keep them readable.
const MAX_MESSAGE_CHARS: usize = 300;
/// Connecting is fast or broken; do not let it eat the whole request timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Finish reasons that mean "refused for policy reasons", as opposed to "stopped" or "failed".
const BLOCKING_FINISH_REASONS: &[&str] = &[
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
];

/// Gemini answers `400 INVALID_ARGUMENT` with this reason for a revoked or mistyped key; it is
/// an auth failure in all but status code, so it gets the same one-time key refresh.
const API_KEY_INVALID: &str = "API_KEY_INVALID";

/// Standard alphabet, padding optional: lenient in what we accept from upstream.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Gemini's image models over REST. Cheap to share: hold it in an `Arc` and reuse it, so
/// connections are pooled across jobs.
pub struct GeminiClient {
    http: reqwest::Client,
    endpoint: Url,
    config: GeminiConfig,
    key: Arc<CachedSecret>,
}

impl GeminiClient {
    /// Checks `config` and builds the HTTP client. Fails with [`GenerateError::Config`].
    pub fn new(config: GeminiConfig, key: Arc<CachedSecret>) -> Result<Self, GenerateError> {
        let misconfigured = |message: String| GenerateError::Config { message };
        if config.max_attempts == 0 {
            return Err(misconfigured("max_attempts must be at least 1".into()));
        }
        if config.request_timeout.is_zero() {
            return Err(misconfigured("request_timeout must be positive".into()));
        }
        if config.backoff_base > config.backoff_max {
            return Err(misconfigured(
                "backoff_base must not exceed backoff_max".into(),
            ));
        }
        let model = config
            .model
            .strip_prefix("models/")
            .unwrap_or(&config.model);
        // The model id becomes a path segment; refuse anything that could change the path.
        if model.is_empty()
            || !model
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(misconfigured(format!("invalid model id {model:?}")));
        }
        let base = config.base_url.trim_end_matches('/');
        let endpoint = Url::parse(&format!("{base}/v1beta/models/{model}:generateContent"))
            .map_err(|err| misconfigured(format!("invalid base_url {base:?}: {err}")))?;
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host().is_none() {
            return Err(misconfigured(format!(
                "base_url {base:?} must be an http(s) URL with a host"
            )));
        }

        let http = crate::tls::reqwest_builder()
            .map_err(|err| misconfigured(format!("TLS: {err}")))?
            .user_agent(concat!("imagegen/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.request_timeout.min(MAX_CONNECT_TIMEOUT))
            // A frozen Lambda's pooled connections may be dead on thaw; drop idle ones early
            // (a dead one that slips through is a transport error, which is retried).
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|err| misconfigured(format!("HTTP client: {}", error_chain(&err))))?;

        Ok(Self {
            http,
            endpoint,
            config,
            key,
        })
    }

    pub fn config(&self) -> &GeminiConfig {
        &self.config
    }

    /// One image: calls with backoff until an answer holds a valid image, a failure will not
    /// go away by retrying, the budget's calls run out, the next call could not finish before
    /// the budget's deadline, or the server asks for a longer wait than `backoff_max`.
    async fn generate_one(
        &self,
        body: &[u8],
        index: u8,
        prompt_chars: usize,
        budget: CallBudget,
    ) -> ImageAttempt {
        if budget.calls == 0 {
            let error = GenerateError::Config {
                message: "an image was asked for with no calls left in its budget".into(),
            };
            return ImageAttempt::failed(error, 0);
        }
        let mut usage = Usage::default();
        let mut calls = 0;
        let outcome = self
            .call_until_done(body, index, prompt_chars, budget, &mut calls, &mut usage)
            .await;
        ImageAttempt {
            outcome,
            calls,
            usage,
        }
    }

    async fn call_until_done(
        &self,
        body: &[u8],
        index: u8,
        prompt_chars: usize,
        budget: CallBudget,
        calls: &mut u32,
        usage: &mut Usage,
    ) -> Result<GeneratedImage, GenerateError> {
        let model = self.endpoint_model();
        let mut key_refreshed = false;
        loop {
            let key = self.key.get().await?;
            let attempt = *calls + 1;
            let started = Instant::now();
            let sent = self.send(body, key_header(&key)?).await;
            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

            // Each arm either returns or names the failure to retry and the server's hint.
            let (failure, hint) = match sent {
                Sent::Answer {
                    status,
                    retry_after,
                    body,
                    truncated,
                } => {
                    tracing::info!(
                        model,
                        attempt,
                        image = index,
                        status = status.as_u16(),
                        latency_ms,
                        prompt_chars,
                        "gemini call"
                    );
                    let error = ErrorInfo::parse(&body, &key);
                    let auth_failure =
                        matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                            || (status == StatusCode::BAD_REQUEST
                                && error.reason.as_deref() == Some(API_KEY_INVALID));
                    if auth_failure
                        && !key_refreshed
                        && Instant::now() + self.config.request_timeout <= budget.until
                    {
                        // The key may have been rotated since we cached it: fetch it afresh
                        // and try once more. This retry is not part of the image's budget.
                        tracing::warn!(
                            model,
                            status = status.as_u16(),
                            "gemini rejected the API key; refreshing it"
                        );
                        self.key.invalidate_rejected(&key).await;
                        key_refreshed = true;
                        continue;
                    }
                    *calls += 1;
                    match status {
                        StatusCode::OK => {
                            let answered = parse_answer(&body, truncated);
                            *usage += answered.usage;
                            match answered.image {
                                Err(e) if e.retryable() => (e, None),
                                done => return done,
                            }
                        }
                        _ if auth_failure => {
                            return Err(GenerateError::Auth {
                                status: status.as_u16(),
                            });
                        }
                        StatusCode::TOO_MANY_REQUESTS => {
                            let hint = retry_after.or(error.retry_delay);
                            let failure = GenerateError::RateLimited {
                                attempts: attempt,
                                retry_after: hint,
                            };
                            (failure, hint)
                        }
                        s if s.is_server_error() => (
                            GenerateError::Upstream {
                                status: s.as_u16(),
                                attempts: attempt,
                                message: error.message,
                                retry_after,
                            },
                            retry_after,
                        ),
                        StatusCode::BAD_REQUEST
                        | StatusCode::PAYLOAD_TOO_LARGE
                        | StatusCode::UNPROCESSABLE_ENTITY => {
                            return Err(GenerateError::InvalidRequest {
                                message: error.message,
                            });
                        }
                        // 404 (unknown model) and other surprises: ours to fix, not to retry.
                        s => {
                            return Err(GenerateError::Upstream {
                                status: s.as_u16(),
                                attempts: attempt,
                                message: error.message,
                                retry_after: None,
                            });
                        }
                    }
                }
                Sent::Timeout => {
                    *calls += 1;
                    tracing::info!(model, attempt, image = index, latency_ms, "gemini timeout");
                    (GenerateError::Timeout { attempts: attempt }, None)
                }
                Sent::Transport(message) => {
                    *calls += 1;
                    tracing::info!(model, attempt, image = index, latency_ms, error = %message, "gemini unreachable");
                    (
                        GenerateError::Unavailable {
                            attempts: attempt,
                            message,
                        },
                        None,
                    )
                }
            };

            if *calls >= budget.calls {
                return Err(failure);
            }
            // A long hint (a quota that refills in a minute) is not slept through here: the
            // caller brings the image back after it, with the calls it has left.
            if hint.is_some_and(|hint| hint > self.config.backoff_max) {
                return Err(failure);
            }
            let delay = self.backoff(attempt, hint);
            // The next call must be able to finish before the budget's deadline.
            if Instant::now() + delay + self.config.request_timeout > budget.until {
                return Err(failure);
            }
            tracing::warn!(
                model,
                attempt,
                image = index,
                code = failure.code(),
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "gemini call failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn send(&self, body: &[u8], key_header: HeaderValue) -> Sent {
        let response = self
            .http
            .post(self.endpoint.clone())
            .header("x-goog-api-key", key_header)
            .header(CONTENT_TYPE, "application/json")
            .timeout(self.config.request_timeout)
            .body(body.to_vec())
            .send()
            .await;
        let mut response = match response {
            Ok(response) => response,
            Err(err) => return Sent::from_error(&err),
        };

        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let limit = if status.is_success() {
            MAX_ANSWER_BYTES
        } else {
            MAX_ERROR_BYTES
        };

        // Read by chunks so an oversized body is cut off instead of buffered whole. The request
        // timeout still covers this, so a stalled body ends as a timeout.
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) => return Sent::from_error(&err),
            }
        }
        Sent::Answer {
            status,
            retry_after,
            body,
            truncated,
        }
    }

    /// Exponential backoff with full jitter, bounded below by `backoff_base` and above by
    /// `backoff_max`; a server hint (`Retry-After`, `RetryInfo`) wins, capped by `backoff_max`.
    fn backoff(&self, attempt: u32, hint: Option<Duration>) -> Duration {
        let base = self.config.backoff_base;
        let max = self.config.backoff_max;
        if let Some(hint) = hint {
            return hint.min(max);
        }
        let ceiling = base.saturating_mul(2u32.saturating_pow(attempt)).min(max);
        let span = u64::try_from(ceiling.saturating_sub(base).as_nanos()).unwrap_or(u64::MAX);
        base + Duration::from_nanos(fastrand::u64(0..=span))
    }

    fn endpoint_model(&self) -> &str {
        self.config
            .model
            .strip_prefix("models/")
            .unwrap_or(&self.config.model)
    }
}

#[async_trait]
impl ImageGenerator for GeminiClient {
    async fn generate_image(
        &self,
        req: &ImageRequest,
        index: u8,
        budget: CallBudget,
    ) -> ImageAttempt {
        let started = Instant::now();
        let body = match request_body(req) {
            Ok(body) => body,
            Err(e) => return ImageAttempt::failed(e, 0),
        };
        let attempt = self
            .generate_one(&body, index, req.prompt.chars().count(), budget)
            .await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(
            model = self.endpoint_model(),
            image = index,
            calls = attempt.calls,
            code = attempt.outcome.as_ref().err().map(GenerateError::code),
            prompt_tokens = attempt.usage.prompt_tokens,
            output_tokens = attempt.usage.output_tokens,
            latency_ms,
            "gemini image finished"
        );
        attempt
    }

    fn name(&self) -> &'static str {
        "gemini"
    }
}

impl fmt::Debug for GeminiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeminiClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What one HTTP exchange produced.
enum Sent {
    Answer {
        status: StatusCode,
        retry_after: Option<Duration>,
        body: Vec<u8>,
        /// The body exceeded its size limit and was cut off.
        truncated: bool,
    },
    Timeout,
    Transport(String),
}

impl Sent {
    fn from_error(err: &reqwest::Error) -> Self {
        if err.is_timeout() {
            Self::Timeout
        } else {
            Self::Transport(error_chain(err))
        }
    }
}

/// A call Gemini answered with 200: billed, with or without an image.
struct Answered {
    usage: Usage,
    image: Result<GeneratedImage, GenerateError>,
}

/// The fields of a Gemini error body this client acts on; tolerant of non-JSON bodies.
struct ErrorInfo {
    message: String,
    reason: Option<String>,
    retry_delay: Option<Duration>,
}

impl ErrorInfo {
    fn parse(body: &[u8], key: &SecretString) -> Self {
        let envelope: wire::ErrorEnvelope = serde_json::from_slice(body).unwrap_or_default();
        let status = envelope.error.status;
        let mut message = if envelope.error.message.is_empty() {
            String::from_utf8_lossy(body).trim().to_owned()
        } else {
            envelope.error.message
        };
        if !status.is_empty() {
            message = format!("{status}: {message}");
        }
        // Google does not echo keys, but this text ends up in job errors and logs: make sure.
        if !key.expose_secret().is_empty() {
            message = message.replace(key.expose_secret(), "[redacted]");
        }
        if message.chars().count() > MAX_MESSAGE_CHARS {
            message = message.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
        }
        let details = envelope.error.details;
        Self {
            message,
            reason: details.iter().find_map(|detail| detail.reason.clone()),
            retry_delay: details
                .iter()
                .find_map(|detail| detail.retry_delay.as_deref().and_then(parse_proto_duration)),
        }
    }
}

/// The key as a header value that `Debug` and HTTP/2 header compression treat as sensitive.
fn key_header(key: &SecretString) -> Result<HeaderValue, GenerateError> {
    let mut value = HeaderValue::from_str(key.expose_secret()).map_err(|_| {
        // Not the header error itself: it may describe the offending value.
        GenerateError::Secret(SecretsError::Malformed {
            reason: "not a valid HTTP header value".into(),
        })
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A protobuf JSON duration such as `"37s"` or `"0.5s"`.
fn parse_proto_duration(text: &str) -> Option<Duration> {
    let seconds: f64 = text.strip_suffix('s')?.parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

/// The JSON body, built once and sent by every call and attempt.
fn request_body(req: &ImageRequest) -> Result<Vec<u8>, GenerateError> {
    let mut parts = Vec::with_capacity(1 + req.reference_images.len());
    parts.push(wire::RequestPart::Text { text: &req.prompt });
    parts.extend(
        req.reference_images
            .iter()
            .map(|image| wire::RequestPart::InlineData {
                inline_data: wire::RequestBlob {
                    mime_type: &image.mime_type,
                    data: STANDARD.encode(&image.data),
                },
            }),
    );
    let body = wire::GenerateContentRequest {
        contents: vec![wire::Content {
            role: "user",
            parts,
        }],
        generation_config: wire::GenerationConfig {
            response_modalities: ["TEXT", "IMAGE"],
            image_config: (req.aspect_ratio.is_some() || req.image_size.is_some()).then_some(
                wire::ImageConfig {
                    aspect_ratio: req.aspect_ratio.as_deref(),
                    image_size: req.image_size.as_deref(),
                },
            ),
        },
    };
    serde_json::to_vec(&body).map_err(|err| GenerateError::InvalidRequest {
        message: format!("cannot encode request: {err}"),
    })
}

/// Interprets a 200 body. Always billed, hence never `Err` at this level.
fn parse_answer(body: &[u8], truncated: bool) -> Answered {
    let malformed = |detail: String| Answered {
        usage: Usage::default(),
        image: Err(GenerateError::Malformed { detail }),
    };
    if truncated {
        return malformed(format!("answer larger than {MAX_ANSWER_BYTES} bytes"));
    }
    let response: wire::GenerateContentResponse = match serde_json::from_slice(body) {
        Ok(response) => response,
        Err(err) => return malformed(format!("answer is not the expected JSON: {err}")),
    };
    let usage = response
        .usage_metadata
        .as_ref()
        .map(|usage| Usage {
            prompt_tokens: usage.prompt_token_count,
            output_tokens: usage
                .candidates_token_count
                .saturating_add(usage.thoughts_token_count),
            total_tokens: usage.total_token_count,
        })
        .unwrap_or_default();
    Answered {
        usage,
        image: first_image(response),
    }
}

fn first_image(response: wire::GenerateContentResponse) -> Result<GeneratedImage, GenerateError> {
    if let Some(reason) = response
        .prompt_feedback
        .and_then(|feedback| feedback.block_reason)
        .filter(|reason| !reason.is_empty() && reason != "BLOCK_REASON_UNSPECIFIED")
    {
        return Err(GenerateError::ContentBlocked { reason });
    }

    let final_image = response
        .candidates
        .iter()
        .filter_map(|candidate| candidate.content.as_ref())
        .flat_map(|content| &content.parts)
        .filter(|part| !part.thought)
        .filter_map(|part| part.inline_data.as_ref())
        .find(|blob| blob.mime_type.starts_with("image/"));
    if let Some(blob) = final_image {
        let data = LENIENT_BASE64
            .decode(blob.data.trim())
            .or_else(|_| general_purpose::URL_SAFE_NO_PAD.decode(blob.data.trim()))
            .map_err(|err| GenerateError::Malformed {
                detail: format!("image data is not base64: {err}"),
            })?;
        // Whatever the declared type, only a PNG, JPEG or WebP within bounds is an image.
        return GeneratedImage::validate(data);
    }

    let finish_reason = response
        .candidates
        .iter()
        .find_map(|candidate| candidate.finish_reason.clone());
    match finish_reason {
        Some(reason) if BLOCKING_FINISH_REASONS.contains(&reason.as_str()) => {
            Err(GenerateError::ContentBlocked { reason })
        }
        reason => Err(GenerateError::NoImage {
            finish_reason: reason.unwrap_or_else(|| "NONE".into()),
        }),
    }
}

/// `err` and its sources, `: `-joined: reqwest's top-level message alone ("error sending
/// request") says too little to act on.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::StaticSecret;

    fn client(config: GeminiConfig) -> Result<GeminiClient, GenerateError> {
        let key = Arc::new(CachedSecret::new(Arc::new(StaticSecret::new(
            SecretString::from("k"),
        ))));
        GeminiClient::new(config, key)
    }

    #[test]
    fn rejects_bad_config() {
        for config in [
            GeminiConfig {
                max_attempts: 0,
                ..GeminiConfig::default()
            },
            GeminiConfig {
                model: "../evil".into(),
                ..GeminiConfig::default()
            },
            GeminiConfig {
                base_url: "ftp://example.com".into(),
                ..GeminiConfig::default()
            },
            GeminiConfig {
                backoff_base: Duration::from_secs(10),
                ..GeminiConfig::default()
            },
        ] {
            let err = client(config).unwrap_err();
            assert_eq!(err.code(), "internal");
        }
    }

    #[test]
    fn endpoint_accepts_models_prefix_and_trailing_slash() {
        let client = client(GeminiConfig {
            base_url: "https://example.com/".into(),
            model: "models/gemini-2.5-flash-image".into(),
            ..GeminiConfig::default()
        })
        .unwrap();
        assert_eq!(
            client.endpoint.as_str(),
            "https://example.com/v1beta/models/gemini-2.5-flash-image:generateContent"
        );
    }

    #[test]
    fn backoff_stays_within_bounds_and_honours_hints() {
        let client = client(GeminiConfig::default()).unwrap();
        for attempt in 1..10 {
            let delay = client.backoff(attempt, None);
            assert!(delay >= Duration::from_millis(500), "{delay:?}");
            assert!(delay <= Duration::from_secs(8), "{delay:?}");
        }
        let first_retry_ceiling = Duration::from_secs(1);
        assert!(client.backoff(1, None) <= first_retry_ceiling);
        assert_eq!(
            client.backoff(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            client.backoff(1, Some(Duration::from_secs(60))),
            Duration::from_secs(8)
        );
    }

    #[test]
    fn proto_durations() {
        assert_eq!(parse_proto_duration("37s"), Some(Duration::from_secs(37)));
        assert_eq!(
            parse_proto_duration("0.5s"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_proto_duration("soon"), None);
        assert_eq!(parse_proto_duration("-1s"), None);
    }

    #[test]
    fn thought_images_are_skipped() {
        // A 1x1 PNG as the final image; the draft before it would not even decode.
        let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
        let body = serde_json::json!({
            "candidates": [{"content": {"parts": [
                {"inlineData": {"mimeType": "image/png", "data": "AAAA"}, "thought": true},
                {"inlineData": {"mimeType": "image/png", "data": png}}
            ]}, "finishReason": "STOP"}]
        });
        let answered = parse_answer(body.to_string().as_bytes(), false);
        let image = answered.image.unwrap();
        assert_eq!((image.width, image.height), (1, 1));
        assert_eq!(image.data, STANDARD.decode(png).unwrap());
    }

    #[test]
    fn unusable_key_is_a_secret_error_that_does_not_quote_it() {
        let err = key_header(&SecretString::from("AIza\nSECRET")).unwrap_err();
        assert_eq!(err.code(), "secret_unavailable");
        assert!(!err.retryable());
        assert!(!format!("{err} {err:?}").contains("SECRET"));
        assert!(
            key_header(&SecretString::from("AIzaOK"))
                .unwrap()
                .is_sensitive()
        );
    }

    #[test]
    fn error_messages_are_redacted_and_bounded() {
        let key = SecretString::from("AIzaSECRET");
        let body = format!(
            r#"{{"error":{{"code":400,"message":"bad key AIzaSECRET {}","status":"INVALID_ARGUMENT"}}}}"#,
            "x".repeat(1000)
        );
        let info = ErrorInfo::parse(body.as_bytes(), &key);
        assert!(!info.message.contains("AIzaSECRET"));
        assert!(
            info.message
                .starts_with("INVALID_ARGUMENT: bad key [redacted]")
        );
        assert!(info.message.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }
}
