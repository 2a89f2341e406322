//! `event_id`: the domain event a notification was made from, unique, so that a
//! redelivered event inserts nothing. Null for notifications sent directly.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notifications {
    Table,
    EventId,
}

const EVENT_ID_INDEX: &str = "idx_notifications_event_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !manager.has_column("notifications", "event_id").await? {
            // SQLite cannot add a UNIQUE column: the uniqueness is the index's.
            manager
                .alter_table(
                    Table::alter()
                        .table(Notifications::Table)
                        .add_column(ColumnDef::new(Notifications::EventId).string_len(64).null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .unique()
                    .name(EVENT_ID_INDEX)
                    .table(Notifications::Table)
                    .col(Notifications::EventId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(EVENT_ID_INDEX)
                    .table(Notifications::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Notifications::Table)
                    .drop_column(Notifications::EventId)
                    .to_owned(),
            )
            .await
    }
}
