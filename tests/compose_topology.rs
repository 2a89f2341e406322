//! `docker-compose.yml` checked against the code, and its topology run without
//! Docker: every service as a process of the `switchyard` binary, with the
//! environment the compose file gives it, against fresh PostgreSQL databases.
//!
//! Only addresses change: listen addresses become 127.0.0.1:0, service host
//! names become the addresses the processes bound, database URLs point at fresh
//! databases on `TEST_DATABASE_URL`'s server, and `/app/` (the image's working
//! directory) is the repository root.
//!
//! The processes run the binary cargo built for this test run; set
//! `SWITCHYARD_BIN=target/release/switchyard` to run the release build instead.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use gateway::GatewayConfig;
use kit::{SubgraphConfig, testing::FreshPostgres};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct ComposeFile {
    services: BTreeMap<String, Service>,
    #[serde(default)]
    volumes: BTreeMap<String, Option<serde_yaml_ng::Value>>,
}

#[derive(Debug, Deserialize)]
struct Service {
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    ports: Vec<String>,
    #[serde(default)]
    depends_on: BTreeMap<String, DependsOn>,
    healthcheck: Option<Healthcheck>,
    #[serde(default)]
    restart: Option<String>,
    #[serde(default)]
    volumes: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct DependsOn {
    condition: String,
}

#[derive(Debug, Deserialize)]
struct Healthcheck {
    test: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compose() -> ComposeFile {
    let text =
        std::fs::read_to_string(root().join("docker-compose.yml")).expect("docker-compose.yml");
    let mut value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
    value.apply_merge().expect("merge keys resolve");
    serde_yaml_ng::from_value(value).expect("compose file has the expected shape")
}

/// `(role, subgraph name)` of a service running our binary.
fn role(service: &Service) -> Option<(&str, Option<&str>)> {
    match service.command.first().map(String::as_str) {
        Some("subgraph") => Some(("subgraph", service.command.get(1).map(String::as_str))),
        Some("gateway") => Some(("gateway", None)),
        _ => None,
    }
}

fn port_of(url_or_addr: &str) -> u16 {
    let after_host = url_or_addr
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("");
    after_host
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url_or_addr}"))
}

#[test]
fn compose_file_matches_the_code() {
    let file = compose();
    let supergraph = std::fs::read_to_string(root().join("schema/supergraph.graphql")).unwrap();
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let init_sql = std::fs::read_to_string(root().join("deploy/postgres-init.sql")).unwrap();
    let gateway_keys: Vec<String> = match serde_json::to_value(GatewayConfig::default()).unwrap() {
        Value::Object(map) => map.keys().cloned().collect(),
        _ => unreachable!("a struct serializes to an object"),
    };
    let mut subgraphs_seen = Vec::new();
    for (name, service) in &file.services {
        for dependency in service.depends_on.keys() {
            assert!(
                file.services.contains_key(dependency),
                "{name} depends on unknown service {dependency}"
            );
            assert_eq!(
                service.depends_on[dependency].condition, "service_healthy",
                "{name} waits for {dependency} to be healthy"
            );
        }
        for volume in &service.volumes {
            let source = volume.split(':').next().unwrap();
            assert!(
                source.starts_with("./") && root().join(source).exists()
                    || file.volumes.contains_key(source),
                "{name}: volume {volume}"
            );
        }
        let Some((role, subgraph)) = role(service) else {
            continue;
        };
        assert_eq!(
            service.image.as_deref(),
            Some("switchyard:latest"),
            "{name} runs the one image"
        );
        assert!(service.restart.is_some(), "{name} has a restart policy");
        let health = service
            .healthcheck
            .as_ref()
            .unwrap_or_else(|| panic!("{name} has a healthcheck"));
        assert_eq!(
            &health.test[..3],
            ["CMD", "switchyard", "health"],
            "{name}: healthcheck runs the binary"
        );
        let health_url = &health.test[3];
        assert!(
            health_url.ends_with("/health") || health_url.ends_with("/ready"),
            "{name}: {health_url}"
        );
        match (role, subgraph) {
            ("subgraph", Some(subgraph)) => {
                assert!(
                    ["users", "orders", "notifications"].contains(&subgraph),
                    "{name}: unknown subgraph {subgraph}"
                );
                subgraphs_seen.push(subgraph.to_owned());
                let prefix = format!("{}_", subgraph.to_ascii_uppercase());
                for key in service.environment.keys() {
                    let known = key == "RUST_LOG"
                        || key == "LOG_FORMAT"
                        || key.strip_prefix(&prefix).is_some_and(|k| {
                            SubgraphConfig::KEYS.contains(&k.to_ascii_lowercase().as_str())
                        });
                    assert!(
                        known,
                        "{name} sets {key}, which the {subgraph} subgraph does not read"
                    );
                }
                let listen = &service.environment[&format!("{prefix}LISTEN")];
                let port = port_of(listen);
                assert_eq!(
                    service.ports,
                    vec![format!("{port}:{port}")],
                    "{name} publishes its listen port"
                );
                assert_eq!(port_of(health_url), port, "{name}: healthcheck port");
                let db = &service.environment[&format!("{prefix}DATABASE_URL")];
                let (host_part, database) = db.rsplit_once('/').unwrap();
                assert!(
                    host_part.ends_with("@postgres:5432"),
                    "{name}: database on the postgres service: {db}"
                );
                assert!(file.services.contains_key("postgres"));
                assert!(
                    init_sql.contains(&format!("CREATE DATABASE {database};")),
                    "{name}: database {database} is created by the init script"
                );
                assert!(service.depends_on.contains_key("postgres"));
                if let Some(nats) = service.environment.get(&format!("{prefix}NATS_URL")) {
                    assert_eq!(
                        nats, "nats://nats:4222",
                        "{name}: events on the nats service"
                    );
                    let broker = &file.services["nats"];
                    assert!(
                        broker.command.iter().any(|a| a == "-js"),
                        "the nats service runs JetStream"
                    );
                    assert!(
                        broker
                            .healthcheck
                            .as_ref()
                            .is_some_and(|h| h.test.concat().contains("js-enabled-only")),
                        "the nats service is healthy only with JetStream up"
                    );
                    assert!(
                        service.depends_on.contains_key("nats"),
                        "{name} waits for nats"
                    );
                }
            }
            ("gateway", _) => {
                for key in service.environment.keys() {
                    if key == "RUST_LOG" || key == "LOG_FORMAT" {
                        continue;
                    }
                    let field = key
                        .strip_prefix("SWITCHYARD_")
                        .unwrap_or_else(|| panic!("{name}: unknown variable {key}"));
                    let field = field.split("__").next().unwrap().to_ascii_lowercase();
                    assert!(
                        gateway_keys.contains(&field),
                        "{name} sets {key}, which the gateway does not read"
                    );
                }
                let port = port_of(&service.environment["SWITCHYARD_LISTEN"]);
                assert_eq!(service.ports, vec![format!("{port}:{port}")]);
                assert_eq!(port_of(health_url), port);
                let supergraph_arg = service
                    .command
                    .iter()
                    .position(|a| a == "--supergraph")
                    .map(|i| &service.command[i + 1])
                    .expect("--supergraph");
                let in_repo = supergraph_arg
                    .strip_prefix("/app/")
                    .expect("image paths live under /app");
                assert!(root().join(in_repo).exists(), "{in_repo} exists");
                assert!(
                    dockerfile.contains("COPY schema /app/schema"),
                    "the image carries schema/"
                );
                for (key, url) in service
                    .environment
                    .iter()
                    .filter(|(k, _)| k.starts_with("SWITCHYARD_SUBGRAPH_URLS__"))
                {
                    let subgraph = key
                        .trim_start_matches("SWITCHYARD_SUBGRAPH_URLS__")
                        .to_ascii_lowercase();
                    assert!(
                        supergraph.contains(&format!("name: \"{subgraph}\"")),
                        "{subgraph} is a subgraph of the supergraph"
                    );
                    let host = url.trim_start_matches("http://").split(':').next().unwrap();
                    let target = file
                        .services
                        .get(host)
                        .unwrap_or_else(|| panic!("gateway points at unknown service {host}"));
                    assert_eq!(
                        port_of(url),
                        port_of(
                            &target.environment
                                [&format!("{}_LISTEN", subgraph.to_ascii_uppercase())]
                        )
                    );
                    assert!(
                        service.depends_on.contains_key(host),
                        "the gateway waits for {host}"
                    );
                }
            }
            other => panic!("{name}: unexpected role {other:?}"),
        }
    }
    // The orders events reach notifications only if both talk to the broker.
    for subgraph in ["orders", "notifications"] {
        assert!(
            file.services[subgraph]
                .environment
                .contains_key(&format!("{}_NATS_URL", subgraph.to_ascii_uppercase())),
            "{subgraph} is configured with the nats service"
        );
    }
    subgraphs_seen.sort();
    assert_eq!(
        subgraphs_seen,
        ["notifications", "orders", "users"],
        "every subgraph has a service"
    );
}

/// A process of the binary, killed when dropped (also when a test fails).
struct Process {
    name: String,
    child: Child,
    address: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `switchyard <args>` with exactly `env` and waits for its
/// "listening on http://ADDR/graphql" log line.
fn binary() -> PathBuf {
    std::env::var_os("SWITCHYARD_BIN")
        .map(|p| root().join(p))
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_switchyard")))
}

fn spawn(name: &str, args: &[String], env: &BTreeMap<String, String>) -> Process {
    let mut child = Command::new(binary())
        .args(args)
        .env_clear()
        .envs(env)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    for stream in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let address = rest.split('/').next().unwrap().to_owned();
            std::thread::spawn(move || while rx.recv().is_ok() {});
            return Process {
                name: name.to_owned(),
                child,
                address,
            };
        }
        seen.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "{name} did not start listening; its output:\n{}",
        seen.join("\n")
    );
}

