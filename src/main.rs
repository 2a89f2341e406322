//! `switchyard`: one binary for every role. With no arguments it runs the whole
//! federation in one process for development (dev mode).

use std::{future::Future, net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use gateway::GatewayConfig;
use gateway::composition::{Location, SubgraphSource};
use kit::{
    SubgraphConfig,
    events::LocalBus,
    server::{self, Subgraph},
};
use notifications::Notifications;
use orders::Orders;
use tokio::sync::watch;
use users::Users;

/// Every role spends a large share of its time allocating small JSON nodes
/// and strings; mimalloc takes about half of glibc malloc's time for that
/// (`bench/RESULTS.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "GraphQL federation: gateway and subgraphs"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Every subgraph in one process, each on its own port and database (the default).
    Dev,
    /// One subgraph service, configured by its `<NAME>_*` environment variables.
    Subgraph {
        #[arg(value_enum)]
        name: SubgraphName,
    },
    /// The federation gateway over a supergraph SDL file, or composed from subgraphs.
    Gateway(GatewayArgs),
    /// Composes subgraph SDLs into a supergraph and prints it (or writes `--output`).
    Compose {
        /// `name=URL` (asked `{ _service { sdl } }`), `name=FILE` or `name=FILE@URL`; repeat per subgraph.
        #[arg(long = "subgraph", required_unless_present = "config")]
        subgraphs: Vec<SubgraphSource>,
        /// TOML file listing the subgraphs (`[subgraphs.NAME] routing_url, schema`), e.g. `schema/supergraph.toml`.
        #[arg(long, conflicts_with = "subgraphs")]
        config: Option<PathBuf>,
        /// Write the supergraph here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Prints the query plan of an operation.
    Plan {
        /// Supergraph SDL file.
        #[arg(long)]
        supergraph: PathBuf,
        /// Which operation of the document, when it has several.
        #[arg(long)]
        operation_name: Option<String>,
        /// File holding the operation document.
        operation: PathBuf,
    },
    /// Exits 0 when `url` answers 2xx within two seconds (for container healthchecks).
    Health { url: String },
    /// Prints a JWT signed with the development key (NOT for production), for
    /// `Authorization: Bearer <token>` against dev mode.
    Token {
        /// The user id (`sub` claim).
        #[arg(long)]
        sub: String,
        /// A scope to grant (`--scope admin`); repeat for more.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl_secs: u64,
    },
}

#[derive(clap::Args)]
struct GatewayArgs {
    /// TOML configuration file; `SWITCHYARD_*` variables override it, flags override both.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Supergraph SDL file (watched and reloaded on change).
    #[arg(long)]
    supergraph: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Compose the supergraph from these subgraphs (`name=URL`, `name=FILE[@URL]`)
    /// instead of reading `--supergraph`; repeat per subgraph.
    #[arg(long = "subgraph", conflicts_with = "supergraph")]
    subgraphs: Vec<SubgraphSource>,
    /// With `--subgraph`: how often the subgraphs are asked for their SDL again.
    #[arg(long, default_value_t = 10_000)]
    subgraph_poll_ms: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum SubgraphName {
    Users,
    Orders,
    Notifications,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    kit::telemetry::init();
    kit::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(async {
        match cli.command.unwrap_or(Command::Dev) {
            Command::Dev => dev().await,
            Command::Subgraph { name } => {
                // A production role: demo data only when `<NAME>_SEED=true`.
                let shutdown = server::shutdown_signal();
                // Alone in its process: events travel only through `<NAME>_NATS_URL`.
                let events = LocalBus::default();
                match name {
                    SubgraphName::Users => run::<Users>(false, events, shutdown).await,
                    SubgraphName::Orders => run::<Orders>(false, events, shutdown).await,
                    SubgraphName::Notifications => {
                        run::<Notifications>(false, events, shutdown).await
                    }
                }
            }
            Command::Gateway(args) => {
                let mut config = GatewayConfig::load(args.config.as_deref())?;
                if let Some(supergraph) = args.supergraph {
                    config.supergraph = Some(supergraph);
                }
                if let Some(listen) = args.listen {
                    config.listen = listen;
                }
                if !args.subgraphs.is_empty() {
                    return gateway::composition::run(
                        config,
                        args.subgraphs,
                        std::time::Duration::from_millis(args.subgraph_poll_ms),
                        server::shutdown_signal(),
                    )
                    .await
                    .context("gateway");
                }
                gateway::run(config, server::shutdown_signal())
                    .await
                    .context("gateway")
            }
            Command::Compose {
                subgraphs,
                config,
                output,
            } => {
                let subgraphs = match config {
                    Some(path) => gateway::composition::sources_from_config(&path)?,
                    None => subgraphs,
                };
                compose(&subgraphs, output.as_deref()).await
            }
            Command::Plan {
                supergraph,
                operation_name,
                operation,
            } => plan(&supergraph, &operation, operation_name.as_deref()),
            Command::Health { url } => health(&url).await,
            Command::Token {
                sub,
                scopes,
                ttl_secs,
            } => {
                let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
                println!(
                    "{}",
                    auth::dev::mint(auth::dev::DEV_HS256_SECRET, &sub, &scopes, ttl_secs)
                );
                Ok(())
            }
        }
    })
}

/// `seed` is the default of `<NAME>_SEED`; `events` links the subgraphs of this
/// process when no NATS server is configured.
async fn run<S: Subgraph>(
    seed: bool,
    events: LocalBus,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut config = SubgraphConfig::load(S::NAME, S::DEFAULT_PORT, seed)
        .with_context(|| format!("{} configuration", S::NAME))?;
    config.local_events = events;
    server::run::<S>(config, shutdown)
        .await
        .with_context(|| format!("{} subgraph", S::NAME))
}

fn plan(
    supergraph: &std::path::Path,
    operation: &std::path::Path,
    operation_name: Option<&str>,
) -> anyhow::Result<()> {
    let sdl = std::fs::read_to_string(supergraph)
        .with_context(|| format!("reading {}", supergraph.display()))?;
    let document = std::fs::read_to_string(operation)
        .with_context(|| format!("reading {}", operation.display()))?;
    let supergraph = std::sync::Arc::new(gateway::supergraph::Supergraph::parse(&sdl)?);
    let planner = gateway::planner::Planner::new(supergraph)?;
    let plan = planner.plan_source(&document, operation_name, &Default::default())?;
    println!("{plan}");
    Ok(())
}

async fn compose(
    subgraphs: &[SubgraphSource],
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let client = gateway::composition::sdl_client()?;
    let sdl = gateway::composition::compose_sources(&client, subgraphs).await?;
    match output {
        Some(path) => {
            std::fs::write(path, &sdl).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{sdl}"),
    }
    Ok(())
}

async fn health(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()?;
    let status = client.get(url).send().await?.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    Ok(())
}

/// The gateway of dev mode: composed from the three subgraphs as this process
/// runs them (their `_service { sdl }`), recomposed when one changes.
fn dev_gateway() -> anyhow::Result<(GatewayConfig, Vec<SubgraphSource>)> {
    let mut config = GatewayConfig::load(None)?;
    // Dev mode verifies tokens of the development key unless keys are configured.
    config.jwt = config.jwt.or_development();
    let mut sources = Vec::new();
    for (name, port) in [
        (Users::NAME, Users::DEFAULT_PORT),
        (Orders::NAME, Orders::DEFAULT_PORT),
        (Notifications::NAME, Notifications::DEFAULT_PORT),
    ] {
        let listen = SubgraphConfig::load(name, port, true)?.listen;
        sources.push(SubgraphSource {
            name: name.to_owned(),
            location: Location::Url(format!("http://{listen}/graphql")),
        });
    }
    Ok((config, sources))
}

/// How often dev mode asks the subgraphs for their SDL again.
const DEV_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs every subgraph and the gateway until Ctrl-C/SIGTERM; if one fails, the others stop too.
async fn dev() -> anyhow::Result<()> {
    let (gateway_config, sources) = dev_gateway()?;
    if gateway_config.jwt.hs256_secret.as_deref() == Some(auth::dev::DEV_HS256_SECRET) {
        eprintln!(
            "dev mode: tokens are signed with the DEVELOPMENT key (not for production).\n  \
             get one:  cargo run -- token --sub 7              (user 7)\n  \
             or:       cargo run -- token --sub 0 --scope admin (an admin)\n  \
             send it:  Authorization: Bearer <token>  (GraphiQL: the Headers tab, as JSON)"
        );
    }
    let (stop, stopped) = watch::channel(false);
    let signal = {
        let stop = stop.clone();
        tokio::spawn(async move {
            server::shutdown_signal().await;
            let _ = stop.send(true);
        })
    };
    let until = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let stop_on_error = |result: anyhow::Result<()>| {
        if result.is_err() {
            let _ = stop.send(true);
        }
        result
    };
    // Orders events reach notifications in process unless NATS is configured.
    let events = LocalBus::default();
    let (u, o, n, g) = tokio::join!(
        async {
            stop_on_error(run::<Users>(true, LocalBus::default(), until(stopped.clone())).await)
        },
        async { stop_on_error(run::<Orders>(true, events.clone(), until(stopped.clone())).await) },
        async {
            stop_on_error(run::<Notifications>(true, events.clone(), until(stopped.clone())).await)
        },
        async {
            stop_on_error(
                gateway::composition::run(
                    gateway_config,
                    sources,
                    DEV_POLL,
                    until(stopped.clone()),
                )
                .await
                .context("gateway"),
            )
        },
    );
    signal.abort();
    u.and(o).and(n).and(g)
}
