//! The orders subgraph: owns `Order` and its items, adds orders to `User`.

pub mod entity;
pub mod graphql;
pub mod migration;
pub mod outbox;
pub mod repo;
pub mod status;

use kit::server::{Subgraph, SubgraphContext};
use sea_orm::{DatabaseTransaction, DbErr};

pub use graphql::build_schema;

pub struct Orders;

impl Subgraph for Orders {
    const NAME: &'static str = "orders";
    const DEFAULT_PORT: u16 = 4002;
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
        Ok(repo::count(txn).await? == 0)
    }
}
