//! `cargo run -p users`: the users subgraph alone, on its default port, with demo
//! data unless `USERS_SEED=false`.

fn main() -> std::process::ExitCode {
    kit::server::main::<users::Users>()
}
