//! The gateway's HTTP surface (GraphQL over HTTP): `POST` and `GET` on
//! `/graphql` and `/`, the playground for browsers (see the `playground` crate), `/health`, `/ready`,
//! `/metrics`, the operators' `POST /cache/purge`, and the supergraph file
//! watcher that hot-swaps the schema.

pub mod admission;
pub mod authz;
mod body;
pub mod cors;
pub mod csrf;
pub mod limits;
pub mod persisted;
mod pipeline;
pub mod rate_limit;
mod redis;
mod traffic;

use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Map, Value, json};
use tower_http::{cors::CorsLayer, trace::TraceLayer};

pub use pipeline::{Gateway, GraphQLRequest, LoadError, Loaded, RequestMeta};
pub use traffic::Traffic;

use self::{body::LimitedBody, persisted::Submitted};
use crate::{error::RequestError, executor::TRACE_CONTEXT};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const PLAN_HEADER: &str = "x-switchyard-plan";

/// The routes, over a shared [`Gateway`]. Request bodies are read within
/// `max_body_bytes` by [`LimitedBody`], which answers a larger one `413`.
pub fn app(gateway: Arc<Gateway>) -> Router {
    let graphql = || {
        get(graphql_get)
            .post(graphql_post)
            .layer(middleware::from_fn_with_state(
                gateway.clone(),
                rate_limit::limit,
            ))
            // Outside the rate limit, so a verified subject is the client's key.
            .layer(middleware::from_fn_with_state(gateway.clone(), authenticate))
    };
    Router::new()
        .route("/", graphql())
        .route("/graphql", graphql())
        .route_layer(middleware::from_fn_with_state(
            gateway.clone(),
            admission::admit,
        ))
        .route(
            "/health",
            get(|| async { Json(json!({ "status": "pass" })) }),
        )
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/cache/purge", post(purge))
        // Checked when the gateway is built; a broken one here allows no origin.
        .layer(
            gateway
                .config
                .cors
                .layer()
                .unwrap_or_else(|_| CorsLayer::new()),
        )
        .merge(playground::routes())
        .layer(TraceLayer::new_for_http())
        .with_state(gateway)
}

async fn ready(State(gateway): State<Arc<Gateway>>) -> Response {
    if gateway.admission.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining" })),
        )
            .into_response();
    }
    match gateway.current() {
        Some(_) => Json(json!({ "status": "ready" })).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "no supergraph loaded" })),
        )
            .into_response(),
    }
}

async fn metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        gateway.metrics.render(),
    )
        .into_response()
}

/// `POST /cache/purge` with `{}` (everything), `{"type": "User"}` or
/// `{"type": "User", "key": {"id": "1"}}`, authorized by the configured
/// purge token as a bearer token. Answers how many entities it dropped where
/// that is known.
async fn purge(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> Response {
    match purged(&gateway, &headers, &body) {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => error_response(&e, false),
    }
}

fn purged(gateway: &Gateway, headers: &HeaderMap, body: &[u8]) -> Result<Value, RequestError> {
    let Some(token) = gateway.config.entity_cache.purge_token.as_deref() else {
        return Err(RequestError::NotFound(
            "cache purging is off: set entity_cache.purge_token".into(),
        ));
    };
    let presented = header_str(headers, header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !constant_time_eq(presented.as_bytes(), token.as_bytes()) {
        return Err(RequestError::Unauthenticated(
            "a valid purge token is required (Authorization: Bearer …)".into(),
        ));
    }
    let loaded = gateway.current().ok_or(RequestError::NotReady)?;
    let Some(cache) = loaded.executor.entity_cache() else {
        return Ok(json!({ "purged": 0, "cache": "off" }));
    };
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| RequestError::BadRequest(format!("body is not valid JSON: {e}")))?
    };
    match (request.get("type"), request.get("key")) {
        (None, None) => {
            cache.purge_all();
            Ok(json!({ "purged": "all" }))
        }
        (Some(Value::String(typename)), None) => {
            cache.purge_type(typename);
            Ok(json!({ "purged": "type", "type": typename }))
        }
        (Some(Value::String(typename)), Some(Value::Object(key))) => {
            let mut entity = key.clone();
            entity.insert("__typename".into(), Value::String(typename.clone()));
            let evicted = match crate::executor::value::Value::from(Value::Object(entity)) {
                crate::executor::value::Value::Object(object) => cache.evict_object(&object),
                _ => 0,
            };
            Ok(json!({ "purged": evicted }))
        }
        _ => Err(RequestError::BadRequest(
            "expected {}, {\"type\": T} or {\"type\": T, \"key\": {…key fields…}}".into(),
        )),
    }
}

