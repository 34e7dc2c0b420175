//! The caller's limits and how much of each window is used.

use axum::Json;
use axum::extract::State;

use crate::App;
use crate::domain::admission;
use crate::domain::limits::{self, Measure, Subject, Window};
use crate::http::auth::{Authorized, scope};
use crate::http::views::{UsageView, UsageWindow, timestamp};
use crate::http::{ApiError, ErrorEnvelope};

#[utoipa::path(
    get, path = "/v1/usage", tag = "usage",
    security(("api_key" = [])),
    responses(
        (status = 200, body = UsageView, description = "limits and use of the current windows"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope), (status = 500, body = ErrorEnvelope),
        (status = 502, body = ErrorEnvelope),
    )
)]
pub async fn usage(
    State(app): State<App>,
    auth: Authorized<scope::UsageRead>,
) -> Result<Json<UsageView>, ApiError> {
    let caller = auth.caller;
    let now = app.clock.now();
    let l = caller.limits;
    let key_subject = caller
        .key_id
        .clone()
        .unwrap_or_else(|| "bootstrap-admin".into());
    let windows = [
        (
            "minute",
            "requests",
            Subject::Key(&key_subject),
            Window::Minute,
            Measure::Requests,
            l.rate_per_minute,
        ),
        (
            "day",
            "images",
            Subject::Tenant(&caller.tenant),
            Window::Day,
            Measure::Images,
            l.daily_quota,
        ),
        (
            "month",
            "images",
            Subject::Tenant(&caller.tenant),
            Window::Month,
            Measure::Images,
            l.monthly_quota,
        ),
    ];
    // The same counter admission reserves on (refusals today plus images still in flight).
    let (refusals, refusals_end) =
        admission::refusal_counter(&caller.tenant, now, 0, l.daily_refusal_limit);
    let counters: Vec<_> = windows
        .iter()
        .map(|(name, measure, subject, window, counted, limit)| {
            let (counter, ends) = limits::counter(*counted, subject, *window, now, 0, *limit);
            (*name, *measure, counter, ends)
        })
        .chain([("day", "refused", refusals, refusals_end)])
        .collect();
    let pks: Vec<String> = counters.iter().map(|(_, _, c, _)| c.pk.clone()).collect();
    let used = app.store.counter_values(&pks).await?;
    let windows = counters
        .iter()
        .zip(used)
        .map(|((name, measure, counter, ends), used)| UsageWindow {
            window: (*name).into(),
            measure: (*measure).into(),
            limit: counter.limit,
            used,
            remaining: counter.limit.saturating_sub(used),
            resets_at: timestamp(*ends),
        })
        .collect();
    Ok(Json(UsageView {
        tenant: caller.tenant,
        key_id: caller.key_id,
        limits: l,
        windows,
    }))
}
