//! The notifications subgraph: owns `Notification` and its database, and adds
//! notification fields to `User` (users subgraph) and `Order` (orders subgraph).

pub mod entity;
pub mod events;
pub mod graphql;
pub mod migration;
pub mod repo;

use kit::server::{Subgraph, SubgraphContext};
use sea_orm::{DatabaseTransaction, DbErr};

pub use graphql::build_schema;

pub struct Notifications;

impl Subgraph for Notifications {
    const NAME: &'static str = "notifications";
    const DEFAULT_PORT: u16 = 4003;
    type Migrator = migration::Migrator;
    type Query = graphql::Query;
    type Mutation = graphql::Mutation;
    type Subscription = graphql::Subscription;

    fn schema(
        ctx: &SubgraphContext,
    ) -> async_graphql::Schema<Self::Query, Self::Mutation, Self::Subscription> {
        build_schema(ctx)
    }

    async fn seed(txn: &DatabaseTransaction) -> Result<(), DbErr> {
        repo::seed(txn).await
    }

    async fn is_empty(txn: &DatabaseTransaction) -> Result<bool, DbErr> {
        repo::is_empty(txn).await
    }
}
