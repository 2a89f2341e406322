//! End to end per federation feature: small in-memory async-graphql subgraphs,
//! each a real HTTP server on 127.0.0.1:0, behind the gateway serving the
//! feature's fixture supergraph (`gateway/tests/fixtures/<feature>/`). The
//! queries are the planner snapshot tests' (`gateway/tests/planner.rs`); each
//! test asserts the exact response text, so field order and aliases count.
//! `policy` uses the same harness for the gateway's traffic policy (limits).

mod features;
mod policy;

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use async_graphql::{EmptyMutation, EmptySubscription, ObjectType, Schema, SubscriptionType};
use axum::{
    Json, Router,
    body::Body,
    extract::Request,
    middleware::{self, Next},
    routing::post,
};
use gateway::{Gateway, GatewayConfig};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot};

/// The gateway and its subgraphs, stopped on drop.
pub struct Federation {
    url: String,
    client: reqwest::Client,
    _gateway: Arc<Gateway>,
    /// Subgraphs by name, then the gateway (named `""`).
    servers: Vec<Server>,
}

struct Server {
    name: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    /// The JSON bodies it received, in order.
    received: Received,
}

type Received = Arc<Mutex<Vec<Value>>>;

/// A federation subgraph schema with no mutations.
pub fn federated<Q: ObjectType + 'static>(query: Q) -> Schema<Q, EmptyMutation, EmptySubscription> {
    Schema::build(query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish()
}

/// [`federated`], with `data` for the resolvers (a test's fault switch).
pub fn federated_with<Q: ObjectType + 'static, D: std::any::Any + Send + Sync>(
    query: Q,
    data: D,
) -> Schema<Q, EmptyMutation, EmptySubscription> {
    Schema::build(query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .data(data)
        .finish()
}

/// A subgraph's routes: `POST /graphql` on an async-graphql schema.
pub fn subgraph<Q, M, S>(schema: Schema<Q, M, S>) -> Router
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    Router::new().route(
        "/graphql",
        post(
            move |Json(request): Json<async_graphql::Request>| async move {
                Json(schema.execute(request).await)
            },
        ),
    )
}

/// Serves `router` on a fresh port 0 listener, recording request bodies;
/// its URL and handle.
async fn serve(name: &str, router: Router) -> (String, Server) {
    let received = Received::default();
    let log = received.clone();
    let router = router.layer(middleware::from_fn(move |request: Request, next: Next| {
        let log = log.clone();
        async move {
            let (parts, body) = request.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            if let Ok(body) = serde_json::from_slice(&bytes) {
                log.lock().expect("request log").push(body);
            }
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    }));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    let server = Server {
        name: name.to_owned(),
        stop,
        task,
        received,
    };
    (format!("http://{addr}/graphql"), server)
}

/// The committed supergraph of a planner fixture.
pub fn fixture_supergraph(feature: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("gateway/tests/fixtures")
        .join(feature)
        .join("supergraph.graphql");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Federation {
    /// Starts `subgraphs` (named as in the supergraph's `join__Graph`) and a
    /// gateway on `supergraph` routing to them.
    pub async fn start(supergraph: &str, subgraphs: Vec<(&str, Router)>) -> Self {
        Self::start_configured(GatewayConfig::default(), supergraph, subgraphs).await
    }

    /// [`Federation::start`] with a gateway configuration (routing URLs are
    /// filled in).
    pub async fn start_configured(
        config: GatewayConfig,
        supergraph: &str,
        subgraphs: Vec<(&str, Router)>,
    ) -> Self {
        Self::start_wrapped(config, supergraph, subgraphs, |app| app).await
    }

    /// [`Federation::start_configured`], serving `wrap(gateway::app(…))`: a
    /// test's own layers around the gateway's routes.
    pub async fn start_wrapped(
        mut config: GatewayConfig,
        supergraph: &str,
        subgraphs: Vec<(&str, Router)>,
        wrap: impl FnOnce(Router) -> Router,
    ) -> Self {
        kit::install_crypto_provider();
        let mut servers = Vec::new();
        for (name, router) in subgraphs {
            let (url, server) = serve(name, router).await;
            config.subgraph_urls.insert(name.to_owned(), url);
            servers.push(server);
        }
        let gateway = gateway::build(config, supergraph).expect("gateway builds");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/graphql", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let app = wrap(gateway::app(gateway.clone()))
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        servers.push(Server {
            name: String::new(),
            stop,
            task,
            received: Received::default(),
        });
        Self {
            url,
            client: reqwest::Client::new(),
            _gateway: gateway,
            servers,
        }
    }

    /// Stops a subgraph and waits until its port is closed.
    pub async fn stop_subgraph(&mut self, name: &str) {
        let at = self
            .servers
            .iter()
            .position(|s| s.name == name)
            .expect("known subgraph");
        let server = self.servers.remove(at);
        let _ = server.stop.send(());
        server.task.await.expect("subgraph stops");
    }

    /// The request bodies subgraph `name` has received so far.
    pub fn received(&self, name: &str) -> Vec<Value> {
        let server = self
            .servers
            .iter()
            .find(|s| s.name == name)
            .expect("known subgraph");
        server.received.lock().expect("request log").clone()
    }

    pub async fn query(&self, query: &str) -> Value {
        let response = self
            .client
            .post(&self.url)
            .header("accept", "application/json")
            .json(&json!({ "query": query }))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 200, "{query}");
        response.json().await.expect("JSON body")
    }

    /// Asserts the exact response text (key order included) of `query`.
    pub async fn assert_response(&self, query: &str, expected: Value) {
        let actual = self.query(query).await;
        assert_eq!(
            serde_json::to_string_pretty(&actual).expect("JSON"),
            serde_json::to_string_pretty(&expected).expect("JSON"),
            "\nquery: {query}"
        );
    }
}

impl Drop for Federation {
    fn drop(&mut self) {
        for server in self.servers.drain(..) {
            let _ = server.stop.send(());
        }
    }
}

/// Asserts that an async-graphql schema exports (with federation directives)
/// the same types, fields, arguments and directives as a fixture subgraph SDL
/// (`"<feature>/<file>.graphql"`). Descriptions, order, the `@link` header and
/// federation's own types do not count; `known` lists the normalized lines
/// that may differ, each a documented limit of async-graphql.
pub fn assert_sdl_equivalent(fixture_file: &str, exported: &str, known: &[&str]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("gateway/tests/fixtures")
        .join(fixture_file);
    let fixture = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{fixture_file}: {e}"));
    let want = sdl_lines(&fixture);
    let got = sdl_lines(exported);
    let missing: Vec<_> = want
        .difference(&got)
        .filter(|l| !known.contains(&l.as_str()))
        .collect();
    let extra: Vec<_> = got
        .difference(&want)
        .filter(|l| !known.contains(&l.as_str()))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{fixture_file}: exported SDL differs\nmissing: {missing:#?}\nextra: {extra:#?}\nexported:\n{exported}"
    );
}

/// Async-graphql's federation SDL of `schema`.
pub fn exported_sdl<Q, M, S>(schema: &Schema<Q, M, S>) -> String
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    schema.sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .federation()
            .include_specified_by(),
    )
}