/// Compares secrets without telling, by timing, how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The verified caller of a GraphQL request (`None`: anonymous), put in its
/// extensions by [`authenticate`].
#[derive(Clone)]
struct Caller(Option<Arc<auth::Principal>>);

/// Verifies the request's token once, before rate limiting and the handler:
/// a token that does not verify is `401`; a verified subject becomes the
/// rate limiter's [`rate_limit::ClientKey`].
async fn authenticate(
    State(gateway): State<Arc<Gateway>>,
    mut request: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    match gateway.verifier.authenticate(request.headers()).await {
        Ok(principal) => {
            if let Some(subject) = principal.as_ref().and_then(|p| p.subject.clone()) {
                request.extensions_mut().insert(rate_limit::ClientKey(subject));
            }
            request.extensions_mut().insert(Caller(principal.map(Arc::new)));
            next.run(request).await
        }
        Err(e) => error_response(
            &RequestError::Unauthenticated(e.to_string()),
            accepts_graphql_response(request.headers()),
        ),
    }
}

async fn graphql_post(
    State(gateway): State<Arc<Gateway>>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> Response {
    let accept_gql = accepts_graphql_response(&headers);
    if let Err(e) = gateway.config.csrf.check(&headers) {
        return error_response(&e, accept_gql);
    }
    let request = match parse_post(&headers, &body) {
        Ok(r) => gateway.traffic.persisted.resolve(r).await,
        Err(e) => Err(e),
    };
    match request {
        Ok(request) => run(&gateway, request, &headers, &caller, false, accept_gql).await,
        Err(e) => error_response(&e, accept_gql),
    }
}

async fn graphql_get(
    State(gateway): State<Arc<Gateway>>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let accept_gql = accepts_graphql_response(&headers);
    if playground::wants_page(&headers) {
        return playground::Page {
            title: "Switchyard",
            endpoint: "/graphql",
            query_plan: gateway.config.expose_query_plan,
            subscription_endpoint: None,
        }
        .into_response();
    }
    if let Err(e) = gateway.config.csrf.check(&headers) {
        return error_response(&e, accept_gql);
    }
    let request = match parse_get(&params) {
        Ok(r) => gateway.traffic.persisted.resolve(r).await,
        Err(e) => Err(e),
    };
    match request {
        Ok(request) => run(&gateway, request, &headers, &caller, true, accept_gql).await,
        Err(e) => error_response(&e, accept_gql),
    }
}

async fn run(
    gateway: &Gateway,
    request: GraphQLRequest,
    headers: &HeaderMap,
    caller: &Caller,
    is_get: bool,
    accept_gql: bool,
) -> Response {
    let principal = caller.0.as_deref();
    let mut forward_headers = forwarded(headers, &gateway.config.forward_headers);
    if let Some(principal) = principal
        && let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", principal.token))
    {
        // Subgraphs verify the same token again (see the README).
        forward_headers.insert(header::AUTHORIZATION, value);
    }
    let meta = RequestMeta {
        is_get,
        want_plan: header_str(headers, PLAN_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("true")),
        forward_headers,
        client_headers: headers,
        principal,
    };
    let span = tracing::info_span!(
        "graphql_request",
        operation_name = request.operation_name.as_deref().unwrap_or("")
    );
    match tracing::Instrument::instrument(gateway.execute(request, meta), span).await {
        Ok(body) => body_response(StatusCode::OK, body, accept_gql),
        Err(e) => error_response(&e, accept_gql),
    }
}

/// Headers passed on to subgraphs: trace context, and those configured.
fn forwarded(headers: &HeaderMap, configured: &[String]) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in TRACE_CONTEXT
        .into_iter()
        .chain(configured.iter().map(String::as_str))
    {
        for value in headers.get_all(name) {
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                out.append(name, value.clone());
            }
        }
    }
    out
}

