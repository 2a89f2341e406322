//! The supergraph composed from live subgraphs: where each subgraph's SDL comes
//! from (`_service { sdl }` over HTTP, or a file), composing at start-up with
//! retries while a subgraph is not up yet, and the poller that hot-swaps the
//! supergraph when a subgraph's SDL changes. Composition itself is pure and
//! lives in [`crate::supergraph::compose`].

use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::supergraph::compose::{ComposeError, SubgraphInput, compose};
use crate::{Gateway, GatewayConfig, StartError};

/// Where one subgraph's SDL is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A running subgraph, asked `{ _service { sdl } }`; also its routing URL.
    Url(String),
    /// An SDL file, with the routing URL to record (empty when not given).
    File { path: PathBuf, url: String },
}

/// `name=URL`, `name=FILE` or `name=FILE@URL`, as `--subgraph` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphSource {
    pub name: String,
    pub location: Location,
}

/// Why the supergraph could not be composed from its sources.
#[derive(Debug, thiserror::Error)]
pub enum CompositionError {
    #[error("invalid subgraph `{0}`: expected name=URL, name=FILE or name=FILE@URL")]
    InvalidSource(String),
    #[error("subgraph `{subgraph}`: fetching {url}: {source}")]
    Fetch {
        subgraph: String,
        url: String,
        source: reqwest::Error,
    },
    #[error("subgraph `{subgraph}`: {url} did not answer `_service {{ sdl }}`: {message}")]
    NoSdl {
        subgraph: String,
        url: String,
        message: String,
    },
    #[error("subgraph `{subgraph}`: reading {path}: {source}")]
    Read {
        subgraph: String,
        path: String,
        source: std::io::Error,
    },
    #[error("composition config {path}: {message}")]
    Config { path: String, message: String },
    #[error(transparent)]
    Compose(#[from] ComposeError),
}

/// One subgraph in a composition config file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigEntry {
    /// Where the gateway sends this subgraph's fetches.
    routing_url: String,
    /// SDL file (relative to the config file); without it the SDL is asked of `routing_url`.
    schema: Option<PathBuf>,
}

/// Reads a composition config:
///
/// ```toml
/// [subgraphs.users]
/// routing_url = "http://127.0.0.1:4001/graphql"
/// schema = "users.graphql"   # optional
/// ```
pub fn sources_from_config(
    path: &std::path::Path,
) -> Result<Vec<SubgraphSource>, CompositionError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        subgraphs: std::collections::BTreeMap<String, ConfigEntry>,
    }
    let error = |message: String| CompositionError::Config {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    use figment::providers::Format as _;
    let file: File = figment::Figment::from(figment::providers::Toml::string(&text))
        .extract()
        .map_err(|e| error(e.to_string()))?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    Ok(file
        .subgraphs
        .into_iter()
        .map(|(name, entry)| {
            let location = match entry.schema {
                Some(schema) => Location::File {
                    path: dir.join(schema),
                    url: entry.routing_url,
                },
                None => Location::Url(entry.routing_url),
            };
            SubgraphSource { name, location }
        })
        .collect())
}

impl FromStr for SubgraphSource {
    type Err = CompositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || CompositionError::InvalidSource(s.to_owned());
        let (name, target) = s.split_once('=').ok_or_else(invalid)?;
        if name.is_empty() || target.is_empty() {
            return Err(invalid());
        }
        let location = if target.starts_with("http://") || target.starts_with("https://") {
            Location::Url(target.to_owned())
        } else {
            // The routing URL follows the last `@` when it starts a URL.
            match target.rsplit_once('@') {
                Some((path, url)) if url.starts_with("http://") || url.starts_with("https://") => {
                    Location::File {
                        path: PathBuf::from(path),
                        url: url.to_owned(),
                    }
                }
                _ => Location::File {
                    path: PathBuf::from(target),
                    url: String::new(),
                },
            }
        };
        Ok(Self {
            name: name.to_owned(),
            location,
        })
    }
}

impl SubgraphSource {
    /// Reads the SDL: one `_service { sdl }` request, or the file.
    pub async fn fetch(&self, client: &reqwest::Client) -> Result<SubgraphInput, CompositionError> {
        match &self.location {
            Location::Url(url) => {
                let fetch = |source| CompositionError::Fetch {
                    subgraph: self.name.clone(),
                    url: url.clone(),
                    source,
                };
                let response: serde_json::Value = client
                    .post(url)
                    .json(&serde_json::json!({ "query": "{ _service { sdl } }" }))
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(fetch)?
                    .json()
                    .await
                    .map_err(fetch)?;
                let sdl = response
                    .pointer("/data/_service/sdl")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| CompositionError::NoSdl {
                        subgraph: self.name.clone(),
                        url: url.clone(),
                        message: response
                            .get("errors")
                            .map(|e| e.to_string())
                            .unwrap_or_else(|| "no data._service.sdl in the response".to_owned()),
                    })?;
                Ok(SubgraphInput {
                    name: self.name.clone(),
                    url: url.clone(),
                    sdl: sdl.to_owned(),
                })
            }
            Location::File { path, url } => {
                let sdl = tokio::fs::read_to_string(path).await.map_err(|source| {
                    CompositionError::Read {
                        subgraph: self.name.clone(),
                        path: path.display().to_string(),
                        source,
                    }
                })?;
                Ok(SubgraphInput {
                    name: self.name.clone(),
                    url: url.clone(),
                    sdl,
                })
            }
        }
    }
}

