//! A circuit breaker per subgraph: a subgraph that keeps failing is not asked
//! again for a while, so that requests fail at once (`SUBGRAPH_UNAVAILABLE`)
//! instead of each waiting for a timeout and piling load on a sick service.
//!
//! Closed → open after `consecutive_failures` failures in a row, or when at
//! least `min_requests` in the last `window_ms` failed at `error_rate` or
//! more. Open → half-open once `open_ms` have passed: up to `half_open_probes`
//! requests go through; a successful probe closes the breaker, a failed one
//! opens it again. Time is passed in (`now`), so the state machine is tested
//! without sleeping.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use metrics::{Counter, Gauge};
use serde::{Deserialize, Serialize};

/// The breaker of every subgraph; `subgraph_overrides.<name>.breaker`
/// changes fields for one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    pub enabled: bool,
    /// Failures in a row that open the breaker.
    pub consecutive_failures: u32,
    /// Share of failed requests in the window (0..=1) that opens it...
    pub error_rate: f64,
    /// ...once the window holds at least this many requests.
    pub min_requests: u32,
    /// The window the error rate is measured over.
    pub window_ms: u64,
    /// How long an open breaker refuses requests before probing.
    pub open_ms: u64,
    /// Requests let through at once while half-open.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            consecutive_failures: 5,
            error_rate: 0.5,
            min_requests: 20,
            window_ms: 10_000,
            // Short, so that a subgraph that is back is used again within
            // about a second of the first request after it returned.
            open_ms: 1_000,
            half_open_probes: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    /// The value of the `subgraph_circuit_state` gauge.
    fn gauge(self) -> f64 {
        match self {
            State::Closed => 0.0,
            State::HalfOpen => 1.0,
            State::Open => 2.0,
        }
    }

    fn label(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::HalfOpen => "half_open",
            State::Open => "open",
        }
    }
}

/// The breaker's series: its state, and transitions into each state.
#[derive(Clone)]
pub struct BreakerMetrics {
    pub state: Gauge,
    pub to_closed: Counter,
    pub to_open: Counter,
    pub to_half_open: Counter,
    /// Requests refused while open.
    pub rejected: Counter,
}

impl BreakerMetrics {
    pub fn noop() -> Self {
        Self {
            state: Gauge::noop(),
            to_closed: Counter::noop(),
            to_open: Counter::noop(),
            to_half_open: Counter::noop(),
            rejected: Counter::noop(),
        }
    }
}

/// Counts per time bucket over a sliding window (ten buckets), for error
/// rates and retry budgets.
#[derive(Debug)]
pub(crate) struct Window {
    start: Instant,
    bucket: Duration,
    /// (bucket number, events, marked events)
    slots: [(u64, u32, u32); 10],
}

impl Window {
    pub(crate) fn new(length: Duration, start: Instant) -> Self {
        Self {
            start,
            bucket: (length / 10).max(Duration::from_millis(1)),
            slots: [(0, 0, 0); 10],
        }
    }

    fn number(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.start).as_nanos() / self.bucket.as_nanos()) as u64
    }

    /// Counts one event at `now`; `marked` ones (failures, retries) apart too.
    pub(crate) fn add(&mut self, now: Instant, marked: bool) {
        let n = self.number(now);
        let slot = &mut self.slots[(n % 10) as usize];
        if slot.0 != n {
            *slot = (n, 0, 0);
        }
        slot.1 += 1;
        slot.2 += u32::from(marked);
    }

    /// Events and marked events within the window ending at `now`.
    pub(crate) fn totals(&self, now: Instant) -> (u32, u32) {
        let n = self.number(now);
        self.slots
            .iter()
            .filter(|(number, _, _)| *number + 10 > n && *number <= n)
            .fold((0, 0), |(all, marked), (_, a, m)| (all + a, marked + m))
    }

    pub(crate) fn clear(&mut self) {
        self.slots = [(0, 0, 0); 10];
    }
}

struct Inner {
    state: State,
    opened_at: Instant,
    consecutive: u32,
    window: Window,
    /// Probes in flight while half-open.
    probes: u32,
    /// Bumped on every transition: a permit from an earlier state changes nothing.
    generation: u64,
}

pub struct Breaker {
    subgraph: String,
    config: BreakerConfig,
    inner: Mutex<Inner>,
    metrics: BreakerMetrics,
}

/// The breaker is open: the request was not sent.
#[derive(Debug, Clone, Copy)]
pub struct Rejected;

