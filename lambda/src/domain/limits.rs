//! Rate limits and quotas as counters in fixed windows. Each counter is one atomic,
//! conditional add in the store, so concurrent callers can never push it past its limit.

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, Time};

/// A key's own limits; `None` falls back to the configured defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLimits {
    pub rate_per_minute: Option<u32>,
    pub burst: Option<u32>,
    pub daily_quota: Option<u32>,
    pub monthly_quota: Option<u32>,
    /// Images the model may refuse per day before new jobs are turned away.
    #[serde(default)]
    pub daily_refusal_limit: Option<u32>,
}

/// What a limit or quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyUnit {
    Requests,
    /// Images reserved by accepted jobs (one request may count several).
    Images,
}

/// One named limit or quota and where the caller stands in its current window: a member of
/// the `RateLimit-Policy` and `RateLimit` response fields (draft-ietf-httpapi-ratelimit-headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyState {
    /// Stable across responses: `burst`, `minute`, `ip`, `global`, `daily`, `monthly`,
    /// `daily-refusals`.
    pub name: &'static str,
    pub quota: u64,
    pub window_secs: u64,
    pub unit: PolicyUnit,
    pub remaining: u64,
    /// Seconds until the window resets, at least 1.
    pub reset_secs: u64,
}

impl PolicyState {
    /// The policy of `counter` (its window ending at `ends`) after the store answered `used`.
    pub fn of(
        name: &'static str,
        unit: PolicyUnit,
        window: Window,
        counter: &CounterAdd,
        ends: OffsetDateTime,
        used: u64,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            name,
            quota: counter.limit,
            window_secs: window.length(now),
            unit,
            remaining: counter.limit.saturating_sub(used),
            reset_secs: seconds_until(ends, now),
        }
    }
}

/// Limits that apply when a key sets none, plus the per-IP and global caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultLimits {
    pub rate_per_minute: u32,
    pub burst: u32,
    pub daily_quota: u32,
    pub monthly_quota: u32,
    pub ip_rate_per_minute: u32,
    pub global_rate_per_minute: u32,
    pub global_daily_images: u32,
}

impl Default for DefaultLimits {
    fn default() -> Self {
        Self {
            rate_per_minute: 60,
            burst: 10,
            daily_quota: 100,
            monthly_quota: 2_000,
            ip_rate_per_minute: 120,
            global_rate_per_minute: 1_200,
            global_daily_images: 5_000,
        }
    }
}

/// The limits in force for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EffectiveLimits {
    pub rate_per_minute: u32,
    pub burst: u32,
    pub daily_quota: u32,
    pub monthly_quota: u32,
    /// Refused images per day (UTC) before new jobs get 429 `refusal_limit_exceeded`. By
    /// default the daily quota: refusals can at most double what a tenant costs upstream.
    pub daily_refusal_limit: u32,
}

impl DefaultLimits {
    pub fn for_key(&self, own: &KeyLimits) -> EffectiveLimits {
        let daily_quota = own.daily_quota.unwrap_or(self.daily_quota);
        EffectiveLimits {
            rate_per_minute: own.rate_per_minute.unwrap_or(self.rate_per_minute),
            burst: own.burst.unwrap_or(self.burst),
            daily_quota,
            monthly_quota: own.monthly_quota.unwrap_or(self.monthly_quota),
            daily_refusal_limit: own.daily_refusal_limit.unwrap_or(daily_quota),
        }
    }
}

/// A fixed counting window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Second,
    Minute,
    Day,
    Month,
}

impl Window {
    /// The length in seconds of the window containing `now` (a month's varies).
    pub fn length(self, now: OffsetDateTime) -> u64 {
        match self {
            Window::Second => 1,
            Window::Minute => 60,
            Window::Day => 86_400,
            Window::Month => {
                let date = now.to_offset(time::UtcOffset::UTC).date();
                86_400 * u64::from(date.month().length(date.year()))
            }
        }
    }

    /// The window containing `now`: its label (part of the counter's key) and its end.
    pub fn span(self, now: OffsetDateTime) -> (String, OffsetDateTime) {
        let now = now.to_offset(time::UtcOffset::UTC);
        let date = now.date();
        match self {
            Window::Second => {
                let start = now.replace_nanosecond(0).unwrap_or(now);
                (
                    format!("s{}", start.unix_timestamp()),
                    start + time::Duration::SECOND,
                )
            }
            Window::Minute => {
                let start = now.replace_time(
                    Time::from_hms(now.hour(), now.minute(), 0).unwrap_or(Time::MIDNIGHT),
                );
                (
                    format!("m{}", start.unix_timestamp() / 60),
                    start + time::Duration::MINUTE,
                )
            }
            Window::Day => {
                let end = date.next_day().unwrap_or(date).midnight().assume_utc();
                (format!("d{date}"), end)
            }
            Window::Month => {
                let (year, month) = match date.month() {
                    Month::December => (date.year() + 1, Month::January),
                    m => (date.year(), m.next()),
                };
                let end = Date::from_calendar_date(year, month, 1)
                    .unwrap_or(date)
                    .midnight()
                    .assume_utc();
                (
                    format!("mo{}-{:02}", date.year(), u8::from(date.month())),
                    end,
                )
            }
        }
    }
}

