//! A store's DynamoDB, built once per container (or CLI run): what sends the store's
//! calls ([`super::wire`]) and the SDK's client for the rest, over one HTTP client
//! ([`AwsHttp`]).
//!
//! The SDK's default HTTPS client uses rustls on aws-lc and trusts every root of the
//! system's store. Ours is hyper and rustls on *ring*, trusting Amazon Trust Services'
//! roots, which DynamoDB's certificates chain to: a smaller binary and a faster start
//! (measured in docs/performance.md). Setting `SSL_CERT_FILE` or `SSL_CERT_DIR` switches
//! to the system's store, read from those paths (e.g. behind a TLS-inspecting proxy).
//!
//! Two ways to configure it. The Lambda functions read only what Lambda puts in their
//! environment ([`lambda_config`]); the `supportzen` CLI and the tests use the SDK's full
//! configuration chain (profiles, SSO, web identity, ...: [`client_from_env`]), which an
//! operator's laptop needs and a function never uses.

use super::wire::{Patience, Wire};
use crate::aws_http::{AwsHttp, Watch};
use crate::https_client::{Roots, https_client_connecting_within};
use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region, SharedCredentialsProvider, SharedHttpClient};
use std::sync::Arc;
use std::time::Duration;

/// The HTTP client of a process's AWS SDK calls ([`AwsHttp`]), for the clients that
/// are not a store's (SQS, the API Gateway Management API, DynamoDB Streams).
pub fn https_client() -> Result<SharedHttpClient, String> {
    Ok(SharedHttpClient::new(aws_http(&|name| {
        std::env::var(name).ok()
    })?))
}

/// What a configuration without a region is told.
const NO_REGION: &str = "no AWS region is set: export AWS_REGION (for DynamoDB Local any region will do, e.g. us-east-1)";

/// How long a connection to DynamoDB may take to open (`timeouts`' connect timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long to wait for DynamoDB. The SDK sets no limit on an attempt or an operation,
/// so a DynamoDB that accepts connections but does not answer would hold a request until
/// the Lambda timeout (10 s), and the client would get API Gateway's 5xx instead of our
/// 503 with `Retry-After`. DynamoDB answers single-item and transactional calls in
/// milliseconds; these limits are far above that. A request's calls together are bounded
/// by `handlers::REQUEST_DEADLINE`.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build()
}

/// DynamoDB as a store reaches it: what sends its reads and writes ([`Wire`]), and the
/// SDK's client, for what is not a request's, over one HTTP client.
#[derive(Clone, Debug)]
pub struct Dynamo {
    pub client: Client,
    pub wire: Wire,
}

/// A DynamoDB configuration before it is built: the SDK's, the HTTP client both sides
/// will share, and the endpoint if one is named. Only what both sides read alike can be
/// changed ([`DynamoConfig::with_retry_config`], [`DynamoConfig::watched`]): an endpoint
/// or credentials set on the SDK's side alone would send the store's calls and the SDK's apart.
pub struct DynamoConfig {
    sdk: aws_sdk_dynamodb::config::Builder,
    http: AwsHttp,
    endpoint: Option<String>,
    /// What signs the store's calls: the provider the SDK's configuration was given (a built
    /// configuration does not give it back).
    credentials: SharedCredentialsProvider,
}

impl DynamoConfig {
    /// The same with `retry` (attempts and backoff), which the store's calls follow too.
    pub fn with_retry_config(self, retry: aws_smithy_types::retry::RetryConfig) -> Self {
        DynamoConfig {
            sdk: self.sdk.retry_config(retry),
            ..self
        }
    }

    /// The same, telling `watch` of every request either side sends (the tests' count
    /// of round trips).
    pub fn watched(self, watch: Arc<dyn Watch>) -> Self {
        DynamoConfig {
            http: self.http.watched(watch),
            ..self
        }
    }

    /// The SDK's client and the store's calls, on one HTTP client, with the SDK's region,
    /// credentials, retries and timeouts. Fails without a region or credentials.
    pub fn build(self) -> Result<Dynamo, String> {
        let config = self.sdk.http_client(self.http.clone()).build();
        let region = config.region().ok_or(NO_REGION)?.to_string();
        let endpoint = match self.endpoint {
            Some(endpoint) => endpoint,
            None => default_endpoint(&region, false, false)?,
        };
        check_endpoint(&endpoint)?;
        let wire = Wire::new(
            self.http,
            &endpoint,
            &region,
            self.credentials,
            Patience::of(&config),
        );
        Ok(Dynamo {
            client: Client::from_conf(config),
            wire,
        })
    }
}