/// One normalized line per type header, field, argument, enum value and union member.
fn sdl_lines(sdl: &str) -> std::collections::BTreeSet<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let document = async_graphql::parser::parse_schema(sdl).expect("SDL parses");
    let mut lines = std::collections::BTreeSet::new();
    let directives = |list: &[async_graphql::Positioned<
        async_graphql::parser::types::ConstDirective,
    >]| {
        let mut out: Vec<String> = list
            .iter()
            .map(|d| {
                let args: Vec<String> = d
                    .node
                    .arguments
                    .iter()
                    .map(|(name, value)| {
                        let value = match &value.node {
                            async_graphql::Value::String(s) => {
                                format!("{:?}", s.split_whitespace().collect::<Vec<_>>().join(" "))
                            }
                            other => other.to_string(),
                        };
                        format!("{}: {value}", name.node)
                    })
                    .collect();
                if args.is_empty() {
                    format!("@{}", d.node.name.node)
                } else {
                    format!("@{}({})", d.node.name.node, args.join(", "))
                }
            })
            .collect();
        out.sort();
        out.join(" ")
    };
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let name = ty.name.node.to_string();
        if name.starts_with('_') || name.starts_with("link__") || name == "FieldSet" {
            continue;
        }
        let header = directives(&ty.directives);
        let kind = match &ty.kind {
            TypeKind::Scalar => "scalar",
            TypeKind::Object(_) => "type",
            TypeKind::Interface(_) => "interface",
            TypeKind::Union(_) => "union",
            TypeKind::Enum(_) => "enum",
            TypeKind::InputObject(_) => "input",
        };
        // A type split over `type` and `extend type` is one type.
        if !header.is_empty() || !ty.extend {
            lines.insert(format!("{kind} {name} {header}").trim_end().to_owned());
        }
        let fields = match &ty.kind {
            TypeKind::Object(o) => {
                for i in &o.implements {
                    lines.insert(format!("{name} implements {}", i.node));
                }
                &o.fields[..]
            }
            TypeKind::Interface(i) => {
                for n in &i.implements {
                    lines.insert(format!("{name} implements {}", n.node));
                }
                &i.fields[..]
            }
            TypeKind::Union(u) => {
                for m in &u.members {
                    lines.insert(format!("{name} = {}", m.node));
                }
                &[]
            }
            TypeKind::Enum(e) => {
                for v in &e.values {
                    lines.insert(
                        format!(
                            "{name}.{} {}",
                            v.node.value.node,
                            directives(&v.node.directives)
                        )
                        .trim_end()
                        .to_owned(),
                    );
                }
                &[]
            }
            TypeKind::InputObject(i) => {
                for f in &i.fields {
                    lines.insert(format!("{name}.{}: {}", f.node.name.node, f.node.ty.node));
                }
                &[]
            }
            TypeKind::Scalar => &[],
        };
        for field in fields {
            let field = &field.node;
            if field.name.node.starts_with('_') {
                continue;
            }
            let args: Vec<String> = field
                .arguments
                .iter()
                .map(|a| {
                    let default = a
                        .node
                        .default_value
                        .as_ref()
                        .map(|d| format!(" = {}", d.node))
                        .unwrap_or_default();
                    format!(
                        "{}: {}{default} {}",
                        a.node.name.node,
                        a.node.ty.node,
                        directives(&a.node.directives)
                    )
                    .trim_end()
                    .to_owned()
                })
                .collect();
            let args = if args.is_empty() {
                String::new()
            } else {
                format!("({})", args.join(", "))
            };
            lines.insert(
                format!(
                    "{name}.{}{args}: {} {}",
                    field.name.node,
                    field.ty.node,
                    directives(&field.directives)
                )
                .trim_end()
                .to_owned(),
            );
        }
    }
    lines
}
