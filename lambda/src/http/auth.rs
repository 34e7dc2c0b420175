//! Authentication, scopes and rate limits, as one extractor every protected handler takes:
//! `Authorized<scope::JobsRead>` means "an authenticated caller with jobs:read who is within
//! the per-IP, global and per-key rate limits". The checks are `usecases::access`; this file
//! reads the request and answers in HTTP.

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::observe::Notes;
use super::{ApiError, ErrorCode};
use crate::App;
use crate::domain::keys::AuthFailure;
use crate::store::StoreError;
use crate::usecases::access::{self, AccessError};

pub const API_KEY_HEADER: &str = "x-api-key";

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
        access::check_source(app, ip)
            .await
            .map_err(|e| refused(e, notes.as_ref()))?;
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
        let policies = access::check_key_rate(app, &caller)
            .await
            .map_err(|e| refused(e, notes.as_ref()))?;
        if let Some(notes) = &notes {
            notes.add_policies(&policies);
        }
        Ok(Self {
            caller,
            _scope: PhantomData,
        })
    }
}

/// Resolves `x-api-key` to a caller, or a 401 that says why only as much as is safe.
pub async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let presented = match headers.get(API_KEY_HEADER).map(|v| v.to_str()) {
        None => Err(AccessError::Unauthorized(AuthFailure::Missing)),
        Some(Err(_)) => Err(AccessError::Unauthorized(AuthFailure::Malformed)),
        Some(Ok(presented)) => Ok(presented),
    };
    match presented {
        Ok(presented) => access::authenticate(app, presented).await,
        Err(e) => Err(e),
    }
    .map_err(|e| refused(e, None))
}

/// The answer to a refused request; a 429 also carries its limit's `RateLimit` fields.
fn refused(e: AccessError, notes: Option<&Notes>) -> ApiError {
    match e {
        AccessError::Unauthorized(failure) => {
            tracing::info!(reason = %failure, "authentication failed");
            ApiError::new(ErrorCode::Unauthorized, failure.public_message())
        }
        AccessError::RateLimited {
            scope,
            retry_after,
            policies,
        } => {
            if let Some(notes) = notes {
                notes.add_policies(&policies);
            }
            let message = if scope == "key" {
                "too many requests for this api key; retry later".to_owned()
            } else {
                format!("too many requests ({scope} limit); retry later")
            };
            ApiError::new(ErrorCode::RateLimited, message).retry_after(retry_after)
        }
        AccessError::Store(e) => {
            tracing::error!(error = %e, "store failed while authorizing");
            // An outage is the dependency's (502, retry); anything else is ours (500).
            let code = match e {
                StoreError::Unavailable(_) => ErrorCode::UpstreamError,
                _ => ErrorCode::Internal,
            };
            ApiError::new(
                code,
                "the service could not authorize this request; try again",
            )
        }
    }
}
