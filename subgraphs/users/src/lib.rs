//! The users subgraph: owns `User` and its database.

pub mod entity;
pub mod graphql;
pub mod migration;
pub mod repo;

use async_graphql::EmptySubscription;
use kit::server::{Subgraph, SubgraphContext};
use sea_orm::{DatabaseTransaction, DbErr};

pub use graphql::build_schema;

pub struct Users;

impl Subgraph for Users {
    const NAME: &'static str = "users";
    const DEFAULT_PORT: u16 = 4001;
    type Migrator = migration::Migrator;
    type Query = graphql::Query;
    type Mutation = graphql::Mutation;
    type Subscription = EmptySubscription;

    fn schema(
        ctx: &SubgraphContext,
    ) -> async_graphql::Schema<Self::Query, Self::Mutation, EmptySubscription> {
        build_schema(ctx)
    }

    async fn seed(txn: &DatabaseTransaction) -> Result<(), DbErr> {
        repo::seed(txn).await
    }

    async fn is_empty(txn: &DatabaseTransaction) -> Result<bool, DbErr> {
        Ok(repo::count(txn).await? == 0)
    }
}
