//! Authentication, scopes and rate limits, as one extractor every protected handler takes:
//! `Authorized<scope::JobsRead>` means "an authenticated caller with jobs:read who is within
//! the per-IP, global and per-key rate limits".

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::observe::Notes;
use super::{ApiError, ErrorCode};
use crate::App;
use crate::domain::ids::from_hex;
use crate::domain::keys::{self, AuthFailure, Scope};
use crate::domain::limits::{self, Measure, Subject, Window};
use crate::store::Reservation;
use crate::telemetry::Unit;

pub const API_KEY_HEADER: &str = "x-api-key";
/// The tenant of the bootstrap admin credential (it has no key record).
pub const BOOTSTRAP_TENANT: &str = "admin";

pub use crate::domain::keys::Caller;

/// Type-level scopes for `Authorized<S>`.
pub mod scope {
    use crate::domain::keys::Scope;

    pub trait Required: Send + Sync + 'static {
        const SCOPE: Scope;
    }
    pub struct ImagesWrite;
    pub struct JobsRead;
    pub struct UsageRead;
    pub struct Admin;
    impl Required for ImagesWrite {
        const SCOPE: Scope = Scope::ImagesWrite;
    }
    impl Required for JobsRead {
        const SCOPE: Scope = Scope::JobsRead;
    }
    impl Required for UsageRead {
        const SCOPE: Scope = Scope::UsageRead;
    }
    impl Required for Admin {
        const SCOPE: Scope = Scope::Admin;
    }
}

/// An authenticated caller holding scope `S`, within its rate limits.
pub struct Authorized<S> {
    pub caller: Caller,
    _scope: PhantomData<S>,
}

/// Rate-limit state of this request, turned into `RateLimit-*` headers by the access log layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    pub limit: u32,
    pub remaining: u64,
    pub reset_secs: u64,
}

/// The caller's address as the gateway saw it (never a client-supplied X-Forwarded-For).
pub fn source_ip(parts: &Parts) -> Option<IpAddr> {
    if let Some(lambda_http::request::RequestContext::ApiGatewayV1(ctx)) =
        parts
            .extensions
            .get::<lambda_http::request::RequestContext>()
    {
        return ctx
            .identity
            .source_ip
            .as_deref()
            .and_then(|ip| ip.parse().ok());
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

impl<S: scope::Required> FromRequestParts<App> for Authorized<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let notes = parts.extensions.get::<Notes>().cloned();
        let ip = source_ip(parts);
        // The per-IP and global caps come first, so guessing keys costs the guesser.
        check_ip_and_global(app, ip, notes.as_ref()).await?;
        let caller = authenticate(app, &parts.headers).await?;
        if let Some(notes) = &notes {
            notes.set_tenant(&caller.tenant);
        }
        if !caller.allows(S::SCOPE) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("this api key lacks the `{}` scope", S::SCOPE.as_str()),
            ));
        }
        let info = check_key_rate(app, &caller).await;
        if let (Some(notes), Ok(info) | Err((_, Some(info)))) = (&notes, &info) {
            notes.set_rate(*info);
        }
        info.map_err(|(e, _)| e)?;
        Ok(Self {
            caller,
            _scope: PhantomData,
        })
    }
}

/// Resolves `x-api-key` to a caller, or a 401 that says why only as much as is safe.
pub async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let refuse = |failure: AuthFailure| {
        tracing::info!(reason = %failure, "authentication failed");
        ApiError::new(ErrorCode::Unauthorized, failure.public_message())
    };
    let presented = headers
        .get(API_KEY_HEADER)
        .ok_or_else(|| refuse(AuthFailure::Missing))?
        .to_str()
        .map_err(|_| refuse(AuthFailure::Malformed))?;
    if let Some(caller) = bootstrap_admin(app, presented) {
        return Ok(caller);
    }
    let (key_id, secret) =
        keys::parse_presented(presented).ok_or_else(|| refuse(AuthFailure::Malformed))?;
    let key = app
        .store
        .get_key(key_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| refuse(AuthFailure::Unknown))?;
    key.verify(secret, app.clock.now()).map_err(refuse)?;
    Ok(Caller {
        tenant: key.tenant.clone(),
        key_id: Some(key.key_id.clone()),
        scopes: key.scopes.clone(),
        limits: app.config.limits.for_key(&key.limits),
    })
}