/// The HTTP client of AWS calls: hyper over rustls on *ring*, trusting Amazon's roots
/// unless the environment names a certificate store (`SSL_CERT_FILE`, `SSL_CERT_DIR`).
fn aws_http(lookup: &impl Fn(&str) -> Option<String>) -> Result<AwsHttp, String> {
    let roots = Roots::for_aws(lookup);
    Ok(AwsHttp::new(https_client_connecting_within(
        roots,
        CONNECT_TIMEOUT,
    )?))
}

/// DynamoDB's endpoint in `region`: [`written_endpoint`] where it knows the answer,
/// else the SDK's endpoint rules ([`endpoint_by_rules`]).
pub fn default_endpoint(region: &str, fips: bool, dual_stack: bool) -> Result<String, String> {
    match written_endpoint(region) {
        Some(endpoint) if !fips && !dual_stack => Ok(endpoint),
        _ => endpoint_by_rules(region, fips, dual_stack),
    }
}

/// The endpoint of a region of AWS's commercial or China partition (`eu-west-1`,
/// `cn-north-1`: two letters, a word, a number), written without the SDK's endpoint
/// rules, which load a partition table and regular expressions to answer (about
/// 0.05 ms of a cold start, docs/performance.md). `None` for any other region.
fn written_endpoint(region: &str) -> Option<String> {
    let parts: Vec<&str> = region.split('-').collect();
    let [area, word, number] = parts[..] else {
        return None;
    };
    let plain = area.len() == 2
        && !word.is_empty()
        && !number.is_empty()
        && area
            .bytes()
            .chain(word.bytes())
            .all(|b| b.is_ascii_lowercase())
        && number.bytes().all(|b| b.is_ascii_digit());
    let domain = if area == "cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    plain.then(|| format!("https://dynamodb.{region}.{domain}"))
}

/// The endpoint the SDK's rules give for `region`, FIPS and dual-stack included.
fn endpoint_by_rules(region: &str, fips: bool, dual_stack: bool) -> Result<String, String> {
    use aws_sdk_dynamodb::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
    let params = Params::builder()
        .region(region)
        .use_fips(fips)
        .use_dual_stack(dual_stack)
        .build()
        .map_err(|e| format!("no DynamoDB endpoint for {region}: {e}"))?;
    let resolver = DefaultResolver::new();
    let mut future = std::pin::pin!(resolver.resolve_endpoint(&params));
    // The rules are evaluated in place: the future is ready when first polled.
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(Ok(endpoint)) => Ok(endpoint.url().to_string()),
        std::task::Poll::Ready(Err(e)) => Err(format!("no DynamoDB endpoint for {region}: {e}")),
        std::task::Poll::Pending => Err(format!("no DynamoDB endpoint for {region}")),
    }
}

/// A store's DynamoDB from the SDK's full configuration chain (environment, profiles,
/// SSO, ...), with [`timeouts`]: for operators and tests.
pub async fn client_from_env() -> Result<Dynamo, String> {
    let lookup = |name: &str| std::env::var(name).ok();
    check_endpoint_overrides(&lookup)?;
    let http = aws_http(&lookup)?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http.clone())
        .timeout_config(timeouts())
        .load()
        .await;
    let endpoint = match configured_endpoint(&config) {
        Some(url) => url,
        None => {
            let region = config.region().ok_or(NO_REGION)?;
            default_endpoint(
                region.as_ref(),
                config.use_fips().unwrap_or(false),
                config.use_dual_stack().unwrap_or(false),
            )?
        }
    };
    let credentials = config
        .credentials_provider()
        .ok_or("no AWS credentials are set (environment, profile, SSO, ...)")?;
    DynamoConfig {
        sdk: aws_sdk_dynamodb::config::Builder::from(&config),
        http,
        endpoint: Some(endpoint),
        credentials,
    }
    .build()
}

/// The endpoint the operator's configuration names for DynamoDB, looked up as the SDK
/// does: one set in code, else `AWS_ENDPOINT_URL_DYNAMODB` or the profile's `dynamodb`
/// section, else `AWS_ENDPOINT_URL` or the profile's `endpoint_url`.
fn configured_endpoint(config: &aws_config::SdkConfig) -> Option<String> {
    if !config.get_origin("endpoint_url").is_client_config()
        && let Some(loader) = config.service_config()
    {
        let key = aws_types::service_config::ServiceConfigKey::builder()
            .service_id("DynamoDB")
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .expect("every field is set");
        if let Some(url) = loader.load_config(key) {
            return Some(url);
        }
    }
    config.endpoint_url().map(str::to_string)
}

