//! Webhooks: the events a job's end sends, how a delivery is signed (the Standard Webhooks
//! scheme: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `id.timestamp.body`), and which destinations a delivery may go to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ids::random_bytes;
use super::jobs::JobStatus;

/// What ended a job, as the `type` of the event sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WebhookEvent {
    Succeeded,
    Failed,
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

    /// The event a job that ended in `status` sends; none while it runs.
    pub fn of(status: JobStatus) -> Option<Self> {
        match status {
            JobStatus::Succeeded => Some(WebhookEvent::Succeeded),
            JobStatus::Failed => Some(WebhookEvent::Failed),
            JobStatus::Canceled => Some(WebhookEvent::Canceled),
            JobStatus::Queued | JobStatus::Running => None,
        }
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
    if url.len() > MAX_URL_LEN {
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
    match parsed.scheme() {
        "https" => {}
        "http" if allow_loopback_http && loopback => return Ok(parsed),
        _ => return Err(UrlProblem::NotHttps),
    }
    if allow_loopback_http && loopback {
        return Ok(parsed);
    }
    let public = match host {
        url::Host::Domain(name) => !is_localhost(name),
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
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
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
    fn each_final_status_has_its_event() {
        assert_eq!(WebhookEvent::of(JobStatus::Running), None);
        for event in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(event.as_str()), Some(event));
        }
        assert_eq!(
            WebhookEvent::of(JobStatus::Canceled).map(WebhookEvent::as_str),
            Some("job.canceled")
        );
    }
}
