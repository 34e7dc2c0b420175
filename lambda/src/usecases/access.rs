//! Who may call, and how often: a presented key resolved to a caller, and the per-IP, global
//! and per-key rate limits as counters in the store. `http::auth` runs these for every
//! protected route, in this order: the source's caps first (so guessing keys costs the
//! guesser), then the key, then the key's own rate.

use std::net::IpAddr;

use crate::App;
use crate::domain::keys::{self, AuthFailure, Caller, Scope};
use crate::domain::limits::{self, Measure, PolicyState, PolicyUnit, Subject, Window};
use crate::store::{Reservation, StoreError};
use crate::telemetry::Unit;

/// The tenant of the bootstrap admin credential (it has no key record).
pub const BOOTSTRAP_TENANT: &str = "admin";

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Clients are told only "unauthorized"; the reason is for logs.
    #[error("unauthorized: {0}")]
    Unauthorized(AuthFailure),
    /// A rate limit is spent: `scope` is `ip`, `global` or `key`; `policies` are where the
    /// caller stands in the limits that were checked, the spent one among them.
    #[error("{scope} rate limit reached")]
    RateLimited {
        scope: &'static str,
        retry_after: u64,
        policies: Vec<PolicyState>,
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
        webhook: key.webhook.clone(),
    })
}

fn bootstrap_admin(app: &App, presented: &str) -> Option<Caller> {
    let expected = app.config.admin_key_sha256.as_deref()?;
    keys::secret_matches(presented, expected).then(|| Caller {
        tenant: BOOTSTRAP_TENANT.to_owned(),
        key_id: None,
        scopes: vec![Scope::Admin],
        limits: app.config.limits.for_key(&Default::default()),
        webhook: None,
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
        Reservation::Denied { index, current } => {
            let scope = scopes.get(index).copied().unwrap_or("global");
            let policies: Vec<PolicyState> = counters
                .get(index)
                .map(|(c, ends)| {
                    PolicyState::of(
                        scope,
                        PolicyUnit::Requests,
                        Window::Minute,
                        c,
                        *ends,
                        current,
                        now,
                    )
                })
                .into_iter()
                .collect();
            let retry_after = policies.first().map_or(1, |p: &PolicyState| p.reset_secs);
            app.metrics
                .emit(&[("Scope", scope)], &[("RateLimited", 1.0, Unit::Count)]);
            Err(AccessError::RateLimited {
                scope,
                retry_after,
                policies,
            })
        }
    }
}

/// The caller's burst (per second) and rate (per minute) windows: where it stands in each.
pub async fn check_key_rate(app: &App, caller: &Caller) -> Result<Vec<PolicyState>, AccessError> {
    let now = app.clock.now();
    let subject = Subject::Key(caller.key_id.as_deref().unwrap_or("bootstrap-admin"));
    let l = caller.limits;
    let windows = [
        ("burst", Window::Second, l.burst),
        ("minute", Window::Minute, l.rate_per_minute),
    ];
    let counters: Vec<_> = windows
        .iter()
        .map(|&(_, window, limit)| {
            limits::counter(Measure::Requests, &subject, window, now, 1, limit)
        })
        .collect();
    let adds: Vec<_> = counters.iter().map(|(c, _)| c.clone()).collect();
    let policy = |i: usize, used: u64| {
        let (name, window, _) = windows[i];
        let (c, ends) = &counters[i];
        PolicyState::of(name, PolicyUnit::Requests, window, c, *ends, used, now)
    };
    match app.store.reserve(&adds).await? {
        Reservation::Granted { values } => Ok((0..windows.len())
            .map(|i| policy(i, values.get(i).copied().unwrap_or(0)))
            .collect()),
        Reservation::Denied { index, .. } => {
            app.metrics
                .emit(&[("Scope", "key")], &[("RateLimited", 1.0, Unit::Count)]);
            // Nothing was counted, so only the spent window is told: nothing remains of it.
            let spent: Vec<PolicyState> = (index < windows.len())
                .then(|| policy(index, u64::MAX))
                .into_iter()
                .collect();
            let retry_after = spent.first().map_or(1, |p| p.reset_secs);
            Err(AccessError::RateLimited {
                scope: "key",
                retry_after,
                policies: spent,
            })
        }
    }
}