fn parse_post(headers: &HeaderMap, body: &[u8]) -> Result<Submitted, RequestError> {
    if let Some(content_type) = header_str(headers, header::CONTENT_TYPE) {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && essence != "application/graphql+json" {
            return Err(RequestError::UnsupportedMediaType(content_type.to_owned()));
        }
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| RequestError::BadRequest(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(RequestError::BadRequest(
            "request body must be a JSON object".into(),
        ));
    };
    let query = match object.remove("query") {
        Some(Value::String(q)) => Some(q),
        None | Some(Value::Null) => None,
        Some(_) => return Err(RequestError::BadRequest("`query` must be a string".into())),
    };
    let operation_name = match object.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) => Some(n),
        Some(_) => {
            return Err(RequestError::BadRequest(
                "`operationName` must be a string".into(),
            ));
        }
    };
    let variables = match object.remove("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(v)) => v,
        Some(_) => {
            return Err(RequestError::BadRequest(
                "`variables` must be an object".into(),
            ));
        }
    };
    let mut submitted = Submitted {
        query,
        operation_name,
        variables,
        ..Submitted::default()
    };
    submitted.read_persisted(object.remove("documentId"), object.remove("extensions"))?;
    Ok(submitted)
}

fn parse_get(params: &HashMap<String, String>) -> Result<Submitted, RequestError> {
    let query = params.get("query").cloned();
    let variables = match params.get("variables").map(String::as_str) {
        None | Some("") => Map::new(),
        Some(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(v)) => v,
            Ok(Value::Null) => Map::new(),
            _ => {
                return Err(RequestError::BadRequest(
                    "`variables` must be a JSON object".into(),
                ));
            }
        },
    };
    let extensions =
        match params.get("extensions").map(String::as_str) {
            None | Some("") => None,
            Some(raw) => Some(serde_json::from_str::<Value>(raw).map_err(|_| {
                RequestError::BadRequest("`extensions` must be a JSON object".into())
            })?),
        };
    let mut submitted = Submitted {
        query,
        operation_name: params
            .get("operationName")
            .filter(|n| !n.is_empty())
            .cloned(),
        variables,
        ..Submitted::default()
    };
    let document_id = params.get("documentId").cloned().map(Value::String);
    submitted.read_persisted(document_id, extensions)?;
    Ok(submitted)
}

fn accepts_graphql_response(headers: &HeaderMap) -> bool {
    header_str(headers, header::ACCEPT).is_some_and(|a| a.contains(GRAPHQL_RESPONSE_JSON))
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn error_response(error: &RequestError, accept_gql: bool) -> Response {
    let mut response = json_response(
        error.status(accept_gql),
        &json!({ "errors": error.to_errors() }),
        accept_gql,
    );
    if matches!(error, RequestError::MutationOverGet) {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    response
}

fn json_response(status: StatusCode, body: &Value, accept_gql: bool) -> Response {
    body_response(
        status,
        serde_json::to_vec(body).unwrap_or_default(),
        accept_gql,
    )
}

fn body_response(status: StatusCode, body: Vec<u8>, accept_gql: bool) -> Response {
    let content_type = if accept_gql {
        "application/graphql-response+json; charset=utf-8"
    } else {
        "application/json; charset=utf-8"
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Checks the supergraph file every `interval`; a changed file that loads
/// replaces the schema, one that does not is logged and the old one serves on.
pub async fn watch_supergraph(gateway: Arc<Gateway>, path: PathBuf, interval: Duration) {
    {
        let mut last = std::fs::read(&path).ok();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Ok(now) = tokio::fs::read(&path).await else {
                continue;
            };
            if last.as_deref() == Some(now.as_slice()) {
                continue;
            }
            last = Some(now.clone());
            let sdl = String::from_utf8_lossy(&now);
            match gateway.load(&sdl) {
                Ok(()) => tracing::info!(path = %path.display(), "supergraph reloaded"),
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "new supergraph rejected; keeping the old one")
                }
            }
        }
    }
}
