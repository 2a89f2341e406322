//! The GraphiQL playground every Switchyard server (the gateway and each
//! subgraph) offers browsers: the HTML page and the script and stylesheet it
//! loads, embedded in the binary so the playground works without network
//! access. The assets are built from pinned npm packages by `web/build.mjs`
//! and committed with their licences (`assets/THIRD_PARTY_LICENSES.txt`).

use std::sync::LazyLock;

use axum::{
    Router,
    extract::RawQuery,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use serde_json::json;

/// Where the assets are served; the page refers to them by these paths.
pub const ASSETS_PATH: &str = "/playground";

/// A bundled file, with its gzip copy (made by the build script, so no
/// compressor runs at request time).
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    gzip: Option<&'static [u8]>,
    /// Content hash: the ETag and the `?v=` that makes the page's links
    /// change whenever the bundle does.
    version: LazyLock<String>,
}

macro_rules! asset {
    ($name:literal, $content_type:literal, gzip) => {
        asset!(@ $name, $content_type, Some(include_bytes!(concat!("../assets/", $name, ".gz"))))
    };
    ($name:literal, $content_type:literal) => {
        asset!(@ $name, $content_type, None)
    };
    (@ $name:literal, $content_type:literal, $gzip:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../assets/", $name)),
            gzip: $gzip,
            version: LazyLock::new(|| fnv1a(include_bytes!(concat!("../assets/", $name)))),
        }
    };
}

static SCRIPT: Asset = asset!("playground.js", "text/javascript; charset=utf-8", gzip);
static STYLE: Asset = asset!("playground.css", "text/css; charset=utf-8", gzip);
static LICENSES: Asset = asset!("THIRD_PARTY_LICENSES.txt", "text/plain; charset=utf-8");

/// A stable 64-bit content hash (FNV-1a): the same bytes give the same ETag
/// across builds and restarts, which `DefaultHasher` does not promise.
fn fnv1a(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The asset routes under [`ASSETS_PATH`]; merge them into a server's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for asset in [&SCRIPT, &STYLE, &LICENSES] {
        router = router.route(
            &format!("{ASSETS_PATH}/{}", asset.name),
            get(
                move |headers: HeaderMap, RawQuery(query): RawQuery| async move {
                    serve(asset, &headers, query.as_deref())
                },
            ),
        );
    }
    router
}

fn serve(asset: &Asset, headers: &HeaderMap, query: Option<&str>) -> Response {
    let version = asset.version.as_str();
    let gzip = asset.gzip.filter(|_| accepts_gzip(headers));
    // Distinct tags per encoding: they are different bytes.
    let etag = format!("\"{version}{}\"", if gzip.is_some() { "-gz" } else { "" });
    // A link carrying the current version never changes; any other URL
    // (older page, hand-typed) revalidates with the ETag.
    let cache_control = if query == Some(&format!("v={version}")) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        }) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = gzip.unwrap_or(asset.bytes).into_response();
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        if gzip.is_some() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    };
    let h = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, etag);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    if asset.gzip.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// `gzip` listed in `Accept-Encoding` and not refused with `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next().is_some_and(|c| c.eq_ignore_ascii_case("gzip"))
                && !parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                })
        })
}

/// True for a browser navigating to the endpoint: its `Accept` lists
/// `text/html` first. GraphQL clients list a JSON type (or `*/*`) first and
/// get the operation run, even over `GET` with `?query=`.
pub fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|accept| accept.split(',').next())
        .and_then(|first| first.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/html"))
}

/// What the page is set up with. The page itself reads `?query=` and
/// `?variables=` from its URL to prefill the editors, and keeps them there
/// as they are edited, so the address is a link to the operation.
#[derive(Debug, Clone, Default)]
pub struct Page<'a> {
    /// Shown in the tab title and GraphiQL's logo slot.
    pub title: &'a str,
    /// Where operations are sent, relative to the page.
    pub endpoint: &'a str,
    /// Ask for the plan (`x-switchyard-plan: true`) and show
    /// `extensions.queryPlan` in a "Query plan" pane; only the gateway with
    /// `expose_query_plan` on answers with one.
    pub query_plan: bool,
    /// Where subscriptions go over graphql-ws, when the server has them.
    pub subscription_endpoint: Option<&'a str>,
}

