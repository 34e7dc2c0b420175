//! The caller's limits and how much of each window is used.

use axum::Json;
use axum::extract::State;

use crate::App;
use crate::http::auth::{Authorized, scope};
use crate::http::views::{CostWindow, UsageView, UsageWindow, timestamp};
use crate::http::{ApiError, ErrorEnvelope};
use crate::usecases::usage;

#[utoipa::path(
    get, path = "/v1/usage", tag = "usage",
    security(("api_key" = [])),
    responses(
        (status = 200, body = UsageView, description = "limits and use of the current windows, and the estimated cost of the tenant's jobs today and this month"),
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
    let (used, cost) = usage::report(&app, &caller).await?;
    let windows = used
        .into_iter()
        .map(|w| UsageWindow {
            window: w.window.into(),
            measure: w.measure.into(),
            limit: w.limit,
            used: w.used,
            remaining: w.limit.saturating_sub(w.used),
            resets_at: timestamp(w.resets_at),
        })
        .collect();
    let cost = cost
        .into_iter()
        .map(|c| CostWindow {
            window: c.window.into(),
            estimated_microdollars: c.microdollars,
            resets_at: timestamp(c.resets_at),
        })
        .collect();
    Ok(Json(UsageView {
        tenant: caller.tenant,
        key_id: caller.key_id,
        limits: caller.limits,
        windows,
        cost,
    }))
}
