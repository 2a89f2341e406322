//! Domain events between subgraphs: the wire format of the orders events and the
//! broker that carries them, NATS JetStream when a service is configured with
//! `<NAME>_NATS_URL`, else an in-process link (dev mode runs every subgraph in
//! one process).
//!
//! Both deliver at least once. Consumers make that exactly once in effect by
//! keeping the event id unique in their own database.

use std::{future::Future, sync::Arc, time::Duration};

use async_nats::jetstream::{
    self,
    consumer::{AckPolicy, pull},
    message::{AckKind, PublishMessage},
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::{config::SubgraphConfig, workers::Stop};

/// What happened to an order; one row of the orders outbox, one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderEvent {
    /// Unique per event: the broker's message id and the consumers' dedup key.
    pub event_id: String,
    pub kind: OrderEventKind,
    pub order_id: i32,
    pub user_id: i32,
    /// The order's status after the change (`PENDING`, `SHIPPED`, ...).
    pub status: String,
    pub item_count: i32,
    pub total_cents: i64,
    pub currency: String,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEventKind {
    OrderPlaced,
    OrderStatusChanged,
}

impl OrderEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderPlaced => "OrderPlaced",
            Self::OrderStatusChanged => "OrderStatusChanged",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::OrderPlaced, Self::OrderStatusChanged]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// The last token of the event's subject.
    fn subject_suffix(self) -> &'static str {
        match self {
            Self::OrderPlaced => "placed",
            Self::OrderStatusChanged => "status_changed",
        }
    }
}

/// A fresh event id; UUIDv7 sorts by creation time, which keeps logs readable.
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl OrderEvent {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an OrderEvent always serializes")
    }

    pub fn decode(payload: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(payload)
    }
}

/// Where a domain's events live: a JetStream stream and the prefix of its
/// subjects (one subject per event type).
#[derive(Debug, Clone)]
pub struct Topic {
    pub stream: String,
    pub prefix: String,
}

impl Topic {
    pub fn orders(config: &SubgraphConfig) -> Self {
        Self {
            stream: config.events_stream.clone(),
            prefix: config.events_subject.clone(),
        }
    }

    pub fn subject(&self, kind: OrderEventKind) -> String {
        format!("{}.{}", self.prefix, kind.subject_suffix())
    }

    fn wildcard(&self) -> String {
        format!("{}.>", self.prefix)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error("no event consumer runs in this process")]
    NoLocalConsumer,
    #[error("the in-process consumer did not confirm the event in time")]
    LocalTimeout,
}

fn nats(e: impl std::fmt::Display) -> EventsError {
    EventsError::Nats(e.to_string())
}

/// How long the in-process publisher waits for the consumer's commit.
const LOCAL_CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
/// How long JetStream keeps events: long enough for a consumer that was down.
const STREAM_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// A message not acked within this is delivered again.
const ACK_WAIT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub enum Broker {
    Nats(Box<jetstream::Context>),
    Local(LocalBus),
}

impl Broker {
    /// NATS when `nats_url` is set, else the in-process link. A NATS server that
    /// is down does not stop the service: the client keeps connecting, and
    /// events wait in the outbox meanwhile.
    pub async fn connect(config: &SubgraphConfig) -> Result<Self, EventsError> {
        match &config.nats_url {
            Some(url) => {
                let client = async_nats::ConnectOptions::new()
                    .retry_on_initial_connect()
                    .connect(url.as_str())
                    .await
                    .map_err(nats)?;
                Ok(Self::Nats(Box::new(jetstream::new(client))))
            }
            None => Ok(Self::Local(config.local_events.clone())),
        }
    }

    /// Publishes `events` in order and returns how many of them, from the first,
    /// the broker confirmed (JetStream stored them; the in-process consumer
    /// committed them), with the error that stopped the rest.
    pub async fn publish(
        &self,
        topic: &Topic,
        events: &[OrderEvent],
    ) -> (usize, Option<EventsError>) {
        match self {
            Self::Nats(js) => publish_nats(js, topic, events).await,
            Self::Local(bus) => bus.publish(events).await,
        }
    }

