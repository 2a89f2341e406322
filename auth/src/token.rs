//! Where a request's token is: `Bearer` in the configured header, else the
//! configured cookie.

use reqwest::header::{COOKIE, HeaderMap};

use crate::{AuthError, JwtConfig};

/// The request's token, `None` when it has none. A header that is present
/// but holds no bearer token is an error, not an anonymous request.
pub fn bearer_token<'h>(
    headers: &'h HeaderMap,
    config: &JwtConfig,
) -> Result<Option<&'h str>, AuthError> {
    if let Some(value) = headers.get(config.header.as_str()) {
        let value = value
            .to_str()
            .map_err(|_| AuthError::Malformed("the header is not ASCII".into()))?;
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                AuthError::Malformed(format!("expected `{}: Bearer <token>`", config.header))
            })?;
        return Ok(Some(token));
    }
    let Some(cookie) = &config.cookie else {
        return Ok(None);
    };
    for header in headers.get_all(COOKIE) {
        let Ok(header) = header.to_str() else {
            continue;
        };
        for pair in header.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=')
                && name == cookie
                && !value.is_empty()
            {
                return Ok(Some(value));
            }
        }
    }
    Ok(None)
}
