//! A token bucket limiting data-plane bandwidth (pure: the caller supplies the time).

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// `rate` bytes per second, bursts of up to a quarter second (at least 1 MiB).
    pub fn new(rate_bps: u64, now: Instant) -> TokenBucket {
        let rate = rate_bps.max(1) as f64;
        let burst = (rate / 4.0).max(1024.0 * 1024.0);
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes `bytes` and returns how long to wait before sending them.
    pub fn take(&mut self, bytes: u64, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= bytes as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sustained_rate_is_the_configured_one() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10 << 20, t0);
        let mut now = t0;
        // Send 100 MiB in 1 MiB pieces, waiting as told: it takes ~10 s minus the burst.
        for _ in 0..100 {
            now += b.take(1 << 20, now);
        }
        let secs = now.duration_since(t0).as_secs_f64();
        assert!((9.6..=10.0).contains(&secs), "{secs}");
    }

    #[test]
    fn idle_time_refills_only_up_to_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(4 << 20, t0);
        assert_eq!(b.take(1 << 20, t0), Duration::ZERO);
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(b.take(1 << 20, later), Duration::ZERO);
        assert!(b.take(1 << 20, later) > Duration::ZERO);
    }
}
