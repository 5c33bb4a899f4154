//! Fault injection (driven from the admin endpoint) and request counters.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// One injected fault: which requests it matches and what it does to them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    #[serde(default)]
    pub id: u64,
    /// `identity`, `compute`, `volume` or `network`; any when absent.
    #[serde(default)]
    pub service: Option<String>,
    /// HTTP method (`GET`, `POST`, ...); any when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Substring of the request path; any when absent.
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Probability (0..=1) that a matching request is affected; 1 when absent.
    #[serde(default)]
    pub probability: Option<f64>,
    /// How many more requests it affects; unlimited when absent.
    #[serde(default)]
    pub remaining: Option<u64>,
    pub action: FaultAction,
}

/// What a fault does.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer with this status and the service's error body.
    Error {
        status: u16,
        #[serde(default)]
        message: Option<String>,
    },
    /// Delay the request, then serve it normally.
    Latency { ms: u64 },
    /// Hold the request this long, then answer 504 (clients time out first).
    Timeout { ms: u64 },
    /// Answer as the service would when its quota for `resource` is exhausted.
    QuotaExceeded { resource: String },
}

/// The fault table, the outage switch and the counters.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<FaultRule>>,
    next_id: AtomicU64,
    pub outage: AtomicBool,
    pub injected: AtomicU64,
    requests: Mutex<BTreeMap<String, u64>>,
    refusals: Mutex<Option<RefusalChannel>>,
}

type RefusalChannel = (
    tokio::sync::mpsc::UnboundedSender<std::time::Duration>,
    Option<tokio::sync::mpsc::UnboundedReceiver<std::time::Duration>>,
);

impl Faults {
    pub fn add(&self, mut rule: FaultRule) -> Result<FaultRule, String> {
        if let Some(p) = rule.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err("probability must be between 0 and 1".into());
        }
        if let FaultAction::Error { status, .. } = rule.action
            && !(400..=599).contains(&status)
        {
            return Err("status must be between 400 and 599".into());
        }
        rule.id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.lock_rules().push(rule.clone());
        Ok(rule)
    }

    fn lock_rules(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.lock_rules().clone()
    }

    pub fn remove(&self, id: u64) -> bool {
        let mut r = self.lock_rules();
        let before = r.len();
        r.retain(|x| x.id != id);
        r.len() != before
    }

    pub fn clear(&self) {
        self.lock_rules().clear();
        self.outage.store(false, Ordering::Relaxed);
    }

    /// The action of the first rule matching this request, consuming one use of it.
    pub fn check(&self, service: &str, method: &str, path: &str) -> Option<FaultAction> {
        let mut rules = self.lock_rules();
        let idx = rules.iter().position(|r| {
            r.service.as_deref().is_none_or(|s| s == service)
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.path_contains.as_deref().is_none_or(|p| path.contains(p))
                && r.remaining != Some(0)
        })?;
        if let Some(p) = rules[idx].probability
            && rand::random::<f64>() >= p
        {
            return None;
        }
        let rule = &mut rules[idx];
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        let action = rule.action.clone();
        if rule.remaining == Some(0) {
            rules.remove(idx);
        }
        self.injected.fetch_add(1, Ordering::Relaxed);
        Some(action)
    }

    fn refusal_channel(&self) -> std::sync::MutexGuard<'_, Option<RefusalChannel>> {
        let mut g = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            *g = Some((tx, Some(rx)));
        }
        g
    }

    /// The server's end of "refuse connections for a while" requests (taken once).
    pub fn take_refusals(&self) -> tokio::sync::mpsc::UnboundedReceiver<std::time::Duration> {
        let mut g = self.refusal_channel();
        match g.as_mut().and_then(|(_, rx)| rx.take()) {
            Some(rx) => rx,
            None => tokio::sync::mpsc::unbounded_channel().1,
        }
    }

    /// Closes the listening socket for `d`: clients get connection refused.
    pub fn refuse_connections(&self, d: std::time::Duration) -> bool {
        self.refusal_channel()
            .as_ref()
            .is_some_and(|(tx, _)| tx.send(d).is_ok())
    }

    pub fn count_request(&self, key: String) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default() += 1;
    }

    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: FaultAction, remaining: Option<u64>) -> FaultRule {
        FaultRule {
            id: 0,
            service: Some("compute".into()),
            method: Some("POST".into()),
            path_contains: Some("/servers".into()),
            probability: None,
            remaining,
            action,
        }
    }

    #[test]
    fn matching_and_remaining_uses() {
        let f = Faults::default();
        f.add(rule(
            FaultAction::Error {
                status: 500,
                message: None,
            },
            Some(2),
        ))
        .unwrap();
        assert!(f.check("volume", "POST", "/servers").is_none());
        assert!(f.check("compute", "GET", "/servers").is_none());
        assert!(
            f.check("compute", "post", "/compute/v2.1/servers")
                .is_some()
        );
        assert!(
            f.check("compute", "POST", "/compute/v2.1/servers")
                .is_some()
        );
        assert!(
            f.check("compute", "POST", "/compute/v2.1/servers")
                .is_none()
        );
        assert!(f.list().is_empty());
        assert_eq!(f.injected.load(Ordering::Relaxed), 2);
        assert!(
            f.add(rule(
                FaultAction::Error {
                    status: 200,
                    message: None
                },
                None
            ))
            .is_err()
        );
    }
}