    /// Delivers every event of `topic` to `handle` until `stop`, through the
    /// durable consumer `consumer`; reconnects with backoff after errors.
    pub async fn consume<F, Fut>(
        &self,
        topic: &Topic,
        consumer: &str,
        mut stop: Stop,
        mut handle: F,
    ) where
        F: FnMut(Result<OrderEvent, serde_json::Error>) -> Fut,
        Fut: Future<Output = Handled>,
    {
        let mut backoff = Backoff::default();
        loop {
            let result = match self {
                Self::Nats(js) => consume_nats(js, topic, consumer, &mut stop, &mut handle).await,
                Self::Local(bus) => {
                    bus.consume(&mut stop, &mut handle).await;
                    Ok(())
                }
            };
            if stop.is_stopped() {
                return;
            }
            if let Err(e) = result {
                tracing::warn!(error = %e, consumer, "event consumer failed; retrying");
            }
            tokio::select! {
                _ = stop.stopped() => return,
                _ = tokio::time::sleep(backoff.delay()) => {}
            }
        }
    }
}

/// What a consumer made of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Committed (or already had been): acknowledge.
    Done,
    /// Can never succeed (undecodable, impossible data): acknowledge so that it
    /// is not delivered again; the consumer logged and counted it.
    Poison,
    /// Failed for a reason that may pass (database down): deliver again later.
    Retry,
}

/// Doubling delays from 100 ms up to 30 s.
#[derive(Debug)]
pub struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(Duration::from_millis(100))
    }
}

impl Backoff {
    pub fn delay(&mut self) -> Duration {
        let now = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(30));
        now
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Creates the stream if it does not exist yet; idempotent.
pub async fn ensure_stream(
    js: &jetstream::Context,
    topic: &Topic,
) -> Result<jetstream::stream::Stream, EventsError> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: topic.stream.clone(),
        subjects: vec![topic.wildcard()],
        max_age: STREAM_MAX_AGE,
        ..Default::default()
    })
    .await
    .map_err(nats)
}

async fn publish_nats(
    js: &jetstream::Context,
    topic: &Topic,
    events: &[OrderEvent],
) -> (usize, Option<EventsError>) {
    if let Err(e) = ensure_stream(js, topic).await {
        return (0, Some(e));
    }
    // Send them all, then wait for the acks: one round trip per batch, and the
    // server stores them in the order they were sent.
    let mut acks = Vec::with_capacity(events.len());
    let mut error = None;
    for event in events {
        let message = PublishMessage::build()
            .payload(event.encode().into())
            .message_id(&event.event_id);
        match js.send_publish(topic.subject(event.kind), message).await {
            Ok(ack) => acks.push(ack),
            Err(e) => {
                error = Some(nats(e));
                break;
            }
        }
    }
    let mut confirmed = 0;
    for ack in acks {
        match ack.await {
            Ok(_) => confirmed += 1,
            Err(e) => {
                error = Some(nats(e));
                break;
            }
        }
    }
    (confirmed, error)
}

async fn consume_nats<F, Fut>(
    js: &jetstream::Context,
    topic: &Topic,
    name: &str,
    stop: &mut Stop,
    handle: &mut F,
) -> Result<(), EventsError>
where
    F: FnMut(Result<OrderEvent, serde_json::Error>) -> Fut,
    Fut: Future<Output = Handled>,
{
    let stream = ensure_stream(js, topic).await?;
    let consumer: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(
            name,
            pull::Config {
                durable_name: Some(name.to_owned()),
                filter_subject: topic.wildcard(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                ..Default::default()
            },
        )
        .await
        .map_err(nats)?;
    let mut messages = consumer.messages().await.map_err(nats)?;
    loop {
        let message = tokio::select! {
            _ = stop.stopped() => return Ok(()),
            message = messages.next() => message,
        };
        let Some(message) = message else {
            return Err(EventsError::Nats("message stream ended".into()));
        };
        let message = message.map_err(nats)?;
        let ack = match handle(OrderEvent::decode(&message.payload)).await {
            Handled::Done => AckKind::Ack,
            Handled::Poison => AckKind::Term,
            Handled::Retry => AckKind::Nak(Some(Duration::from_secs(1))),
        };
        message.ack_with(ack).await.map_err(nats)?;
    }
}

/// The in-process link between the orders and notifications of one process.
/// The publisher waits until the consumer has committed an event, so the relay
/// marks an event sent only once it took effect; with no consumer running the
/// events stay in the outbox.
#[derive(Clone)]
pub struct LocalBus {
    inner: Arc<LocalInner>,
}

struct LocalInner {
    tx: mpsc::Sender<LocalDelivery>,
    /// Held by the running consumer; free means nobody consumes.
    rx: Mutex<mpsc::Receiver<LocalDelivery>>,
}

struct LocalDelivery {
    payload: Vec<u8>,
    confirm: oneshot::Sender<()>,
}

impl Default for LocalBus {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(1024);
        Self {
            inner: Arc::new(LocalInner {
                tx,
                rx: Mutex::new(rx),
            }),
        }
    }
}

