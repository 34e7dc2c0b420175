//! Image generation: the [`ImageGenerator`] port and its adapters.
//!
//! - [`GeminiClient`]: Google's `generateContent` REST API (one HTTP call per image, retries with
//!   jittered backoff on 429/5xx/timeouts, one key refresh after 401/403).
//! - [`OfflineGenerator`]: a deterministic PNG derived from the prompt, so the dev server works
//!   with no key and no network.
//!
//! Failures are [`GenerateError`]s whose [`GenerateError::code`] is the job error code, and
//! whose [`GenerateError::charged`] tells the caller whether Gemini billed for the attempt.

use std::fmt;
use std::ops::AddAssign;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::images::{ImageFormat, ImageLimits};
use crate::secrets::SecretsError;

pub mod client;
pub mod offline;
mod wire;

/// An image sent to the model alongside the prompt (already validated and re-encoded).
#[derive(Clone, PartialEq, Eq)]
pub struct InlineImage {
    pub mime_type: String,
    pub data: Vec<u8>,
}

/// What to generate.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageRequest {
    pub prompt: String,
    pub reference_images: Vec<InlineImage>,
    /// `"W:H"`, e.g. `"16:9"`; `None` lets the model choose (square for text-only prompts).
    pub aspect_ratio: Option<String>,
    /// Images wanted; each is one model call. Must be at least 1.
    pub count: u8,
    /// `1K`, `2K` or `4K` for a model that takes `imageConfig.imageSize`.
    pub image_size: Option<String>,
}

/// One image the model produced, as the bytes it sent, validated: a PNG, JPEG or WebP whose
/// header reads within [`generated_image_limits`]. Format and size come from the bytes, never
/// from the model's `mimeType`.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedImage {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl GeneratedImage {
    /// Checks bytes the model sent; anything but a PNG, JPEG or WebP within the bounds is a
    /// malformed answer.
    pub fn validate(data: Vec<u8>) -> Result<Self, GenerateError> {
        let info = crate::images::inspect(&data, &generated_image_limits()).map_err(|e| {
            GenerateError::Malformed {
                detail: format!("the answer's image is unusable: {e}"),
            }
        })?;
        Ok(Self {
            format: info.format,
            width: info.width,
            height: info.height,
            data,
        })
    }

    pub fn mime_type(&self) -> &'static str {
        self.format.mime_type()
    }
}

/// What a generated image may be: Gemini's "4K" outputs are about 16.8 to 17.3 MP (4096 x 4096
/// square, 5504 x 3072 at 16:9, 6336 x 2688 at 21:9); 8192 a side and 18 MP leave room for the
/// other aspect ratios, and 32 MB for any sane encoding of them. Re-encoding one into the
/// format a client asked for decodes it whole (one image at a time): at most 13 bytes a pixel
/// (an animated WebP; an RGB PNG takes 9), 234 MB at 18 MP, which the worker's 1 GB holds
/// beside the runtime and the encoded images of its job.
pub fn generated_image_limits() -> ImageLimits {
    ImageLimits {
        max_bytes: 32 * 1024 * 1024,
        max_width: 8192,
        max_height: 8192,
        max_pixels: 18_000_000,
        max_decode_memory: 18_000_000 * 13,
        ..ImageLimits::default()
    }
}

/// Tokens billed, summed over every call that Gemini answered (including blocked answers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
}

impl AddAssign for Usage {
    fn add_assign(&mut self, other: Self) {
        self.prompt_tokens += other.prompt_tokens;
        self.output_tokens += other.output_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// A finished request: possibly fewer images than asked for (see [`ImageGenerator::generate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    pub images: Vec<GeneratedImage>,
    pub usage: Usage,
    /// Model calls made, retries included.
    pub calls: u32,
    /// Wall time of the whole request, retries and backoff included.
    pub latency: Duration,
}

/// How much one image may still spend in this invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBudget {
    /// Model calls left for this image (what earlier deliveries spent is already taken off).
    pub calls: u32,
    /// No call starts that could not finish by then: the invocation must still store the image
    /// and write the job before its own timeout.
    pub until: Instant,
}

/// One image's worth of model calls.
#[derive(Debug)]
pub struct ImageAttempt {
    pub outcome: Result<GeneratedImage, GenerateError>,
    /// Calls made, each one spent from the image's budget (answered or not). The one retry after
    /// a key refresh is not counted: it is our key's fault, not the image's.
    pub calls: u32,
    /// Tokens of every answered call.
    pub usage: Usage,
}

impl ImageAttempt {
    /// An attempt that ended in `error` after `calls` calls, no tokens billed.
    pub fn failed(error: GenerateError, calls: u32) -> Self {
        Self {
            outcome: Err(error),
            calls,
            usage: Usage::default(),
        }
    }
}