/// The DynamoDB configuration of a Lambda function, from what Lambda sets in its
/// environment: `AWS_REGION` and the execution role's `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; and an endpoint override
/// (`AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`) for `sam local` and tests.
///
/// Not the SDK's default chain: its profile files, SSO, web identity (with an STS
/// client) and instance metadata never apply inside Lambda, and leaving them out of the
/// bootstraps saves about 0.65 MiB (docs/performance.md).
pub fn lambda_config(lookup: impl Fn(&str) -> Option<String>) -> Result<DynamoConfig, String> {
    check_endpoint_overrides(&lookup)?;
    let (region, credentials) = lambda_identity(&lookup)?;
    let endpoint = lookup("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| lookup("AWS_ENDPOINT_URL"));
    let credentials = SharedCredentialsProvider::new(credentials);
    let mut sdk = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(credentials.clone())
        .timeout_config(timeouts());
    sdk.set_endpoint_url(endpoint.clone());
    Ok(DynamoConfig {
        sdk,
        http: aws_http(&lookup)?,
        endpoint,
        credentials,
    })
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
        .http_client(SharedHttpClient::new(aws_http(&lookup)?))
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

/// Refuses an endpoint the store's calls could not be signed for: one without `http://` or
/// `https://` and a host (the signer needs the host; e.g. `127.0.0.1:8000` alone).
fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| format!("the DynamoDB endpoint {endpoint:?} is not a URL: {e}"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) {
        return Err(format!(
            "the DynamoDB endpoint {endpoint:?} is not a URL such as http://127.0.0.1:8000"
        ));
    }
    Ok(())
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

    #[test]
    fn the_written_endpoints_are_those_of_the_sdks_rules() {
        for region in [
            "us-east-1",
            "eu-west-1",
            "ap-southeast-7",
            "mx-central-1",
            "il-central-1",
            "cn-north-1",
            "cn-northwest-1",
        ] {
            let written = written_endpoint(region).unwrap_or_else(|| panic!("{region}"));
            assert_eq!(
                Ok(written),
                endpoint_by_rules(region, false, false),
                "{region}"
            );
        }
        // Other partitions, and FIPS or dual-stack, are left to the rules.
        for region in [
            "us-gov-west-1",
            "us-iso-east-1",
            "eu-isoe-west-1",
            "local",
            "us-east",
        ] {
            assert_eq!(written_endpoint(region), None, "{region}");
        }
        assert_eq!(
            default_endpoint("us-gov-west-1", false, false),
            endpoint_by_rules("us-gov-west-1", false, false)
        );
        assert_eq!(
            default_endpoint("us-east-1", true, false).unwrap(),
            "https://dynamodb-fips.us-east-1.amazonaws.com"
        );
    }

    #[test]
    fn an_endpoint_without_a_scheme_or_a_host_is_refused_before_any_request() {
        for bad in ["127.0.0.1:8000", "/ddb", "ftp://example.com", "http://"] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
        for good in [
            "http://127.0.0.1:8000",
            "https://dynamodb.eu-west-1.amazonaws.com/",
        ] {
            assert!(check_endpoint(good).is_ok(), "{good}");
        }
        let env = |name: &str| match name {
            "AWS_ENDPOINT_URL_DYNAMODB" => Some("localhost:8000".to_string()),
            other => lambda_env(LAMBDA)(other),
        };
        let err = lambda_config(env).unwrap().build().unwrap_err();
        assert!(err.contains("localhost:8000"), "{err}");
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
        let dynamo = lambda_config(lambda_env(LAMBDA)).unwrap().build().unwrap();
        let config = dynamo.client.config();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.timeout_config(), Some(&timeouts()));
        // The store's calls wait as long as the SDK's, and go to the region's endpoint.
        let patience = Patience::of(config);
        assert_eq!(
            patience.attempt_timeout,
            timeouts().operation_attempt_timeout()
        );
        assert_eq!(patience.call_timeout, timeouts().operation_timeout());
        assert_eq!(patience.attempts, 3);
        let shown = format!("{:?}", dynamo.wire);
        assert!(
            shown.contains("https://dynamodb.eu-west-1.amazonaws.com"),
            "{shown}"
        );
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
