//! Cross-site request forgery prevention. A page on another site can make a
//! browser send a "simple" request (GET, or a POST of a form or plain text)
//! with the visitor's cookies and no CORS preflight, so the gateway would run
//! it before CORS has any say. An operation is therefore only run when the
//! request could not have been simple: it has a content type a form cannot
//! send (`application/json`), or one of the configured headers, which no
//! page can add without a preflight.

use axum::http::{HeaderMap, header};
use serde::{Deserialize, Serialize};

use crate::error::RequestError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CsrfConfig {
    /// Refuse operations that a browser could send cross-site without a
    /// preflight.
    pub enabled: bool,
    /// Any of these headers, non-empty, marks a request as preflighted (what
    /// a GET needs, as it has no body to give a content type).
    pub required_headers: Vec<String>,
}

impl Default for CsrfConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            required_headers: [
                "apollo-require-preflight",
                "x-apollo-operation-name",
                "x-switchyard-csrf",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }
}

/// The content types an HTML form or a no-cors `fetch` can send
/// (the Fetch standard's CORS-safelisted `Content-Type` values).
const SIMPLE_CONTENT_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

impl CsrfConfig {
    /// `Ok` when the request is one a browser would have preflighted.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), RequestError> {
        if !self.enabled || self.preflighted(headers) {
            return Ok(());
        }
        Err(RequestError::CsrfPrevented(
            self.required_headers.join(", "),
        ))
    }

    fn preflighted(&self, headers: &HeaderMap) -> bool {
        let non_simple_type = headers.get(header::CONTENT_TYPE).is_some_and(|v| {
            let essence = v
                .to_str()
                .ok()
                .and_then(|v| v.split(';').next())
                .map(|e| e.trim().to_ascii_lowercase());
            // A value that is no MIME type at all is not safelisted either.
            essence.is_none_or(|e| !SIMPLE_CONTENT_TYPES.contains(&e.as_str()))
        });
        non_simple_type
            || self.required_headers.iter().any(|name| {
                headers
                    .get(name.as_str())
                    .is_some_and(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace))
            })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn simple_requests_are_refused_and_preflighted_ones_pass() {
        let csrf = CsrfConfig::default();
        for refused in [
            with(&[]),
            with(&[("content-type", "text/plain")]),
            with(&[("content-type", "Text/Plain; charset=utf-8")]),
            with(&[("content-type", "application/x-www-form-urlencoded")]),
            with(&[("content-type", "multipart/form-data; boundary=x")]),
            with(&[("apollo-require-preflight", "")]),
            with(&[("x-unrelated", "1")]),
        ] {
            let error = csrf.check(&refused).expect_err("refused");
            assert_eq!(error.code(), "CSRF_PREVENTED", "{refused:?}");
        }
        for passed in [
            with(&[("content-type", "application/json")]),
            with(&[("content-type", "application/json; charset=utf-8")]),
            with(&[("content-type", "application/graphql-response+json")]),
            with(&[("apollo-require-preflight", "true")]),
            with(&[("x-apollo-operation-name", "Q")]),
            with(&[("content-type", "text/plain"), ("x-switchyard-csrf", "1")]),
        ] {
            assert!(csrf.check(&passed).is_ok(), "{passed:?}");
        }
        let off = CsrfConfig {
            enabled: false,
            ..CsrfConfig::default()
        };
        assert!(off.check(&with(&[])).is_ok());
    }
}
