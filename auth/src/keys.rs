//! Verification keys, each bound to the one algorithm it may verify.

use std::str::FromStr;

use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet},
};

use crate::JwtConfig;

/// Why the configured keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("JWKS fetch: {0}")]
    Fetch(#[from] reqwest::Error),
}

pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) decoding: DecodingKey,
}

/// Keys from the JWKS file, the PEM file and the HS256 secret.
pub(crate) fn load_fixed(config: &JwtConfig) -> Result<Vec<Key>, KeyError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let mut keys = Vec::new();
    if let Some(path) = &config.jwks_file {
        let set: JwkSet = serde_json::from_slice(&read(path)?)
            .map_err(|e| KeyError::Invalid(format!("{}: not a JWKS: {e}", path.display())))?;
        keys.extend(from_jwks(&set));
    }
    if let Some(path) = &config.public_key_pem {
        keys.push(from_pem(&read(path)?, config.pem_algorithm.as_deref())?);
    }
    if let Some(secret) = &config.hs256_secret {
        if secret.len() < 32 {
            return Err(KeyError::Invalid(
                "hs256_secret must be at least 32 bytes".into(),
            ));
        }
        keys.push(Key {
            kid: None,
            algorithm: Algorithm::HS256,
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        });
    }
    Ok(keys)
}

pub(crate) async fn fetch_jwks(http: &reqwest::Client, url: &str) -> Result<Vec<Key>, KeyError> {
    let set: JwkSet = http
        .get(url)
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(from_jwks(&set))
}

/// The usable keys of a JWKS; symmetric (`oct`) keys and keys for
/// encryption are skipped: a JWKS is public, a secret in it would not be one.
fn from_jwks(set: &JwkSet) -> Vec<Key> {
    set.keys
        .iter()
        .filter_map(|jwk| match from_jwk(jwk) {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::warn!(kid = ?jwk.common.key_id, error = %e, "JWKS key skipped");
                None
            }
        })
        .collect()
}

fn from_jwk(jwk: &Jwk) -> Result<Key, String> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            ref other => return Err(format!("unsupported curve {other:?}")),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::OctetKeyPair(_) => return Err("unsupported OKP curve".into()),
        AlgorithmParameters::OctetKey(_) => return Err("symmetric keys are not accepted".into()),
    };
    let algorithm = match jwk.common.key_algorithm {
        None => by_type,
        Some(declared) => {
            let algorithm = Algorithm::from_str(&format!("{declared:?}"))
                .map_err(|_| format!("`alg` {declared:?} is not a signature algorithm"))?;
            if family(algorithm) != family(by_type) {
                return Err(format!("`alg` {declared:?} does not fit the key type"));
            }
            algorithm
        }
    };
    let decoding = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    Ok(Key {
        kid: jwk.common.key_id.clone(),
        algorithm,
        decoding,
    })
}

fn family(algorithm: Algorithm) -> u8 {
    match algorithm {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => 0,
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => 1,
        Algorithm::ES256 | Algorithm::ES384 => 2,
        Algorithm::EdDSA => 3,
    }
}

/// A PEM public key: RSA (with `algorithm`, RS256 by default), EC or Ed25519.
fn from_pem(pem: &[u8], algorithm: Option<&str>) -> Result<Key, KeyError> {
    let invalid = |m: &str| KeyError::Invalid(format!("public_key_pem: {m}"));
    let (algorithm, decoding) = if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        let algorithm = match algorithm {
            None => Algorithm::RS256,
            Some(name) => Algorithm::from_str(name)
                .ok()
                .filter(|a| family(*a) == 1)
                .ok_or_else(|| invalid("pem_algorithm must be RS256/384/512 or PS256/384/512"))?,
        };
        (algorithm, key)
    } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        // The curve decides; a P-384 key fails every ES256 check and the reverse.
        let algorithm = match algorithm {
            Some("ES384") => Algorithm::ES384,
            _ => Algorithm::ES256,
        };
        (algorithm, key)
    } else if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        (Algorithm::EdDSA, key)
    } else {
        return Err(invalid("not an RSA, EC or Ed25519 public key"));
    };
    Ok(Key {
        kid: None,
        algorithm,
        decoding,
    })
}
