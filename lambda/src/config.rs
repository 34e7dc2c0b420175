//! Configuration from environment variables, validated once at start-up. A missing or bad
//! variable stops start-up with a message that names it.

use std::time::Duration;

use crate::domain::jobs::MAX_DEFER;
use crate::domain::limits::DefaultLimits;
use crate::domain::pricing::{DEFAULT_PRICES, ModelPrice};
use crate::gemini::GeminiConfig;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

/// Settings shared by every binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `dev`, `staging`, `prod`: a metrics dimension and a log field.
    pub environment: String,
    pub limits: DefaultLimits,
    /// How long signed download and upload URLs stay valid.
    pub url_ttl: Duration,
    pub upload_max_bytes: u64,
    pub max_body_bytes: usize,
    pub key_rotation_grace: Duration,
    pub job_retention: Duration,
    pub reference_longest_side: u32,
    /// SHA-256 (hex) of a bootstrap admin credential, accepted as an `admin` caller.
    pub admin_key_sha256: Option<String>,
    /// SQS's maxReceiveCount: the delivery that reaches it is the job's last attempt. Terraform
    /// sets it from the same variable as the queue's redrive policy.
    pub max_receive_count: u32,
    /// A running job untouched this long is considered abandoned and may be claimed again.
    /// Terraform sets it to the worker's timeout: no invocation outlives that.
    pub worker_lease: Duration,
    /// The jobs queue's visibility timeout: how long a failed delivery waits before the next.
    /// Terraform sets it from the queue module's own value.
    pub queue_visibility: Duration,
    pub metrics_namespace: String,
    /// The image model (`IMAGEGEN_GEMINI_MODEL`, as the worker calls it): the api checks a
    /// request's `image_size` against what it takes.
    pub model: String,
    /// Whether webhooks may go to loopback receivers over http (`http://127.0.0.1:…`): the dev
    /// server's choice, never an environment variable (deployed, only public https receivers).
    pub webhooks_to_loopback: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            environment: "dev".into(),
            limits: DefaultLimits::default(),
            url_ttl: Duration::from_secs(900),
            upload_max_bytes: 10 * 1024 * 1024,
            max_body_bytes: 6_000_000,
            key_rotation_grace: Duration::from_secs(24 * 3600),
            job_retention: Duration::from_secs(30 * 24 * 3600),
            reference_longest_side: 1536,
            admin_key_sha256: None,
            max_receive_count: 3,
            worker_lease: Duration::from_secs(900),
            queue_visibility: Duration::from_secs(6 * 900),
            metrics_namespace: "Imagegen".into(),
            model: GeminiConfig::default().model,
            webhooks_to_loopback: false,
        }
    }
}

/// What a worker invocation keeps back from its lease (the worker's timeout) for storing the
/// images and writing the job after the last model call.
const FINISH_GRACE: Duration = Duration::from_secs(15);

impl Config {
    /// How long one worker invocation may spend on model calls: its lease less what storing and
    /// the final write need, and at least half the lease.
    pub fn invocation_budget(&self) -> Duration {
        self.worker_lease
            .saturating_sub(FINISH_GRACE)
            .max(self.worker_lease / 2)
    }

    /// A model call must fit in a worker invocation: one that outlived the Lambda would never
    /// record its calls against the image's budget.
    pub fn check_gemini_fits(&self, gemini: &GeminiConfig) -> Result<(), ConfigError> {
        if gemini.request_timeout > self.invocation_budget() {
            return Err(ConfigError {
                var: "IMAGEGEN_GEMINI_TIMEOUT_SECONDS",
                problem: format!(
                    "{} s does not fit in a worker invocation ({} s of IMAGEGEN_WORKER_LEASE_SECONDS={} s)",
                    gemini.request_timeout.as_secs(),
                    self.invocation_budget().as_secs(),
                    self.worker_lease.as_secs()
                ),
            });
        }
        Ok(())
    }

    /// How long after its creation a job may still be queued or running; the janitor ends it
    /// after that. Every delivery (maxReceiveCount of them) may wait the longer of the queue's
    /// visibility timeout and the longest upstream deferral, then run for a lease; five
    /// minutes more cover the batching window and clock skew.
    pub fn job_deadline(&self) -> Duration {
        let per_delivery = self.queue_visibility.max(MAX_DEFER) + self.worker_lease;
        per_delivery.saturating_mul(self.max_receive_count) + Duration::from_secs(300)
    }
}

