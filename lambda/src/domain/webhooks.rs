//! Webhooks: the events a job's end sends, how a delivery is signed (the Standard Webhooks
//! scheme: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `id.timestamp.body`), a tenant's signing secrets and their rotation, when a failed delivery
//! is tried again, what each attempt recorded, and which destinations a delivery may go to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ids::{JobId, random_bytes};

/// What ended a job, as the `type` of the event sent.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum WebhookEvent {
    #[serde(rename = "job.succeeded")]
    Succeeded,
    #[serde(rename = "job.failed")]
    Failed,
    #[serde(rename = "job.canceled")]
    Canceled,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 3] = [
        WebhookEvent::Succeeded,
        WebhookEvent::Failed,
        WebhookEvent::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::Succeeded => "job.succeeded",
            WebhookEvent::Failed => "job.failed",
            WebhookEvent::Canceled => "job.canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

/// Where a job's end is sent, and which ends are: from the request's `webhook_url` and
/// `webhook_events`, or else the key's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobWebhook {
    pub url: String,
    /// Never empty; in [`WebhookEvent::ALL`]'s order, each once.
    pub events: Vec<WebhookEvent>,
}

impl JobWebhook {
    /// The webhook of `url` for `events` (every event when none are named).
    pub fn new(url: String, events: &[WebhookEvent]) -> Self {
        let events = WebhookEvent::ALL
            .into_iter()
            .filter(|e| events.is_empty() || events.contains(e))
            .collect();
        Self { url, events }
    }

    pub fn wants(&self, event: WebhookEvent) -> bool {
        self.events.contains(&event)
    }
}

/// The `webhook-id` of a job's end event: the same for every attempt and every redelivery of
/// it, so a receiver that already handled it can tell.
pub fn message_id(job_id: &JobId, event: WebhookEvent) -> String {
    let id = job_id.as_str();
    let id = id.strip_prefix("job_").unwrap_or(id);
    let end = event.as_str().trim_start_matches("job.");
    format!("msg_{id}_{end}")
}

/// How long the previous signing secret still signs after a rotation: receivers switch to the
/// new one within it.
pub const SECRET_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// A tenant's webhook signing secrets. They are kept as they are (HMAC needs the key itself),
/// in a table encrypted at rest; the API shows a secret only when it is made, and `Debug`
/// never.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecrets {
    pub tenant: String,
    pub current: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub previous_valid_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Starts at 1; every rotation writes conditionally on it.
    pub version: u64,
}

impl std::fmt::Debug for SigningSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningSecrets")
            .field("tenant", &self.tenant)
            .field("previous_valid_until", &self.previous_valid_until)
            .field("created_at", &self.created_at)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl SigningSecrets {
    /// A tenant's first secret.
    pub fn first(tenant: &str, now: OffsetDateTime) -> Self {
        Self {
            tenant: tenant.to_owned(),
            current: new_secret(),
            previous: None,
            previous_valid_until: None,
            created_at: now,
            version: 1,
        }
    }

    /// A new current secret; the one it replaces still signs for [`SECRET_OVERLAP`].
    pub fn rotated(&self, now: OffsetDateTime) -> Self {
        Self {
            tenant: self.tenant.clone(),
            current: new_secret(),
            previous: Some(self.current.clone()),
            previous_valid_until: Some(now + SECRET_OVERLAP),
            created_at: now,
            version: self.version + 1,
        }
    }

    /// The keys a delivery at `now` signs with: the current one, and the previous one while
    /// its overlap lasts.
    pub fn keys(&self, now: OffsetDateTime) -> Vec<Vec<u8>> {
        let previous = match (&self.previous, self.previous_valid_until) {
            (Some(previous), Some(until)) if now < until => Some(previous),
            _ => None,
        };
        std::iter::once(&self.current)
            .chain(previous)
            .filter_map(|secret| secret_key(secret))
            .collect()
    }
}

/// The waits between a failed attempt and the next (after the first attempt, the second, …):
/// eight attempts over about 24 hours, as Standard Webhooks senders do. After the last one the
/// delivery goes to the dead-letter queue.
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(8 * 3600),
    Duration::from_secs(8 * 3600),
];

