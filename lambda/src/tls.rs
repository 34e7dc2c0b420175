//! TLS for outbound HTTPS: rustls on *ring*, server certificates checked against the OS trust
//! store. Both HTTP stacks use it: reqwest (Gemini) through [`client_config`], the AWS SDK
//! through `aws::http_client`. Not aws-lc-rs: its C library made each Lambda zip 0.25 MB
//! bigger and a cold build minutes slower, for nothing we need.

use std::sync::Arc;

use rustls_platform_verifier::BuilderVerifierExt as _;

/// A rustls client configuration on ring that verifies servers with the OS trust store.
///
/// Hand it to reqwest with `ClientBuilder::tls_backend_preconfigured`: reqwest is built
/// without a crypto provider of its own (building a client without one would panic).
pub fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth();
    // reqwest speaks HTTP/1.1 only here (no `http2` feature); say so, as it would itself.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A reqwest client builder on [`client_config`]: use it instead of `reqwest::Client::builder`.
pub fn reqwest_builder() -> Result<reqwest::ClientBuilder, rustls::Error> {
    Ok(reqwest::Client::builder().tls_backend_preconfigured(client_config()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_client_on_ring() {
        let config = client_config().unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        reqwest_builder().unwrap().build().unwrap();
    }
}