fn health(url: &str) -> bool {
    Command::new(binary())
        .args(["health", url])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

async fn post(client: &reqwest::Client, url: &str, query: &str, variables: Value) -> Value {
    client
        .post(url)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_compose_topology_runs_as_processes_on_postgres() {
    let Some(admin) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
    else {
        eprintln!("skipped: set TEST_DATABASE_URL=postgres://... to run the compose topology");
        return;
    };
    kit::install_crypto_provider();
    let file = compose();
    // The events go through the machine's NATS on a stream of this run's own.
    let nats = std::env::var("TEST_NATS_URL").ok();
    let run = format!("compose{}", std::process::id());
    let mut databases = Vec::new();
    let mut processes: BTreeMap<String, Process> = BTreeMap::new();
    for (name, service) in &file.services {
        let Some(("subgraph", Some(subgraph))) = role(service) else {
            continue;
        };
        let prefix = subgraph.to_ascii_uppercase();
        let fresh = FreshPostgres::create(&admin).await;
        let mut env = service.environment.clone();
        env.insert(format!("{prefix}_LISTEN"), "127.0.0.1:0".into());
        env.insert(format!("{prefix}_DATABASE_URL"), fresh.url.clone());
        env.insert("RUST_LOG".into(), "info".into());
        match &nats {
            Some(url) if env.contains_key(&format!("{prefix}_NATS_URL")) => {
                env.insert(format!("{prefix}_NATS_URL"), url.clone());
                env.insert(format!("{prefix}_EVENTS_STREAM"), run.to_ascii_uppercase());
                env.insert(format!("{prefix}_EVENTS_SUBJECT"), format!("{run}.orders"));
                env.insert(format!("{prefix}_EVENTS_CONSUMER"), run.clone());
            }
            _ => {
                env.remove(&format!("{prefix}_NATS_URL"));
            }
        }
        databases.push(fresh);
        processes.insert(name.clone(), spawn(name, &service.command, &env));
    }
    let (gateway_name, gateway_service) = file
        .services
        .iter()
        .find(|(_, s)| matches!(role(s), Some(("gateway", _))))
        .expect("a gateway service");
    let mut env = gateway_service.environment.clone();
    env.insert("SWITCHYARD_LISTEN".into(), "127.0.0.1:0".into());
    for (key, url) in env
        .iter_mut()
        .filter(|(k, _)| k.starts_with("SWITCHYARD_SUBGRAPH_URLS__"))
    {
        let host = url
            .trim_start_matches("http://")
            .split(':')
            .next()
            .unwrap()
            .to_owned();
        *url = format!("http://{}/graphql", processes[&host].address);
        let _ = key;
    }
    let args: Vec<String> = gateway_service
        .command
        .iter()
        .map(|a| a.replace("/app/", &format!("{}/", root().display())))
        .collect();
    let gateway = spawn(gateway_name, &args, &env);

    // Every service's own healthcheck passes.
    for (name, service) in file.services.iter().filter(|(_, s)| role(s).is_some()) {
        let url = &service.healthcheck.as_ref().unwrap().test[3];
        let address = if name == gateway_name {
            &gateway.address
        } else {
            &processes[name].address
        };
        let path = &url[url.find("/health").or_else(|| url.find("/ready")).unwrap()..];
        assert!(
            health(&format!("http://{address}{path}")),
            "{name} healthcheck {path}"
        );
    }

    // The compose file's services share the development key: act as an admin.
    let client = kit::testing::admin_client();
    let url = format!("http://{}/graphql", gateway.address);
    let span = post(
        &client,
        &url,
        "{ users(first: 3) { edges { node { id name orders { edges { node { id items { sku } notifications { title } } } } unreadNotificationCount } } } }",
        json!({}),
    )
    .await;
    assert!(span.get("errors").is_none(), "{span:#}");
    let first = &span["data"]["users"]["edges"][0]["node"];
    assert_eq!(
        first["name"],
        kit::demo::users()[0].name,
        "seeded because the compose file asks for it"
    );
    assert!(!first["orders"]["edges"].as_array().unwrap().is_empty());
    assert!(
        first["orders"]["edges"][0]["node"]["notifications"]
            .as_array()
            .is_some()
    );

    let placed = post(
        &client,
        &url,
        r#"mutation { placeOrder(input: { userId: "3", items: [{ sku: "X", name: "x", quantity: 3, unitPriceCents: 100 }] }) { id totalCents user { name } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        placed["data"]["placeOrder"]["totalCents"], 300,
        "{placed:#}"
    );
    let id = placed["data"]["placeOrder"]["id"].clone();
    let placed_title = format!("Order {} placed", id.as_str().unwrap());
    let mut titles = vec![];
    if nats.is_some() {
        // The OrderPlaced event became a notification through JetStream.
        titles.push(json!({ "title": placed_title }));
        let query = "query($id: ID!) { order(id: $id) { notifications { title } } }";
        for _ in 0..300 {
            let seen = post(&client, &url, query, json!({ "id": id })).await;
            if seen["data"]["order"]["notifications"] == json!(titles) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    titles.push(json!({ "title": "Placed" }));
    post(&client, &url, "mutation($u: ID!, $o: ID!) { sendNotification(input: { userId: $u, orderId: $o, channel: SMS, title: \"Placed\", body: \"ok\" }) { id } }", json!({ "u": "3", "o": id })).await;
    let read = post(
        &client,
        &url,
        "query($id: ID!) { order(id: $id) { totalCents notifications { title } user { name } } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        read["data"]["order"],
        json!({ "totalCents": 300, "notifications": titles, "user": { "name": kit::demo::users()[2].name } })
    );

    drop(gateway);
    drop(processes);
    for db in databases {
        db.drop().await;
    }
    if let Some(url) = nats {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        let _ = js.delete_stream(run.to_ascii_uppercase()).await;
    }
}

#[tokio::test]
async fn two_replicas_of_a_subgraph_start_at_once_on_one_fresh_database() {
    let Some(admin) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
    else {
        eprintln!("skipped: set TEST_DATABASE_URL=postgres://... to run the replica test");
        return;
    };
    kit::install_crypto_provider();
    let file = compose();
    let service = &file.services["users"];
    let fresh = FreshPostgres::create(&admin).await;
    let mut env = service.environment.clone();
    env.insert("USERS_LISTEN".into(), "127.0.0.1:0".into());
    env.insert("USERS_DATABASE_URL".into(), fresh.url.clone());
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn("users-a", &service.command, &env));
        let b = s.spawn(|| spawn("users-b", &service.command, &env));
        (a.join().unwrap(), b.join().unwrap())
    });
    let client = reqwest::Client::new();
    for replica in [&a, &b] {
        let count = post(
            &client,
            &format!("http://{}/graphql", replica.address),
            "{ users(first: 100) { edges { cursor } } }",
            json!({}),
        )
        .await;
        assert_eq!(
            count["data"]["users"]["edges"].as_array().unwrap().len(),
            kit::demo::USER_COUNT as usize,
            "{} sees one seeding",
            replica.name
        );
    }
    drop((a, b));
    fresh.drop().await;
}
