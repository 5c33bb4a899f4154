use std::time::Duration;

/// Exponential backoff with full jitter: the n-th delay is uniform in
/// `[0, min(max, initial * 2^n)]`, so that many clients reconnecting after a broker
/// restart do not arrive in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The upper bound of the next delay (before jitter).
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The next delay, given a uniform sample in `[0, 1]`.
    pub fn next_with(&mut self, unit: f64) -> Duration {
        let delay = self.ceiling().mul_f64(unit.clamp(0.0, 1.0));
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// The next delay, jittered with the thread RNG.
    pub fn next_delay(&mut self) -> Duration {
        self.next_with(rand::random::<f64>())
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_until_the_maximum() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let ceilings: Vec<u128> = (0..6)
            .map(|_| {
                let c = b.ceiling().as_millis();
                b.next_with(1.0);
                c
            })
            .collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1000, 1000]);
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(100));
    }

    #[test]
    fn jitter_stays_within_the_ceiling() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        for _ in 0..100 {
            let ceiling = b.ceiling();
            let d = b.next_delay();
            assert!(d <= ceiling);
        }
        // Many attempts never overflow.
        assert_eq!(b.ceiling(), Duration::from_secs(30));
        assert_eq!(b.next_with(-3.0), Duration::ZERO);
        assert_eq!(b.next_with(7.0), Duration::from_secs(30));
    }
}
