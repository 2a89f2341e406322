use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    OrderId,
    Channel,
    Title,
    Body,
    Read,
    CreatedAt,
}

const USER_ID_INDEX: &str = "idx_notifications_user_id";
const ORDER_ID_INDEX: &str = "idx_notifications_order_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .if_not_exists()
                    .col(pk_auto(Notifications::Id))
                    .col(integer(Notifications::UserId))
                    .col(integer_null(Notifications::OrderId))
                    .col(string_len(Notifications::Channel, 16))
                    .col(string(Notifications::Title))
                    .col(text(Notifications::Body))
                    .col(boolean(Notifications::Read).default(false))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // `User.notifications`, the unread count and `Order.notifications` all
        // select by one of these columns.
        for (name, column) in [
            (USER_ID_INDEX, Notifications::UserId),
            (ORDER_ID_INDEX, Notifications::OrderId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(name)
                        .table(Notifications::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Notifications::Table).to_owned())
            .await
    }
}
