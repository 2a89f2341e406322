//! Integration-test support: every test body runs once on a fresh SQLite file and,
//! when `TEST_DATABASE_URL` names a PostgreSQL server, once more on a fresh
//! PostgreSQL database created for it. Servers listen on 127.0.0.1:0.

use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::{
    config::SubgraphConfig,
    metrics::read_series,
    server::{self, Subgraph},
};

/// A running subgraph on a fresh database.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub backend: &'static str,
    pub db: DatabaseConnection,
    /// The subgraph's background tasks (outbox relay, event consumer).
    pub workers: crate::workers::Workers,
    /// Its `/metrics` as the handlers see them.
    pub metrics: crate::metrics::Metrics,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Runs `body` against subgraph `S` on every configured backend.
pub async fn on_each_backend<S, F, Fut>(body: F)
where
    S: Subgraph,
    F: Fn(TestServer) -> Fut,
    Fut: std::future::Future<Output = TestServer>,
{
    on_each_backend_with::<S, _, _>(|_| {}, body).await
}

/// As [`on_each_backend`], with a chance to adjust the configuration.
pub async fn on_each_backend_with<S, F, Fut>(tune: impl Fn(&mut SubgraphConfig), body: F)
where
    S: Subgraph,
    F: Fn(TestServer) -> Fut,
    Fut: std::future::Future<Output = TestServer>,
{
    crate::install_crypto_provider();
    let (tune, body) = (&tune, &body);
    each_fresh_database(|backend, url| async move {
        let server = TestServer::start::<S>(url, backend, tune).await;
        body(server).await.stop().await;
    })
    .await;
}

fn postgres_admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

/// A database created for one test and dropped after it. Names start with
/// `sytest_` so that CI can sweep leftovers from a failed run.
pub struct FreshPostgres {
    pub url: String,
    admin: DatabaseConnection,
    name: String,
}

