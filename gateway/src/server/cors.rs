//! Cross-origin access (CORS): which other origins' pages may read the
//! gateway's responses in a browser. By default only pages served from this
//! machine (a playground or front-end in development) may, and without
//! credentials; GraphiQL at `/graphql` is same-origin and needs none of it.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, request::Parts};
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer, ExposeHeaders};

use crate::error::InvalidSetting;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Origins whose pages may read responses, as a browser sends them
    /// (`https://app.example.com`, no path); `["*"]` is any origin, which
    /// cannot go with `allow_credentials`.
    pub allow_origins: Vec<String>,
    /// Also `http(s)://localhost`, `127.0.0.1` and `[::1]` on any port: pages
    /// served from the visitor's own machine, such as a local playground.
    pub allow_local_origins: bool,
    /// Let cross-origin pages send cookies and HTTP authentication
    /// (`Access-Control-Allow-Credentials: true`).
    pub allow_credentials: bool,
    /// Request headers cross-origin pages may send; `["*"]` allows whatever
    /// a preflight asks for.
    pub allow_headers: Vec<String>,
    /// Response headers cross-origin pages may read besides the safelisted ones.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight answer, in seconds.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            allow_origins: Vec::new(),
            allow_local_origins: true,
            allow_credentials: false,
            allow_headers: [
                "content-type",
                "authorization",
                "apollo-require-preflight",
                "x-apollo-operation-name",
                "x-switchyard-csrf",
                "x-switchyard-plan",
                "traceparent",
                "tracestate",
            ]
            .map(str::to_owned)
            .to_vec(),
            expose_headers: Vec::new(),
            max_age_secs: 600,
        }
    }
}

const ANY: &str = "*";

impl CorsConfig {
    /// The layer, or which setting is wrong (a bad name, or a wildcard with
    /// credentials, which browsers refuse and tower-http would panic on).
    pub fn layer(&self) -> Result<CorsLayer, InvalidSetting> {
        let any_origin = self.allow_origins.iter().any(|o| o == ANY);
        if self.allow_credentials && any_origin {
            return Err(InvalidSetting::new(
                "cors.allow_origins",
                "\"*\" cannot be combined with cors.allow_credentials = true; list the origins",
            ));
        }
        let origin = if any_origin {
            AllowOrigin::any()
        } else {
            let listed = self
                .allow_origins
                .iter()
                .map(|o| {
                    let trimmed = o.trim_end_matches('/').to_ascii_lowercase();
                    HeaderValue::from_str(&trimmed).map_err(|_| {
                        InvalidSetting::new("cors.allow_origins", format!("`{o}` is not an origin"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let local = self.allow_local_origins;
            AllowOrigin::predicate(move |origin: &HeaderValue, _: &Parts| {
                listed.contains(origin) || (local && is_local(origin.as_bytes()))
            })
        };
        let headers = if self.allow_headers.iter().any(|h| h == ANY) {
            // Mirroring, not `*`: valid with credentials too.
            AllowHeaders::mirror_request()
        } else {
            AllowHeaders::list(names("cors.allow_headers", &self.allow_headers)?)
        };
        Ok(CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers(headers)
            .expose_headers(ExposeHeaders::list(names(
                "cors.expose_headers",
                &self.expose_headers,
            )?))
            .allow_credentials(self.allow_credentials)
            .max_age(Duration::from_secs(self.max_age_secs)))
    }
}

fn names(setting: &'static str, names: &[String]) -> Result<Vec<HeaderName>, InvalidSetting> {
    names
        .iter()
        .map(|n| {
            HeaderName::from_bytes(n.as_bytes())
                .map_err(|_| InvalidSetting::new(setting, format!("`{n}` is not a header name")))
        })
        .collect()
}

/// `http(s)://localhost`, `127.0.0.1` or `[::1]`, with or without a port.
fn is_local(origin: &[u8]) -> bool {
    let Ok(origin) = std::str::from_utf8(origin) else {
        return false;
    };
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !port.contains(']') => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            host
        }
        _ => authority,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_origins_are_this_machine_on_any_port_and_nothing_else() {
        for origin in [
            "http://localhost",
            "http://localhost:3000",
            "https://127.0.0.1:8443",
            "http://[::1]:5173",
            "http://[::1]",
        ] {
            assert!(is_local(origin.as_bytes()), "{origin}");
        }
        for origin in [
            "http://localhost.evil.example",
            "http://evil.example/localhost",
            "http://localhost:80x",
            "http://localhost:",
            "null",
            "file://",
            "http://127.0.0.1.nip.io",
            "http://[::1]evil",
        ] {
            assert!(!is_local(origin.as_bytes()), "{origin}");
        }
    }

    #[test]
    fn a_wildcard_with_credentials_is_a_configuration_error_not_a_panic() {
        let config = CorsConfig {
            allow_origins: vec!["*".into()],
            allow_credentials: true,
            ..CorsConfig::default()
        };
        let error = config.layer().expect_err("refused");
        assert_eq!(error.setting, "cors.allow_origins");
        let config = CorsConfig {
            allow_headers: vec!["bad header".into()],
            ..CorsConfig::default()
        };
        assert!(config.layer().is_err());
    }
}
