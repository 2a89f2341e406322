//! Schema migrations of the orders database, portable across SQLite and PostgreSQL.
use sea_orm_migration::prelude::*;

mod m20261122_000001_create_orders_tables;
mod m20261203_000001_create_order_events_table;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_orders_tables::Migration),
            Box::new(m20261203_000001_create_order_events_table::Migration),
        ]
    }
}
