//! The transactional outbox: every change to an order writes its event here in
//! the same transaction; the relay publishes the rows where `sent_at` is null.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrderEvents {
    Table,
    Id,
    EventId,
    Kind,
    OrderId,
    UserId,
    Status,
    ItemCount,
    TotalCents,
    Currency,
    OccurredAt,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrderEvents::Table)
                    .if_not_exists()
                    // The publishing order.
                    .col(pk_auto(OrderEvents::Id))
                    .col(string_len_uniq(OrderEvents::EventId, 64))
                    .col(string_len(OrderEvents::Kind, 32))
                    .col(integer(OrderEvents::OrderId))
                    .col(integer(OrderEvents::UserId))
                    .col(string_len(OrderEvents::Status, 16))
                    .col(integer(OrderEvents::ItemCount))
                    .col(big_integer(OrderEvents::TotalCents))
                    .col(string_len(OrderEvents::Currency, 3))
                    .col(timestamp_with_time_zone(OrderEvents::OccurredAt))
                    .col(timestamp_with_time_zone_null(OrderEvents::SentAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_events_sent_at")
                    .table(OrderEvents::Table)
                    .col(OrderEvents::SentAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrderEvents::Table).to_owned())
            .await
    }
}
