//! What browsers may do: CORS checked the way a browser checks it (a
//! preflight `OPTIONS` with `Origin` and `Access-Control-Request-*`, then the
//! request, readable only with a matching `Access-Control-Allow-Origin`), and
//! CSRF prevention refusing the requests a page could send without a preflight.

use reqwest::{Method, Response, header::HeaderMap};
use serde_json::{Value, json};

use super::{sent, start};
use crate::Federation;

const QUERY: &str = "{ node { id } }";

async fn preflight(federation: &Federation, origin: &str, request_headers: &str) -> Response {
    federation
        .client
        .request(Method::OPTIONS, &federation.url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", request_headers)
        .send()
        .await
        .expect("preflight answered")
}

/// The actual request a page at `origin` makes after its preflight.
async fn cross_origin_post(federation: &Federation, origin: &str) -> Response {
    federation
        .client
        .post(&federation.url)
        .header("origin", origin)
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .expect("answered")
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().expect("ASCII header"))
}

/// Comma-separated values of a header, lowercased.
fn listed(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.to_str().expect("ASCII").split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Whether a browser lets a page at `origin` read `response` (the CORS check
/// of the Fetch standard, for a request with or without credentials).
fn readable(response: &Response, origin: &str, credentials: bool) -> bool {
    let headers = response.headers();
    match header(headers, "access-control-allow-origin") {
        Some("*") => !credentials,
        Some(allowed) if allowed == origin => {
            !credentials || header(headers, "access-control-allow-credentials") == Some("true")
        }
        _ => false,
    }
}

/// Whether a preflight answer lets the page send POST with `request_headers`.
fn preflight_allows(
    response: &Response,
    origin: &str,
    credentials: bool,
    request_headers: &[&str],
) -> bool {
    let headers = response.headers();
    let methods = listed(headers, "access-control-allow-methods");
    let allowed_headers = listed(headers, "access-control-allow-headers");
    response.status().is_success()
        && readable(response, origin, credentials)
        && (methods.iter().any(|m| m == "post" || m == "*"))
        && request_headers.iter().all(|h| {
            allowed_headers
                .iter()
                .any(|a| a == h || (a == "*" && !credentials))
        })
}

#[tokio::test]
async fn an_allowed_origin_passes_the_preflight_and_reads_the_answer_with_credentials() {
    let origin = "https://app.example.com";
    let federation = start(|c| {
        c.cors.allow_origins = vec![format!("{origin}/")];
        c.cors.allow_credentials = true;
        c.cors.max_age_secs = 120;
    })
    .await;
    let answer = preflight(&federation, origin, "content-type,authorization").await;
    assert!(
        preflight_allows(&answer, origin, true, &["content-type", "authorization"]),
        "{:?}",
        answer.headers()
    );
    assert_eq!(
        header(answer.headers(), "access-control-max-age"),
        Some("120")
    );
    assert!(listed(answer.headers(), "vary").contains(&"origin".to_owned()));
    assert!(
        federation.received("nodes").is_empty(),
        "a preflight runs nothing"
    );

    let response = cross_origin_post(&federation, origin).await;
    assert!(
        readable(&response, origin, true),
        "{:?}",
        response.headers()
    );
    assert!(listed(response.headers(), "vary").contains(&"origin".to_owned()));
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["data"]["node"]["id"], 1, "{body}");
}

#[tokio::test]
async fn a_disallowed_origin_gets_no_allow_origin_so_the_browser_reads_nothing() {
    let federation = start(|c| {
        c.cors.allow_origins = vec!["https://app.example.com".into()];
        c.cors.allow_credentials = true;
    })
    .await;
    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil.example",
        "http://app.example.com",
        "null",
    ] {
        let answer = preflight(&federation, origin, "content-type").await;
        assert_eq!(
            header(answer.headers(), "access-control-allow-origin"),
            None,
            "{origin}"
        );
        assert!(!preflight_allows(&answer, origin, true, &["content-type"]));
        let response = cross_origin_post(&federation, origin).await;
        assert_eq!(
            header(response.headers(), "access-control-allow-origin"),
            None,
            "{origin}"
        );
        assert!(!readable(&response, origin, false));
    }
}

#[tokio::test]
async fn by_default_only_pages_on_this_machine_may_read_and_without_credentials() {
    let federation = start(|_| {}).await;
    let local = "http://localhost:3000";
    let answer = preflight(&federation, local, "content-type,apollo-require-preflight").await;
    assert!(preflight_allows(
        &answer,
        local,
        false,
        &["content-type", "apollo-require-preflight"]
    ));
    assert!(
        !preflight_allows(&answer, local, true, &["content-type"]),
        "no credentials by default"
    );
    assert!(
        !preflight_allows(&answer, local, false, &["x-not-allowed"]),
        "only the listed request headers"
    );
    let response = cross_origin_post(&federation, "http://127.0.0.1:5173").await;
    assert!(readable(&response, "http://127.0.0.1:5173", false));

    let remote = "https://somewhere.example";
    let answer = preflight(&federation, remote, "content-type").await;
    assert!(!preflight_allows(&answer, remote, false, &["content-type"]));
    assert!(!readable(
        &cross_origin_post(&federation, remote).await,
        remote,
        false
    ));

    // Same-origin requests (no Origin header) get no CORS headers at all.
    let (status, body) = super::post(&federation, json!({ "query": QUERY }).to_string()).await;
    assert_eq!((status, &body["data"]["node"]["id"]), (200, &json!(1)));
}