/// Attempts a delivery gets.
pub const MAX_ATTEMPTS: u32 = RETRY_DELAYS.len() as u32 + 1;

/// The wait before attempt `attempt + 1` once attempt `attempt` (from 1) failed; `None` after
/// the last.
pub fn retry_delay(attempt: u32) -> Option<Duration> {
    let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
    RETRY_DELAYS.get(index).copied()
}

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// It failed; the next attempt is at `next_attempt_at`.
    Retrying,
    /// It failed and will not be tried again: the destination is not allowed (its name
    /// resolves to a private address), or the tenant has no signing secret.
    Failed,
    /// The last attempt failed: the delivery is in the dead-letter queue.
    DeadLettered,
}

/// One attempt to deliver one event, as the job's delivery list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub job_id: JobId,
    pub message_id: String,
    pub event: WebhookEvent,
    /// From 1; a redelivery starts again at 1.
    pub attempt: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub attempted_at: OffsetDateTime,
    /// The receiver's HTTP status; none when no response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: u64,
    pub outcome: DeliveryOutcome,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
}

impl DeliveryAttempt {
    /// The attempt's place in its job's list: by time, then message and attempt.
    pub fn sort_key(&self) -> String {
        let micros = (self.attempted_at.unix_timestamp_nanos() / 1_000).max(0);
        format!("{micros:020}#{}#{:03}", self.message_id, self.attempt)
    }
}

/// Signing secrets are shown as `whsec_` and the base64 of their bytes, as Standard Webhooks
/// libraries take them.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: 32 random bytes.
pub fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random_bytes::<32>()))
}

/// The key bytes of a `whsec_…` secret; `None` if it is not one.
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX)?;
    STANDARD.decode(encoded).ok().filter(|key| !key.is_empty())
}

/// One signature, `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`.
pub fn signature(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` value: one signature per key, space-separated (during a rotation's
/// overlap, the new secret's and the old one's, so a receiver holding either accepts it).
pub fn signature_header(keys: &[Vec<u8>], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|key| signature(key, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The longest destination URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Why a destination URL is refused, in the client's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("must be an absolute URL of at most {MAX_URL_LEN} characters")]
    Malformed,
    #[error("must use https")]
    NotHttps,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("must name a public host, not a private, loopback or link-local address")]
    NotPublic,
}

/// Whether events may be sent to `url`: https, no credentials, no fragment, a host that is not
/// an address this service must never call. `allow_loopback_http`: the dev server may call
/// `http://127.0.0.1` (and `localhost`, `[::1]`). A host name is checked again, resolved, when a
/// delivery connects (see [`is_public`]).
pub fn check_url(url: &str, allow_loopback_http: bool) -> Result<url::Url, UrlProblem> {
    if url.chars().count() > MAX_URL_LEN {
        return Err(UrlProblem::Malformed);
    }
    let parsed = url::Url::parse(url).map_err(|_| UrlProblem::Malformed)?;
    if parsed.fragment().is_some() || parsed.cannot_be_a_base() {
        return Err(UrlProblem::Malformed);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlProblem::Credentials);
    }
    let host = parsed.host().ok_or(UrlProblem::Malformed)?;
    let loopback = match &host {
        url::Host::Domain(name) => is_localhost(name),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    let https = parsed.scheme() == "https";
    if allow_loopback_http && loopback && (https || parsed.scheme() == "http") {
        return Ok(parsed);
    }
    if !https {
        return Err(UrlProblem::NotHttps);
    }
    let public = match host {
        url::Host::Domain(_) => !loopback,
        url::Host::Ipv4(ip) => is_public(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => is_public(IpAddr::V6(ip)),
    };
    if public {
        Ok(parsed)
    } else {
        Err(UrlProblem::NotPublic)
    }
}

/// `localhost`, `localhost.` and every name under it (RFC 6761: they resolve to loopback).
fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Whether `ip` is a public unicast address: not loopback, private (RFC 1918, unique local),
/// link-local (the cloud metadata endpoints among them), shared (CGNAT), benchmarking,
/// documentation, reserved, multicast, broadcast or unspecified; an IPv4 address embedded in
/// IPv6 (mapped, compatible, NAT64, 6to4) is judged as the IPv4 address it carries.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24 (192.0.0.192 is Oracle's metadata).
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, 198.18.0.0/15.
        || (a == 198 && (b == 18 || b == 19))
        // Reserved, 240.0.0.0/4.
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    if let Some(v4) = embedded_v4(ip) {
        return public_v4(v4);
    }
    // Only global unicast, 2000::/3, is routed on the internet (SIIT's ::ffff:0:0:0/96,
    // Teredo's 2001::/32 aside, which the lines below refuse).
    if segments[0] & 0xe000 != 0x2000 {
        return false;
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Teredo, 2001::/32: an IPv4 address hides in it.
        || (segments[0] == 0x2001 && segments[1] == 0)
        // Unique local, fc00::/7 (AWS's IPv6 metadata endpoint fd00:ec2::254 among them).
        || (segments[0] & 0xfe00) == 0xfc00
        // Link-local, fe80::/10.
        || (segments[0] & 0xffc0) == 0xfe80
        // Site-local (deprecated), fec0::/10.
        || (segments[0] & 0xffc0) == 0xfec0
        // Documentation, 2001:db8::/32 and 3fff::/20.
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        || (segments[0] == 0x3fff && segments[1] < 0x1000)
        // Benchmarking 2001:2::/48, ORCHIDv2 2001:20::/28.
        || (segments[0] == 0x2001 && segments[1] == 0x0002 && segments[2] == 0)
        || (segments[0] == 0x2001 && (segments[1] & 0xfff0) == 0x0020)
        // Local-use NAT64, 64:ff9b:1::/48.
        || (segments[0] == 0x0064 && segments[1] == 0xff9b && segments[2] == 0x0001)
        // Discard-only, 100::/64.
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]))
}

