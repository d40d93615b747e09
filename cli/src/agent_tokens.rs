//! Agents' tokens for the local server: what the identity provider (Cognito or any OIDC
//! issuer) and API Gateway's JWT authorizer do in production. `supportzen agents token`
//! signs EdDSA JWTs with a local Ed25519 key; `supportzen serve` verifies them by the
//! authorizer's rules (signature, issuer, audience, expiry, then the route's scope) and
//! hands the handler the same verified claims API Gateway would.

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use supportzen_shared::domain::{AgentId, DisplayName, Scope};

/// The `iss` of local tokens; production's comes from the template's `AgentJwtIssuer`.
pub const LOCAL_ISSUER: &str = "supportzen-local";
/// The `aud` of local tokens; production's comes from the template's `AgentJwtAudience`.
pub const LOCAL_AUDIENCE: &str = "supportzen-agents";
/// Where the local signing key lives unless told otherwise.
pub const DEFAULT_KEY_PATH: &str = "supportzen-agent-key.pem";

/// A token's claims: the registered ones the authorizer checks, the agent's id (`sub`)
/// and name, and the OAuth `scope` string.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The agent's address, for the emails about customers' unread messages in the
    /// conversations they assign themselves (Cognito's tokens carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub scope: String,
    pub iat: u64,
    pub exp: u64,
}

impl Claims {
    /// The claims as API Gateway passes them to a function: every value a string.
    pub fn as_authorizer_claims(&self) -> HashMap<String, String> {
        let mut claims = HashMap::from([
            ("iss".to_string(), self.iss.clone()),
            ("aud".to_string(), self.aud.clone()),
            ("sub".to_string(), self.sub.clone()),
            ("scope".to_string(), self.scope.clone()),
            ("iat".to_string(), self.iat.to_string()),
            ("exp".to_string(), self.exp.to_string()),
        ]);
        if let Some(name) = &self.name {
            claims.insert("name".to_string(), name.clone());
        }
        if let Some(email) = &self.email {
            claims.insert("email".to_string(), email.clone());
        }
        claims
    }

    /// The same rule as the handlers' (and the template's routes'): [`Scope::granted_by`].
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scope
            .split(' ')
            .any(|granted| scope.granted_by(granted))
    }
}

/// Why a request's token was refused. The client hears 401 or 403, and is told only
/// whether the header was missing or not `Bearer <token>`; the rest is for the log.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("no Authorization header")]
    Missing,
    #[error("Authorization header is not Bearer <token>")]
    NotBearer,
    #[error("token refused: {0}")]
    Invalid(&'static str),
    #[error("token lacks the scope {}", .0.as_str())]
    MissingScope(Scope),
}

/// The local signing key, and the key that verifies its tokens.
pub struct AgentKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl AgentKey {
    /// Reads the key at `path`, creating it (readable by its owner only) if there is none.
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        let pem = match std::fs::read_to_string(path) {
            Ok(pem) => pem,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => create(path)?,
            Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
        };
        Self::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A key from a PKCS#8 Ed25519 private key in PEM.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let encoding = EncodingKey::from_ed_pem(pem.as_bytes())
            .map_err(|e| format!("not an Ed25519 private key in PEM: {e}"))?;
        let public = Jwk::from_encoding_key(&encoding, Algorithm::EdDSA)
            .map_err(|e| format!("cannot derive the public key: {e}"))?;
        let decoding = DecodingKey::from_jwk(&public)
            .map_err(|e| format!("cannot derive the public key: {e}"))?;
        Ok(AgentKey { encoding, decoding })
    }

    /// A token for `agent` with `scopes`, valid for `ttl` from now.
    pub fn mint(
        &self,
        agent: &AgentId,
        name: Option<&DisplayName>,
        scopes: &[Scope],
        ttl: Duration,
    ) -> Result<String, String> {
        let now = jsonwebtoken::get_current_timestamp();
        self.sign(&Claims {
            iss: LOCAL_ISSUER.to_string(),
            aud: LOCAL_AUDIENCE.to_string(),
            sub: agent.as_str().to_string(),
            name: name.map(|n| n.as_str().to_string()),
            email: None,
            scope: scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            iat: now,
            exp: now + ttl.as_secs(),
        })
    }

    /// A token with exactly these claims (tests use it for expired or foreign ones).
    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.encoding)
            .map_err(|e| format!("cannot sign the token: {e}"))
    }

    /// Checks an `Authorization` header's bearer token as API Gateway's JWT authorizer
    /// does: EdDSA signature, `iss`, `aud`, `exp` and `nbf` if present (no leeway), then
    /// `scope`.
    pub fn verify(&self, authorization: Option<&str>, scope: Scope) -> Result<Claims, Rejection> {
        let token = authorization
            .ok_or(Rejection::Missing)?
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(Rejection::NotBearer)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["iss", "aud", "exp", "sub"]);
        validation.set_issuer(&[LOCAL_ISSUER]);
        validation.set_audience(&[LOCAL_AUDIENCE]);
        validation.leeway = 0;
        validation.validate_nbf = true;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| {
                Rejection::Invalid(match e.kind() {
                    ErrorKind::ExpiredSignature => "expired",
                    ErrorKind::ImmatureSignature => "not valid yet",
                    ErrorKind::InvalidAudience => "wrong audience",
                    ErrorKind::InvalidIssuer => "wrong issuer",
                    ErrorKind::InvalidSignature => "bad signature",
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                        "wrong algorithm"
                    }
                    ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
                    ErrorKind::InvalidToken
                    | ErrorKind::Base64(_)
                    | ErrorKind::Json(_)
                    | ErrorKind::Utf8(_) => "not a JWT",
                    _ => "not verifiable",
                })
            })?
            .claims;
        if !claims.has_scope(scope) {
            return Err(Rejection::MissingScope(scope));
        }
        Ok(claims)
    }
}

