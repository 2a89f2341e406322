//! JWT authentication shared by the gateway and the subgraphs: where a token
//! comes from (a bearer header or a cookie), the keys that verify it (a JWKS
//! URL, cached and refreshed; a JWKS or PEM file; an HS256 secret for
//! development) and the verified claims ([`Principal`]).
//!
//! The gateway verifies every token before planning and forwards it to the
//! subgraphs, which verify it again with the same configuration: a subgraph
//! trusts the identity provider, not whoever can reach its port.
//!
//! Every key is bound to one algorithm (the JWK's `alg`, else its key type and
//! curve); a token is only ever checked with keys of the algorithm its header
//! names, so `alg: none` and key confusion (an HS256 token "signed" with an RSA
//! public key as the secret) cannot verify.

mod config;
pub mod dev;
mod keys;
mod token;

use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

pub use config::JwtConfig;
pub use keys::KeyError;
pub use token::bearer_token;

use keys::Key;

/// Why a request's token was refused; every variant is a `401` with
/// `extensions.code = UNAUTHENTICATED`. Messages are safe to show.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token algorithm {0} is not accepted")]
    Algorithm(String),
    #[error("no key verifies this token (unknown `kid` or algorithm)")]
    UnknownKey,
    #[error("invalid token signature")]
    Signature,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet")]
    NotYetValid,
    #[error("token issuer is not accepted")]
    Issuer,
    #[error("token audience is not accepted")]
    Audience,
    #[error("token lacks required claim `{0}`")]
    MissingClaim(String),
    #[error("{0}")]
    Rejected(String),
}

impl AuthError {
    pub const CODE: &'static str = "UNAUTHENTICATED";

    fn from_jwt(e: &jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => Self::Signature,
            K::ExpiredSignature => Self::Expired,
            K::ImmatureSignature => Self::NotYetValid,
            K::InvalidIssuer => Self::Issuer,
            K::InvalidAudience => Self::Audience,
            K::MissingRequiredClaim(c) => Self::MissingClaim(c.clone()),
            K::InvalidAlgorithm | K::InvalidAlgorithmName | K::MissingAlgorithm => {
                Self::Algorithm("of this token".into())
            }
            other => Self::Malformed(format!("{other:?}")),
        }
    }
}

/// The verified caller: the token's subject, scopes and every claim.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Principal {
    pub subject: Option<String>,
    pub scopes: BTreeSet<String>,
    pub claims: Map<String, Value>,
    /// The token as received, forwarded to subgraphs.
    pub token: String,
}

impl Principal {
    /// From verified claims: scopes from `scope` (space-separated, OAuth 2),
    /// `scp` or `scopes` (a list or a space-separated string).
    pub fn from_claims(claims: Map<String, Value>, token: String) -> Self {
        let mut scopes = BTreeSet::new();
        for name in ["scope", "scp", "scopes"] {
            match claims.get(name) {
                Some(Value::String(s)) => scopes.extend(s.split_whitespace().map(str::to_owned)),
                Some(Value::Array(items)) => {
                    scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_owned))
                }
                _ => {}
            }
        }
        let subject = match claims.get("sub") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Self {
            subject,
            scopes,
            claims,
            token,
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
}

/// Verifies tokens against the configured keys. Keys from a JWKS URL are
/// fetched on first use, refreshed every `jwks_refresh_secs`, and fetched
/// again when a token names an unknown `kid` (at most once per
/// `jwks_refetch_min_secs`, so unknown kids cannot hammer the identity provider).
pub struct Verifier {
    config: JwtConfig,
    http: reqwest::Client,
    /// From files and the HS256 secret: loaded once, at start.
    fixed: Vec<Key>,
    remote: Mutex<Remote>,
}

#[derive(Default)]
struct Remote {
    keys: Arc<Vec<Key>>,
    fetched: Option<Instant>,
    attempted: Option<Instant>,
}