/// Reads variables through `lookup`, so tests need not touch the process environment.
pub struct Vars<F: Fn(&str) -> Option<String>>(pub F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    pub fn optional(&self, var: &'static str) -> Option<String> {
        (self.0)(var).filter(|v| !v.trim().is_empty())
    }

    pub fn required(&self, var: &'static str) -> Result<String, ConfigError> {
        self.optional(var).ok_or(ConfigError {
            var,
            problem: "is required but not set".into(),
        })
    }

    pub fn number<T>(
        &self,
        var: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(raw) = self.optional(var) else {
            return Ok(default);
        };
        let value: T = raw.trim().parse().map_err(|_| ConfigError {
            var,
            problem: format!("`{raw}` is not a number"),
        })?;
        if !range.contains(&value) {
            return Err(ConfigError {
                var,
                problem: format!("{value} is outside {}..={}", range.start(), range.end()),
            });
        }
        Ok(value)
    }
}

/// The price of `model`'s tokens: from `IMAGEGEN_PRICES` (a JSON object of model id to
/// `{"input_per_mtok": µ$, "output_per_mtok": µ$}`, micro-dollars per million tokens) when
/// set, else the built-in list prices; `None` for a model neither knows (costs then stay
/// unknown rather than wrong).
pub fn model_price<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
    model: &str,
) -> Result<Option<ModelPrice>, ConfigError> {
    let model = model.strip_prefix("models/").unwrap_or(model);
    match vars.optional("IMAGEGEN_PRICES") {
        None => Ok(DEFAULT_PRICES
            .iter()
            .find(|(id, _)| *id == model)
            .map(|(_, price)| *price)),
        Some(json) => {
            let table: std::collections::BTreeMap<String, ModelPrice> = serde_json::from_str(&json)
                .map_err(|e| ConfigError {
                    var: "IMAGEGEN_PRICES",
                    problem: format!(
                        "must be a JSON object of model id to {{\"input_per_mtok\": N, \
                         \"output_per_mtok\": N}} (micro-dollars per million tokens): {e}"
                    ),
                })?;
            Ok(table.get(model).copied())
        }
    }
}

/// The model settings the `worker` Lambda and the dev server's worker read (the dev server takes
/// its key from `GEMINI_API_KEY` instead of Secrets Manager).
pub fn gemini_config<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<GeminiConfig, ConfigError> {
    let mut config = GeminiConfig::default();
    if let Some(model) = vars.optional("IMAGEGEN_GEMINI_MODEL") {
        config.model = model;
    }
    if let Some(base) = vars.optional("IMAGEGEN_GEMINI_BASE_URL") {
        config.base_url = base;
    }
    config.request_timeout = Duration::from_secs(vars.number(
        "IMAGEGEN_GEMINI_TIMEOUT_SECONDS",
        config.request_timeout.as_secs(),
        1..=600,
    )?);
    config.max_attempts =
        vars.number("IMAGEGEN_GEMINI_MAX_ATTEMPTS", config.max_attempts, 1..=10)?;
    Ok(config)
}

