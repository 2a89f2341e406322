//! `switchyard compose`: the subcommand prints what the library composes, and
//! fails with the composer's message on a set that does not compose.

use std::process::Command;

fn switchyard() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

#[test]
fn prints_the_supergraph_of_subgraph_files() {
    let subgraphs = [("users", 4001), ("orders", 4002), ("notifications", 4003)];
    let mut command = switchyard();
    command.arg("compose");
    for (name, port) in subgraphs {
        command.arg("--subgraph").arg(format!(
            "{name}=schema/{name}.graphql@http://127.0.0.1:{port}/graphql"
        ));
    }
    let output = command.output().expect("switchyard runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).expect("utf-8");

    let inputs: Vec<_> = subgraphs
        .iter()
        .map(|(name, port)| gateway::supergraph::compose::SubgraphInput {
            name: (*name).to_owned(),
            url: format!("http://127.0.0.1:{port}/graphql"),
            sdl: std::fs::read_to_string(format!("schema/{name}.graphql")).expect("SDL"),
        })
        .collect();
    let expected = gateway::supergraph::compose::compose(&inputs).expect("composes");
    assert_eq!(printed, expected);
    gateway::supergraph::Supergraph::parse(&printed).expect("the gateway loads it");
}

#[test]
fn fails_with_the_composition_error() {
    let dir = "gateway/tests/compose/fail_non_shareable";
    let output = switchyard()
        .args(["compose", "--subgraph"])
        .arg(format!("a={dir}/a.graphql"))
        .arg("--subgraph")
        .arg(format!("b={dir}/b.graphql"))
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("switchyard runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Product.name") && stderr.contains("@shareable"),
        "{stderr}"
    );
}