/// Turns a prompt into images.
#[async_trait]
pub trait ImageGenerator: Send + Sync {
    /// Image number `index` of `req`, retrying throttling, 5xx, timeouts and malformed answers
    /// with backoff while `budget` allows. A retry hint longer than a backoff may be is not
    /// slept: the attempt ends with [`GenerateError::RateLimited`] and the hint, for the caller
    /// to come back later.
    async fn generate_image(
        &self,
        req: &ImageRequest,
        index: u8,
        budget: CallBudget,
    ) -> ImageAttempt;

    /// Short adapter name for logs and metrics.
    fn name(&self) -> &'static str;

    /// Every image of `req` at once, each with `calls` calls and no deadline: `Ok` with the
    /// images made (at least one), or the first image's error when none was.
    async fn generate(&self, req: &ImageRequest, calls: u32) -> Result<Generation, GenerateError> {
        let started = Instant::now();
        if req.count == 0 {
            return Err(GenerateError::InvalidRequest {
                message: "count must be at least 1".into(),
            });
        }
        let budget = CallBudget {
            calls,
            until: started + Duration::from_secs(24 * 3600),
        };
        let attempts = futures_util::future::join_all(
            (0..req.count).map(|index| self.generate_image(req, index, budget)),
        )
        .await;
        let mut generation = Generation {
            images: Vec::with_capacity(attempts.len()),
            usage: Usage::default(),
            calls: 0,
            latency: Duration::ZERO,
        };
        let mut first_error = None;
        for attempt in attempts {
            generation.calls += attempt.calls;
            generation.usage += attempt.usage;
            match attempt.outcome {
                Ok(image) => generation.images.push(image),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        generation.latency = started.elapsed();
        match first_error {
            Some(e) if generation.images.is_empty() => Err(e),
            _ => Ok(generation),
        }
    }
}

/// Why generation failed. `Display` is safe to log and to show the job's owner: it never
/// contains the API key or the prompt.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The model refused: `promptFeedback.blockReason` or a safety-type `finishReason`.
    #[error("the model refused the request ({reason})")]
    ContentBlocked { reason: String },
    /// The model answered but produced no image (text only, or nothing).
    #[error("the model answered without an image (finish reason: {finish_reason})")]
    NoImage { finish_reason: String },
    /// Gemini (or this client) rejected the request as malformed: bad prompt, bad image, bad
    /// aspect ratio, request too large.
    #[error("invalid request: {message}")]
    InvalidRequest { message: String },
    /// Gemini rejected the key, also after fetching it afresh.
    #[error("Gemini rejected the API key (HTTP {status})")]
    Auth { status: u16 },
    /// Still HTTP 429 after every attempt.
    #[error("Gemini rate limit or quota exhausted after {attempts} attempt(s)")]
    RateLimited {
        attempts: u32,
        /// The server's last hint of when to try again, if any.
        retry_after: Option<Duration>,
    },
    /// A 5xx after every attempt, or another unexpected status (e.g. 404 for an unknown model).
    #[error("Gemini error HTTP {status} after {attempts} attempt(s): {message}")]
    Upstream {
        status: u16,
        attempts: u32,
        message: String,
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// No complete answer within the request timeout, on every attempt.
    #[error("Gemini did not answer in time ({attempts} attempt(s))")]
    Timeout { attempts: u32 },
    /// HTTP 200 whose body is not the documented shape (bad JSON, bad base64, too large), or
    /// whose image is not a PNG, JPEG or WebP within [`generated_image_limits`].
    #[error("malformed answer from Gemini: {detail}")]
    Malformed { detail: String },
    /// Could not talk to Gemini at all (DNS, connect, TLS, connection reset), on every attempt.
    #[error("Gemini unreachable after {attempts} attempt(s): {message}")]
    Unavailable { attempts: u32, message: String },
    /// The API key could not be fetched.
    #[error("Gemini API key unavailable: {0}")]
    Secret(#[from] SecretsError),
    /// The client could not be built from its configuration.
    #[error("Gemini client misconfigured: {message}")]
    Config { message: String },
}

impl GenerateError {
    /// The job error code for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ContentBlocked { .. } => "content_blocked",
            Self::NoImage { .. } => "no_image",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::Auth { .. } => "upstream_auth",
            Self::RateLimited { .. } => "upstream_rate_limited",
            Self::Upstream { .. } => "upstream_error",
            Self::Timeout { .. } => "upstream_timeout",
            Self::Malformed { .. } => "upstream_malformed",
            Self::Unavailable { .. } => "upstream_unavailable",
            Self::Secret(_) => "secret_unavailable",
            Self::Config { .. } => "internal",
        }
    }

    /// Whether Gemini answered a call with HTTP 200, so its tokens were billed. Blocked and
    /// text-only answers are billed; anything that failed before a 200 is not.
    pub fn charged(&self) -> bool {
        matches!(
            self,
            Self::ContentBlocked { .. } | Self::NoImage { .. } | Self::Malformed { .. }
        )
    }

    /// Whether calling again may succeed (outages, throttling, timeouts, a garbled answer), as
    /// opposed to failures that would repeat (refusals, bad requests, bad keys).
    pub fn retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::Timeout { .. }
            | Self::Unavailable { .. }
            | Self::Malformed { .. } => true,
            Self::Upstream { status, .. } => *status >= 500,
            Self::Secret(err) => err.is_transient(),
            Self::ContentBlocked { .. }
            | Self::NoImage { .. }
            | Self::InvalidRequest { .. }
            | Self::Auth { .. }
            | Self::Config { .. } => false,
        }
    }

    /// The model declined to make this image (a safety or policy refusal, a blocked prompt, an
    /// answer without an image): not charged to the client, counted as a refusal.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::ContentBlocked { .. } | Self::NoImage { .. })
    }

    /// How long the server asked us to wait, when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Upstream { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

