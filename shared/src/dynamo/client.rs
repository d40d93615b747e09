//! The DynamoDB client, built once per container (or CLI run).
//!
//! The SDK's default HTTPS client uses rustls on aws-lc and trusts every root of the
//! system's store. We build the same hyper/rustls client on *ring*, trusting Amazon
//! Trust Services' roots, which DynamoDB's certificates chain to: a smaller binary and a
//! faster start (measured in docs/performance.md). Setting `SSL_CERT_FILE` or
//! `SSL_CERT_DIR` switches to the system's store, read from those paths (e.g. behind a
//! TLS-inspecting proxy).
//!
//! Two ways to configure it. The Lambda functions read only what Lambda puts in their
//! environment ([`lambda_config`]); the `supportzen` CLI and the tests use the SDK's full
//! configuration chain (profiles, SSO, web identity, ...: [`client_from_env`]), which an
//! operator's laptop needs and a function never uses.

use crate::https_client::{AMAZON_TRUST_SERVICES_ROOTS, Roots};
use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region, SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use std::time::Duration;

/// Which roots to trust: Amazon's, unless the environment names a certificate store.
fn trust_store(lookup: impl Fn(&str) -> Option<String>) -> TrustStore {
    match Roots::for_aws(lookup) {
        Roots::Platform => TrustStore::default(),
        Roots::Amazon => TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS),
    }
}

/// The HTTPS client: hyper and rustls on ring.
pub fn https_client() -> SharedHttpClient {
    let tls = TlsContext::builder()
        .with_trust_store(trust_store(|name| std::env::var(name).ok()))
        .build()
        .expect("a TLS context from a trust store always builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https()
}

/// How long to wait for DynamoDB. The SDK sets no limit on an attempt or an operation,
/// so a DynamoDB that accepts connections but does not answer would hold a request until
/// the Lambda timeout (10 s), and the client would get API Gateway's 5xx instead of our
/// 503 with `Retry-After`. DynamoDB answers single-item and transactional calls in
/// milliseconds; these limits are far above that. A request's calls together are bounded
/// by `handlers::REQUEST_DEADLINE`.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build()
}

/// A DynamoDB client from the SDK's full configuration chain (environment, profiles,
/// SSO, ...), with our HTTPS client and [`timeouts`]: for operators and tests.
pub async fn client_from_env() -> Result<Client, String> {
    check_endpoint_overrides(&|name| std::env::var(name).ok())?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeouts())
        .load()
        .await;
    Ok(Client::new(&config))
}

