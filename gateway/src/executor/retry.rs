//! Retries of subgraph queries that got no answer (connection refused or
//! reset, timeout, 5xx), never of anything of a mutation operation. A budget
//! keeps retries to a share of the traffic, so that a struggling subgraph
//! is not sent a multiple of its load; the waits between tries grow
//! exponentially, with full jitter so that clients do not retry in step.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

use super::breaker::Window;

/// Retries of every subgraph; `subgraph_overrides.<name>.retry` changes
/// fields for one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Tries after the first; 0 turns retries off.
    pub max_retries: u32,
    /// The first wait is up to this long, doubling per retry...
    pub backoff_base_ms: u64,
    /// ...up to this.
    pub backoff_max_ms: u64,
    /// Retries within the last `budget_window_ms` may be at most this share
    /// of the requests in it...
    pub budget_ratio: f64,
    /// ...plus this many per second, so that light traffic can retry too.
    pub budget_min_per_sec: u32,
    pub budget_window_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 2,
            backoff_base_ms: 25,
            backoff_max_ms: 1_000,
            budget_ratio: 0.2,
            budget_min_per_sec: 10,
            budget_window_ms: 10_000,
        }
    }
}

/// One subgraph's retry policy and budget.
pub struct Retry {
    config: RetryConfig,
    /// Requests (first tries) and, marked, retries.
    window: Mutex<Window>,
}

impl Retry {
    pub fn new(config: RetryConfig, now: Instant) -> Self {
        Self {
            window: Mutex::new(Window::new(
                Duration::from_millis(config.budget_window_ms),
                now,
            )),
            config,
        }
    }

    pub fn max_retries(&self) -> u32 {
        self.config.max_retries
    }

    /// Counts a first try into the budget.
    pub fn deposit(&self, now: Instant) {
        if self.config.max_retries > 0 {
            self.lock().add(now, false);
        }
    }

    /// Takes one retry out of the budget; `false` when it is spent.
    pub fn withdraw(&self, now: Instant) -> bool {
        let mut window = self.lock();
        let (all, retries) = window.totals(now);
        let requests = all - retries;
        let seconds = self.config.budget_window_ms as f64 / 1_000.0;
        let allowed = self.config.budget_ratio * f64::from(requests)
            + f64::from(self.config.budget_min_per_sec) * seconds;
        if f64::from(retries) + 1.0 > allowed {
            return false;
        }
        window.add(now, true);
        true
    }

    /// The wait before retry number `retry` (1, 2, …): uniformly random up
    /// to `base · 2^(retry-1)`, capped at `backoff_max_ms`.
    pub fn backoff(&self, retry: u32, random: f64) -> Duration {
        let ceiling = self
            .config
            .backoff_base_ms
            .saturating_mul(1u64 << retry.saturating_sub(1).min(20))
            .min(self.config.backoff_max_ms);
        Duration::from_millis((ceiling as f64 * random.clamp(0.0, 1.0)) as u64)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_allows_a_share_of_requests_plus_a_floor() {
        let t0 = Instant::now();
        let retry = Retry::new(
            RetryConfig {
                budget_ratio: 0.1,
                budget_min_per_sec: 1,
                budget_window_ms: 2_000,
                ..Default::default()
            },
            t0,
        );
        // The floor alone: 1/s over 2 s.
        assert!(retry.withdraw(t0));
        assert!(retry.withdraw(t0));
        assert!(!retry.withdraw(t0), "floor spent");
        for _ in 0..30 {
            retry.deposit(t0);
        }
        // 10% of 30 more.
        assert!(retry.withdraw(t0));
        assert!(retry.withdraw(t0));
        assert!(retry.withdraw(t0));
        assert!(!retry.withdraw(t0), "share spent");
        // Once the window has moved on, the budget is back.
        assert!(retry.withdraw(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_is_jittered() {
        let retry = Retry::new(
            RetryConfig {
                backoff_base_ms: 100,
                backoff_max_ms: 300,
                ..Default::default()
            },
            Instant::now(),
        );
        assert_eq!(retry.backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(retry.backoff(2, 1.0), Duration::from_millis(200));
        assert_eq!(retry.backoff(3, 1.0), Duration::from_millis(300));
        assert_eq!(retry.backoff(40, 1.0), Duration::from_millis(300));
        assert_eq!(retry.backoff(2, 0.5), Duration::from_millis(100));
        assert_eq!(retry.backoff(2, 0.0), Duration::ZERO);
    }
}
