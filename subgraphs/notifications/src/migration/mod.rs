//! Schema migrations of the notifications database, portable across SQLite and PostgreSQL.
use sea_orm_migration::prelude::*;

mod m20261122_000001_create_notifications_table;
mod m20261203_000001_add_notification_event_id;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_notifications_table::Migration),
            Box::new(m20261203_000001_add_notification_event_id::Migration),
        ]
    }
}