fn bootstrap_admin(app: &App, presented: &str) -> Option<Caller> {
    let expected = from_hex(app.config.admin_key_sha256.as_deref()?)?;
    let digest = Sha256::digest(presented.as_bytes());
    bool::from(digest.as_slice().ct_eq(&expected)).then(|| Caller {
        tenant: BOOTSTRAP_TENANT.to_owned(),
        key_id: None,
        scopes: vec![Scope::Admin],
        limits: app.config.limits.for_key(&Default::default()),
    })
}

fn unavailable(e: crate::store::StoreError) -> ApiError {
    tracing::error!(error = %e, "store failed while authorizing");
    // An outage is the dependency's (502, retry); anything else is ours (500).
    let code = match e {
        crate::store::StoreError::Unavailable(_) => ErrorCode::UpstreamError,
        _ => ErrorCode::Internal,
    };
    ApiError::new(
        code,
        "the service could not authorize this request; try again",
    )
}

async fn check_ip_and_global(
    app: &App,
    ip: Option<IpAddr>,
    notes: Option<&Notes>,
) -> Result<(), ApiError> {
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
    match app.store.reserve(&adds).await.map_err(unavailable)? {
        Reservation::Granted { .. } => Ok(()),
        Reservation::Denied { index, .. } => {
            let scope = scopes.get(index).copied().unwrap_or("global");
            let (limit, ends) = counters
                .get(index)
                .map(|(c, ends)| (c.limit, *ends))
                .unwrap_or((0, now));
            let retry = limits::seconds_until(ends, now);
            app.metrics
                .emit(&[("Scope", scope)], &[("RateLimited", 1.0, Unit::Count)]);
            // Every 429 carries the RateLimit-* headers, this one's for the cap it hit.
            if let Some(notes) = notes {
                notes.set_rate(RateInfo {
                    limit: u32::try_from(limit).unwrap_or(u32::MAX),
                    remaining: 0,
                    reset_secs: retry,
                });
            }
            Err(ApiError::new(
                ErrorCode::RateLimited,
                format!("too many requests ({scope} limit); retry later"),
            )
            .retry_after(retry))
        }
    }
}

/// Per-key burst (per second) and rate (per minute) windows.
async fn check_key_rate(
    app: &App,
    caller: &Caller,
) -> Result<RateInfo, (ApiError, Option<RateInfo>)> {
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
    match app
        .store
        .reserve(&[second, minute])
        .await
        .map_err(|e| (unavailable(e), None))?
    {
        Reservation::Granted { values } => Ok(RateInfo {
            limit: l.rate_per_minute,
            remaining: u64::from(l.rate_per_minute)
                .saturating_sub(values.get(1).copied().unwrap_or(0)),
            reset_secs,
        }),
        Reservation::Denied { index, current } => {
            app.metrics
                .emit(&[("Scope", "key")], &[("RateLimited", 1.0, Unit::Count)]);
            let (retry, remaining) = if index == 0 {
                (limits::seconds_until(second_ends, now), 0)
            } else {
                (
                    reset_secs,
                    u64::from(l.rate_per_minute).saturating_sub(current),
                )
            };
            let info = RateInfo {
                limit: l.rate_per_minute,
                remaining: if index == 1 { 0 } else { remaining },
                reset_secs: if index == 1 { reset_secs } else { retry },
            };
            Err((
                ApiError::new(
                    ErrorCode::RateLimited,
                    "too many requests for this api key; retry later",
                )
                .retry_after(retry),
                Some(info),
            ))
        }
    }
}
