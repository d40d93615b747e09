//! What the adapters that speak HTTPS share, below all of them: Amazon Trust Services'
//! roots (what DynamoDB's and S3's certificates chain to) and the choice between them and
//! the platform's store, and the hyper client over rustls on *ring* that DynamoDB, S3,
//! SES and the webhook client send on.

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::sync::Arc;
use std::time::Duration;

/// Amazon Root CA 1-4 and Starfield Services Root CA G2 (Amazon Trust Services), as
/// Mozilla's root store (Debian's ca-certificates) ships them; valid until 2037-2040.
pub const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("amazon-roots.pem");

/// Which roots a client trusts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Roots {
    /// [`AMAZON_TRUST_SERVICES_ROOTS`] only: for AWS's endpoints.
    Amazon,
    /// The platform's store (`SSL_CERT_FILE` or `SSL_CERT_DIR` if set, else the system's).
    Platform,
}

impl Roots {
    /// Amazon's for AWS, unless the environment (read through `lookup`) names a
    /// certificate store with `SSL_CERT_FILE` or `SSL_CERT_DIR` (e.g. behind a
    /// TLS-inspecting proxy).
    pub fn for_aws(lookup: impl Fn(&str) -> Option<String>) -> Self {
        if lookup("SSL_CERT_FILE").is_some() || lookup("SSL_CERT_DIR").is_some() {
            Roots::Platform
        } else {
            Roots::Amazon
        }
    }
}

/// A TLS configuration trusting [`AMAZON_TRUST_SERVICES_ROOTS`] only.
pub fn amazon_roots_config(
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS) {
        let certificate = certificate.map_err(|e| format!("the embedded roots: {e}"))?;
        roots
            .add(certificate)
            .map_err(|e| format!("the embedded roots: {e}"))?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The client [`https_client`] builds: whole bodies out.
pub type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A hyper client for HTTP/1.1 over HTTPS (or plain HTTP, for local stand-ins) trusting
/// `roots`, its idle connections pooled and expired on Tokio's timer. Fails if the roots
/// do not load.
pub fn https_client(roots: Roots) -> Result<HttpsClient, String> {
    build(roots, None)
}

/// The same, giving up on a connection that takes longer than `timeout` to open, and
/// sending each write at once (no Nagle delay): for DynamoDB's short requests.
pub fn https_client_connecting_within(
    roots: Roots,
    timeout: Duration,
) -> Result<HttpsClient, String> {
    build(roots, Some(timeout))
}

fn build(roots: Roots, connect_timeout: Option<Duration>) -> Result<HttpsClient, String> {
    let provider = || rustls::crypto::ring::default_provider();
    let builder = HttpsConnectorBuilder::new();
    let builder = match roots {
        Roots::Platform => builder
            .with_provider_and_native_roots(provider())
            .map_err(|e| format!("cannot load the platform's root certificates: {e}"))?,
        Roots::Amazon => builder.with_tls_config(amazon_roots_config(Arc::new(provider()))?),
    };
    let builder = builder.https_or_http().enable_http1();
    let connector = match connect_timeout {
        None => builder.build(),
        Some(timeout) => {
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_connect_timeout(Some(timeout));
            http.set_nodelay(true);
            builder.wrap_connector(http)
        }
    };
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .build(connector))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_amazon_roots_make_a_tls_configuration() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let roots = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS).count();
        assert_eq!(
            roots, 5,
            "Amazon Root CA 1-4 and Starfield Services Root CA G2"
        );
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        amazon_roots_config(provider).unwrap();
    }

    #[test]
    fn a_named_certificate_store_replaces_amazons_roots() {
        let named = |wanted: &'static str| {
            move |name: &str| (name == wanted).then(|| "/etc/ssl/certs".to_string())
        };
        assert_eq!(Roots::for_aws(|_| None), Roots::Amazon);
        assert_eq!(Roots::for_aws(named("SSL_CERT_FILE")), Roots::Platform);
        assert_eq!(Roots::for_aws(named("SSL_CERT_DIR")), Roots::Platform);
    }
}
