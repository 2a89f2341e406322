//! `switchyard`: one binary for every role. With no arguments it runs the whole
//! federation in one process for development (dev mode).

use std::future::Future;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use kit::{
    SubgraphConfig,
    server::{self, Subgraph},
};
use notifications::Notifications;
use orders::Orders;
use tokio::sync::watch;
use users::Users;

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
                let shutdown = server::shutdown_signal();
                match name {
                    SubgraphName::Users => run::<Users>(shutdown).await,
                    SubgraphName::Orders => run::<Orders>(shutdown).await,
                    SubgraphName::Notifications => run::<Notifications>(shutdown).await,
                }
            }
        }
    })
}

async fn run<S: Subgraph>(
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = SubgraphConfig::load(S::NAME, S::DEFAULT_PORT)
        .with_context(|| format!("{} configuration", S::NAME))?;
    server::run::<S>(config, shutdown)
        .await
        .with_context(|| format!("{} subgraph", S::NAME))
}

/// Runs every subgraph until Ctrl-C/SIGTERM; if one fails, the others stop too.
async fn dev() -> anyhow::Result<()> {
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
    let (u, o, n) = tokio::join!(
        async { stop_on_error(run::<Users>(until(stopped.clone())).await) },
        async { stop_on_error(run::<Orders>(until(stopped.clone())).await) },
        async { stop_on_error(run::<Notifications>(until(stopped.clone())).await) },
    );
    signal.abort();
    u.and(o).and(n)
}
