//! Talking to subgraphs over HTTP: one pooled reqwest client for all of them
//! (keep-alive, HTTP/2 where negotiated), a timeout per subgraph, request
//! bodies written straight from the plan and the response tree, and in-flight
//! deduplication: identical queries (same body, same forwarded headers) that
//! are in flight at the same time share one HTTP call. Every call goes
//! through the subgraph's circuit breaker ([`super::breaker`]); queries that
//! got no answer are retried within a budget ([`super::retry`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Map;

use super::{
    breaker::Breaker,
    retry::Retry,
    value::{self, Value},
};
use crate::metrics::{SubgraphMetrics, measured};

/// Why a subgraph request produced no GraphQL response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    #[error("not sent: the subgraph failed repeatedly and its circuit breaker is open")]
    CircuitOpen,
}

impl FetchError {
    /// The `extensions.code` of the error a client sees.
    pub fn code(&self) -> &'static str {
        match self {
            Self::CircuitOpen => "SUBGRAPH_UNAVAILABLE",
            _ => "SUBGRAPH_REQUEST_FAILED",
        }
    }
}

/// The subgraph gave no usable answer: the breaker counts it as a failure
/// and a query may be retried. A GraphQL error, or a 4xx, is an answer.
fn is_transient(outcome: &Outcome) -> bool {
    match outcome {
        Ok(raw) => raw.status >= 500,
        Err(FetchError::Timeout(_) | FetchError::Connect(_)) => true,
        Err(_) => false,
    }
}

/// A subgraph's HTTP answer before parsing; cheap to clone, so callers that
/// share one deduplicated call each get their own.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub cache_control: Option<HeaderValue>,
    pub body: Bytes,
}

/// A subgraph's GraphQL response, as far as the executor needs it.
#[derive(Debug, Default)]
pub struct SubgraphResponse {
    pub data: Option<Value>,
    pub errors: Vec<serde_json::Value>,
}

impl RawResponse {
    /// A subgraph answering with a non-2xx status but a GraphQL body still
    /// counts as a response (its errors are kept).
    pub fn parse(&self) -> Result<SubgraphResponse, FetchError> {
        let success = (200..300).contains(&self.status);
        let parsed = match value::parse(&self.body) {
            Ok(Value::Object(mut body)) => {
                let data = body.remove("data").filter(|d| !d.is_null());
                let errors = match body.remove("errors") {
                    Some(Value::Array(errors)) => errors.iter().map(Value::to_json).collect(),
                    _ => Vec::new(),
                };
                SubgraphResponse { data, errors }
            }
            _ if !success => return Err(FetchError::Status(self.status)),
            Ok(_) => {
                return Err(FetchError::InvalidResponse(
                    "the body is not a JSON object".into(),
                ));
            }
            Err(e) => return Err(FetchError::InvalidResponse(e.to_string())),
        };
        if parsed.data.is_some() || !parsed.errors.is_empty() {
            Ok(parsed)
        } else if !success {
            Err(FetchError::Status(self.status))
        } else {
            Err(FetchError::InvalidResponse(
                "neither data nor errors".into(),
            ))
        }
    }
}

/// The client variables an operation uses, as the inside of a JSON object
/// (`"a":1,"b":2`): part of a request body, and of what tells batches apart.
pub fn variables_text(variables: &Map<String, serde_json::Value>, usages: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for name in usages {
        if let Some(value) = variables.get(name) {
            if !out.is_empty() {
                out.push(b',');
            }
            // Writing to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut out, name);
            out.push(b':');
            let _ = serde_json::to_writer(&mut out, value);
        }
    }
    out
}

/// `{"query": …, "variables": {…}}`, with the representations of an entity
/// fetch, written without building a JSON tree first.
pub fn request_body<'r>(
    operation: &str,
    variables: &[u8],
    representations: Option<impl Iterator<Item = &'r [u8]>>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(operation.len() + variables.len() + 64);
    out.extend_from_slice(b"{\"query\":");
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, operation);
    out.extend_from_slice(b",\"variables\":{");
    out.extend_from_slice(variables);
    if let Some(representations) = representations {
        if !variables.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(b"\"representations\":[");
        for (i, rep) in representations.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(rep);
        }
        out.push(b']');
    }
    out.extend_from_slice(b"}}");
    out
}

