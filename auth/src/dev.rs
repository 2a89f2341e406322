//! The development key: a fixed HS256 secret that dev mode (`cargo run`) and
//! the tests verify with, and `switchyard token` signs with. It is public
//! (it is in this file), so it must never verify tokens in production:
//! configure `jwks_url`, `jwks_file` or `public_key_pem` there.

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

/// NOT FOR PRODUCTION: anyone who reads this source can mint tokens with it.
pub const DEV_HS256_SECRET: &str = "switchyard-development-key-NOT-FOR-PRODUCTION";

/// An HS256 token for `sub` with `scopes` (space-separated in `scope`),
/// valid for `ttl_secs`, signed with `secret`.
pub fn mint(secret: &str, sub: &str, scopes: &[&str], ttl_secs: u64) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    sign_hs256(
        secret,
        &json!({ "sub": sub, "scope": scopes.join(" "), "iat": now, "exp": now + ttl_secs }),
    )
}

/// Signs any claims with an HS256 secret.
pub fn sign_hs256(secret: &str, claims: &Value) -> String {
    // Encoding a JSON value with an HMAC key cannot fail.
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default()
}

/// [`mint`] with the development secret.
pub fn token(sub: &str, scopes: &[&str]) -> String {
    mint(DEV_HS256_SECRET, sub, scopes, 24 * 3600)
}

/// Signs `claims` with a private key in PEM (`RS256`, `ES256`, `EdDSA`…) under
/// `kid`: what an identity provider does, for tests of the real algorithms.
pub fn sign_pem(
    algorithm: &str,
    kid: Option<&str>,
    private_pem: &[u8],
    claims: &Value,
) -> Result<String, jsonwebtoken::errors::Error> {
    use std::str::FromStr;
    let algorithm = jsonwebtoken::Algorithm::from_str(algorithm)?;
    let key = match algorithm {
        jsonwebtoken::Algorithm::ES256 | jsonwebtoken::Algorithm::ES384 => {
            EncodingKey::from_ec_pem(private_pem)?
        }
        jsonwebtoken::Algorithm::EdDSA => EncodingKey::from_ed_pem(private_pem)?,
        _ => EncodingKey::from_rsa_pem(private_pem)?,
    };
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key)
}
