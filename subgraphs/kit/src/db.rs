//! Connecting to a subgraph's own database (SQLite or PostgreSQL), counting every
//! SQL statement in the metrics, and running the subgraph's migrations.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::{config::SubgraphConfig, metrics::Metrics};

/// Opens the pool, creating the SQLite file's folder when needed, and hooks the
/// statement counter into every query the connection runs.
pub async fn connect(
    config: &SubgraphConfig,
    metrics: &Metrics,
) -> Result<DatabaseConnection, DbErr> {
    let url = config.database_url.as_str();
    if let Some(dir) = sqlite_file_dir(url) {
        std::fs::create_dir_all(&dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(config.db_max_connections)
        .min_connections(config.db_min_connections.min(config.db_max_connections))
        .acquire_timeout(Duration::from_secs(config.db_acquire_timeout_secs))
        .sqlx_logging(false)
        // Concurrent writers wait for the lock instead of failing with SQLITE_BUSY;
        // WAL lets readers proceed during a write.
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    if url.contains(":memory:") {
        // An in-memory database lives as long as its connections: keep them.
        options.idle_timeout(None).max_lifetime(None);
    }
    let mut db = Database::connect(options).await?;
    let statements = metrics.sql_statements.clone();
    let failures = metrics.sql_failures.clone();
    db.set_metric_callback(move |info| {
        statements.increment(1);
        if info.failed {
            failures.increment(1);
        }
    });
    Ok(db)
}

/// Runs pending migrations of `M`, then `then` (seeding), in one transaction that
/// holds a lock for the whole time, so that replicas starting at once against one
/// database migrate and seed it once: the others wait, then find nothing to do.
pub async fn migrate_locked<M, F>(
    db: &DatabaseConnection,
    lock_name: &str,
    then: F,
) -> Result<(), DbErr>
where
    M: MigratorTrait,
    F: AsyncFnOnce(&DatabaseTransaction) -> Result<(), DbErr>,
{
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    if sqlite {
        db.execute_unprepared("CREATE TABLE IF NOT EXISTS switchyard_migration_lock (id INTEGER)")
            .await?;
    }
    let txn = db.begin().await?;
    if sqlite {
        // BEGIN is deferred: a write as first statement takes the write lock at
        // once (waiting up to the busy timeout) instead of failing on upgrade later.
        txn.execute_unprepared("DELETE FROM switchyard_migration_lock")
            .await?;
    } else {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({})",
            lock_key(lock_name)
        ))
        .await?;
    }
    M::up(&txn, None).await?;
    then(&txn).await?;
    txn.commit().await
}

/// A stable 63-bit key per name (FNV-1a), so subgraphs sharing one server do not
/// wait for each other.
fn lock_key(name: &str) -> i64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash >> 1) as i64
}

/// True when the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

fn sqlite_file_dir(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::sqlite_file_dir;

    #[test]
    fn finds_the_folder_of_a_sqlite_file() {
        assert_eq!(
            sqlite_file_dir("sqlite://data/users.db?mode=rwc").unwrap(),
            std::path::Path::new("data")
        );
        assert_eq!(sqlite_file_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_file_dir("sqlite://users.db"), None);
        assert_eq!(sqlite_file_dir("postgres://x/y"), None);
    }
}
