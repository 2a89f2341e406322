//! Process-wide structured logging: `RUST_LOG` filters, `LOG_FORMAT=json` for
//! machine-readable lines.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the subscriber once; later calls (tests, several roles in one process) are no-ops.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = fmt().with_env_filter(filter);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
