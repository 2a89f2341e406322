//! The users subgraph's GraphQL schema: `User` entity, queries and mutations.

use async_graphql::{
    Context, EmptySubscription, ErrorExtensions, ID, InputObject, Object, ResultExt, Schema,
    SimpleObject, dataloader::DataLoader,
};
use chrono::{DateTime, Utc};
use kit::{
    EntityCache,
    auth::{self, authenticated},
    error::GqlResult,
    loader::EntityLoader,
    pagination::{self, PageArgs, PageInfo, parse_id},
    server::SubgraphContext,
};
use sea_orm::DatabaseConnection;

use crate::{entity::user, repo};

pub type UsersSchema = Schema<Query, Mutation, EmptySubscription>;
pub type UserLoader = DataLoader<EntityLoader<user::Entity>>;
pub type UserCache = EntityCache<i32, user::Model>;

pub fn build_schema(ctx: &SubgraphContext) -> UsersSchema {
    let cache = UserCache::new(ctx.config.cache_capacity, ctx.config.cache_ttl());
    let loader = EntityLoader::<user::Entity>::new(
        ctx.db.clone(),
        cache.clone(),
        ctx.metrics.loader("User"),
        user::Column::Id,
        |m| m.id,
    );
    Schema::build(Query, Mutation, EmptySubscription)
        .enable_federation()
        .data(ctx.db.clone())
        .data(cache)
        .data(kit::loader::batched(loader, ctx.config.dataloader_delay()))
        .finish()
}

pub struct User(user::Model);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Only for the user themselves (token `sub`) or an admin.
    #[graphql(directive = authenticated::apply())]
    async fn email(&self, ctx: &Context<'_>) -> GqlResult<&str> {
        auth::require_self_or_admin(ctx, self.0.id).extend()?;
        Ok(&self.0.email)
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(SimpleObject)]
pub struct UserEdge {
    cursor: String,
    node: User,
}

#[derive(SimpleObject)]
pub struct UserConnection {
    edges: Vec<UserEdge>,
    page_info: PageInfo,
}

#[derive(InputObject)]
pub struct CreateUserInput {
    email: String,
    name: String,
}

#[derive(InputObject)]
pub struct UpdateUserInput {
    email: Option<String>,
    name: Option<String>,
}

pub struct Query;

#[Object]
impl Query {
    /// A user by id; null when there is none.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<User>> {
        let id = parse_id(&id, "user").extend()?;
        load(ctx, id).await
    }

    /// A user by email (case-insensitive); null when there is none. Only
    /// your own, unless you are an admin: it would tell whose an email is.
    #[graphql(directive = authenticated::apply())]
    async fn user_by_email(&self, ctx: &Context<'_>, email: String) -> GqlResult<Option<User>> {
        auth::require_caller(ctx).extend()?;
        let found = repo::by_email(db(ctx), &email).await.extend()?;
        if let Some(user) = &found {
            auth::require_self_or_admin(ctx, user.id).extend()?;
        }
        Ok(found.map(User))
    }

    /// Users ordered by id: `first` defaults to 20, at most 100.
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<UserConnection> {
        let args = PageArgs::parse(first, after.as_deref()).extend()?;
        let rows = repo::page(db(ctx), args).await.extend()?;
        let (edges, page_info) = pagination::page(
            rows,
            args.limit,
            |r| r.id,
            |cursor, r| UserEdge {
                cursor,
                node: User(r),
            },
        );
        Ok(UserConnection { edges, page_info })
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<User>> {
        match parse_id(&id, "user") {
            Ok(id) => load(ctx, id).await,
            Err(_) => Ok(None),
        }
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Admins only.
    #[graphql(requires_scopes = "admin")]
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> GqlResult<User> {
        auth::require_admin(ctx).extend()?;
        Ok(User(
            repo::create(db(ctx), &input.email, &input.name)
                .await
                .extend()?,
        ))
    }

    /// The user themselves or an admin.
    #[graphql(directive = authenticated::apply())]
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateUserInput,
    ) -> GqlResult<User> {
        let id = parse_id(&id, "user").extend()?;
        auth::require_self_or_admin(ctx, id).extend()?;
        let updated = repo::update(db(ctx), id, input.email.as_deref(), input.name.as_deref())
            .await
            .extend()?;
        ctx.data_unchecked::<UserCache>().invalidate(&id).await;
        Ok(User(updated))
    }

    /// Deletes a user and returns it as it was: the user themselves or an admin.
    #[graphql(directive = authenticated::apply())]
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> GqlResult<User> {
        let id = parse_id(&id, "user").extend()?;
        auth::require_self_or_admin(ctx, id).extend()?;
        let deleted = repo::delete(db(ctx), id).await.extend()?;
        ctx.data_unchecked::<UserCache>().invalidate(&id).await;
        Ok(User(deleted))
    }
}

async fn load(ctx: &Context<'_>, id: i32) -> GqlResult<Option<User>> {
    let loaded = ctx
        .data_unchecked::<UserLoader>()
        .load_one(id)
        .await
        .map_err(|e| e.extend())?;
    Ok(loaded.map(User))
}

fn db<'a>(ctx: &Context<'a>) -> &'a DatabaseConnection {
    ctx.data_unchecked::<DatabaseConnection>()
}