/// Settings for [`GeminiClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeminiConfig {
    /// Scheme and host (tests point it at a mock server); no trailing path.
    pub base_url: String,
    /// Model id, e.g. `gemini-2.5-flash-image` (a leading `models/` is accepted).
    pub model: String,
    /// Per attempt, from connecting until the whole body has arrived.
    pub request_timeout: Duration,
    /// Calls one image may cost over every delivery of its job, the first one included
    /// (`IMAGEGEN_GEMINI_MAX_ATTEMPTS`): the worker's budget per image. The single retry after a
    /// key refresh comes on top.
    pub max_attempts: u32,
    /// Lower bound of the jittered backoff, and the scale of its exponential growth.
    pub backoff_base: Duration,
    /// Upper bound of any single wait, `Retry-After` included.
    pub backoff_max: Duration,
}

impl Default for GeminiConfig {
    fn default() -> Self {
        Self {
            base_url: "https://generativelanguage.googleapis.com".to_owned(),
            model: "gemini-2.5-flash-image".to_owned(),
            request_timeout: Duration::from_secs(60),
            max_attempts: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
        }
    }
}

// Images are megabytes; print their size, not their bytes. Requests print the prompt's length
// only, so a stray `?req` in a log line cannot leak prompt text.
impl fmt::Debug for InlineImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineImage")
            .field("mime_type", &self.mime_type)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl fmt::Debug for GeneratedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedImage")
            .field("format", &self.format)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl fmt::Debug for ImageRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageRequest")
            .field("prompt_chars", &self.prompt.chars().count())
            .field("reference_images", &self.reference_images)
            .field("aspect_ratio", &self.aspect_ratio)
            .field("count", &self.count)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every 4K size the models make is a valid answer, and fits the re-encoding budget as an
    /// RGB PNG (9 bytes a pixel).
    #[test]
    fn four_k_answers_fit_the_generated_image_limits() {
        let limits = generated_image_limits();
        for (w, h) in [
            (4096u32, 4096u32),
            (5504, 3072),
            (3072, 5504),
            (6336, 2688),
            (4928, 3264),
        ] {
            let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
            png.extend_from_slice(&w.to_be_bytes());
            png.extend_from_slice(&h.to_be_bytes());
            png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
            let info = crate::images::inspect(&png, &limits);
            assert!(info.is_ok(), "{w}x{h}: {info:?}");
            assert!(
                u64::from(w) * u64::from(h) * 9 <= limits.max_decode_memory,
                "{w}x{h}"
            );
        }
    }

    #[test]
    fn debug_output_hides_prompt_and_bytes() {
        let req = ImageRequest {
            prompt: "a secret plan".to_owned(),
            reference_images: vec![InlineImage {
                mime_type: "image/png".to_owned(),
                data: vec![7; 1000],
            }],
            aspect_ratio: None,
            count: 1,
            image_size: None,
        };
        let debug = format!("{req:?}");
        assert!(!debug.contains("secret plan"), "{debug}");
        assert!(debug.contains("prompt_chars: 13"), "{debug}");
        assert!(debug.contains("bytes: 1000"), "{debug}");
    }

    #[test]
    fn classification() {
        let blocked = GenerateError::ContentBlocked {
            reason: "SAFETY".into(),
        };
        assert!(blocked.charged() && !blocked.retryable());
        let limited = GenerateError::RateLimited {
            attempts: 3,
            retry_after: None,
        };
        assert!(!limited.charged() && limited.retryable());
        let not_found = GenerateError::Upstream {
            status: 404,
            attempts: 1,
            message: String::new(),
            retry_after: None,
        };
        assert_eq!(not_found.code(), "upstream_error");
        assert!(!not_found.retryable());
        assert!(GenerateError::Secret(SecretsError::unavailable("x")).retryable());
        assert!(!GenerateError::Secret(SecretsError::Empty).retryable());
    }
}