/// Leave to send one request; hand its outcome back with [`Permit::record`].
/// Dropped without a record (the request was cancelled), it frees its probe
/// slot and counts as nothing.
pub struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    generation: u64,
    recorded: bool,
}

impl Breaker {
    pub fn new(
        subgraph: &str,
        config: BreakerConfig,
        metrics: BreakerMetrics,
        now: Instant,
    ) -> Self {
        metrics.state.set(State::Closed.gauge());
        Self {
            subgraph: subgraph.to_owned(),
            inner: Mutex::new(Inner {
                state: State::Closed,
                opened_at: now,
                consecutive: 0,
                window: Window::new(Duration::from_millis(config.window_ms), now),
                probes: 0,
                generation: 0,
            }),
            config,
            metrics,
        }
    }

    pub fn state(&self) -> State {
        self.lock().state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a request go out at `now`?
    pub fn admit(&self, now: Instant) -> Result<Permit<'_>, Rejected> {
        if !self.config.enabled {
            return Ok(self.permit(false, 0));
        }
        let mut inner = self.lock();
        if inner.state == State::Open
            && now.saturating_duration_since(inner.opened_at)
                >= Duration::from_millis(self.config.open_ms)
        {
            self.transition(&mut inner, State::HalfOpen, now);
        }
        match inner.state {
            State::Closed => Ok(self.permit(false, inner.generation)),
            State::HalfOpen if inner.probes < self.config.half_open_probes.max(1) => {
                inner.probes += 1;
                Ok(self.permit(true, inner.generation))
            }
            State::HalfOpen | State::Open => {
                self.metrics.rejected.increment(1);
                Err(Rejected)
            }
        }
    }

    fn permit(&self, probe: bool, generation: u64) -> Permit<'_> {
        Permit {
            breaker: self,
            probe,
            generation,
            recorded: false,
        }
    }

    fn outcome(&self, permit: &Permit<'_>, failed: Option<bool>, now: Instant) {
        if !self.config.enabled {
            return;
        }
        let mut inner = self.lock();
        if permit.generation != inner.generation {
            // Sent before the last transition: its news is stale.
            return;
        }
        if permit.probe {
            inner.probes = inner.probes.saturating_sub(1);
        }
        let Some(failed) = failed else { return };
        match (inner.state, permit.probe) {
            (State::HalfOpen, true) => {
                let to = if failed { State::Open } else { State::Closed };
                self.transition(&mut inner, to, now);
            }
            (State::Closed, _) => {
                inner.window.add(now, failed);
                if !failed {
                    inner.consecutive = 0;
                    return;
                }
                inner.consecutive += 1;
                let (all, failures) = inner.window.totals(now);
                let rate_tripped = all >= self.config.min_requests.max(1)
                    && f64::from(failures) >= self.config.error_rate * f64::from(all);
                if inner.consecutive >= self.config.consecutive_failures.max(1) || rate_tripped {
                    self.transition(&mut inner, State::Open, now);
                }
            }
            _ => {}
        }
    }

    fn transition(&self, inner: &mut Inner, to: State, now: Instant) {
        let from = inner.state;
        inner.state = to;
        inner.generation += 1;
        inner.probes = 0;
        match to {
            State::Open => {
                inner.opened_at = now;
                self.metrics.to_open.increment(1);
                tracing::warn!(subgraph = %self.subgraph, from = from.label(), failures_in_a_row = inner.consecutive, "circuit breaker opened: failing fast");
            }
            State::HalfOpen => {
                self.metrics.to_half_open.increment(1);
                tracing::info!(subgraph = %self.subgraph, from = from.label(), "circuit breaker half-open: probing");
            }
            State::Closed => {
                inner.consecutive = 0;
                inner.window.clear();
                self.metrics.to_closed.increment(1);
                tracing::info!(subgraph = %self.subgraph, from = from.label(), "circuit breaker closed");
            }
        }
        self.metrics.state.set(to.gauge());
    }
}

