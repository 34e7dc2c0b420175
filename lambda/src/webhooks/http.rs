//! Webhooks over HTTPS with reqwest, guarded against server-side request forgery: a receiver
//! is a URL a tenant typed, and the request leaves from inside AWS. So
//! - every address a name resolves to is checked when the connection is made (no gap between
//!   a check and the connect for DNS rebinding to use), and only public ones are dialled;
//!   an IP literal is checked before the request;
//! - redirects are not followed, no proxy from the environment is used;
//! - the whole exchange is bounded in time, and at most [`MAX_RESPONSE_BYTES`] of the answer
//!   are read.
//!
//! The dev server may also call loopback receivers (`http://127.0.0.1:…`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{SendError, WebhookClient, WebhookRequest};
use crate::domain::webhooks::{check_url, is_public};

/// How much of a receiver's answer is read: its status is what counts.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The longest one attempt may take, connecting and reading included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which addresses a delivery may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destinations {
    /// Public unicast addresses only (deployed).
    Public,
    /// Public ones and loopback (the dev server, tests).
    PublicAndLoopback,
}

impl Destinations {
    fn allows(self, ip: IpAddr) -> bool {
        is_public(ip) || (self == Destinations::PublicAndLoopback && ip.is_loopback())
    }
}

#[derive(Debug, Clone)]
pub struct HttpWebhookClient {
    http: reqwest::Client,
    destinations: Destinations,
    timeout: Duration,
}

/// A name whose every address is one the service must not call.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to no public address")]
struct Refused(String);

/// Where names are looked up: the system's resolver; tests give fixed answers.
#[derive(Debug, Clone)]
enum Lookup {
    System,
    #[cfg(test)]
    Fixed(Vec<IpAddr>),
}

impl Lookup {
    async fn addresses(&self, host: &str) -> std::io::Result<Vec<SocketAddr>> {
        match self {
            Lookup::System => Ok(tokio::net::lookup_host((host, 0)).await?.collect()),
            #[cfg(test)]
            Lookup::Fixed(ips) => Ok(ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect()),
        }
    }
}

/// The resolver reqwest dials through, keeping only allowed addresses.
#[derive(Debug, Clone)]
struct GuardedResolver {
    destinations: Destinations,
    lookup: Lookup,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (destinations, lookup) = (self.destinations, self.lookup.clone());
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = lookup.addresses(&host).await?;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| destinations.allows(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(Refused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

impl HttpWebhookClient {
    pub fn new(destinations: Destinations, timeout: Duration) -> Result<Self, rustls::Error> {
        Self::with_lookup(destinations, timeout, Lookup::System)
    }

    fn with_lookup(
        destinations: Destinations,
        timeout: Duration,
        lookup: Lookup,
    ) -> Result<Self, rustls::Error> {
        let resolver = GuardedResolver {
            destinations,
            lookup,
        };
        let http = crate::tls::reqwest_builder()?
            .user_agent(concat!("imagegen-webhooks/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        Ok(Self {
            http,
            destinations,
            timeout,
        })
    }

    /// The URL's rules; an IP literal, which skips the resolver, is judged by them as the
    /// resolver judges a name's addresses.
    fn check(&self, url: &url::Url) -> Result<(), SendError> {
        let loopback = self.destinations == Destinations::PublicAndLoopback;
        check_url(url.as_str(), loopback)
            .map(drop)
            .map_err(|p| SendError::NotAllowed(p.to_string()))
    }
}

/// Whether `error` (or what caused it) is the resolver's refusal.
fn refused(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(r) = e.downcast_ref::<Refused>() {
            return Some(r.to_string());
        }
        cause = e.source();
    }
    None
}

fn send_error(e: reqwest::Error, timeout: Duration) -> SendError {
    if let Some(reason) = refused(&e) {
        return SendError::NotAllowed(reason);
    }
    if e.is_timeout() {
        return SendError::Timeout(timeout);
    }
    // Without the URL: a receiver's query string often holds a token, and this text is logged,
    // stored with the attempt and shown to the tenant.
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    SendError::Unreachable(text)
}

#[async_trait]
impl WebhookClient for HttpWebhookClient {
    async fn post(&self, request: WebhookRequest) -> Result<u16, SendError> {
        self.check(&request.url)?;
        let timeout = self.timeout;
        let mut builder = self.http.post(request.url).body(request.body);
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        let mut response = builder.send().await.map_err(|e| send_error(e, timeout))?;
        let status = response.status().as_u16();
        // Read a little of the answer (a receiver may wait for it to be read), then hang up.
        let mut read = 0;
        while read < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) => break,
                // The status already arrived: a broken or slow body does not undo it.
                Err(_) => break,
            }
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A listener on 127.0.0.1 that counts the connections made to it.
    async fn listener() -> (u16, Arc<AtomicUsize>) {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = socket.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        (port, accepted)
    }

    fn post(port: u16) -> WebhookRequest {
        WebhookRequest {
            url: format!("https://hooks.example.com:{port}/hook")
                .parse()
                .unwrap(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A public-looking name whose DNS answer is private (rebinding, or a record pointed at
    /// the metadata service) is refused when it resolves: nothing is dialled.
    #[tokio::test]
    async fn a_name_that_resolves_to_private_addresses_is_never_dialled() {
        let (port, accepted) = listener().await;
        for answer in [
            vec!["127.0.0.1".parse().unwrap()],
            vec![
                "169.254.169.254".parse().unwrap(),
                "10.0.0.1".parse().unwrap(),
            ],
        ] {
            let client = HttpWebhookClient::with_lookup(
                Destinations::Public,
                Duration::from_secs(2),
                Lookup::Fixed(answer.clone()),
            )
            .unwrap();
            let result = client.post(post(port)).await;
            assert!(
                matches!(&result, Err(SendError::NotAllowed(reason)) if reason.contains("hooks.example.com")),
                "{answer:?}: {result:?}"
            );
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
        // The same answer where loopback is allowed is dialled (and fails TLS: no server).
        let client = HttpWebhookClient::with_lookup(
            Destinations::PublicAndLoopback,
            Duration::from_secs(2),
            Lookup::Fixed(vec![
                "10.0.0.1".parse().unwrap(),
                "127.0.0.1".parse().unwrap(),
            ]),
        )
        .unwrap();
        let result = client.post(post(port)).await;
        assert!(
            matches!(result, Err(SendError::Unreachable(_))),
            "{result:?}"
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }
}
