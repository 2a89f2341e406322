//! Which client requests are served: at most `max_in_flight_requests` at
//! once (more are refused with `503` and `Retry-After` at once, never
//! queued), each within `request_timeout_ms` (`504` after), and none once
//! shutdown began. Shutdown drains: `/ready` turns `503` at once, requests
//! in flight finish within `drain_timeout_ms`, then the server stops.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;

use super::{Gateway, accepts_graphql_response, error_response};
use crate::error::RequestError;

/// What a refused or timed-out request tells its client to wait, in seconds.
const RETRY_AFTER_SECS: u64 = 1;

pub struct Admission {
    permits: Arc<Semaphore>,
    max: u32,
    draining: AtomicBool,
    timeout: Duration,
    drain_timeout: Duration,
    shed: metrics::Counter,
    timed_out: metrics::Counter,
}

impl Admission {
    pub fn new(
        max: u32,
        timeout: Duration,
        drain_timeout: Duration,
        shed: metrics::Counter,
        timed_out: metrics::Counter,
    ) -> Self {
        let max = max.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max as usize)),
            max,
            draining: AtomicBool::new(false),
            timeout,
            drain_timeout,
            shed,
            timed_out,
        }
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Client requests being served now.
    pub fn in_flight(&self) -> usize {
        self.max as usize - self.permits.available_permits()
    }

    /// Refuses new requests from now on and waits until those in flight
    /// are done, or `drain_timeout` passed; `false` when some were not.
    pub async fn drain(&self) -> bool {
        self.draining.store(true, Ordering::Release);
        tracing::info!(
            in_flight = self.in_flight(),
            "draining: refusing new requests"
        );
        let all = self.permits.acquire_many(self.max);
        match tokio::time::timeout(self.drain_timeout, all).await {
            Ok(_) => {
                tracing::info!("drained: no request in flight");
                true
            }
            Err(_) => {
                tracing::warn!(
                    in_flight = self.in_flight(),
                    timeout = ?self.drain_timeout,
                    "drain timed out; stopping with requests in flight"
                );
                false
            }
        }
    }
}

/// The middleware in front of the GraphQL routes.
pub async fn admit(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    let admission = &gateway.admission;
    let accept_gql = accepts_graphql_response(request.headers());
    if admission.is_draining() {
        return refused(&RequestError::ShuttingDown, accept_gql);
    }
    let Ok(_permit) = admission.permits.clone().try_acquire_owned() else {
        admission.shed.increment(1);
        return refused(&RequestError::Overloaded, accept_gql);
    };
    match tokio::time::timeout(admission.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            admission.timed_out.increment(1);
            tracing::warn!(timeout = ?admission.timeout, "client request timed out");
            error_response(&RequestError::Timeout(admission.timeout), accept_gql)
        }
    }
}

fn refused(error: &RequestError, accept_gql: bool) -> Response {
    let mut response = error_response(error, accept_gql);
    let headers = response.headers_mut();
    headers.insert(axum::http::header::RETRY_AFTER, RETRY_AFTER_SECS.into());
    if matches!(error, RequestError::ShuttingDown) {
        // Send the client's next request to another replica.
        headers.insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response.into_response()
}
