//! Data access of the notifications subgraph: plain async functions on the
//! connection. Validation lives here so that every caller gets the same rules.

use chrono::Utc;
use kit::{
    ApiError,
    events::{OrderEvent, OrderEventKind},
    input::trimmed_text,
};
use sea_orm::{
    ActiveEnum, ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, QueryFilter, Set, SqlErr, sea_query::Expr,
};

use crate::entity::notification::{self, Channel};

pub const MAX_TITLE_LEN: usize = 200;
pub const MAX_BODY_LEN: usize = 5000;

/// What `sendNotification` asks for, ids already parsed.
pub struct NewNotification<'a> {
    pub user_id: i32,
    pub order_id: Option<i32>,
    pub channel: Channel,
    pub title: &'a str,
    pub body: &'a str,
}

/// The user and order live in other subgraphs' databases: they are taken on trust,
/// as a gateway-side check would be the only one that could see them.
pub async fn send(
    db: &DatabaseConnection,
    new: NewNotification<'_>,
) -> Result<notification::Model, ApiError> {
    let row = notification::ActiveModel {
        id: NotSet,
        user_id: Set(new.user_id),
        order_id: Set(new.order_id),
        channel: Set(new.channel),
        title: Set(trimmed_text(new.title, "title", MAX_TITLE_LEN)?),
        body: Set(trimmed_text(new.body, "body", MAX_BODY_LEN)?),
        read: Set(false),
        created_at: Set(Utc::now()),
        event_id: NotSet,
    };
    Ok(notification::Entity::insert(row)
        .exec_with_returning(db)
        .await?)
}

/// Why an event can never become a notification.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event {event_id}: {reason}")]
    Poison { event_id: String, reason: String },
    #[error("database: {0}")]
    Database(#[from] DbErr),
}

/// What the user reads about an order event: "Order 42 placed: 3 items, 59.90 EUR".
pub fn describe(event: &OrderEvent) -> (String, String) {
    let order = event.order_id;
    match event.kind {
        OrderEventKind::OrderPlaced => {
            let items = match event.item_count {
                1 => "1 item".to_owned(),
                n => format!("{n} items"),
            };
            let total = format!(
                "{}.{:02} {}",
                event.total_cents / 100,
                event.total_cents % 100,
                event.currency
            );
            (
                format!("Order {order} placed"),
                format!("Order {order} placed: {items}, {total}"),
            )
        }
        OrderEventKind::OrderStatusChanged => {
            let text = format!("Order {order} {}", event.status.to_ascii_lowercase());
            (text.clone(), text)
        }
    }
}

/// Inserts the notification for an order event, once: returns `None` when the
/// event was handled before (its id is unique here).
pub async fn insert_from_event(
    db: &DatabaseConnection,
    event: &OrderEvent,
) -> Result<Option<notification::Model>, EventError> {
    let poison = |reason: &str| EventError::Poison {
        event_id: event.event_id.clone(),
        reason: reason.to_owned(),
    };
    // Users live in another database; ids there start at 1.
    if event.user_id <= 0 {
        return Err(poison("unknown user"));
    }
    if event.order_id <= 0 || event.event_id.is_empty() || event.event_id.len() > 64 {
        return Err(poison("malformed order event"));
    }
    let (title, body) = describe(event);
    let row = notification::ActiveModel {
        id: NotSet,
        user_id: Set(event.user_id),
        order_id: Set(Some(event.order_id)),
        channel: Set(Channel::InApp),
        title: Set(title),
        body: Set(body),
        read: Set(false),
        created_at: Set(Utc::now()),
        event_id: Set(Some(event.event_id.clone())),
    };
    match notification::Entity::insert(row)
        .exec_with_returning(db)
        .await
    {
        Ok(model) => Ok(Some(model)),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Marks one notification read; a second call changes nothing and still succeeds.
/// The `read = false` guard keeps the write from touching a row that is already read.
pub async fn mark_read(db: &DatabaseConnection, id: i32) -> Result<notification::Model, ApiError> {
    notification::Entity::update_many()
        .col_expr(notification::Column::Read, Expr::value(true))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::Read.eq(false))
        .exec(db)
        .await?;
    notification::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("notification {id} not found")))
}

/// Marks every unread notification of a user read in one statement; returns how
/// many changed.
pub async fn mark_all_read(db: &DatabaseConnection, user_id: i32) -> Result<u64, ApiError> {
    let result = notification::Entity::update_many()
        .col_expr(notification::Column::Read, Expr::value(true))
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::Read.eq(false))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// The SQL of `User.notifications(unreadOnly:)`.
pub fn unread_filter(unread_only: &bool) -> Condition {
    if *unread_only {
        Condition::all().add(notification::Column::Read.eq(false))
    } else {
        Condition::all()
    }
}

/// The SQL of `User.unreadNotificationCount`, which has no arguments.
pub fn unread(_: &()) -> Condition {
    unread_filter(&true)
}

pub async fn is_empty(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    Ok(notification::Entity::find().one(db).await?.is_none())
}

/// Inserts the shared demo notifications, in order, so that their ids are 1..=N;
/// inside the migration transaction, so a failed start leaves no half-seeded database.
pub async fn seed(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    let now = Utc::now();
    for n in kit::demo::notifications() {
        let channel = Channel::try_from_value(&n.channel.to_owned())?;
        notification::Entity::insert(notification::ActiveModel {
            id: NotSet,
            user_id: Set(n.user_id),
            order_id: Set(n.order_id),
            channel: Set(channel),
            title: Set(n.title),
            body: Set(n.body),
            read: Set(n.read),
            created_at: Set(now),
            event_id: NotSet,
        })
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}