impl Config {
    pub fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let d = Config::default();
        let dl = d.limits;
        let secs = |var, default: Duration, max: u64| -> Result<Duration, ConfigError> {
            vars.number(var, default.as_secs(), 1..=max)
                .map(Duration::from_secs)
        };
        let admin_key_sha256 = match vars.optional("IMAGEGEN_ADMIN_KEY_SHA256") {
            Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(h.to_ascii_lowercase())
            }
            Some(_) => {
                return Err(ConfigError {
                    var: "IMAGEGEN_ADMIN_KEY_SHA256",
                    problem: "must be 64 hex digits (a SHA-256)".into(),
                });
            }
            None => None,
        };
        let environment = vars.optional("IMAGEGEN_ENV").unwrap_or(d.environment);
        if !crate::domain::ids::valid_tenant(&environment) {
            return Err(ConfigError {
                var: "IMAGEGEN_ENV",
                problem: format!("`{environment}` must be 1..=64 of [a-z0-9_-]"),
            });
        }
        Ok(Self {
            environment,
            limits: DefaultLimits {
                rate_per_minute: vars.number(
                    "IMAGEGEN_DEFAULT_RATE_PER_MINUTE",
                    dl.rate_per_minute,
                    1..=1_000_000,
                )?,
                burst: vars.number("IMAGEGEN_DEFAULT_BURST", dl.burst, 1..=1_000_000)?,
                daily_quota: vars.number(
                    "IMAGEGEN_DEFAULT_DAILY_QUOTA",
                    dl.daily_quota,
                    0..=100_000_000,
                )?,
                monthly_quota: vars.number(
                    "IMAGEGEN_DEFAULT_MONTHLY_QUOTA",
                    dl.monthly_quota,
                    0..=1_000_000_000,
                )?,
                ip_rate_per_minute: vars.number(
                    "IMAGEGEN_IP_RATE_PER_MINUTE",
                    dl.ip_rate_per_minute,
                    1..=10_000_000,
                )?,
                global_rate_per_minute: vars.number(
                    "IMAGEGEN_GLOBAL_RATE_PER_MINUTE",
                    dl.global_rate_per_minute,
                    1..=100_000_000,
                )?,
                global_daily_images: vars.number(
                    "IMAGEGEN_GLOBAL_DAILY_IMAGES",
                    dl.global_daily_images,
                    0..=1_000_000_000,
                )?,
            },
            url_ttl: secs("IMAGEGEN_URL_TTL_SECONDS", d.url_ttl, 7 * 24 * 3600)?,
            upload_max_bytes: vars.number(
                "IMAGEGEN_UPLOAD_MAX_BYTES",
                d.upload_max_bytes,
                1..=50 * 1024 * 1024,
            )?,
            max_body_bytes: vars.number(
                "IMAGEGEN_MAX_BODY_BYTES",
                d.max_body_bytes,
                1024..=10 * 1024 * 1024,
            )?,
            key_rotation_grace: secs(
                "IMAGEGEN_KEY_ROTATION_GRACE_SECONDS",
                d.key_rotation_grace,
                30 * 24 * 3600,
            )?,
            job_retention: Duration::from_secs(
                vars.number("IMAGEGEN_JOB_RETENTION_DAYS", 30u64, 1..=3650)? * 24 * 3600,
            ),
            reference_longest_side: vars.number(
                "IMAGEGEN_REFERENCE_LONGEST_SIDE",
                d.reference_longest_side,
                64..=4096,
            )?,
            admin_key_sha256,
            max_receive_count: vars.number(
                "IMAGEGEN_MAX_RECEIVE_COUNT",
                d.max_receive_count,
                1..=1000,
            )?,
            worker_lease: secs("IMAGEGEN_WORKER_LEASE_SECONDS", d.worker_lease, 24 * 3600)?,
            queue_visibility: secs(
                "IMAGEGEN_QUEUE_VISIBILITY_SECONDS",
                d.queue_visibility,
                12 * 3600,
            )?,
            metrics_namespace: vars
                .optional("IMAGEGEN_METRICS_NAMESPACE")
                .unwrap_or(d.metrics_namespace),
            model: vars.optional("IMAGEGEN_GEMINI_MODEL").unwrap_or(d.model),
            webhooks_to_loopback: d.webhooks_to_loopback,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Config::from_vars(&Vars(move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }))
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        assert_eq!(from(&[]).unwrap(), Config::default());
    }

    #[test]
    fn values_are_read_and_bad_ones_name_their_variable() {
        let c = from(&[
            ("IMAGEGEN_DEFAULT_DAILY_QUOTA", "25"),
            ("IMAGEGEN_ENV", "staging"),
        ])
        .unwrap();
        assert_eq!(c.limits.daily_quota, 25);
        assert_eq!(c.environment, "staging");
        let e = from(&[("IMAGEGEN_DEFAULT_BURST", "lots")]).unwrap_err();
        assert_eq!(e.var, "IMAGEGEN_DEFAULT_BURST");
        assert!(e.to_string().contains("IMAGEGEN_DEFAULT_BURST"));
        let e = from(&[("IMAGEGEN_URL_TTL_SECONDS", "0")]).unwrap_err();
        assert_eq!(e.var, "IMAGEGEN_URL_TTL_SECONDS");
        let e = from(&[("IMAGEGEN_ADMIN_KEY_SHA256", "abc")]).unwrap_err();
        assert_eq!(e.var, "IMAGEGEN_ADMIN_KEY_SHA256");
    }
}
