//! Orders events into notifications: the durable consumer (JetStream, or the
//! in-process link) and what every new notification sets off, whoever wrote it.

use kit::{
    EntityCache,
    events::{Broker, Handled, OrderEvent, Topic},
    live::Live,
    workers::Stop,
};
use metrics::Counter;
use sea_orm::DatabaseConnection;

use crate::{
    entity::notification,
    repo::{self, EventError},
};

/// After a notification committed: the caches forget what it may change, and
/// `notificationAdded` subscriptions get it.
#[derive(Clone)]
pub struct Added {
    pub cache: EntityCache<i32, notification::Model>,
    pub live: Live<notification::Model>,
}

impl Added {
    pub async fn committed(&self, notification: &notification::Model) {
        self.cache.invalidate(&notification.id).await;
        self.live.send(notification.clone());
    }
}

/// Counts per outcome, at `/metrics` as `events_consumed_total{outcome=...}`.
pub struct Outcomes {
    pub created: Counter,
    pub duplicate: Counter,
    pub poison: Counter,
    pub retried: Counter,
}

pub struct Consumer {
    pub db: DatabaseConnection,
    pub broker: Broker,
    pub topic: Topic,
    pub name: String,
    pub added: Added,
    pub outcomes: Outcomes,
}

impl Consumer {
    pub async fn run(self, stop: Stop) {
        let broker = self.broker.clone();
        let (topic, name) = (self.topic.clone(), self.name.clone());
        broker
            .consume(&topic, &name, stop, |decoded| self.handle(decoded))
            .await;
    }

    /// Acked only after the insert committed; a redelivered event inserts
    /// nothing; a poison message is logged, counted and never retried.
    async fn handle(&self, decoded: Result<OrderEvent, serde_json::Error>) -> Handled {
        let event = match decoded {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!(error = %e, "undecodable orders event dropped");
                self.outcomes.poison.increment(1);
                return Handled::Poison;
            }
        };
        match repo::insert_from_event(&self.db, &event).await {
            Ok(Some(notification)) => {
                self.outcomes.created.increment(1);
                self.added.committed(&notification).await;
                Handled::Done
            }
            Ok(None) => {
                self.outcomes.duplicate.increment(1);
                Handled::Done
            }
            Err(e @ EventError::Poison { .. }) => {
                tracing::warn!(error = %e, "orders event dropped");
                self.outcomes.poison.increment(1);
                Handled::Poison
            }
            Err(EventError::Database(e)) => {
                tracing::warn!(error = %e, event_id = %event.event_id, "orders event not stored; delivered again later");
                self.outcomes.retried.increment(1);
                Handled::Retry
            }
        }
    }
}
