//! Logs and metrics. Logs are `tracing` events (JSON on Lambda) carrying request_id, tenant,
//! job_id, route, status and latency_ms; never keys, secrets or prompt text. Metrics are
//! CloudWatch Embedded Metric Format lines, which Lambda's log pipeline turns into metrics
//! without an API call.

pub mod metrics;

pub use metrics::{Metrics, Unit};

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Logs on stdout as the Lambda runtime's own subscriber writes them, so CloudWatch gets what
/// the Lambda console expects: JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, no timestamps (CloudWatch
/// adds them), no targets; the level from [`log_filter`].
///
/// Our own rather than `lambda_runtime::tracing::init_default_subscriber`: that one filters
/// with `EnvFilter`, whose regex engines were about 0.3 MB of each binary.
pub fn init_lambda() {
    let var = |name| std::env::var(name).ok();
    let filter = log_filter(var("AWS_LAMBDA_LOG_LEVEL"), var("RUST_LOG"));
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt().with_target(false).without_time();
    // Fails only when a subscriber is already set (a test set one): keep that one.
    let _ = if json {
        logs.json().finish().with(filter).try_init()
    } else {
        logs.finish().with(filter).try_init()
    };
}

/// `AWS_LAMBDA_LOG_LEVEL` (Lambda's log-level control: TRACE, DEBUG, INFO, WARN, ERROR, FATAL)
/// wins; else `RUST_LOG` as per-target levels (`info,imagegen=debug`; a value with span or
/// field filters, which only EnvFilter reads, is ignored); else INFO.
fn log_filter(aws_lambda_log_level: Option<String>, rust_log: Option<String>) -> Targets {
    let lambda_level = aws_lambda_log_level.and_then(|level| match level.trim() {
        l if l.eq_ignore_ascii_case("fatal") => Some(LevelFilter::ERROR),
        l => l.parse::<LevelFilter>().ok(),
    });
    if let Some(level) = lambda_level {
        return Targets::new().with_default(level);
    }
    rust_log
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    fn enabled(filter: &Targets, target: &str) -> Option<Level> {
        [
            Level::TRACE,
            Level::DEBUG,
            Level::INFO,
            Level::WARN,
            Level::ERROR,
        ]
        .into_iter()
        .find(|level| filter.would_enable(target, level))
    }

    #[test]
    fn lambda_log_level_wins_then_rust_log_then_info() {
        let filter = |aws: Option<&str>, rust: Option<&str>| {
            log_filter(aws.map(str::to_owned), rust.map(str::to_owned))
        };
        assert_eq!(enabled(&filter(None, None), "imagegen"), Some(Level::INFO));
        let debug = filter(Some("DEBUG"), Some("error"));
        assert_eq!(enabled(&debug, "imagegen"), Some(Level::DEBUG));
        assert_eq!(
            enabled(&filter(Some("FATAL"), None), "x"),
            Some(Level::ERROR)
        );
        let per_target = filter(None, Some("warn,imagegen=trace"));
        assert_eq!(enabled(&per_target, "imagegen::worker"), Some(Level::TRACE));
        assert_eq!(enabled(&per_target, "hyper"), Some(Level::WARN));
        // Unknown levels and unsupported directives fall back rather than silence the logs.
        assert_eq!(enabled(&filter(Some("LOUD"), None), "x"), Some(Level::INFO));
        assert_eq!(
            enabled(&filter(None, Some("[span{a=1}]")), "x"),
            Some(Level::INFO)
        );
        assert_eq!(enabled(&filter(None, Some("")), "x"), Some(Level::INFO));
    }
}
