//! `cargo run -p notifications`: the notifications subgraph alone, on its default port, with demo
//! data unless `NOTIFICATIONS_SEED=false`.

fn main() -> std::process::ExitCode {
    kit::server::main::<notifications::Notifications>()
}