#[tokio::test]
async fn any_origin_is_a_wildcard_for_requests_without_credentials() {
    let federation = start(|c| {
        c.cors.allow_origins = vec!["*".into()];
        c.cors.allow_local_origins = false;
        c.cors.allow_headers = vec!["*".into()];
    })
    .await;
    let origin = "https://anyone.example";
    let answer = preflight(&federation, origin, "content-type,x-custom").await;
    assert!(preflight_allows(
        &answer,
        origin,
        false,
        &["content-type", "x-custom"]
    ));
    let response = cross_origin_post(&federation, origin).await;
    assert_eq!(
        header(response.headers(), "access-control-allow-origin"),
        Some("*")
    );
    assert!(!readable(&response, origin, true), "never with credentials");
}

#[test]
fn a_wildcard_origin_with_credentials_does_not_start() {
    kit::install_crypto_provider();
    let mut config = gateway::GatewayConfig::default();
    config.cors.allow_origins = vec!["*".into()];
    config.cors.allow_credentials = true;
    let error = gateway::build(config, "").err().expect("refused");
    assert!(error.to_string().contains("cors.allow_origins"), "{error}");
}

fn get(federation: &Federation) -> reqwest::RequestBuilder {
    let url = reqwest::Url::parse_with_params(&federation.url, &[("query", QUERY)]).expect("URL");
    federation.client.get(url)
}

fn post_as(federation: &Federation, content_type: Option<&str>) -> reqwest::RequestBuilder {
    let request = federation
        .client
        .post(&federation.url)
        .body(json!({ "query": QUERY }).to_string());
    match content_type {
        Some(t) => request.header("content-type", t),
        None => request,
    }
}

async fn assert_prevented(federation: &Federation, request: reqwest::RequestBuilder, what: &str) {
    let before = federation.received("nodes").len();
    let (status, code, body) = sent(request).await;
    assert_eq!(
        (status, code.as_deref()),
        (400, Some("CSRF_PREVENTED")),
        "{what}: {body}"
    );
    assert!(body.get("data").is_none(), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("apollo-require-preflight"),
        "says what to send: {message}"
    );
    assert_eq!(
        federation.received("nodes").len(),
        before,
        "{what}: nothing ran"
    );
}

async fn assert_served(request: reqwest::RequestBuilder, what: &str) {
    let (status, code, body) = sent(request).await;
    assert_eq!((status, code), (200, None), "{what}: {body}");
    assert_eq!(body["data"]["node"]["id"], 1, "{what}: {body}");
}

#[tokio::test]
async fn requests_a_page_could_send_without_a_preflight_are_refused() {
    let federation = start(|_| {}).await;
    assert_prevented(&federation, get(&federation), "plain GET").await;
    for simple in [
        None,
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=----x"),
    ] {
        assert_prevented(
            &federation,
            post_as(&federation, simple),
            &format!("POST {simple:?}"),
        )
        .await;
    }
    // Even a header a page may set freely does not help.
    assert_prevented(
        &federation,
        get(&federation).header("accept", "application/graphql-response+json"),
        "GET with Accept",
    )
    .await;

    assert_served(post_as(&federation, Some("application/json")), "POST JSON").await;
    assert_served(
        get(&federation).header("apollo-require-preflight", "true"),
        "GET with apollo-require-preflight",
    )
    .await;
    assert_served(
        get(&federation).header("x-apollo-operation-name", "Q"),
        "GET with x-apollo-operation-name",
    )
    .await;
    assert_served(
        get(&federation).header("x-switchyard-csrf", "1"),
        "GET with x-switchyard-csrf",
    )
    .await;
    assert_served(
        get(&federation).header("content-type", "application/json"),
        "GET with a JSON content type",
    )
    .await;

    // A browser opening the endpoint gets GraphiQL: that is no operation.
    let page = federation
        .client
        .get(&federation.url)
        .header("accept", "text/html")
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("text").contains("graphiql"));
}

#[tokio::test]
async fn csrf_prevention_can_require_other_headers_or_be_turned_off() {
    let federation = start(|c| c.csrf.required_headers = vec!["x-my-client".into()]).await;
    assert_served(get(&federation).header("x-my-client", "web"), "own header").await;
    let (status, code, _) = sent(get(&federation).header("apollo-require-preflight", "true")).await;
    assert_eq!((status, code.as_deref()), (400, Some("CSRF_PREVENTED")));

    let federation = start(|c| c.csrf.enabled = false).await;
    assert_served(get(&federation), "off").await;
    // Turned off, a simple content type is still no JSON request.
    let (status, _, _) = sent(post_as(&federation, Some("text/plain"))).await;
    assert_eq!(status, 415);
}
