//! Settings of JWT verification, the same for the gateway (`[jwt]` in its
//! configuration) and each subgraph (`<NAME>_JWT__*`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// JWKS endpoint of the identity provider (RS256/ES256/ES384/EdDSA keys).
    pub jwks_url: Option<String>,
    /// A JWKS document on disk.
    pub jwks_file: Option<PathBuf>,
    /// A public key in PEM (RSA, EC P-256/P-384 or Ed25519).
    pub public_key_pem: Option<PathBuf>,
    /// Algorithm of `public_key_pem` when it is RSA (`RS256` default, `RS384`, `RS512`, `PS256`…).
    pub pem_algorithm: Option<String>,
    /// HS256 shared secret: development only (anyone holding it mints tokens).
    pub hs256_secret: Option<String>,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Accepted `aud` values; when empty, `aud` is not checked.
    pub audience: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Request header carrying `Bearer <token>`.
    pub header: String,
    /// Cookie carrying the bare token, read when the header is absent.
    pub cookie: Option<String>,
    /// How long fetched JWKS keys are used before they are fetched again.
    pub jwks_refresh_secs: u64,
    /// Least time between two JWKS fetches (also those for an unknown `kid`).
    pub jwks_refetch_min_secs: u64,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            jwks_url: None,
            jwks_file: None,
            public_key_pem: None,
            pem_algorithm: None,
            hs256_secret: None,
            issuer: None,
            audience: Vec::new(),
            leeway_secs: 30,
            header: "authorization".into(),
            cookie: None,
            jwks_refresh_secs: 300,
            jwks_refetch_min_secs: 10,
        }
    }
}

impl JwtConfig {
    /// Whether any key source is set; without one, every token is refused
    /// and only anonymous requests are served.
    pub fn has_keys(&self) -> bool {
        self.jwks_url.is_some()
            || self.jwks_file.is_some()
            || self.public_key_pem.is_some()
            || self.hs256_secret.is_some()
    }

    /// This configuration with the development secret when it has no key
    /// source (dev mode and tests).
    pub fn or_development(mut self) -> Self {
        if !self.has_keys() {
            self.hs256_secret = Some(crate::dev::DEV_HS256_SECRET.to_owned());
        }
        self
    }
}
