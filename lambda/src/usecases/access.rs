//! Who may call, and how often: a presented key resolved to a caller, and the per-IP, global
//! and per-key rate limits as counters in the store. `http::auth` runs these for every
//! protected route, in this order: the source's caps first (so guessing keys costs the
//! guesser), then the key, then the key's own rate.

use std::net::IpAddr;

use crate::App;
use crate::domain::keys::{self, AuthFailure, Caller, Scope};
use crate::domain::limits::{self, Measure, RateInfo, Subject, Window};
use crate::store::{Reservation, StoreError};
use crate::telemetry::Unit;

/// The tenant of the bootstrap admin credential (it has no key record).
pub const BOOTSTRAP_TENANT: &str = "admin";

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Clients are told only "unauthorized"; the reason is for logs.
    #[error("unauthorized: {0}")]
    Unauthorized(AuthFailure),
    /// A rate limit is spent: `scope` is `ip`, `global` or `key`.
    #[error("{scope} rate limit reached")]
    RateLimited {
        scope: &'static str,
        retry_after: u64,
        rate: RateInfo,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves a presented `x-api-key` to its caller.
pub async fn authenticate(app: &App, presented: &str) -> Result<Caller, AccessError> {
    if let Some(caller) = bootstrap_admin(app, presented) {
        return Ok(caller);
    }
    let (key_id, secret) = keys::parse_presented(presented)
        .ok_or(AccessError::Unauthorized(AuthFailure::Malformed))?;
    let key = app
        .store
        .get_key(key_id)
        .await?
        .ok_or(AccessError::Unauthorized(AuthFailure::Unknown))?;
    key.verify(secret, app.clock.now())
        .map_err(AccessError::Unauthorized)?;
    Ok(Caller {
        tenant: key.tenant.clone(),
        key_id: Some(key.key_id.clone()),
        scopes: key.scopes.clone(),
        limits: app.config.limits.for_key(&key.limits),
    })
}

fn bootstrap_admin(app: &App, presented: &str) -> Option<Caller> {
    let expected = app.config.admin_key_sha256.as_deref()?;
    keys::secret_matches(presented, expected).then(|| Caller {
        tenant: BOOTSTRAP_TENANT.to_owned(),
        key_id: None,
        scopes: vec![Scope::Admin],
        limits: app.config.limits.for_key(&Default::default()),
    })
}

/// The per-IP (when the source is known) and global per-minute caps.
pub async fn check_source(app: &App, ip: Option<IpAddr>) -> Result<(), AccessError> {
    let now = app.clock.now();
    let l = &app.config.limits;
    let ip_text = ip.map(|ip| ip.to_string());
    let mut counters = Vec::new();
    let mut scopes = Vec::new();
    if let Some(ip) = &ip_text {
        counters.push(limits::counter(
            Measure::Requests,
            &Subject::Ip(ip),
            Window::Minute,
            now,
            1,
            l.ip_rate_per_minute,
        ));
        scopes.push("ip");
    }
    counters.push(limits::counter(
        Measure::Requests,
        &Subject::Global,
        Window::Minute,
        now,
        1,
        l.global_rate_per_minute,
    ));
    scopes.push("global");
    let adds: Vec<_> = counters.iter().map(|(c, _)| c.clone()).collect();
    match app.store.reserve(&adds).await? {
        Reservation::Granted { .. } => Ok(()),
        Reservation::Denied { index, .. } => {
            let scope = scopes.get(index).copied().unwrap_or("global");
            let (limit, ends) = counters
                .get(index)
                .map(|(c, ends)| (c.limit, *ends))
                .unwrap_or((0, now));
            let retry_after = limits::seconds_until(ends, now);
            app.metrics
                .emit(&[("Scope", scope)], &[("RateLimited", 1.0, Unit::Count)]);
            Err(AccessError::RateLimited {
                scope,
                retry_after,
                rate: RateInfo {
                    limit: u32::try_from(limit).unwrap_or(u32::MAX),
                    remaining: 0,
                    reset_secs: retry_after,
                },
            })
        }
    }
}

/// The caller's burst (per second) and rate (per minute) windows; what is left of the minute.
pub async fn check_key_rate(app: &App, caller: &Caller) -> Result<RateInfo, AccessError> {
    let now = app.clock.now();
    let subject = Subject::Key(caller.key_id.as_deref().unwrap_or("bootstrap-admin"));
    let l = caller.limits;
    let (second, second_ends) =
        limits::counter(Measure::Requests, &subject, Window::Second, now, 1, l.burst);
    let (minute, minute_ends) = limits::counter(
        Measure::Requests,
        &subject,
        Window::Minute,
        now,
        1,
        l.rate_per_minute,
    );
    let reset_secs = limits::seconds_until(minute_ends, now);
    match app.store.reserve(&[second, minute]).await? {
        Reservation::Granted { values } => Ok(RateInfo {
            limit: l.rate_per_minute,
            remaining: u64::from(l.rate_per_minute)
                .saturating_sub(values.get(1).copied().unwrap_or(0)),
            reset_secs,
        }),
        Reservation::Denied { index, current } => {
            app.metrics
                .emit(&[("Scope", "key")], &[("RateLimited", 1.0, Unit::Count)]);
            let (retry_after, remaining) = if index == 0 {
                (limits::seconds_until(second_ends, now), 0)
            } else {
                (
                    reset_secs,
                    u64::from(l.rate_per_minute).saturating_sub(current),
                )
            };
            Err(AccessError::RateLimited {
                scope: "key",
                retry_after,
                rate: RateInfo {
                    limit: l.rate_per_minute,
                    remaining: if index == 1 { 0 } else { remaining },
                    reset_secs: if index == 1 { reset_secs } else { retry_after },
                },
            })
        }
    }
}
