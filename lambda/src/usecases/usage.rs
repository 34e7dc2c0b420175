//! How much of each limit a caller has used: its key's requests this minute, its tenant's
//! images today and this month, and the model's refusals today; and what its jobs cost.

use time::OffsetDateTime;

use crate::App;
use crate::domain::keys::Caller;
use crate::domain::limits::{self, Measure, Subject, Window};
use crate::store::StoreError;
use crate::usecases::admission;

/// One window of one limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Used {
    /// `minute`, `day`, `month`.
    pub window: &'static str,
    /// `requests`, `images`, `refused`.
    pub measure: &'static str,
    pub limit: u64,
    pub used: u64,
    pub resets_at: OffsetDateTime,
}

/// Every window the caller is held to, read from the counters the limits are enforced on, and
/// today's and this month's cost, from the counters the worker adds each delivery's to: one
/// batch read.
pub async fn report(app: &App, caller: &Caller) -> Result<(Vec<Used>, Vec<Cost>), StoreError> {
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
    let tenant = Subject::Tenant(&caller.tenant);
    let cost_windows = [("day", Window::Day), ("month", Window::Month)];
    let cost_counters: Vec<_> = cost_windows
        .iter()
        .map(|&(_, window)| limits::counter(Measure::Cost, &tenant, window, now, 0, 0))
        .collect();
    let pks: Vec<String> = counters
        .iter()
        .map(|(_, _, c, _)| c.pk.clone())
        .chain(cost_counters.iter().map(|(c, _)| c.pk.clone()))
        .collect();
    let mut values = app.store.counter_values(&pks).await?;
    let cost_values = values.split_off(counters.len().min(values.len()));
    let used = counters
        .into_iter()
        .zip(values)
        .map(|((window, measure, counter, resets_at), used)| Used {
            window,
            measure,
            limit: counter.limit,
            used,
            resets_at,
        })
        .collect();
    let cost = cost_windows
        .iter()
        .zip(cost_counters)
        .zip(cost_values)
        .map(|((&(window, _), (_, resets_at)), microdollars)| Cost {
            window,
            microdollars,
            resets_at,
        })
        .collect();
    Ok((used, cost))
}

/// The estimated cost of a tenant's model calls in one window (micro-dollars).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cost {
    /// `day`, `month`.
    pub window: &'static str,
    pub microdollars: u64,
    pub resets_at: OffsetDateTime,
}