/// An HTTP client for `_service { sdl }` requests.
pub fn sdl_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
}

/// Reads every source (concurrently) and composes them.
pub async fn compose_sources(
    client: &reqwest::Client,
    sources: &[SubgraphSource],
) -> Result<String, CompositionError> {
    let inputs = futures::future::try_join_all(sources.iter().map(|s| s.fetch(client))).await?;
    Ok(compose(&inputs)?)
}

/// Composes until it succeeds, waiting `initial` after the first failure and
/// twice as long after each next one, up to `max`: subgraphs started together
/// with the gateway may not answer yet.
pub async fn compose_with_retry(
    client: &reqwest::Client,
    sources: &[SubgraphSource],
    initial: Duration,
    max: Duration,
) -> String {
    let mut wait = initial;
    loop {
        match compose_sources(client, sources).await {
            Ok(sdl) => return sdl,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "cannot compose the supergraph yet");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(max);
            }
        }
    }
}

/// Recomposes every `interval`; loads the result when it differs from what is
/// served. A failed fetch or composition keeps the current supergraph.
pub async fn watch_subgraphs(
    gateway: Arc<Gateway>,
    client: reqwest::Client,
    sources: Vec<SubgraphSource>,
    mut current: String,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let sdl = match compose_sources(&client, &sources).await {
            Ok(sdl) => sdl,
            Err(e) => {
                tracing::error!(error = %e, "recomposition failed; keeping the current supergraph");
                continue;
            }
        };
        if sdl == current {
            continue;
        }
        match gateway.load(&sdl) {
            Ok(()) => {
                tracing::info!("subgraphs changed: supergraph recomposed and reloaded");
                current = sdl;
            }
            Err(e) => {
                tracing::error!(error = %e, "recomposed supergraph rejected; keeping the current one")
            }
        }
    }
}

/// Serves a supergraph composed from `sources` on `config.listen` until
/// `shutdown`, polling the subgraphs every `poll` for changes.
pub async fn run(
    config: GatewayConfig,
    sources: Vec<SubgraphSource>,
    poll: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let client = sdl_client()?;
    let sdl = compose_with_retry(
        &client,
        &sources,
        Duration::from_millis(250),
        Duration::from_secs(10),
    )
    .await;
    tracing::info!(subgraphs = sources.len(), "supergraph composed");
    let addr = config.listen;
    let gateway = crate::build(config, &sdl)?;
    let watcher = watch_subgraphs(gateway.clone(), client, sources, sdl, poll);
    crate::serve_watched(addr, gateway, watcher, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_composition_config() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("supergraph.toml");
        std::fs::write(
            &path,
            "[subgraphs.a]\nrouting_url = \"http://a/graphql\"\nschema = \"a.graphql\"\n[subgraphs.b]\nrouting_url = \"http://b/graphql\"\n",
        )
        .expect("write");
        let sources = sources_from_config(&path).expect("reads");
        assert_eq!(
            sources[0].location,
            Location::File {
                path: dir.path().join("a.graphql"),
                url: "http://a/graphql".into()
            }
        );
        assert_eq!(
            sources[1].location,
            Location::Url("http://b/graphql".into())
        );
        std::fs::write(&path, "[subgraphs.a]\nurl = \"x\"\n").expect("write");
        assert!(matches!(
            sources_from_config(&path),
            Err(CompositionError::Config { .. })
        ));
    }

    #[test]
    fn reads_subgraph_arguments() {
        let url: SubgraphSource = "users=http://127.0.0.1:4001/graphql".parse().unwrap();
        assert_eq!(
            url.location,
            Location::Url("http://127.0.0.1:4001/graphql".into())
        );
        let file: SubgraphSource = "orders=schema/orders.graphql".parse().unwrap();
        assert_eq!(
            file.location,
            Location::File {
                path: "schema/orders.graphql".into(),
                url: String::new()
            }
        );
        let both: SubgraphSource = "orders=schema/orders.graphql@http://o:4002/graphql"
            .parse()
            .unwrap();
        assert_eq!(
            both.location,
            Location::File {
                path: "schema/orders.graphql".into(),
                url: "http://o:4002/graphql".into()
            }
        );
        assert!("nameonly".parse::<SubgraphSource>().is_err());
        assert!("=x".parse::<SubgraphSource>().is_err());
    }
}
