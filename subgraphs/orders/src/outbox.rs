//! The transactional outbox of the orders subgraph: a change to an order writes
//! its event in the same transaction ([`record`]), and the relay publishes the
//! pending events in order and marks them sent. A crash between the commit and
//! the publish loses nothing: the relay starts from the table. A crash between
//! the publish and the mark sends an event again, which the broker (message id)
//! and the consumers (unique event id) drop.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use kit::{
    events::{Backoff, Broker, EventsError, OrderEvent, OrderEventKind, Topic, new_event_id},
    workers::Stop,
};
use metrics::Counter;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use tokio::sync::Notify;

use crate::entity::{order, order_event};

/// Events published per round trip to the broker.
pub const BATCH: u64 = 100;

/// Writes the event of a change to `order`; call inside the change's transaction.
pub async fn record(
    txn: &impl ConnectionTrait,
    kind: OrderEventKind,
    order: &order::Model,
    item_count: i32,
) -> Result<(), DbErr> {
    order_event::ActiveModel {
        event_id: Set(new_event_id()),
        kind: Set(kind.as_str().to_owned()),
        order_id: Set(order.id),
        user_id: Set(order.user_id),
        status: Set(order.status.clone()),
        item_count: Set(item_count),
        total_cents: Set(order.total_cents),
        currency: Set(order.currency.clone()),
        occurred_at: Set(Utc::now()),
        sent_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Wakes the relay after a commit that wrote an event, so that it does not wait
/// for its next poll.
#[derive(Clone, Default)]
pub struct Doorbell(Arc<Notify>);

impl Doorbell {
    pub fn ring(&self) {
        self.0.notify_one();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("broker: {0}")]
    Broker(#[from] EventsError),
}

fn to_event(row: &order_event::Model) -> OrderEvent {
    OrderEvent {
        event_id: row.event_id.clone(),
        // Only `record` writes this column.
        kind: OrderEventKind::parse(&row.kind).unwrap_or(OrderEventKind::OrderStatusChanged),
        order_id: row.order_id,
        user_id: row.user_id,
        status: row.status.clone(),
        item_count: row.item_count,
        total_cents: row.total_cents,
        currency: row.currency.clone(),
        occurred_at: row.occurred_at,
    }
}

/// Publishes up to one batch of pending events, oldest first, and marks those
/// the broker confirmed. Returns how many were confirmed.
pub async fn relay_once(
    db: &DatabaseConnection,
    broker: &Broker,
    topic: &Topic,
) -> Result<usize, RelayError> {
    let rows = order_event::Entity::find()
        .filter(order_event::Column::SentAt.is_null())
        .order_by_asc(order_event::Column::Id)
        .limit(BATCH)
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let events: Vec<OrderEvent> = rows.iter().map(to_event).collect();
    let (confirmed, error) = broker.publish(topic, &events).await;
    if confirmed > 0 {
        let ids: Vec<i32> = rows[..confirmed].iter().map(|r| r.id).collect();
        order_event::Entity::update_many()
            .col_expr(order_event::Column::SentAt, Expr::value(Utc::now()))
            .filter(order_event::Column::Id.is_in(ids))
            .exec(db)
            .await?;
    }
    match error {
        Some(e) => Err(e.into()),
        None => Ok(confirmed),
    }
}

/// How many events wait to be published.
pub async fn pending(db: &DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    order_event::Entity::find()
        .filter(order_event::Column::SentAt.is_null())
        .count(db)
        .await
}

/// The relay task: drains the outbox, then waits for the doorbell or the poll;
/// after a failure it retries with backoff.
pub struct Relay {
    pub db: DatabaseConnection,
    pub broker: Broker,
    pub topic: Topic,
    pub doorbell: Doorbell,
    pub poll: Duration,
    pub published: Counter,
    pub failures: Counter,
}

impl Relay {
    pub async fn run(self, mut stop: Stop) {
        let mut backoff = Backoff::default();
        loop {
            let wait = match relay_once(&self.db, &self.broker, &self.topic).await {
                Ok(n) => {
                    self.published.increment(n as u64);
                    backoff.reset();
                    if n as u64 == BATCH {
                        continue;
                    }
                    self.poll
                }
                Err(e) => {
                    self.failures.increment(1);
                    // A lone orders service has no consumer in process: not worth a warning.
                    if matches!(e, RelayError::Broker(EventsError::NoLocalConsumer)) {
                        tracing::debug!("no event consumer in this process; events stay pending");
                        self.poll
                    } else {
                        tracing::warn!(error = %e, "outbox relay failed; retrying");
                        backoff.delay()
                    }
                }
            };
            tokio::select! {
                _ = stop.stopped() => return,
                _ = self.doorbell.0.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
