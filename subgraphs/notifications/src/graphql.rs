//! The notifications subgraph's GraphQL schema: the `Notification` entity, the
//! notification fields it contributes to the `User` and `Order` entities (stubs:
//! only their ids live here), queries, mutations and the `notificationAdded`
//! subscription.

use async_graphql::{
    Context, Enum, ErrorExtensions, ID, InputObject, Object, ResultExt, Schema, SimpleObject,
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
use sea_orm::DatabaseConnection;

use crate::{
    entity::notification::{self, Channel},
    events::{Added, Consumer, Outcomes},
    repo,
};

pub type NotificationsSchema = Schema<Query, Mutation, Subscription>;
pub type NotificationLoader = DataLoader<EntityLoader<notification::Entity>>;
pub type NotificationCache = EntityCache<i32, notification::Model>;
/// Pages of `User.notifications`, keyed by user, `unreadOnly` and page arguments.
pub type UserNotificationsLoader = DataLoader<PageLoader<notification::Entity, bool>>;
/// `User.unreadNotificationCount`, keyed by user (the filter is fixed).
pub type UnreadCountLoader = DataLoader<CountLoader<notification::Entity, ()>>;
/// `Order.notifications`, keyed by order.
pub type OrderNotificationsLoader = DataLoader<ListLoader<notification::Entity>>;

pub fn build_schema(ctx: &SubgraphContext) -> NotificationsSchema {
    let cache = NotificationCache::new(ctx.config.cache_capacity, ctx.config.cache_ttl());
    let delay = ctx.config.dataloader_delay();
    let by_id = EntityLoader::<notification::Entity>::new(
        ctx.db.clone(),
        cache.clone(),
        ctx.metrics.loader("Notification"),
        notification::Column::Id,
        |m| m.id,
    );
    let of_user = PageLoader::<notification::Entity, bool>::new(
        ctx.db.clone(),
        notification::Column::UserId,
        notification::Column::Id,
        |m| m.user_id,
        repo::unread_filter,
        ctx.metrics.loader("User.notifications"),
    );
    let unread_count = CountLoader::<notification::Entity, ()>::new(
        ctx.db.clone(),
        notification::Column::UserId,
        repo::unread,
        ctx.metrics.loader("User.unreadNotificationCount"),
    );
    let of_order = ListLoader::<notification::Entity>::new(
        ctx.db.clone(),
        notification::Column::OrderId,
        notification::Column::Id,
        // Rows come from `WHERE order_id IN (...)`, so the order id is present.
        |m| m.order_id.unwrap_or_default(),
        ctx.metrics.loader("Order.notifications"),
    );
    let added = Added {
        cache: cache.clone(),
        live: Live::new(
            &ctx.workers,
            ctx.metrics
                .gauge("live_subscriptions", &[("field", "notificationAdded")]),
        ),
    };
    let outcome = |outcome| {
        ctx.metrics
            .counter("events_consumed_total", &[("outcome", outcome)])
    };
    let consumer = Consumer {
        db: ctx.db.clone(),
        broker: ctx.broker.clone(),
        topic: Topic::orders(&ctx.config),
        name: ctx.config.events_consumer.clone(),
        added: added.clone(),
        outcomes: Outcomes {
            created: outcome("created"),
            duplicate: outcome("duplicate"),
            poison: outcome("poison"),
            retried: outcome("retried"),
        },
    };
    ctx.workers.spawn(|stop| consumer.run(stop));
    Schema::build(Query, Mutation, Subscription)
        .enable_federation()
        .enable_subscription_in_federation()
        .data(ctx.db.clone())
        .data(added)
        .data(cache)
        .data(kit::loader::batched(by_id, delay))
        .data(kit::loader::batched(of_user, delay))
        .data(kit::loader::batched(unread_count, delay))
        .data(kit::loader::batched(of_order, delay))
        .finish()
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationChannel {
    Email,
    Sms,
    Push,
    InApp,
}

impl From<Channel> for NotificationChannel {
    fn from(channel: Channel) -> Self {
        match channel {
            Channel::Email => Self::Email,
            Channel::Sms => Self::Sms,
            Channel::Push => Self::Push,
            Channel::InApp => Self::InApp,
        }
    }
}

impl From<NotificationChannel> for Channel {
    fn from(channel: NotificationChannel) -> Self {
        match channel {
            NotificationChannel::Email => Self::Email,
            NotificationChannel::Sms => Self::Sms,
            NotificationChannel::Push => Self::Push,
            NotificationChannel::InApp => Self::InApp,
        }
    }
}

pub struct Notification(notification::Model);

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The recipient; the users subgraph resolves the rest of it.
    // Nullable, so that an outage of users nulls this field, not the
    // notification (README, "Schema").
    async fn user(&self) -> Option<User> {
        Some(User { id: self.0.user_id })
    }

    /// The order this is about, if any; the orders subgraph resolves the rest of it.
    async fn order(&self) -> Option<Order> {
        self.0.order_id.map(|id| Order { id })
    }

    async fn channel(&self) -> NotificationChannel {
        self.0.channel.into()
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn read(&self) -> bool {
        self.0.read
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(SimpleObject)]
pub struct NotificationEdge {
    cursor: String,
    node: Notification,
}

#[derive(SimpleObject)]
pub struct NotificationConnection {
    edges: Vec<NotificationEdge>,
    page_info: PageInfo,
}

/// A user of the users subgraph, extended with its notifications.
// What notifications adds to other subgraphs' entities is nullable, so that
// an outage here costs a client only these fields (README, "Schema").
pub struct User {
    id: i32,
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The user's notifications ordered by id: `first` defaults to 20, at most 100.
    /// Only for the user themselves or an admin.
    #[graphql(directive = authenticated::apply())]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] unread_only: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Option<NotificationConnection>> {
        auth::require_self_or_admin(ctx, self.id).extend()?;
        let args = PageArgs::parse(first, after.as_deref()).extend()?;
        let key = PageKey {
            parent: self.id,
            filter: unread_only.unwrap_or(false),
            args,
        };
        let rows = ctx
            .data_unchecked::<UserNotificationsLoader>()
            .load_one(key)
            .await
            .map_err(|e| e.extend())?
            .unwrap_or_default();
        let (edges, page_info) = pagination::page(
            rows,
            args.limit,
            |r| r.id,
            |cursor, r| NotificationEdge {
                cursor,
                node: Notification(r),
            },
        );
        Ok(Some(NotificationConnection { edges, page_info }))
    }

    /// How many of the user's notifications are not read yet (the user or an admin).
    #[graphql(directive = authenticated::apply())]
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> GqlResult<Option<i32>> {
        auth::require_self_or_admin(ctx, self.id).extend()?;
        let key = CountKey {
            parent: self.id,
            filter: (),
        };
        let count = ctx
            .data_unchecked::<UnreadCountLoader>()
            .load_one(key)
            .await
            .map_err(|e| e.extend())?
            .unwrap_or(0);
        Ok(Some(saturating_int(count)))
    }
}

/// An order of the orders subgraph, extended with its notifications.
pub struct Order {
    id: i32,
}

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// Every notification about the order, ordered by id: those of the
    /// caller (all of them for an admin).
    #[graphql(directive = authenticated::apply())]
    async fn notifications(&self, ctx: &Context<'_>) -> GqlResult<Option<Vec<Notification>>> {
        let caller = auth::require_caller(ctx).extend()?;
        let admin = auth::is_admin(ctx);
        let own = |user_id: i32| admin || caller.subject.as_deref() == Some(&*user_id.to_string());
        let rows = ctx
            .data_unchecked::<OrderNotificationsLoader>()
            .load_one(self.id)
            .await
            .map_err(|e| e.extend())?
            .unwrap_or_default();
        Ok(Some(
            rows.into_iter()
                .filter(|n| own(n.user_id))
                .map(Notification)
                .collect(),
        ))
    }
}

#[derive(InputObject)]
pub struct SendNotificationInput {
    user_id: ID,
    order_id: Option<ID>,
    channel: NotificationChannel,
    /// 1 to 200 characters after trimming.
    title: String,
    /// 1 to 5000 characters after trimming.
    body: String,
}

pub struct Query;

#[Object]
impl Query {
    /// A notification by id; null when there is none. Only its user's or an admin's.
    #[graphql(directive = authenticated::apply())]
    async fn notification(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Notification>> {
        let id = parse_id(&id, "notification").extend()?;
        load(ctx, id).await
    }

    #[graphql(entity)]
    async fn find_notification_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<Option<Notification>> {
        match parse_id(&id, "notification") {
            Ok(id) => load(ctx, id).await,
            Err(_) => Ok(None),
        }
    }

    /// Users are owned by the users subgraph: the stub needs no lookup here.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Option<User> {
        parse_id(&id, "user").ok().map(|id| User { id })
    }

    /// Orders are owned by the orders subgraph: the stub needs no lookup here.
    #[graphql(entity)]
    async fn find_order_by_id(&self, id: ID) -> Option<Order> {
        parse_id(&id, "order").ok().map(|id| Order { id })
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Admins only.
    #[graphql(requires_scopes = "admin")]
    async fn send_notification(
        &self,
        ctx: &Context<'_>,
        input: SendNotificationInput,
    ) -> GqlResult<Notification> {
        auth::require_admin(ctx).extend()?;
        let user_id = parse_id(&input.user_id, "user").extend()?;
        let order_id = input
            .order_id
            .as_ref()
            .map(|id| parse_id(id, "order"))
            .transpose()
            .extend()?;
        let new = repo::NewNotification {
            user_id,
            order_id,
            channel: input.channel.into(),
            title: &input.title,
            body: &input.body,
        };
        let sent = repo::send(db(ctx), new).await.extend()?;
        ctx.data_unchecked::<Added>().committed(&sent).await;
        Ok(Notification(sent))
    }

    /// Marks a notification read; marking it again is not an error. Only its
    /// user or an admin may.
    #[graphql(directive = authenticated::apply())]
    async fn mark_notification_read(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Notification> {
        let id = parse_id(&id, "notification").extend()?;
        auth::require_caller(ctx).extend()?;
        if let Some(existing) = ctx
            .data_unchecked::<NotificationLoader>()
            .load_one(id)
            .await
            .map_err(|e| e.extend())?
        {
            auth::require_self_or_admin(ctx, existing.user_id).extend()?;
        }
        let marked = repo::mark_read(db(ctx), id).await.extend()?;
        ctx.data_unchecked::<NotificationCache>()
            .invalidate(&id)
            .await;
        Ok(Notification(marked))
    }

    /// Marks all of a user's notifications read; returns how many were unread.
    /// Only the user themselves or an admin.
    #[graphql(directive = authenticated::apply())]
    async fn mark_all_notifications_read(&self, ctx: &Context<'_>, user_id: ID) -> GqlResult<i32> {
        let user_id = parse_id(&user_id, "user").extend()?;
        auth::require_self_or_admin(ctx, user_id).extend()?;
        let changed = repo::mark_all_read(db(ctx), user_id).await.extend()?;
        ctx.data_unchecked::<NotificationCache>()
            .invalidate_where(move |_, n| n.user_id == user_id);
        Ok(saturating_int(changed))
    }
}

pub struct Subscription;

#[SubscriptionRoot]
impl Subscription {
    /// Each new notification of the user, as committed (sent, or made from an
    /// order event).
    async fn notification_added(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = Notification>> {
        let user_id = parse_id(&user_id, "user").extend()?;
        auth::require_self_or_admin(ctx, user_id).extend()?;
        Ok(ctx
            .data_unchecked::<Added>()
            .live
            .stream()
            .filter(move |n| std::future::ready(n.user_id == user_id))
            .map(Notification))
    }
}

/// A notification by id, if the caller is its user or an admin.
async fn load(ctx: &Context<'_>, id: i32) -> GqlResult<Option<Notification>> {
    auth::require_caller(ctx).extend()?;
    let loaded = ctx
        .data_unchecked::<NotificationLoader>()
        .load_one(id)
        .await
        .map_err(|e| e.extend())?;
    if let Some(notification) = &loaded {
        auth::require_self_or_admin(ctx, notification.user_id).extend()?;
    }
    Ok(loaded.map(Notification))
}

fn db<'a>(ctx: &Context<'a>) -> &'a DatabaseConnection {
    ctx.data_unchecked::<DatabaseConnection>()
}

/// GraphQL `Int` is 32 bits; counts beyond it are reported as the maximum.
fn saturating_int<T: TryInto<i32>>(n: T) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}