impl Permit<'_> {
    /// The request's outcome: `failed` when the subgraph could not answer
    /// (connection, timeout, 5xx).
    pub fn record(mut self, failed: bool, now: Instant) {
        self.recorded = true;
        self.breaker.outcome(&self, Some(failed), now);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded && self.probe {
            self.breaker.outcome(self, None, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(config: BreakerConfig) -> (Breaker, Instant) {
        let t0 = Instant::now();
        (Breaker::new("s", config, BreakerMetrics::noop(), t0), t0)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn fail(b: &Breaker, at: Instant) {
        b.admit(at).expect("admitted").record(true, at);
    }

    fn succeed(b: &Breaker, at: Instant) {
        b.admit(at).expect("admitted").record(false, at);
    }

    #[test]
    fn consecutive_failures_open_it_and_a_success_resets_the_count() {
        let (b, t0) = breaker(BreakerConfig {
            consecutive_failures: 3,
            ..Default::default()
        });
        fail(&b, t0);
        fail(&b, t0);
        succeed(&b, t0);
        fail(&b, t0);
        fail(&b, t0);
        assert_eq!(b.state(), State::Closed);
        fail(&b, t0);
        assert_eq!(b.state(), State::Open);
        assert!(b.admit(t0 + ms(999)).is_err(), "fails fast while open");
    }

    #[test]
    fn an_error_rate_over_the_window_opens_it() {
        let (b, t0) = breaker(BreakerConfig {
            consecutive_failures: 100,
            error_rate: 0.5,
            min_requests: 10,
            window_ms: 1_000,
            ..Default::default()
        });
        // Alternating: never two failures in a row, but half of all requests.
        for i in 0..9 {
            let at = t0 + ms(i * 10);
            if i % 2 == 0 {
                succeed(&b, at)
            } else {
                fail(&b, at)
            }
        }
        assert_eq!(b.state(), State::Closed, "4 of 9: under the rate");
        fail(&b, t0 + ms(90));
        assert_eq!(b.state(), State::Open, "5 of 10");
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let (b, t0) = breaker(BreakerConfig {
            consecutive_failures: 100,
            error_rate: 0.5,
            min_requests: 4,
            window_ms: 1_000,
            ..Default::default()
        });
        for i in 0..3 {
            fail(&b, t0 + ms(i));
        }
        let later = t0 + ms(5_000);
        succeed(&b, later);
        succeed(&b, later);
        succeed(&b, later);
        fail(&b, later);
        assert_eq!(
            b.state(),
            State::Closed,
            "1 of 4 in the window (4 of 7 with the old ones)"
        );
    }

    #[test]
    fn after_the_cool_down_one_probe_goes_through_and_its_success_closes() {
        let (b, t0) = breaker(BreakerConfig {
            consecutive_failures: 1,
            open_ms: 1_000,
            half_open_probes: 1,
            ..Default::default()
        });
        fail(&b, t0);
        assert_eq!(b.state(), State::Open);
        let probe = b
            .admit(t0 + ms(1_000))
            .expect("a probe after the cool-down");
        assert_eq!(b.state(), State::HalfOpen);
        assert!(b.admit(t0 + ms(1_001)).is_err(), "one probe at a time");
        probe.record(false, t0 + ms(1_010));
        assert_eq!(b.state(), State::Closed);
        succeed(&b, t0 + ms(1_011));
    }

    #[test]
    fn a_failed_probe_opens_it_again_for_a_full_cool_down() {
        let (b, t0) = breaker(BreakerConfig {
            consecutive_failures: 1,
            open_ms: 1_000,
            ..Default::default()
        });
        fail(&b, t0);
        fail(&b, t0 + ms(1_000));
        assert_eq!(b.state(), State::Open);
        assert!(b.admit(t0 + ms(1_999)).is_err());
        assert!(b.admit(t0 + ms(2_000)).is_ok());
    }

    #[test]
    fn a_cancelled_probe_frees_its_slot_and_stale_outcomes_change_nothing() {
        let (b, t0) = breaker(BreakerConfig {
            consecutive_failures: 1,
            open_ms: 100,
            ..Default::default()
        });
        let early = b.admit(t0).expect("closed");
        fail(&b, t0);
        drop(b.admit(t0 + ms(100)).expect("probe"));
        assert_eq!(b.state(), State::HalfOpen);
        // Sent while closed, answered now: no news about the subgraph today.
        early.record(false, t0 + ms(101));
        assert_eq!(b.state(), State::HalfOpen);
        let probe = b.admit(t0 + ms(102)).expect("the slot is free again");
        probe.record(false, t0 + ms(103));
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn disabled_it_never_opens() {
        let (b, t0) = breaker(BreakerConfig {
            enabled: false,
            consecutive_failures: 1,
            ..Default::default()
        });
        for _ in 0..10 {
            fail(&b, t0);
        }
        assert_eq!(b.state(), State::Closed);
    }
}
