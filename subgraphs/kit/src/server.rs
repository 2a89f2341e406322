//! Boots a subgraph: database, migrations, demo data, schema, event broker and
//! background workers, and the HTTP routes every subgraph serves (`/graphql`,
//! also as a `graphql-transport-ws` WebSocket for subscriptions, `/health`,
//! `/ready`, `/metrics`).

use std::{future::Future, sync::Arc, time::Instant};

use async_graphql::{ObjectType, Schema, SubscriptionType, http::ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{
    GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket, rejection::GraphQLRejection,
};
use axum::{
    Json, Router,
    extract::{Request, WebSocketUpgrade, ws::rejection::WebSocketUpgradeRejection},
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::{
    auth::Caller,
    config::SubgraphConfig,
    db,
    events::{Broker, EventsError},
    metrics::Metrics,
    workers::Workers,
};

/// What a subgraph crate supplies; everything else is shared.
pub trait Subgraph: 'static {
    const NAME: &'static str;
    const DEFAULT_PORT: u16;
    type Migrator: MigratorTrait;
    type Query: ObjectType + 'static;
    type Mutation: ObjectType + 'static;
    type Subscription: SubscriptionType + 'static;

    /// Builds the schema; also starts, on `ctx.workers`, the tasks that feed it
    /// (an outbox relay, an event consumer).
    fn schema(ctx: &SubgraphContext) -> Schema<Self::Query, Self::Mutation, Self::Subscription>;

    /// Inserts demo data; called only on an empty database, inside the
    /// migration transaction.
    fn seed(txn: &DatabaseTransaction) -> impl Future<Output = Result<(), DbErr>> + Send;

    /// True when the database holds no data of this subgraph yet.
    fn is_empty(txn: &DatabaseTransaction) -> impl Future<Output = Result<bool, DbErr>> + Send;
}

/// Shared handles a subgraph's schema is built from.
#[derive(Clone)]
pub struct SubgraphContext {
    pub db: DatabaseConnection,
    pub metrics: Metrics,
    pub config: SubgraphConfig,
    /// Carries domain events to and from other services.
    pub broker: Broker,
    pub workers: Workers,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("events: {0}")]
    Events(#[from] EventsError),
    #[error("JWT keys: {0}")]
    Keys(#[from] auth::KeyError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Serve(#[from] std::io::Error),
}

/// A subgraph ready to serve: its routes and the handles tests look into.
pub struct Built {
    pub router: Router,
    pub ctx: SubgraphContext,
}

/// Connects, migrates, seeds (when configured and empty) and builds the routes.
pub async fn build<S: Subgraph>(config: SubgraphConfig) -> Result<Built, StartError> {
    let metrics = Metrics::new(S::NAME);
    let db = db::connect(&config, &metrics).await?;
    let seed = config.seed;
    db::migrate_locked::<S::Migrator, _>(&db, S::NAME, async move |txn| {
        if seed && S::is_empty(txn).await? {
            S::seed(txn).await?;
            tracing::info!(subgraph = S::NAME, "seeded demo data");
        }
        Ok(())
    })
    .await?;
    let broker = Broker::connect(&config).await?;
    let ctx = SubgraphContext {
        db,
        metrics,
        config,
        broker,
        workers: Workers::default(),
    };
    let schema = S::schema(&ctx);
    let verifier = Arc::new(auth::Verifier::new(
        ctx.config.jwt.clone(),
        reqwest::Client::new(),
    )?);
    Ok(Built {
        router: router(S::NAME, schema, &ctx, verifier),
        ctx,
    })
}

/// Builds and serves on `config.listen` until `shutdown` resolves.
pub async fn run<S: Subgraph>(
    config: SubgraphConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let addr = config.listen;
    let built = build::<S>(config).await?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    tracing::info!(
        subgraph = S::NAME,
        "listening on http://{}/graphql",
        listener.local_addr()?
    );
    serve(listener, built.router, shutdown).await?;
    built.ctx.workers.stop().await;
    built.ctx.db.close().await.ok();
    Ok(())
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// `main` of a subgraph's own binary (`cargo run -p users`): a development
/// convenience, so demo data is seeded unless `<NAME>_SEED=false`.
pub fn main<S: Subgraph>() -> std::process::ExitCode {
    crate::telemetry::init();
    crate::install_crypto_provider();
    let result = tokio::runtime::Runtime::new()
        .map_err(|e| e.to_string())
        .and_then(|runtime| {
            runtime.block_on(async {
                let config = SubgraphConfig::load(S::NAME, S::DEFAULT_PORT, true)
                    .map_err(|e| e.to_string())?;
                run::<S>(config, shutdown_signal())
                    .await
                    .map_err(|e| e.to_string())
            })
        });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(subgraph = S::NAME, error = %e, "subgraph stopped");
            eprintln!("{}: {e}", S::NAME);
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

fn router<Q, M, S>(
    name: &'static str,
    schema: Schema<Q, M, S>,
    ctx: &SubgraphContext,
    verifier: Arc<auth::Verifier>,
) -> Router
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let post_schema = schema.clone();
    let get_verifier = verifier.clone();
    let db = ctx.db.clone();
    let metrics = ctx.metrics.clone();
    let layer_metrics = ctx.metrics.clone();
    Router::new()
        .route(
            "/graphql",
            get(
                move |headers: HeaderMap,
                      upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
                      protocol: Result<GraphQLProtocol, StatusCode>,
                      req: Result<GraphQLRequest, GraphQLRejection>| async move {
                    // A subscription's caller is the one of its upgrade request.
                    let caller = match get_verifier.authenticate(&headers).await {
                        Ok(caller) => Caller(caller),
                        Err(e) => return unauthenticated(&e),
                    };
                    match (upgrade, protocol) {
                        (Ok(upgrade), Ok(protocol)) => {
                            let mut data = async_graphql::Data::default();
                            data.insert(caller);
                            upgrade
                                .protocols(ALL_WEBSOCKET_PROTOCOLS)
                                .on_upgrade(move |socket| {
                                    GraphQLWebSocket::new(socket, schema, protocol)
                                        .with_data(data)
                                        .serve()
                                })
                                .into_response()
                        }
                        _ => graphql_get(name, schema, headers, req, caller).await,
                    }
                },
            )
            .post(move |headers: HeaderMap, req: GraphQLRequest| async move {
                match verifier.authenticate(&headers).await {
                    Ok(caller) => GraphQLResponse::from(
                        post_schema.execute(req.into_inner().data(Caller(caller))).await,
                    )
                    .into_response(),
                    Err(e) => unauthenticated(&e),
                }
            }),
        )
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route(
            "/ready",
            get(move || async move {
                if db::ping(&db).await {
                    (
                        StatusCode::OK,
                        Json(serde_json::json!({ "status": "ready" })),
                    )
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        Json(serde_json::json!({ "status": "database unreachable" })),
                    )
                }
            }),
        )
        .route(
            "/metrics",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    metrics.render(),
                )
            }),
        )
        .merge(playground::routes())
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let metrics = layer_metrics.clone();
            async move { record(metrics, req, next).await }
        }))
        .layer(TraceLayer::new_for_http())
}

/// A browser gets the playground; anything else a GraphQL query over GET.
async fn graphql_get<Q, M, S>(
    name: &str,
    schema: Schema<Q, M, S>,
    headers: HeaderMap,
    req: Result<GraphQLRequest, GraphQLRejection>,
    caller: Caller,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    match req {
        Ok(req) if !playground::wants_page(&headers) => {
            GraphQLResponse::from(schema.execute(req.into_inner().data(caller)).await)
                .into_response()
        }
        _ => playground::Page {
            title: &format!("Switchyard: {name}"),
            endpoint: "/graphql",
            query_plan: false,
            subscription_endpoint: Some("/graphql"),
        }
        .into_response(),
    }
}

/// `401` for a token that does not verify: the request is not run at all.
fn unauthenticated(error: &auth::AuthError) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        Json(serde_json::json!({
            "errors": [{ "message": error.to_string(), "extensions": { "code": auth::AuthError::CODE } }]
        })),
    )
        .into_response()
}

async fn record(metrics: Metrics, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let response = next.run(req).await;
    metrics.http_requests.increment(1);
    metrics
        .http_request_duration
        .record(start.elapsed().as_secs_f64());
    response
}