/// Whose counter it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject<'a> {
    Key(&'a str),
    Ip(&'a str),
    Tenant(&'a str),
    Global,
}

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Requests,
    Images,
    /// Images the model refused (not charged, but bounded).
    Refusals,
    /// The estimated cost of the model's tokens, in micro-dollars (counted, never capped).
    Cost,
}

/// One counter increment with the cap it must respect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterAdd {
    pub pk: String,
    pub amount: u64,
    pub limit: u64,
    /// Epoch seconds after which the store may delete the counter.
    pub expires_at: i64,
}

/// The counter for `subject` in the window containing `now`.
pub fn counter(
    measure: Measure,
    subject: &Subject<'_>,
    window: Window,
    now: OffsetDateTime,
    amount: u64,
    limit: u32,
) -> (CounterAdd, OffsetDateTime) {
    let (label, ends) = window.span(now);
    let measure = match measure {
        Measure::Requests => "req",
        Measure::Images => "img",
        Measure::Refusals => "refused",
        Measure::Cost => "cost",
    };
    let subject = match subject {
        Subject::Key(id) => format!("key#{id}"),
        Subject::Ip(ip) => format!("ip#{ip}"),
        Subject::Tenant(t) => format!("tenant#{t}"),
        Subject::Global => "global".to_owned(),
    };
    // Keep counters a little past their window so late reads (usage) still see them.
    let expires_at = (ends + time::Duration::days(2)).unix_timestamp();
    (
        CounterAdd {
            pk: format!("{measure}#{subject}#{label}"),
            amount,
            limit: u64::from(limit),
            expires_at,
        },
        ends,
    )
}

/// Seconds until `ends`, at least 1 (what `Retry-After` and `RateLimit-Reset` carry).
pub fn seconds_until(ends: OffsetDateTime, now: OffsetDateTime) -> u64 {
    let secs = (ends - now).whole_seconds();
    u64::try_from(secs.max(1)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn windows_start_and_end_on_utc_boundaries() {
        let now = datetime!(2026-12-31 23:59:30.5 UTC);
        assert_eq!(Window::Minute.span(now).1, datetime!(2027-01-01 00:00 UTC));
        assert_eq!(Window::Day.span(now).1, datetime!(2027-01-01 00:00 UTC));
        assert_eq!(Window::Month.span(now).1, datetime!(2027-01-01 00:00 UTC));
        assert_eq!(
            Window::Second.span(now).1,
            datetime!(2026-12-31 23:59:31 UTC)
        );
        assert_eq!(Window::Month.span(now).0, "mo2026-12");
    }

    #[test]
    fn counters_are_named_by_measure_subject_and_window() {
        let now = datetime!(2026-11-26 10:00:00 UTC);
        let (c, _) = counter(
            Measure::Images,
            &Subject::Tenant("acme"),
            Window::Day,
            now,
            2,
            25,
        );
        assert_eq!(c.pk, "img#tenant#acme#d2026-11-26");
        assert_eq!((c.amount, c.limit), (2, 25));
        let (other_day, _) = counter(
            Measure::Images,
            &Subject::Tenant("acme"),
            Window::Day,
            now + time::Duration::DAY,
            2,
            25,
        );
        assert_ne!(c.pk, other_day.pk);
    }

    #[test]
    fn a_policy_counts_what_is_left_of_its_window() {
        let now = datetime!(2026-02-10 23:00:00 UTC);
        let (c, ends) = counter(
            Measure::Images,
            &Subject::Tenant("acme"),
            Window::Month,
            now,
            2,
            25,
        );
        let p = PolicyState::of(
            "monthly",
            PolicyUnit::Images,
            Window::Month,
            &c,
            ends,
            30,
            now,
        );
        assert_eq!((p.quota, p.remaining), (25, 0), "never below zero");
        assert_eq!(p.window_secs, 28 * 86_400, "February 2026");
        // An hour to the 11th, then 18 days to March.
        assert_eq!(p.reset_secs, 18 * 86_400 + 3_600);
        assert_eq!(
            Window::Month.length(datetime!(2028-02-01 0:00 UTC)),
            29 * 86_400
        );
    }

    #[test]
    fn retry_after_is_never_zero() {
        let now = datetime!(2026-11-26 10:00:00 UTC);
        assert_eq!(seconds_until(now, now), 1);
        assert_eq!(seconds_until(now + time::Duration::seconds(42), now), 42);
    }

    #[test]
    fn a_key_limit_wins_over_the_default() {
        let d = DefaultLimits::default();
        let own = KeyLimits {
            daily_quota: Some(3),
            ..KeyLimits::default()
        };
        let e = d.for_key(&own);
        assert_eq!(e.daily_quota, 3);
        assert_eq!(e.monthly_quota, d.monthly_quota);
    }
}
