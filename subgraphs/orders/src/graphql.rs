//! The orders subgraph's GraphQL schema: the `Order` entity, what orders adds to
//! `User`, queries, mutations and the `orderStatusChanged` subscription.

use async_graphql::{
    Context, ErrorExtensions, ID, InputObject, Object, ResultExt, Schema, SimpleObject,
    Subscription as SubscriptionRoot, dataloader::DataLoader,
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use kit::{
    EntityCache,
    auth::{self, authenticated},
    error::GqlResult,
    events::Topic,
    live::Live,
    loader::EntityLoader,
    pagination::{self, PageArgs, PageInfo, parse_id},
    related::{CountKey, CountLoader, ListLoader, PageKey, PageLoader},
    server::SubgraphContext,
};
use sea_orm::{Condition, DatabaseConnection};

use crate::{
    entity::{order, order_item},
    outbox::{Doorbell, Relay},
    repo::{self, NewItem},
    status::OrderStatus,
};

pub type OrdersSchema = Schema<Query, Mutation, Subscription>;
/// Orders as committed by a change, for `orderStatusChanged`.
type OrderChanges = Live<order::Model>;
type OrderLoader = DataLoader<EntityLoader<order::Entity>>;
type OrderCache = EntityCache<i32, order::Model>;
/// A user's orders, filtered by status.
type OrdersOfUser = DataLoader<PageLoader<order::Entity, Option<OrderStatus>>>;
type OrderCountOfUser = DataLoader<CountLoader<order::Entity, ()>>;
type ItemsOfOrder = DataLoader<ListLoader<order_item::Entity>>;

pub fn build_schema(ctx: &SubgraphContext) -> OrdersSchema {
    let cache = OrderCache::new(ctx.config.cache_capacity, ctx.config.cache_ttl());
    let delay = ctx.config.dataloader_delay();
    let orders = EntityLoader::<order::Entity>::new(
        ctx.db.clone(),
        cache.clone(),
        ctx.metrics.loader("Order"),
        order::Column::Id,
        |m| m.id,
    );
    let db = || ctx.db.clone();
    let of_user = PageLoader::<order::Entity, Option<OrderStatus>>::new(
        db(),
        order::Column::UserId,
        order::Column::Id,
        |o| o.user_id,
        |status| repo::status_filter(*status),
        ctx.metrics.loader("User.orders"),
    );
    let count_of_user = CountLoader::<order::Entity, ()>::new(
        db(),
        order::Column::UserId,
        |_| Condition::all(),
        ctx.metrics.loader("User.orderCount"),
    );
    let items = ListLoader::<order_item::Entity>::new(
        db(),
        order_item::Column::OrderId,
        order_item::Column::Id,
        |i| i.order_id,
        ctx.metrics.loader("Order.items"),
    );
    let doorbell = Doorbell::default();
    let relay = Relay {
        db: ctx.db.clone(),
        broker: ctx.broker.clone(),
        topic: Topic::orders(&ctx.config),
        doorbell: doorbell.clone(),
        poll: ctx.config.events_poll(),
        published: ctx.metrics.counter("outbox_events_published_total", &[]),
        failures: ctx.metrics.counter("outbox_relay_failures_total", &[]),
    };
    ctx.workers.spawn(|stop| relay.run(stop));
    Schema::build(Query, Mutation, Subscription)
        .enable_federation()
        .enable_subscription_in_federation()
        .data(ctx.db.clone())
        .data(OrderChanges::new(
            &ctx.workers,
            ctx.metrics
                .gauge("live_subscriptions", &[("field", "orderStatusChanged")]),
        ))
        .data(doorbell)
        .data(cache)
        .data(kit::loader::batched(orders, delay))
        .data(kit::loader::batched(of_user, delay))
        .data(kit::loader::batched(count_of_user, delay))
        .data(kit::loader::batched(items, delay))
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
        Self {
            sku: m.sku,
            name: m.name,
            quantity: m.quantity,
            unit_price_cents: m.unit_price_cents as i32,
        }
    }
}

