//! The orders subgraph's GraphQL schema: the `Order` entity, what orders adds to
//! `User`, queries and mutations.

use std::collections::HashMap;

use async_graphql::{
    ComplexObject, Context, EmptySubscription, ErrorExtensions, ID, InputObject, Object, ResultExt, Schema,
    SimpleObject,
    dataloader::{DataLoader, Loader},
};
use chrono::{DateTime, Utc};
use kit::{
    EntityCache,
    error::{GqlResult, LoadError},
    loader::EntityLoader,
    metrics::LoaderMetrics,
    pagination::{self, PageArgs, PageInfo, parse_id},
    server::SubgraphContext,
};
use sea_orm::DatabaseConnection;

use crate::{
    entity::{order, order_item},
    repo::{self, NewItem},
    status::OrderStatus,
};

pub type OrdersSchema = Schema<Query, Mutation, EmptySubscription>;
type OrderLoader = DataLoader<EntityLoader<order::Entity>>;
type OrderCache = EntityCache<i32, order::Model>;

pub fn build_schema(ctx: &SubgraphContext) -> OrdersSchema {
    let cache = OrderCache::new(ctx.config.cache_capacity, ctx.config.cache_ttl());
    let delay = ctx.config.dataloader_delay();
    let orders = EntityLoader::<order::Entity>::new(ctx.db.clone(), cache.clone(), ctx.metrics.loader("Order"), order::Column::Id, |m| m.id);
    let related = RelatedLoader { db: ctx.db.clone(), items: ctx.metrics.loader("OrderItem"), by_user: ctx.metrics.loader("UserOrders") };
    Schema::build(Query, Mutation, EmptySubscription)
        .enable_federation()
        .data(ctx.db.clone())
        .data(cache)
        .data(kit::loader::batched(orders, delay))
        .data(kit::loader::batched(related, delay))
        .finish()
}

#[derive(SimpleObject)]
pub struct OrderItem {
    sku: String,
    name: String,
    quantity: i32,
    unit_price_cents: i32,
}

impl From<order_item::Model> for OrderItem {
    fn from(m: order_item::Model) -> Self {
        Self { sku: m.sku, name: m.name, quantity: m.quantity, unit_price_cents: m.unit_price_cents as i32 }
    }
}

pub struct Order(order::Model);

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn user(&self) -> User {
        User { id: ID(self.0.user_id.to_string()) }
    }

    async fn items(&self, ctx: &Context<'_>) -> GqlResult<Vec<OrderItem>> {
        let items = related(ctx).load_one(ItemsOf(self.0.id)).await.map_err(|e| e.extend())?;
        Ok(items.unwrap_or_default().into_iter().map(OrderItem::from).collect())
    }

    async fn total_cents(&self) -> i32 {
        self.0.total_cents as i32
    }

    async fn currency(&self) -> &str {
        &self.0.currency
    }

    async fn status(&self) -> OrderStatus {
        OrderStatus::parse(&self.0.status).unwrap_or(OrderStatus::Pending)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// `User` is owned by the users subgraph; orders knows it by id only.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct User {
    id: ID,
}

#[ComplexObject]
impl User {
    /// The user's orders, oldest first: `first` defaults to 20, at most 100.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<OrderStatus>,
    ) -> GqlResult<OrderConnection> {
        let args = PageArgs::parse(first, after.as_deref()).extend()?;
        let Ok(user) = parse_id(&self.id, "user") else { return Ok(OrderConnection::from_rows(vec![], args)) };
        let rows = related(ctx).load_one(OrdersOf { user, args, status }).await.map_err(|e| e.extend())?;
        Ok(OrderConnection::from_rows(rows.unwrap_or_default(), args))
    }

    async fn order_count(&self, ctx: &Context<'_>) -> GqlResult<i32> {
        let Ok(user) = parse_id(&self.id, "user") else { return Ok(0) };
        let count = related(ctx).load_one(OrderCountOf(user)).await.map_err(|e| e.extend())?;
        Ok(count.unwrap_or(0) as i32)
    }
}

#[derive(SimpleObject)]
pub struct OrderEdge {
    cursor: String,
    node: Order,
}

#[derive(SimpleObject)]
pub struct OrderConnection {
    edges: Vec<OrderEdge>,
    page_info: PageInfo,
}

impl OrderConnection {
    fn from_rows(rows: Vec<order::Model>, args: PageArgs) -> Self {
        let (edges, page_info) = pagination::page(rows, args.limit, |r| r.id, |cursor, r| OrderEdge { cursor, node: Order(r) });
        Self { edges, page_info }
    }
}

#[derive(InputObject)]
pub struct OrderItemInput {
    sku: String,
    name: String,
    quantity: i32,
    unit_price_cents: i32,
}

#[derive(InputObject)]
pub struct PlaceOrderInput {
    user_id: ID,
    #[graphql(default = "EUR")]
    currency: String,
    items: Vec<OrderItemInput>,
}

pub struct Query;