impl Page<'_> {
    pub fn html(&self) -> String {
        let config = json!({
            "title": self.title,
            "endpoint": self.endpoint,
            "queryPlan": self.query_plan,
            "subscriptionEndpoint": self.subscription_endpoint,
        })
        .to_string()
        // Keeps the JSON from ending its <script> element early.
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
        format!(
            r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{ASSETS_PATH}/{style}?v={style_version}">
</head>
<body>
<div id="graphiql">Loading the playground…</div>
<script id="switchyard-playground" type="application/json">{config}</script>
<script src="{ASSETS_PATH}/{script}?v={script_version}"></script>
</body>
</html>
"#,
            title = escape_html(self.title),
            style = STYLE.name,
            style_version = *STYLE.version,
            script = SCRIPT.name,
            script_version = *SCRIPT.version,
        )
    }
}

impl IntoResponse for Page<'_> {
    fn into_response(self) -> Response {
        let mut response = Html(self.html()).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::Request};
    use tower::ServiceExt;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), HeaderValue::from_static(v)))
            .collect()
    }

    async fn get(uri: &str, pairs: &[(&'static str, &'static str)]) -> Response {
        let mut request = Request::get(uri);
        for (k, v) in pairs {
            request = request.header(*k, *v);
        }
        routes::<()>()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn body(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[test]
    fn browsers_get_the_page_graphql_clients_do_not() {
        let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(wants_page(&headers(&[("accept", chromium)])));
        assert!(!wants_page(&headers(&[(
            "accept",
            "application/json, text/html"
        )])));
        assert!(!wants_page(&headers(&[("accept", "*/*")])));
        assert!(!wants_page(&headers(&[])));
    }

    #[test]
    fn the_page_embeds_its_config_safely_and_links_versioned_assets() {
        let html = Page {
            title: "a <b> & \"c\"",
            endpoint: "/graphql</script><script>alert(1)</script>",
            query_plan: true,
            subscription_endpoint: None,
        }
        .html();
        assert!(html.contains("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"));
        assert_eq!(html.matches("</script>").count(), 2, "{html}");
        let config_start = html.find("type=\"application/json\">").unwrap() + 24;
        let config_end = config_start + html[config_start..].find("</script>").unwrap();
        let config: serde_json::Value =
            serde_json::from_str(&html[config_start..config_end]).unwrap();
        assert_eq!(
            config["endpoint"],
            "/graphql</script><script>alert(1)</script>"
        );
        assert_eq!(config["queryPlan"], true);
        assert!(html.contains(&format!("/playground/playground.js?v={}", *SCRIPT.version)));
        assert!(html.contains(&format!("/playground/playground.css?v={}", *STYLE.version)));
    }

    #[tokio::test]
    async fn assets_are_served_gzipped_when_accepted_with_types_and_cache_headers() {
        let versioned = format!("/playground/playground.js?v={}", *SCRIPT.version);
        let response = get(&versioned, &[("accept-encoding", "gzip, br")]).await;
        assert_eq!(response.status(), 200);
        let h = response.headers().clone();
        assert_eq!(h["content-type"], "text/javascript; charset=utf-8");
        assert_eq!(h["content-encoding"], "gzip");
        assert_eq!(h["vary"], "accept-encoding");
        assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(body(response).await, SCRIPT.gzip.unwrap());

        let plain = get(
            "/playground/playground.css",
            &[("accept-encoding", "gzip;q=0")],
        )
        .await;
        assert_eq!(plain.headers()["content-type"], "text/css; charset=utf-8");
        assert!(plain.headers().get("content-encoding").is_none());
        assert_eq!(plain.headers()["cache-control"], "no-cache");
        let etag = plain.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(body(plain).await, STYLE.bytes);

        let etag: &'static str = Box::leak(etag.into_boxed_str());
        let revalidated = get("/playground/playground.css", &[("if-none-match", etag)]).await;
        assert_eq!(revalidated.status(), 304);
        assert!(body(revalidated).await.is_empty());
        let stale = get("/playground/playground.css", &[("if-none-match", "\"0\"")]).await;
        assert_eq!(stale.status(), 200);

        let licenses = get("/playground/THIRD_PARTY_LICENSES.txt", &[]).await;
        assert_eq!(
            licenses.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        assert!(
            String::from_utf8(body(licenses).await)
                .unwrap()
                .contains("graphiql@")
        );
    }

    #[test]
    fn the_committed_gzip_copies_match_the_assets() {
        // A cheap check that build.mjs wrote both: same gzip trailer length.
        for asset in [&SCRIPT, &STYLE] {
            let gz = asset.gzip.unwrap();
            let isize = u32::from_le_bytes(gz[gz.len() - 4..].try_into().unwrap());
            assert_eq!(
                isize as usize,
                asset.bytes.len() % (1 << 32),
                "{}",
                asset.name
            );
        }
    }
}