pub struct Order(order::Model);

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    // Nullable, as the users subgraph resolves the rest of it: an outage
    // there nulls this field, not the order (README, "Schema").
    async fn user(&self) -> Option<User> {
        Some(User { id: self.0.user_id })
    }

    async fn items(&self, ctx: &Context<'_>) -> GqlResult<Vec<OrderItem>> {
        let items = ctx
            .data_unchecked::<ItemsOfOrder>()
            .load_one(self.0.id)
            .await
            .map_err(|e| e.extend())?;
        Ok(items
            .unwrap_or_default()
            .into_iter()
            .map(OrderItem::from)
            .collect())
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

// A malformed id never gets this far: the entity resolver returns null.
pub struct User {
    id: i32,
}

/// `User` is owned by the users subgraph; orders knows it by id only.
// The fields orders adds are nullable, so that an outage of orders costs a
// client only them, not the user (README, "Schema").
#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The user's orders, oldest first: `first` defaults to 20, at most 100.
    /// Only for the user themselves or an admin.
    #[graphql(directive = authenticated::apply())]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<OrderStatus>,
    ) -> GqlResult<Option<OrderConnection>> {
        auth::require_self_or_admin(ctx, self.id).extend()?;
        let args = PageArgs::parse(first, after.as_deref()).extend()?;
        let key = PageKey {
            parent: self.id,
            filter: status,
            args,
        };
        let rows = ctx
            .data_unchecked::<OrdersOfUser>()
            .load_one(key)
            .await
            .map_err(|e| e.extend())?;
        Ok(Some(OrderConnection::from_rows(
            rows.unwrap_or_default(),
            args,
        )))
    }

    /// Only for the user themselves or an admin.
    #[graphql(directive = authenticated::apply())]
    async fn order_count(&self, ctx: &Context<'_>) -> GqlResult<Option<i32>> {
        auth::require_self_or_admin(ctx, self.id).extend()?;
        let key = CountKey {
            parent: self.id,
            filter: (),
        };
        let count = ctx
            .data_unchecked::<OrderCountOfUser>()
            .load_one(key)
            .await
            .map_err(|e| e.extend())?;
        Ok(Some(count.unwrap_or(0) as i32))
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
        let (edges, page_info) = pagination::page(
            rows,
            args.limit,
            |r| r.id,
            |cursor, r| OrderEdge {
                cursor,
                node: Order(r),
            },
        );
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
    /// An order by id; null when there is none. Only its user's or an admin's.
    #[graphql(directive = authenticated::apply())]
    async fn order(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Order>> {
        let id = parse_id(&id, "order").extend()?;
        load(ctx, id).await
    }

    /// All orders, oldest first, optionally of one status. Admins only.
    #[graphql(requires_scopes = "admin")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<OrderStatus>,
    ) -> GqlResult<OrderConnection> {
        auth::require_admin(ctx).extend()?;
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
    async fn find_user_by_id(&self, id: ID) -> Option<User> {
        parse_id(&id, "user").ok().map(|id| User { id })
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Places an order with its items in one transaction; the total is computed here.
    /// For yourself, unless you are an admin.
    #[graphql(directive = authenticated::apply())]
    async fn place_order(&self, ctx: &Context<'_>, input: PlaceOrderInput) -> GqlResult<Order> {
        let user = parse_id(&input.user_id, "user").extend()?;
        auth::require_self_or_admin(ctx, user).extend()?;
        let items = input
            .items
            .into_iter()
            .map(|i| NewItem {
                sku: i.sku,
                name: i.name,
                quantity: i.quantity,
                unit_price_cents: i.unit_price_cents,
            })
            .collect();
        let order = repo::place(db(ctx), user, &input.currency, items)
            .await
            .extend()?;
        committed(ctx, &order);
        Ok(Order(order))
    }

    /// Cancels a PENDING or PAID order: its user or an admin.
    #[graphql(directive = authenticated::apply())]
    async fn cancel_order(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Order> {
        owned(ctx, &id).await?;
        transition(ctx, &id, OrderStatus::Cancelled).await
    }

    /// Moves an order forward (PENDING → PAID → SHIPPED → DELIVERED); use
    /// `cancelOrder` to cancel. Admins only.
    #[graphql(requires_scopes = "admin")]
    async fn update_order_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: OrderStatus,
    ) -> GqlResult<Order> {
        auth::require_admin(ctx).extend()?;
        if status == OrderStatus::Cancelled {
            return Err(
                kit::ApiError::BadUserInput("use cancelOrder to cancel an order".into()).extend(),
            );
        }
        transition(ctx, &id, status).await
    }
}

async fn transition(ctx: &Context<'_>, id: &ID, to: OrderStatus) -> GqlResult<Order> {
    let id = parse_id(id, "order").extend()?;
    let result = repo::transition(db(ctx), id, to).await;
    ctx.data_unchecked::<OrderCache>().invalidate(&id).await;
    let order = result.extend()?;
    committed(ctx, &order);
    Ok(Order(order))
}

/// After a change committed: the relay publishes its event now, and live
/// subscriptions see the order as committed.
fn committed(ctx: &Context<'_>, order: &order::Model) {
    ctx.data_unchecked::<Doorbell>().ring();
    ctx.data_unchecked::<OrderChanges>().send(order.clone());
}

pub struct Subscription;

#[SubscriptionRoot]
impl Subscription {
    /// The order each time it is placed or changes status, as committed.
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = Order>> {
        let id = parse_id(&order_id, "order").extend()?;
        // Only the order's user or an admin may follow it.
        load(ctx, id).await?;
        Ok(ctx
            .data_unchecked::<OrderChanges>()
            .stream()
            .filter(move |order| std::future::ready(order.id == id))
            .map(Order))
    }
}

/// An order by id, if the caller is its user or an admin.
async fn load(ctx: &Context<'_>, id: i32) -> GqlResult<Option<Order>> {
    auth::require_caller(ctx).extend()?;
    let loaded = ctx
        .data_unchecked::<OrderLoader>()
        .load_one(id)
        .await
        .map_err(|e| e.extend())?;
    if let Some(order) = &loaded {
        auth::require_self_or_admin(ctx, order.user_id).extend()?;
    }
    Ok(loaded.map(Order))
}

/// The caller may change order `id` (a missing one is left to the change to report).
async fn owned(ctx: &Context<'_>, id: &ID) -> GqlResult<()> {
    let id = parse_id(id, "order").extend()?;
    load(ctx, id).await.map(|_| ())
}

fn db<'a>(ctx: &Context<'a>) -> &'a DatabaseConnection {
    ctx.data_unchecked::<DatabaseConnection>()
}