impl std::fmt::Debug for LocalBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalBus")
    }
}

impl LocalBus {
    /// Hands over raw bytes, as a broker would; tests use it for poison messages.
    pub async fn publish_raw(&self, payload: Vec<u8>) -> Result<(), EventsError> {
        let (confirm, confirmed) = oneshot::channel();
        self.send(payload, confirm).await?;
        match tokio::time::timeout(LOCAL_CONFIRM_TIMEOUT, confirmed).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(EventsError::LocalTimeout),
        }
    }

    async fn send(
        &self,
        payload: Vec<u8>,
        confirm: oneshot::Sender<()>,
    ) -> Result<(), EventsError> {
        if self.inner.rx.try_lock().is_ok() {
            return Err(EventsError::NoLocalConsumer);
        }
        self.inner
            .tx
            .send(LocalDelivery { payload, confirm })
            .await
            .map_err(|_| EventsError::NoLocalConsumer)
    }

    async fn publish(&self, events: &[OrderEvent]) -> (usize, Option<EventsError>) {
        let mut pending = Vec::with_capacity(events.len());
        let mut error = None;
        for event in events {
            let (confirm, confirmed) = oneshot::channel();
            if let Err(e) = self.send(event.encode(), confirm).await {
                error = Some(e);
                break;
            }
            pending.push(confirmed);
        }
        let mut confirmed = 0;
        for done in pending {
            match tokio::time::timeout(LOCAL_CONFIRM_TIMEOUT, done).await {
                Ok(Ok(())) => confirmed += 1,
                _ => {
                    error = Some(EventsError::LocalTimeout);
                    break;
                }
            }
        }
        (confirmed, error)
    }

    async fn consume<F, Fut>(&self, stop: &mut Stop, handle: &mut F)
    where
        F: FnMut(Result<OrderEvent, serde_json::Error>) -> Fut,
        Fut: Future<Output = Handled>,
    {
        let mut rx = tokio::select! {
            _ = stop.stopped() => return,
            rx = self.inner.rx.lock() => rx,
        };
        loop {
            let delivery = tokio::select! {
                _ = stop.stopped() => return,
                delivery = rx.recv() => delivery,
            };
            // The bus owns the sender too, so the channel never closes.
            let Some(delivery) = delivery else { return };
            match handle(OrderEvent::decode(&delivery.payload)).await {
                Handled::Done | Handled::Poison => {
                    let _ = delivery.confirm.send(());
                }
                // Unconfirmed: the relay publishes it again later.
                Handled::Retry => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_name_their_subject() {
        let event = OrderEvent {
            event_id: new_event_id(),
            kind: OrderEventKind::OrderStatusChanged,
            order_id: 42,
            user_id: 7,
            status: "SHIPPED".into(),
            item_count: 3,
            total_cents: 5990,
            currency: "EUR".into(),
            occurred_at: Utc::now(),
        };
        assert_eq!(OrderEvent::decode(&event.encode()).unwrap(), event);
        let topic = Topic {
            stream: "ORDERS".into(),
            prefix: "orders".into(),
        };
        assert_eq!(topic.subject(event.kind), "orders.status_changed");
        assert_eq!(OrderEventKind::parse(event.kind.as_str()), Some(event.kind));
        assert!(OrderEvent::decode(b"{\"eventId\":1}").is_err());
    }
}
