//! The retry policy (pure): which failures are retried, and how long to wait.

use std::time::Duration;

use rand::Rng;
use reqwest::Method;

/// How a failed attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be made: the request never reached the service.
    Connect,
    /// The attempt timed out (the service may have acted on it).
    Timeout,
    /// The connection broke during the exchange (the service may have acted on it).
    Transport,
    /// The service answered with this HTTP status.
    Status(u16),
}

/// Retries with exponential backoff and jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry (before jitter).
    pub base_delay: Duration,
    /// Upper bound of one delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// GET, HEAD, PUT, DELETE and OPTIONS may be repeated without changing the outcome.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Whether a failure of attempt number `attempt` (1-based) is retried.
    ///
    /// A request that never reached the service (connection refused, DNS, TLS
    /// handshake) is retried whatever its method. Timeouts, broken connections and the
    /// statuses 429, 500, 502, 503 and 504 are retried only for idempotent methods: a POST
    /// that may have been executed is never repeated.
    pub fn should_retry(&self, method: &Method, failure: Failure, attempt: u32) -> bool {
        if attempt >= self.max_attempts {
            return false;
        }
        match failure {
            Failure::Connect => true,
            Failure::Timeout | Failure::Transport => is_idempotent(method),
            Failure::Status(s) => is_idempotent(method) && matches!(s, 429 | 500 | 502 | 503 | 504),
        }
    }

    /// The ceiling of the delay after attempt `attempt` (1-based): `base · 2^(attempt-1)`,
    /// capped at `max_delay`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        self.base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay)
    }

    /// The delay after attempt `attempt`: uniformly random in `[ceiling/2, ceiling]`
    /// ("equal jitter": spreads clients out, keeps a floor), and at least the service's
    /// `Retry-After` (capped at `max_delay`).
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let jitter_ms = u64::try_from((ceiling - half).as_millis()).unwrap_or(u64::MAX);
        let delay = half + Duration::from_millis(rng.random_range(0..=jitter_ms));
        match retry_after {
            Some(ra) => delay.max(ra.min(self.max_delay)),
            None => delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn only_idempotent_calls_are_retried_after_they_may_have_run() {
        let p = RetryPolicy::default();
        for s in [500, 502, 503, 504, 429] {
            assert!(p.should_retry(&Method::GET, Failure::Status(s), 1), "{s}");
            assert!(
                p.should_retry(&Method::DELETE, Failure::Status(s), 1),
                "{s}"
            );
            assert!(p.should_retry(&Method::PUT, Failure::Status(s), 1), "{s}");
            assert!(!p.should_retry(&Method::POST, Failure::Status(s), 1), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 413, 501] {
            assert!(!p.should_retry(&Method::GET, Failure::Status(s), 1), "{s}");
        }
        assert!(p.should_retry(&Method::GET, Failure::Timeout, 1));
        assert!(!p.should_retry(&Method::POST, Failure::Timeout, 1));
        assert!(!p.should_retry(&Method::POST, Failure::Transport, 1));
        assert!(!p.should_retry(&Method::PATCH, Failure::Status(503), 1));
        // The request never left: even a create may go again.
        assert!(p.should_retry(&Method::POST, Failure::Connect, 1));
    }

    #[test]
    fn stops_after_max_attempts() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        assert!(p.should_retry(&Method::GET, Failure::Connect, 2));
        assert!(!p.should_retry(&Method::GET, Failure::Connect, 3));
        assert!(!RetryPolicy::none().should_retry(&Method::GET, Failure::Connect, 1));
    }

    #[test]
    fn delays_grow_exponentially_with_jitter_and_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        };
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(4), Duration::from_millis(800));
        assert_eq!(p.ceiling(6), Duration::from_secs(2));
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(2));
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = std::collections::BTreeSet::new();
        for attempt in 1..=8 {
            for _ in 0..200 {
                let d = p.delay(attempt, None, &mut rng);
                let c = p.ceiling(attempt);
                assert!(
                    d >= c / 2 && d <= c,
                    "attempt {attempt}: {d:?} outside [{:?}, {c:?}]",
                    c / 2
                );
                seen.insert(d);
            }
        }
        assert!(
            seen.len() > 100,
            "jitter spreads delays: {} distinct",
            seen.len()
        );
    }

    #[test]
    fn retry_after_is_a_floor_within_the_cap() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        assert!(p.delay(1, Some(Duration::from_secs(3)), &mut rng) >= Duration::from_secs(3));
        assert!(p.delay(1, Some(Duration::from_secs(3600)), &mut rng) <= p.max_delay);
    }
}