/// The DynamoDB client configuration of a Lambda function, from what Lambda sets in its
/// environment: `AWS_REGION` and the execution role's `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; and an endpoint override
/// (`AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`) for `sam local` and tests.
///
/// Not the SDK's default chain: its profile files, SSO, web identity (with an STS
/// client) and instance metadata never apply inside Lambda, and leaving them out of the
/// bootstraps saves about 0.65 MiB (docs/performance.md). Returns the builder so that
/// callers can add to it.
pub fn lambda_config(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<aws_sdk_dynamodb::config::Builder, String> {
    check_endpoint_overrides(&lookup)?;
    let (region, credentials) = lambda_identity(&lookup)?;
    let mut builder = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(credentials)
        .http_client(https_client())
        .timeout_config(timeouts());
    builder.set_endpoint_url(
        lookup("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| lookup("AWS_ENDPOINT_URL")),
    );
    Ok(builder)
}

/// The same for a function's other AWS clients (SQS, the API Gateway Management API),
/// which take their configuration as an `SdkConfig`: Lambda's region and credentials, our
/// HTTPS client and [`timeouts`]. No endpoint override: each caller sets its own.
pub fn lambda_sdk_config(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<aws_config::SdkConfig, String> {
    let (region, credentials) = lambda_identity(&lookup)?;
    Ok(aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client())
        .timeout_config(timeouts())
        .build())
}

/// The region and the execution role's credentials Lambda puts in the environment.
fn lambda_identity(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(Region, Credentials), String> {
    let required = |name: &str| {
        lookup(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| format!("{name} is not set (Lambda sets it for every function)"))
    };
    let credentials = Credentials::new(
        required("AWS_ACCESS_KEY_ID")?,
        required("AWS_SECRET_ACCESS_KEY")?,
        lookup("AWS_SESSION_TOKEN").filter(|token| !token.is_empty()),
        None,
        "lambda-environment",
    );
    Ok((Region::new(required("AWS_REGION")?), credentials))
}

/// The SDK panics on the first request when an endpoint override is set but empty
/// ("URL was unset"); refuse it at start-up with a clear message instead.
fn check_endpoint_overrides(lookup: &impl Fn(&str) -> Option<String>) -> Result<(), String> {
    for name in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"] {
        if lookup(name).is_some_and(|value| value.trim().is_empty()) {
            return Err(format!(
                "{name} is set but empty: unset it, or set it to a URL such as http://127.0.0.1:8000"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn the_embedded_roots_are_amazon_trust_services_five() {
        let roots: Vec<_> = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS)
            .collect::<Result<_, _>>()
            .expect("valid PEM");
        assert_eq!(roots.len(), 5);
        // TrustStore has no PartialEq; its Debug output shows both of its settings.
        let shown = |store: TrustStore| format!("{store:?}");
        let amazon = TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS);
        assert_eq!(shown(trust_store(|_| None)), shown(amazon));
        let named = |name: &'static str| {
            move |key: &str| (key == name).then(|| "/etc/ssl/cert.pem".to_string())
        };
        assert_eq!(
            shown(trust_store(named("SSL_CERT_FILE"))),
            shown(TrustStore::default())
        );
        assert_eq!(
            shown(trust_store(named("SSL_CERT_DIR"))),
            shown(TrustStore::default())
        );
    }

    #[test]
    fn empty_endpoint_overrides_are_refused() {
        let only = |name: &'static str, value: &'static str| {
            move |key: &str| (key == name).then(|| value.to_string())
        };
        assert!(check_endpoint_overrides(&|_| None).is_ok());
        assert!(
            check_endpoint_overrides(&only("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"))
                .is_ok()
        );
        let err = check_endpoint_overrides(&only("AWS_ENDPOINT_URL_DYNAMODB", "")).unwrap_err();
        assert!(
            err.starts_with("AWS_ENDPOINT_URL_DYNAMODB is set but empty"),
            "{err}"
        );
        assert!(check_endpoint_overrides(&only("AWS_ENDPOINT_URL", " ")).is_err());
    }

    fn lambda_env(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    const LAMBDA: &[(&str, &str)] = &[
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    /// Endpoint and credentials are not readable back from a `Config`; the requests
    /// `tests/store/store_faults.rs` sends through this configuration to its stub show them.
    #[test]
    fn a_function_is_configured_from_lambdas_environment() {
        let config = lambda_config(lambda_env(LAMBDA)).unwrap().build();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.timeout_config(), Some(&timeouts()));
    }

    #[test]
    fn a_functions_other_clients_are_configured_alike() {
        let config = lambda_sdk_config(lambda_env(LAMBDA)).unwrap();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.timeout_config(), Some(&timeouts()));
        assert!(config.credentials_provider().is_some() && config.http_client().is_some());
        let err = lambda_sdk_config(lambda_env(&LAMBDA[1..])).unwrap_err();
        assert!(err.starts_with("AWS_REGION"), "{err}");
    }

    #[test]
    fn a_function_without_region_or_credentials_fails_at_init_naming_the_variable() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let rest: Vec<_> = LAMBDA
                .iter()
                .filter(|(k, _)| *k != missing)
                .copied()
                .collect();
            let rest: &'static [(&str, &str)] = Box::leak(rest.into_boxed_slice());
            let Err(err) = lambda_config(lambda_env(rest)) else {
                panic!("accepted without {missing}");
            };
            assert!(err.starts_with(missing), "{err}");
        }
    }
}