type Outcome = Result<RawResponse, FetchError>;
type InFlight = Shared<BoxFuture<'static, Outcome>>;

/// Identical requests in flight: the same body under the same headers.
#[derive(Clone, PartialEq, Eq, Hash)]
struct DedupKey {
    body: Bytes,
    headers: Vec<(String, Vec<u8>)>,
}

#[derive(Clone)]
pub struct SubgraphClient {
    pub name: String,
    pub url: String,
    pub timeout: Duration,
    http: reqwest::Client,
    in_flight: Arc<Mutex<HashMap<DedupKey, InFlight>>>,
    metrics: SubgraphMetrics,
    breaker: Arc<Breaker>,
    retry: Arc<Retry>,
}

impl SubgraphClient {
    pub fn new(
        name: String,
        url: String,
        timeout: Duration,
        http: reqwest::Client,
        metrics: SubgraphMetrics,
        breaker: Breaker,
        retry: Retry,
    ) -> Self {
        Self {
            name,
            url,
            timeout,
            http,
            in_flight: Arc::default(),
            metrics,
            breaker: Arc::new(breaker),
            retry: Arc::new(retry),
        }
    }

    pub fn metrics(&self) -> &SubgraphMetrics {
        &self.metrics
    }

    /// POSTs a GraphQL request body. With `dedup`, a request identical to one
    /// already in flight waits for that one's answer instead of going out.
    /// Only an `idempotent` request (a query) is retried.
    pub async fn fetch(
        &self,
        body: Vec<u8>,
        headers: &HeaderMap,
        dedup: bool,
        idempotent: bool,
    ) -> Outcome {
        if !dedup {
            return self
                .send(Bytes::from(body), headers.clone(), idempotent)
                .await;
        }
        let key = DedupKey {
            body: Bytes::from(body),
            headers: header_identity(headers),
        };
        let (shared, leader) = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            match in_flight.get(&key) {
                Some(shared) => (shared.clone(), false),
                None => {
                    let this = self.clone();
                    let (body, headers) = (key.body.clone(), headers.clone());
                    let shared = async move { this.send(body, headers, idempotent).await }
                        .boxed()
                        .shared();
                    in_flight.insert(key.clone(), shared.clone());
                    (shared, true)
                }
            }
        };
        if !leader {
            self.metrics.deduplicated.increment(1);
            tracing::trace!(subgraph = %self.name, "joined an identical request in flight");
            return shared.await;
        }
        // The entry goes when the leader is done or dropped; followers
        // already holding the shared future still get its answer.
        let _remove = RemoveOnDrop {
            map: &self.in_flight,
            key: Some(key),
        };
        shared.await
    }

    /// Sends, retrying an idempotent request that got no answer while
    /// tries and the budget last.
    async fn send(&self, body: Bytes, headers: HeaderMap, idempotent: bool) -> Outcome {
        if idempotent {
            self.retry.deposit(Instant::now());
        }
        let mut retries = 0;
        loop {
            let outcome = self.attempt(body.clone(), headers.clone()).await;
            if !idempotent
                || !is_transient(&outcome)
                || retries >= self.retry.max_retries()
                || !self.retry.withdraw(Instant::now())
            {
                return outcome;
            }
            retries += 1;
            self.metrics.retries.increment(1);
            let wait = self.retry.backoff(retries, fastrand::f64());
            tracing::debug!(subgraph = %self.name, retry = retries, ?wait, "retrying a query that got no answer");
            tokio::time::sleep(wait).await;
        }
    }

    /// One HTTP call, if the breaker lets it out; its outcome goes back to the breaker.
    async fn attempt(&self, body: Bytes, headers: HeaderMap) -> Outcome {
        let permit = self
            .breaker
            .admit(Instant::now())
            .map_err(|_| FetchError::CircuitOpen)?;
        let metrics = &self.metrics;
        let outcome = measured(
            &metrics.requests,
            &metrics.duration,
            self.send_uncounted(body, headers),
        )
        .await;
        permit.record(is_transient(&outcome), Instant::now());
        if outcome.is_err() {
            self.metrics.failures.increment(1);
        }
        outcome
    }

    async fn send_uncounted(&self, body: Bytes, headers: HeaderMap) -> Outcome {
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
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let cache_control = response.headers().get(CACHE_CONTROL).cloned();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?;
        Ok(RawResponse {
            status,
            cache_control,
            body,
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else {
            FetchError::Connect(e.to_string())
        }
    }
}

struct RemoveOnDrop<'a> {
    map: &'a Mutex<HashMap<DedupKey, InFlight>>,
    key: Option<DedupKey>,
}

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.map
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
        }
    }
}