#[Object]
impl Query {
    /// An order by id; null when there is none.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Order>> {
        let id = parse_id(&id, "order").extend()?;
        load(ctx, id).await
    }

    /// All orders, oldest first, optionally of one status.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<OrderStatus>,
    ) -> GqlResult<OrderConnection> {
        let args = PageArgs::parse(first, after.as_deref()).extend()?;
        let rows = repo::page(db(ctx), args, status).await.extend()?;
        Ok(OrderConnection::from_rows(rows, args))
    }

    #[graphql(entity)]
    async fn find_order_by_id(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Order>> {
        match parse_id(&id, "order") {
            Ok(id) => load(ctx, id).await,
            Err(_) => Ok(None),
        }
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> User {
        User { id }
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Places an order with its items in one transaction; the total is computed here.
    async fn place_order(&self, ctx: &Context<'_>, input: PlaceOrderInput) -> GqlResult<Order> {
        let user = parse_id(&input.user_id, "user").extend()?;
        let items = input
            .items
            .into_iter()
            .map(|i| NewItem { sku: i.sku, name: i.name, quantity: i.quantity, unit_price_cents: i.unit_price_cents })
            .collect();
        Ok(Order(repo::place(db(ctx), user, &input.currency, items).await.extend()?))
    }

    /// Cancels a PENDING or PAID order.
    async fn cancel_order(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Order> {
        transition(ctx, &id, OrderStatus::Cancelled).await
    }

    /// Moves an order forward (PENDING → PAID → SHIPPED → DELIVERED); use
    /// `cancelOrder` to cancel.
    async fn update_order_status(&self, ctx: &Context<'_>, id: ID, status: OrderStatus) -> GqlResult<Order> {
        if status == OrderStatus::Cancelled {
            return Err(kit::ApiError::BadUserInput("use cancelOrder to cancel an order".into()).extend());
        }
        transition(ctx, &id, status).await
    }
}

async fn transition(ctx: &Context<'_>, id: &ID, to: OrderStatus) -> GqlResult<Order> {
    let id = parse_id(id, "order").extend()?;
    let result = repo::transition(db(ctx), id, to).await;
    ctx.data_unchecked::<OrderCache>().invalidate(&id).await;
    Ok(Order(result.extend()?))
}

async fn load(ctx: &Context<'_>, id: i32) -> GqlResult<Option<Order>> {
    let loaded = ctx.data_unchecked::<OrderLoader>().load_one(id).await.map_err(|e| e.extend())?;
    Ok(loaded.map(Order))
}

fn db<'a>(ctx: &Context<'a>) -> &'a DatabaseConnection {
    ctx.data_unchecked::<DatabaseConnection>()
}

fn related<'a>(ctx: &Context<'a>) -> &'a DataLoader<RelatedLoader> {
    ctx.data_unchecked::<DataLoader<RelatedLoader>>()
}

/// Loads what hangs off orders and users, one statement per batch.
pub struct RelatedLoader {
    db: DatabaseConnection,
    items: LoaderMetrics,
    by_user: LoaderMetrics,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ItemsOf(i32);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct OrdersOf {
    user: i32,
    args: PageArgs,
    status: Option<OrderStatus>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct OrderCountOf(i32);

impl Loader<ItemsOf> for RelatedLoader {
    type Value = Vec<order_item::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[ItemsOf]) -> Result<HashMap<ItemsOf, Self::Value>, LoadError> {
        self.items.batches.increment(1);
        let ids: Vec<i32> = keys.iter().map(|k| k.0).collect();
        let found = repo::items_by_order(&self.db, &ids).await?;
        Ok(found.into_iter().map(|(id, rows)| (ItemsOf(id), rows)).collect())
    }
}

impl Loader<OrdersOf> for RelatedLoader {
    type Value = Vec<order::Model>;
    type Error = LoadError;

    /// Keys asking for the same page shape share one statement.
    async fn load(&self, keys: &[OrdersOf]) -> Result<HashMap<OrdersOf, Self::Value>, LoadError> {
        self.by_user.batches.increment(1);
        let mut groups: HashMap<(PageArgs, Option<OrderStatus>), Vec<i32>> = HashMap::new();
        for key in keys {
            groups.entry((key.args, key.status)).or_default().push(key.user);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for ((args, status), users) in groups {
            for (user, rows) in repo::pages_by_user(&self.db, &users, args, status).await? {
                out.insert(OrdersOf { user, args, status }, rows);
            }
        }
        Ok(out)
    }
}

impl Loader<OrderCountOf> for RelatedLoader {
    type Value = i64;
    type Error = LoadError;

    async fn load(&self, keys: &[OrderCountOf]) -> Result<HashMap<OrderCountOf, i64>, LoadError> {
        self.by_user.batches.increment(1);
        let ids: Vec<i32> = keys.iter().map(|k| k.0).collect();
        let counts = repo::counts_by_user(&self.db, &ids).await?;
        Ok(counts.into_iter().map(|(id, n)| (OrderCountOf(id), n)).collect())
    }
}