/// The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d),
/// NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(v4(hi, lo)),
        [0, 0, 0, 0, 0, 0, hi, lo] if (hi, lo) != (0, 0) && (hi, lo) != (0, 1) => Some(v4(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks reference implementation (its own HMAC, base64 and parsing)
    /// verifies what we sign, with either secret of a rotation, and refuses a tampered body or
    /// a stranger's secret.
    #[test]
    fn the_reference_implementation_verifies_our_signatures() {
        let (secret, old) = (new_secret(), new_secret());
        let keys = [secret_key(&secret).unwrap(), secret_key(&old).unwrap()];
        let body = br#"{"type":"job.succeeded","data":{"job_id":"job_1"}}"#;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        let signed = signature_header(&keys, "msg_1", now, body);
        headers.insert("webhook-signature", signed.parse().unwrap());
        for receiver in [&secret, &old] {
            let reference = standardwebhooks::Webhook::new(receiver).unwrap();
            reference.verify(body, &headers).unwrap();
            assert_eq!(
                reference.sign("msg_1", now, body).unwrap(),
                signature(&secret_key(receiver).unwrap(), "msg_1", now, body)
            );
        }
        let reference = standardwebhooks::Webhook::new(&secret).unwrap();
        assert!(
            reference
                .verify(br#"{"type":"job.failed"}"#, &headers)
                .is_err()
        );
        let stranger = standardwebhooks::Webhook::new(&new_secret()).unwrap();
        assert!(stranger.verify(body, &headers).is_err());
    }

    #[test]
    fn secrets_are_whsec_and_32_bytes() {
        let key = secret_key(&new_secret()).unwrap();
        assert_eq!(
            signature_header(&[key.clone(), key], "m", 1, b"")
                .split(' ')
                .count(),
            2
        );
        assert!(new_secret().starts_with(SECRET_PREFIX));
        assert_eq!(secret_key(&new_secret()).map(|k| k.len()), Some(32));
        for bad in ["", "whsec_", "whsec_!!", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] {
            assert_eq!(secret_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_public_addresses_are_destinations() {
        for private in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.192",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "2001:2::1",
            "2001:20::1",
            "64:ff9b:1::a",
            "100::1",
            "::ffff:0:7f00:1",
            "2001::a9fe:a9fe",
            "4000::1",
            "5f00::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "198.20.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1",
            "3ff0::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn destinations_are_https_urls_of_public_hosts() {
        for good in [
            "https://hooks.example.com/imagegen",
            "https://hooks.example.com:8443/a?b=c",
            "https://8.8.8.8/hook",
        ] {
            assert!(check_url(good, false).is_ok(), "{good}");
        }
        for (bad, problem) in [
            ("hooks.example.com/x", UrlProblem::Malformed),
            ("https://", UrlProblem::Malformed),
            ("https://a.example/#frag", UrlProblem::Malformed),
            ("http://hooks.example.com/x", UrlProblem::NotHttps),
            ("ftp://hooks.example.com/x", UrlProblem::NotHttps),
            ("http://127.0.0.1:9000/hook", UrlProblem::NotHttps),
            (
                "https://user:pw@hooks.example.com/",
                UrlProblem::Credentials,
            ),
            ("https://127.0.0.1/hook", UrlProblem::NotPublic),
            (
                "https://169.254.169.254/latest/meta-data",
                UrlProblem::NotPublic,
            ),
            ("https://[::1]/hook", UrlProblem::NotPublic),
            ("https://[::ffff:10.0.0.1]/hook", UrlProblem::NotPublic),
            ("https://localhost/hook", UrlProblem::NotPublic),
            ("https://localhost./hook", UrlProblem::NotPublic),
            ("https://api.localhost/hook", UrlProblem::NotPublic),
            ("https://0x7f000001/hook", UrlProblem::NotPublic),
        ] {
            assert_eq!(check_url(bad, false).err(), Some(problem), "{bad}");
        }
        let long = format!("https://a.example/{}", "x".repeat(MAX_URL_LEN));
        assert_eq!(check_url(&long, false).err(), Some(UrlProblem::Malformed));
        // The dev server may call a receiver on this machine, over http too.
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("http://localhost:9000/hook", true).is_ok());
        assert_eq!(
            check_url("http://hooks.example.com/", true).err(),
            Some(UrlProblem::NotHttps)
        );
    }

    #[test]
    fn a_rotation_signs_with_both_secrets_until_the_overlap_ends() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let first = SigningSecrets::first("acme", now);
        assert_eq!(first.keys(now), [secret_key(&first.current).unwrap()]);
        let rotated = first.rotated(now);
        assert_ne!(rotated.current, first.current);
        assert_eq!(rotated.version, 2);
        let both = [
            secret_key(&rotated.current).unwrap(),
            secret_key(&first.current).unwrap(),
        ];
        assert_eq!(rotated.keys(now), both);
        let overlap = time::Duration::try_from(SECRET_OVERLAP).unwrap();
        let just_before = now + overlap - time::Duration::SECOND;
        assert_eq!(rotated.keys(just_before).len(), 2);
        assert_eq!(rotated.keys(now + overlap), [both[0].clone()]);
    }

    #[test]
    fn retries_span_about_a_day_then_stop() {
        let total: Duration = (1..MAX_ATTEMPTS).filter_map(retry_delay).sum();
        assert_eq!(MAX_ATTEMPTS, 8);
        assert!(
            (Duration::from_secs(20 * 3600)..=Duration::from_secs(28 * 3600)).contains(&total),
            "{total:?}"
        );
        assert_eq!(retry_delay(1), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(MAX_ATTEMPTS), None);
        assert_eq!(retry_delay(0), None);
    }

    #[test]
    fn a_webhook_takes_every_event_unless_told_which() {
        let all = JobWebhook::new("https://a.example/".into(), &[]);
        assert_eq!(all.events, WebhookEvent::ALL);
        let some = JobWebhook::new(
            "https://a.example/".into(),
            &[WebhookEvent::Canceled, WebhookEvent::Failed],
        );
        assert_eq!(some.events, [WebhookEvent::Failed, WebhookEvent::Canceled]);
        assert!(!some.wants(WebhookEvent::Succeeded));
        let job = JobId::parse("job_0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            message_id(&job, WebhookEvent::Succeeded),
            "msg_0123456789abcdef0123456789abcdef_succeeded"
        );
        assert_eq!(
            serde_json::to_string(&WebhookEvent::Canceled).unwrap(),
            r#""job.canceled""#
        );
    }

    #[test]
    fn each_event_reads_back_from_its_name() {
        for event in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(event.as_str()), Some(event));
        }
    }
}