impl Verifier {
    /// Loads the fixed key sources; the JWKS URL is fetched when first needed.
    pub fn new(config: JwtConfig, http: reqwest::Client) -> Result<Self, KeyError> {
        let fixed = keys::load_fixed(&config)?;
        Ok(Self {
            config,
            http,
            fixed,
            remote: Mutex::new(Remote::default()),
        })
    }

    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// The caller of a request with these headers: `Ok(None)` without a
    /// token, an error for a token that does not verify.
    pub async fn authenticate(
        &self,
        headers: &reqwest::header::HeaderMap,
    ) -> Result<Option<Principal>, AuthError> {
        match bearer_token(headers, &self.config)? {
            None => Ok(None),
            Some(token) => self.verify(token).await.map(Some),
        }
    }

    /// Verifies `token` (signature, `exp`, `nbf`, issuer, audience).
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| AuthError::Malformed(format!("header: {e}")))?;
        let mut remote = self.remote_keys(false).await;
        if self.candidates(&header, &remote).is_empty()
            && header.kid.is_some()
            && self.config.jwks_url.is_some()
        {
            // Perhaps a rotated key: ask the identity provider again (rate limited).
            remote = self.remote_keys(true).await;
        }
        let candidates = self.candidates(&header, &remote);
        if candidates.is_empty() {
            let known = self.fixed.iter().chain(remote.iter());
            return Err(if known.clone().any(|k| k.algorithm == header.alg) {
                AuthError::UnknownKey
            } else {
                AuthError::Algorithm(format!("{:?}", header.alg))
            });
        }
        let mut error = AuthError::UnknownKey;
        for key in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(
                token,
                &key.decoding,
                &self.validation(key.algorithm),
            ) {
                Ok(data) => return Ok(Principal::from_claims(data.claims, token.to_owned())),
                Err(e) => error = AuthError::from_jwt(&e),
            }
        }
        Err(error)
    }

    /// Keys that may verify a token with this header: same algorithm, and
    /// the token's `kid` where both name one.
    fn candidates<'k>(
        &'k self,
        header: &jsonwebtoken::Header,
        remote: &'k Arc<Vec<Key>>,
    ) -> Vec<&'k Key> {
        self.fixed
            .iter()
            .chain(remote.iter())
            .filter(|k| k.algorithm == header.alg)
            .filter(|k| match (&header.kid, &k.kid) {
                (Some(wanted), Some(kid)) => wanted == kid,
                _ => true,
            })
            .collect()
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.config.leeway_secs;
        validation.validate_nbf = true;
        if let Some(issuer) = &self.config.issuer {
            validation.set_issuer(&[issuer]);
        }
        if self.config.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.config.audience);
        }
        validation
    }

    /// The JWKS URL's keys: fetched when stale (or `unknown_kid` asks), at
    /// most once per `jwks_refetch_min_secs`; a failed fetch keeps the old keys.
    async fn remote_keys(&self, unknown_kid: bool) -> Arc<Vec<Key>> {
        let Some(url) = &self.config.jwks_url else {
            return Arc::default();
        };
        let mut remote = self.remote.lock().await;
        let refresh = Duration::from_secs(self.config.jwks_refresh_secs);
        let min_gap = Duration::from_secs(self.config.jwks_refetch_min_secs);
        let stale = remote.fetched.is_none_or(|at| at.elapsed() >= refresh);
        let may_try = remote.attempted.is_none_or(|at| at.elapsed() >= min_gap);
        if (stale || unknown_kid) && may_try {
            remote.attempted = Some(Instant::now());
            match keys::fetch_jwks(&self.http, url).await {
                Ok(keys) => {
                    tracing::info!(url, keys = keys.len(), "JWKS fetched");
                    remote.keys = Arc::new(keys);
                    remote.fetched = Some(Instant::now());
                }
                Err(e) => {
                    tracing::warn!(url, error = %e, "JWKS fetch failed; keeping the keys we have")
                }
            }
        }
        remote.keys.clone()
    }
}

#[cfg(test)]
mod tests;
