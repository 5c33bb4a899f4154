//! Login lockout: N consecutive failures lock an account for T.

/// Lockout settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock the account (at least 1).
    pub max_failures: u32,
    /// How long the account stays locked, in milliseconds.
    pub lock_ms: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 5,
            lock_ms: 5 * 60 * 1000,
        }
    }
}

/// An account's login counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginState {
    /// Consecutive failures since the last success or lock.
    pub failures: u32,
    /// Locked until this time (ms since epoch), if locked.
    pub locked_until: Option<i64>,
}

/// Whether a login attempt may be checked at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// The password may be checked.
    Open,
    /// Refused without checking the password.
    Locked {
        /// When the lock ends (ms since epoch).
        until: i64,
    },
}

/// Is the account open at `now`?
pub fn gate(state: LoginState, now: i64) -> Gate {
    match state.locked_until {
        Some(until) if until > now => Gate::Locked { until },
        _ => Gate::Open,
    }
}

/// The state after a wrong password at `now`, and whether this failure locked the account.
pub fn after_failure(state: LoginState, now: i64, policy: LockoutPolicy) -> (LoginState, bool) {
    if let Gate::Locked { .. } = gate(state, now) {
        return (state, false);
    }
    let failures = state.failures.saturating_add(1);
    if failures >= policy.max_failures.max(1) {
        (
            LoginState {
                failures: 0,
                locked_until: Some(now.saturating_add(policy.lock_ms)),
            },
            true,
        )
    } else {
        (
            LoginState {
                failures,
                locked_until: None,
            },
            false,
        )
    }
}

/// The state after a successful login.
pub fn after_success() -> LoginState {
    LoginState::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: LockoutPolicy = LockoutPolicy {
        max_failures: 5,
        lock_ms: 300_000,
    };

    #[test]
    fn fifth_consecutive_failure_locks_for_t() {
        let mut s = LoginState::default();
        for i in 1..=4 {
            let (next, locked) = after_failure(s, 1000, P);
            assert!(!locked);
            assert_eq!(next.failures, i);
            s = next;
        }
        let (s, locked) = after_failure(s, 1000, P);
        assert!(locked);
        assert_eq!(gate(s, 1000), Gate::Locked { until: 301_000 });
        assert_eq!(gate(s, 300_999), Gate::Locked { until: 301_000 });
        assert_eq!(gate(s, 301_000), Gate::Open);
    }

    #[test]
    fn success_resets_the_count() {
        let (s, _) = after_failure(LoginState::default(), 0, P);
        assert_eq!(s.failures, 1);
        assert_eq!(after_success(), LoginState::default());
    }

    #[test]
    fn failures_while_locked_do_not_extend_the_lock() {
        let s = LoginState {
            failures: 0,
            locked_until: Some(500),
        };
        assert_eq!(after_failure(s, 100, P), (s, false));
    }

    proptest! {
        #[test]
        fn locks_exactly_at_the_nth_failure(n in 1u32..20, t in 0i64..1_000_000) {
            let p = LockoutPolicy { max_failures: n, lock_ms: 1000 };
            let mut s = LoginState::default();
            for i in 1..=n {
                prop_assert_eq!(gate(s, t), Gate::Open);
                let (next, locked) = after_failure(s, t, p);
                prop_assert_eq!(locked, i == n);
                s = next;
            }
            prop_assert_eq!(gate(s, t), Gate::Locked { until: t + 1000 });
            prop_assert_eq!(gate(s, t + 1000), Gate::Open);
        }
    }
}