/// The trace context headers, always passed on to subgraphs.
pub const TRACE_CONTEXT: [&str; 2] = ["traceparent", "tracestate"];

/// What of the forwarded headers makes two subgraph requests the same
/// request (for deduplication and shared batches): all but the trace
/// context, which differs per client request but not the answer.
pub(super) fn header_identity(headers: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .filter(|(name, _)| !TRACE_CONTEXT.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect()
}

/// The shared HTTP client: pooled keep-alive connections to every subgraph.
pub fn http_client(pool_idle_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .pool_idle_timeout(pool_idle_timeout)
        .tcp_nodelay(true)
        // A subgraph answers its routing URL; following redirects or
        // retrying would only add work (and a retried mutation runs twice).
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .build()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn raw(status: u16, body: &'static str) -> RawResponse {
        RawResponse {
            status,
            cache_control: None,
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    #[test]
    fn bodies_that_are_no_graphql_response_are_fetch_errors() {
        let ok = raw(
            200,
            r#"{"data":{"a":1},"errors":[{"message":"m"}],"extensions":{}}"#,
        )
        .parse()
        .expect("a response");
        assert_eq!(ok.data.map(|d| d.to_json()), Some(json!({ "a": 1 })));
        assert_eq!(ok.errors, vec![json!({ "message": "m" })]);
        // A GraphQL body under an error status still counts.
        assert!(
            raw(500, r#"{"errors":[{"message":"down"}]}"#)
                .parse()
                .is_ok()
        );
        for (status, body, expected) in [
            (502, "<html>bad gateway</html>", "HTTP status 502"),
            (
                200,
                "<html>",
                "invalid response: expected a value at byte 0",
            ),
            (
                200,
                r#"{"data":null}"#,
                "invalid response: neither data nor errors",
            ),
            (
                200,
                "[1]",
                "invalid response: the body is not a JSON object",
            ),
            (
                200,
                r#"{"data":{"a":1}"#,
                "invalid response: expected `,` or `}` at byte 15",
            ),
        ] {
            let error = raw(status, body).parse().expect_err(body);
            assert_eq!(error.to_string(), expected, "{body}");
        }
    }

    #[test]
    fn request_bodies_carry_used_variables_and_representations() {
        let variables = json!({ "a": 1, "unused": true });
        let variables = variables.as_object().unwrap();
        let reps: [&[u8]; 2] = [
            br#"{"__typename":"U","id":"1"}"#,
            br#"{"__typename":"U","id":"2"}"#,
        ];
        let used = variables_text(variables, &["a".into()]);
        let body = request_body("query($a:Int){x}", &used, Some(reps.into_iter()));
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            json!({
                "query": "query($a:Int){x}",
                "variables": { "a": 1, "representations": [{ "__typename": "U", "id": "1" }, { "__typename": "U", "id": "2" }] },
            })
        );
        let body = request_body(
            "{x}",
            &variables_text(variables, &[]),
            None::<std::iter::Empty<&[u8]>>,
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"query":"{x}","variables":{}}"#
        );
    }
}