impl FreshPostgres {
    pub async fn create(admin_url: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin = Database::connect(admin_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "sytest_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(admin_url);
        Self {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }

    pub async fn drop(self) {
        let _ = self
            .admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

impl TestServer {
    /// Starts subgraph `S` on `url` (demo data off unless `tune` turns it on),
    /// on port 0 unless `tune` sets `listen`.
    pub async fn start<S: Subgraph>(
        url: String,
        backend: &'static str,
        tune: &impl Fn(&mut SubgraphConfig),
    ) -> Self {
        eprintln!("--- {} subgraph on {backend}", S::NAME);
        let mut config = SubgraphConfig::defaults(S::NAME, 0);
        config.database_url = url;
        config.seed = false;
        // Tokens of the development key verify, so tests can act as anyone.
        config.jwt = auth::JwtConfig::default().or_development();
        tune(&mut config);
        let listen = config.listen;
        let built = server::build::<S>(config).await.expect("subgraph builds");
        let listener = TcpListener::bind(listen).await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let router = built.router;
        let task = tokio::spawn(async move {
            let _ = server::serve(listener, router, async move {
                let _ = stopped.await;
            })
            .await;
        });
        Self {
            base,
            backend,
            db: built.ctx.db,
            workers: built.ctx.workers,
            metrics: built.ctx.metrics,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server (in-flight requests finish) and closes its pool.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.workers.stop().await;
        let _ = self.db.clone().close().await;
    }

    /// POSTs a GraphQL request as an admin ([`admin_token`]) and returns the
    /// whole response body.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(Some(&admin_token()), query, variables).await
    }

    /// POSTs a GraphQL request with `token` as the bearer token (or none).
    pub async fn gql_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.send_as(token, query, variables)
            .await
            .json()
            .await
            .expect("JSON response")
    }

    /// The raw response to a GraphQL request with `token` (or none).
    pub async fn send_as(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    /// Like [`gql`](Self::gql) but asserts there are no errors and returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.gql(query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "[{}] unexpected errors: {response:#}",
            self.backend
        );
        response["data"].clone()
    }

    /// Asserts the response carries exactly one error with `code` and returns it.
    pub async fn error(&self, query: &str, variables: Value, code: &str) -> Value {
        let response = self.gql(query, variables).await;
        let errors = response["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("[{}] expected an error: {response:#}", self.backend));
        assert_eq!(errors.len(), 1, "[{}] {response:#}", self.backend);
        assert_eq!(
            errors[0]["extensions"]["code"], code,
            "[{}] {response:#}",
            self.backend
        );
        errors[0].clone()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request sent")
    }

    /// GETs `path` with an `Accept` header and returns the body.
    pub async fn get_with_accept(&self, path: &str, accept: &str) -> String {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("accept", accept)
            .send()
            .await
            .expect("request sent");
        response.text().await.expect("text body")
    }

    /// One series of this server's `/metrics`, summed over the other labels.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self
            .get("/metrics")
            .await
            .text()
            .await
            .expect("metrics text");
        read_series(&text, name, labels)
    }

    /// Waits until `field` has `n` open subscriptions (so an event sent next reaches them).
    pub async fn wait_for_subscribers(&self, field: &str, n: usize) {
        for _ in 0..600 {
            if self.metric("live_subscriptions", &[("field", field)]).await >= n as f64 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{field}: {n} subscriptions did not start");
    }

    /// Runs `query` and returns its data with the SQL statements it caused.
    pub async fn counting_sql(&self, query: &str, variables: Value) -> (Value, u64) {
        let before = self.metric("sql_statements_total", &[]).await;
        let data = self.data(query, variables).await;
        let after = self.metric("sql_statements_total", &[]).await;
        (data, (after - before) as u64)
    }
}

/// A configuration tweak linking a subgraph to `bus`, the in-process event link
/// that dev mode gives orders and notifications.
pub fn linked_by(bus: &crate::events::LocalBus) -> impl Fn(&mut SubgraphConfig) + use<> {
    let bus = bus.clone();
    move |config| config.local_events = bus.clone()
}

/// A development-key token with the admin scope (subject `0`, no user).
pub fn admin_token() -> String {
    auth::dev::token("0", &[crate::auth::ADMIN_SCOPE])
}

/// An HTTP client that sends [`admin_token`] with every request.
pub fn admin_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Ok(value) = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", admin_token()))
    {
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("HTTP client")
}

/// A development-key token of user `id`, with no scope.
pub fn user_token(id: i32) -> String {
    auth::dev::token(&id.to_string(), &[])
}

/// Compares the SDL a running subgraph exports through `_service { sdl }` (what a
/// gateway composes from) with the committed file; `UPDATE_SCHEMA=1` rewrites it.
pub async fn check_schema_file(server: &TestServer, path: &std::path::Path) {
    let data = server.data("{ _service { sdl } }", json!({})).await;
    let sdl = data["_service"]["sdl"]
        .as_str()
        .expect("sdl string")
        .trim()
        .to_owned()
        + "\n";
    if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(path, &sdl).expect("write schema file");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == sdl,
        "{} differs from the subgraph's exported SDL; run `UPDATE_SCHEMA=1 cargo test` and commit the file.\n--- exported:\n{sdl}",
        path.display()
    );
}

/// Calls `body(backend, url)` with the URL of a fresh, empty database on every
/// configured backend, for tests that start servers themselves.
pub async fn each_fresh_database<F, Fut>(body: F)
where
    F: Fn(&'static str, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // SQLite: a file in a temporary folder (an in-memory database would be one per pooled connection).
    let dir = tempfile::tempdir().expect("temp dir");
    body(
        "sqlite",
        format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
    )
    .await;
    if let Some(pg) = postgres_admin_url() {
        let fresh = FreshPostgres::create(&pg).await;
        body("postgres", fresh.url.clone()).await;
        fresh.drop().await;
    }
}

/// A `graphql-transport-ws` client holding one subscription (the protocol of the
/// `graphql-ws` library, which async-graphql serves).
pub struct WsSubscription {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl WsSubscription {
    /// Connects to `url` (`http://…/graphql`) with an admin token,
    /// acknowledges the connection and subscribes; returns once the server
    /// has the subscription.
    pub async fn start(url: &str, query: &str, variables: Value) -> Self {
        use futures::SinkExt;
        use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue};
        let mut request = url
            .replacen("http", "ws", 1)
            .into_client_request()
            .expect("websocket request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        // As an admin, like `TestServer::gql`: subscriptions check their caller.
        if let Ok(token) = HeaderValue::from_str(&format!("Bearer {}", admin_token())) {
            request.headers_mut().insert("authorization", token);
        }
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connects");
        let mut this = Self { socket };
        this.send(json!({ "type": "connection_init" })).await;
        let ack = this.receive().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        this.socket
            .send(tokio_tungstenite::tungstenite::Message::text(
                json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } })
                    .to_string(),
            ))
            .await
            .expect("subscribe sent");
        this
    }

    async fn send(&mut self, message: Value) {
        use futures::SinkExt;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::text(
                message.to_string(),
            ))
            .await
            .expect("websocket send");
    }

    /// The next protocol message (pings are answered and skipped).
    async fn receive(&mut self) -> Value {
        use futures::StreamExt;
        loop {
            let message =
                tokio::time::timeout(std::time::Duration::from_secs(30), self.socket.next())
                    .await
                    .expect("a websocket message within 30 s")
                    .expect("websocket open")
                    .expect("websocket message");
            let Ok(text) = message.to_text() else {
                continue;
            };
            if text.is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(text).expect("JSON message");
            if value["type"] == "ping" {
                self.send(json!({ "type": "pong" })).await;
                continue;
            }
            return value;
        }
    }

    /// The `payload` of the next `next` message of the subscription.
    pub async fn next_payload(&mut self) -> Value {
        let message = self.receive().await;
        assert_eq!(message["type"], "next", "{message}");
        message["payload"].clone()
    }
}
