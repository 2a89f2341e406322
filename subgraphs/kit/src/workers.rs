//! Background tasks of a subgraph (an outbox relay, an event consumer): started
//! with its schema, stopped with its server.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::watch, task::JoinHandle};

/// How long a worker gets to finish its step after the stop signal.
const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Workers {
    stop: Arc<watch::Sender<bool>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Default for Workers {
    fn default() -> Self {
        Self {
            stop: Arc::new(watch::channel(false).0),
            tasks: Arc::default(),
        }
    }
}

/// A worker's view of the stop signal.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Resolves once the subgraph stops.
    pub async fn stopped(&mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }

    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }
}

impl Workers {
    pub fn spawn<F, Fut>(&self, start: F)
    where
        F: FnOnce(Stop) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let task = tokio::spawn(start(Stop(self.stop.subscribe())));
        self.tasks.lock().expect("workers lock").push(task);
    }

    /// The stop signal, for what runs outside a worker (subscriptions).
    pub fn stop_signal(&self) -> Stop {
        Stop(self.stop.subscribe())
    }

    /// Signals every worker and waits for them (aborting those that overstay).
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().expect("workers lock"));
        for mut task in tasks {
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }

    /// Ends every worker at once, wherever it is: what a crash does (tests).
    pub fn abort(&self) {
        let _ = self.stop.send(true);
        for task in self.tasks.lock().expect("workers lock").drain(..) {
            task.abort();
        }
    }
}
