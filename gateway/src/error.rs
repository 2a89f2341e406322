//! Request errors: what stops a request before execution, each with a stable
//! `extensions.code` and its HTTP status. Mapped to a response once, in `server`.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::server::limits::Exceeded;

#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    BadRequest(String),
    #[error("unsupported content type `{0}`: send application/json")]
    UnsupportedMediaType(String),
    #[error("mutations are only accepted over POST")]
    MutationOverGet,
    #[error("no supergraph is loaded yet")]
    NotReady,
    /// An operator endpoint that is not configured.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthenticated(String),
    /// Syntax errors, as the GraphQL parser words them.
    #[error("syntax error")]
    Parse(Vec<Value>),
    /// Validation against the API schema, or no such operation.
    #[error("validation failed")]
    Validation(Vec<Value>),
    #[error("{0}")]
    Variables(String),
    #[error("introspection is disabled")]
    IntrospectionDisabled,
    #[error("{0}")]
    Planning(String),
    /// The body is larger than `max_body_bytes`.
    #[error("the request body is larger than max_body_bytes = {0} bytes")]
    PayloadTooLarge(usize),
    /// The operation goes over configured limits (each one is an error).
    #[error("operation limits exceeded")]
    LimitExceeded(Vec<Exceeded>),
    /// `max_in_flight_requests` are being served already.
    #[error("the gateway is at capacity; retry later")]
    Overloaded,
    #[error("the gateway is shutting down; retry on another instance")]
    ShuttingDown,
    #[error("the request took longer than request_timeout_ms = {}", .0.as_millis())]
    Timeout(std::time::Duration),
    /// A request a browser could have sent cross-site without a preflight;
    /// holds the headers that would mark it as preflighted.
    #[error(
        "this request could be a cross-site request forgery: send `content-type: application/json`, or a non-empty header of: {0}"
    )]
    CsrfPrevented(String),
    /// Over a rate limit; may retry after this many seconds.
    #[error("too many requests: retry after {0} s")]
    RateLimited(u64),
    /// A persisted document (APQ hash or `documentId`) this gateway does not
    /// hold. The message is the one APQ clients look for before sending the
    /// document in full.
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    #[error("the document's SHA-256 is not `extensions.persistedQuery.sha256Hash`")]
    PersistedQueryHashMismatch,
    #[error("automatic persisted queries are turned off (persisted_queries.apq)")]
    PersistedQueryNotSupported,
    /// Only-persisted mode and a document that is not in the manifest.
    #[error("only persisted documents are served: send a `documentId` from the manifest")]
    PersistedQueryOnly,
    /// The body did not arrive within `body_timeout_ms`.
    #[error("the request body did not arrive within body_timeout_ms = {0} ms")]
    BodyTimeout(u64),
}

impl RequestError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) | Self::UnsupportedMediaType(_) => "BAD_REQUEST",
            Self::MutationOverGet => "METHOD_NOT_ALLOWED",
            Self::NotReady => "NOT_READY",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Parse(_) => "GRAPHQL_PARSE_FAILED",
            Self::Validation(_) | Self::IntrospectionDisabled => "GRAPHQL_VALIDATION_FAILED",
            Self::Variables(_) => "BAD_USER_INPUT",
            Self::Planning(_) => "QUERY_PLANNING_FAILED",
            Self::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            Self::LimitExceeded(_) => "OPERATION_LIMIT_EXCEEDED",
            Self::Overloaded => "OVERLOADED",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::Timeout(_) => "GATEWAY_TIMEOUT",
            Self::CsrfPrevented(_) => "CSRF_PREVENTED",
            Self::RateLimited(_) => "RATE_LIMITED",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::PersistedQueryHashMismatch => "PERSISTED_QUERY_HASH_MISMATCH",
            Self::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            Self::PersistedQueryOnly => "PERSISTED_QUERY_ONLY",
            Self::BodyTimeout(_) => "REQUEST_TIMEOUT",
        }
    }

    /// `graphql_response_json`: the client accepts `application/graphql-response+json`,
    /// whose rules give request errors 4xx statuses; plain `application/json`
    /// keeps 200 for anything that is a well-formed GraphQL request.
    pub fn status(&self, graphql_response_json: bool) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MutationOverGet => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotReady | Self::Overloaded | Self::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            // A policy refusal, not a GraphQL error of a well-formed request:
            // 400 whatever the client accepts, so proxies and clients see it.
            Self::LimitExceeded(_)
            | Self::CsrfPrevented(_)
            | Self::PersistedQueryHashMismatch
            | Self::PersistedQueryOnly => StatusCode::BAD_REQUEST,
            Self::Planning(_) if graphql_response_json => StatusCode::INTERNAL_SERVER_ERROR,
            _ if graphql_response_json => StatusCode::BAD_REQUEST,
            _ => StatusCode::OK,
        }
    }

    /// The `errors` list of the response (a request error has no `data`).
    pub fn to_errors(&self) -> Vec<Value> {
        let code = self.code();
        match self {
            Self::Parse(errors) | Self::Validation(errors) => errors
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    e["extensions"] = json!({ "code": code });
                    e
                })
                .collect(),
            Self::LimitExceeded(exceeded) => exceeded
                .iter()
                .map(|e| {
                    json!({
                        "message": e.to_string(),
                        "extensions": { "code": code, "limit": e.limit, "maximum": e.maximum },
                    })
                })
                .collect(),
            other => vec![json!({ "message": other.to_string(), "extensions": { "code": code } })],
        }
    }
}

/// A setting that cannot be put into service (a bad header name, pattern or
/// file), found when the gateway is built rather than at the first request.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid setting `{setting}`: {reason}")]
pub struct InvalidSetting {
    pub setting: &'static str,
    pub reason: String,
}

impl InvalidSetting {
    pub fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        Self {
            setting,
            reason: reason.into(),
        }
    }
}
