//! `cargo run -p orders`: the orders subgraph alone, on its default port, with demo
//! data unless `ORDERS_SEED=false`.

fn main() -> std::process::ExitCode {
    kit::server::main::<orders::Orders>()
}
