//! Live feeds behind GraphQL subscriptions: a write, or an event consumer, sends
//! what it committed; every subscription streams the values sent after it
//! started, until the subgraph stops. No polling.

use futures::{Stream, StreamExt};
use metrics::Gauge;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::workers::{Stop, Workers};

/// Values a subscriber may fall behind by before it skips some.
const CAPACITY: usize = 1024;

#[derive(Clone)]
pub struct Live<T> {
    tx: broadcast::Sender<T>,
    stop: Stop,
    subscribers: Gauge,
}

/// Counts a subscriber while its stream lives.
struct Subscribed(Gauge);

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

impl<T: Clone + Send + 'static> Live<T> {
    /// `subscribers` counts the open streams (a `/metrics` gauge).
    pub fn new(workers: &Workers, subscribers: Gauge) -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
            stop: workers.stop_signal(),
            subscribers,
        }
    }

    /// Hands `value` to the current subscribers; none is fine.
    pub fn send(&self, value: T) {
        let _ = self.tx.send(value);
    }

    /// Everything sent from now on; ends when the subgraph stops.
    pub fn stream(&self) -> impl Stream<Item = T> + Send + 'static {
        self.subscribers.increment(1.0);
        let state = (self.tx.subscribe(), Subscribed(self.subscribers.clone()));
        let values = futures::stream::unfold(state, |(mut rx, guard)| async move {
            loop {
                match rx.recv().await {
                    Ok(value) => return Some((value, (rx, guard))),
                    Err(RecvError::Lagged(skipped)) => {
                        tracing::warn!(skipped, "a slow subscriber skipped live values");
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        });
        let mut stop = self.stop.clone();
        values.take_until(async move { stop.stopped().await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_get_what_is_sent_after_they_start_until_the_stop() {
        let workers = Workers::default();
        let live = Live::new(&workers, Gauge::noop());
        live.send(1);
        let mut stream = Box::pin(live.stream());
        live.send(2);
        live.send(3);
        assert_eq!(stream.next().await, Some(2));
        assert_eq!(stream.next().await, Some(3));
        workers.stop().await;
        assert_eq!(stream.next().await, None);
    }
}