/// Writes a new Ed25519 key to `path` (PKCS#8 v1, as `openssl genpkey -algorithm
/// ed25519` writes it), mode 0600, never over an existing file.
fn create(path: &Path) -> Result<String, String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no randomness for a key: {e}"))?;
    let signing = SigningKey::from_bytes(&seed);
    let pem = KeypairBytes {
        secret_key: signing.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|e| format!("cannot encode the key: {e}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(pem.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            tracing::info!(path = %path.display(), "created a local signing key for agents' tokens");
            Ok(pem.to_string())
        }
        // Another process created it meanwhile: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        Err(err) => Err(format!("cannot create {}: {err}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> AgentId {
        AgentId::parse("agent-7").unwrap()
    }

    #[test]
    fn tokens_verify_by_the_authorizers_rules() {
        let dir = tempfile::tempdir().unwrap();
        let key = AgentKey::load_or_create(&dir.path().join("key.pem")).unwrap();
        let ttl = Duration::from_secs(60);
        let read_only = key.mint(&agent(), None, &[Scope::Read], ttl).unwrap();
        let bearer = |t: &str| format!("Bearer {t}");
        let claims = key.verify(Some(&bearer(&read_only)), Scope::Read).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.aud.as_str()),
            ("agent-7", LOCAL_AUDIENCE)
        );
        assert!(matches!(
            key.verify(Some(&bearer(&read_only)), Scope::Write),
            Err(Rejection::MissingScope(Scope::Write))
        ));
        // Another key's token, an expired one, none at all.
        let other = AgentKey::load_or_create(&dir.path().join("other.pem")).unwrap();
        let forged = other.mint(&agent(), None, &Scope::ALL, ttl).unwrap();
        assert!(
            matches!(key.verify(Some(&bearer(&forged)), Scope::Read), Err(Rejection::Invalid(r)) if r == "bad signature")
        );
        let mut expired = claims.clone();
        expired.exp = claims.iat - 1;
        let expired = key.sign(&expired).unwrap();
        assert!(
            matches!(key.verify(Some(&bearer(&expired)), Scope::Read), Err(Rejection::Invalid(r)) if r == "expired")
        );
        let mut foreign = claims.clone();
        foreign.aud = "another-api".into();
        let foreign = key.sign(&foreign).unwrap();
        assert!(
            matches!(key.verify(Some(&bearer(&foreign)), Scope::Read), Err(Rejection::Invalid(r)) if r == "wrong audience")
        );
        assert!(matches!(
            key.verify(None, Scope::Read),
            Err(Rejection::Missing)
        ));
        for not_bearer in [read_only.as_str(), "Basic abc", "Bearer ", "Bearer"] {
            assert!(
                matches!(
                    key.verify(Some(not_bearer), Scope::Read),
                    Err(Rejection::NotBearer)
                ),
                "{not_bearer}"
            );
        }
        assert!(
            matches!(key.verify(Some("Bearer abc"), Scope::Read), Err(Rejection::Invalid(r)) if r == "not a JWT")
        );
        // The key file is reused, not replaced.
        let again = AgentKey::load_or_create(&dir.path().join("key.pem")).unwrap();
        assert!(again.verify(Some(&bearer(&read_only)), Scope::Read).is_ok());
    }
}
