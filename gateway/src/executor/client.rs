//! Talking to subgraphs over HTTP: one pooled reqwest client for all of them
//! (keep-alive, HTTP/2 where negotiated), a timeout per subgraph.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::Value;

/// Why a subgraph request produced no GraphQL response.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("invalid response: {0}")]
    InvalidResponse(String),
}

/// A subgraph's GraphQL response, as far as the executor needs it.
#[derive(Debug, Default, Deserialize)]
pub struct SubgraphResponse {
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub errors: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct SubgraphClient {
    pub name: String,
    pub url: String,
    pub timeout: Duration,
    http: reqwest::Client,
}

impl SubgraphClient {
    pub fn new(name: String, url: String, timeout: Duration, http: reqwest::Client) -> Self {
        Self {
            name,
            url,
            timeout,
            http,
        }
    }

    /// POSTs a GraphQL request body; a subgraph answering with a non-2xx status
    /// but a GraphQL body still counts as a response (its errors are kept).
    pub async fn fetch(
        &self,
        body: &Value,
        headers: HeaderMap,
    ) -> Result<SubgraphResponse, FetchError> {
        let response = self
            .http
            .post(&self.url)
            .timeout(self.timeout)
            .headers(headers)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(
                ACCEPT,
                HeaderValue::from_static("application/graphql-response+json, application/json"),
            )
            .json(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?;
        match serde_json::from_slice::<SubgraphResponse>(&bytes) {
            Ok(parsed) if parsed.data.is_some() || !parsed.errors.is_empty() => Ok(parsed),
            _ if !status.is_success() => Err(FetchError::Status(status.as_u16())),
            Ok(_) => Err(FetchError::InvalidResponse(
                "neither data nor errors".into(),
            )),
            Err(e) => Err(FetchError::InvalidResponse(e.to_string())),
        }
    }

    fn transport_error(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else {
            FetchError::Connect(e.to_string())
        }
    }
}

/// The shared HTTP client: pooled keep-alive connections to every subgraph.
pub fn http_client(pool_idle_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .pool_idle_timeout(pool_idle_timeout)
        .tcp_nodelay(true)
        .build()
}
