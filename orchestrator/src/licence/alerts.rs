//! When the licence watch raises what (pure): near expiry (at most once per day), expired
//! (once per expiry date), and instance usage reaching 90 % / 100 % of the limit (once
//! per upward crossing; falling back below re-arms it).

use serde::{Deserialize, Serialize};

use super::LicenceTerms;

/// How full the instance limit is.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UsageLevel {
    /// Under 90 % of the limit.
    #[default]
    Normal,
    /// At least 90 % of the limit.
    High,
    /// At or over the limit: no more instances can be protected.
    Full,
}

impl UsageLevel {
    /// The level of `protected` instances under `limit`. A limit of 0 is full as soon as
    /// one instance is protected.
    pub fn of(protected: u64, limit: u32) -> UsageLevel {
        let limit = u64::from(limit);
        if protected > limit || (limit > 0 && protected == limit) {
            UsageLevel::Full
        } else if protected * 10 >= limit * 9 && protected > 0 {
            UsageLevel::High
        } else {
            UsageLevel::Normal
        }
    }
}

/// What the watch raised before (stored, so a restart or a new leader does not repeat it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertMemory {
    /// The day (YYYY-MM-DD, UTC) a near-expiry alert was last raised.
    pub near_expiry_raised_on: Option<String>,
    /// The expiry date (YYYY-MM-DD) whose expiry was raised.
    pub expired_raised_for: Option<String>,
    /// The usage level last seen.
    pub usage_level: UsageLevel,
}

/// One thing to tell the operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// The licence expires within the warning window.
    NearExpiry {
        /// Last valid day.
        expires: String,
        /// Days left (0: today is the last valid day).
        days_left: i64,
    },
    /// The licence is past its last valid day.
    Expired {
        /// Last valid day.
        expires: String,
    },
    /// Usage reached 90 % of the limit.
    UsageHigh {
        /// Protected instances.
        protected: u64,
        /// The limit.
        limit: u32,
    },
    /// Usage reached the limit.
    UsageFull {
        /// Protected instances.
        protected: u64,
        /// The limit.
        limit: u32,
    },
}

/// `protected` as a percentage of `limit`, rounded down; `None` for a limit of 0.
pub fn usage_percent(protected: u64, limit: u32) -> Option<u64> {
    protected.saturating_mul(100).checked_div(u64::from(limit))
}

/// Days from `today` to the last valid day of `terms` (negative once expired); `None`
/// when the dates do not parse.
pub fn days_to_expiry(terms: &LicenceTerms, today: jiff::civil::Date) -> Option<i64> {
    let expires: jiff::civil::Date = terms.expires.parse().ok()?;
    today
        .until(expires)
        .ok()
        .map(|span| i64::from(span.get_days()))
}

/// The alerts to raise now and the memory to store afterwards. Nothing is raised without
/// a licence.
pub fn decide(
    terms: Option<&LicenceTerms>,
    protected: u64,
    today: jiff::civil::Date,
    warn_days: u32,
    memory: &AlertMemory,
) -> (Vec<Alert>, AlertMemory) {
    let Some(terms) = terms else {
        return (Vec::new(), memory.clone());
    };
    let mut next = memory.clone();
    let mut alerts = Vec::new();
    let today_text = today.to_string();
    let days_left = days_to_expiry(terms, today);
    let expired = days_left.is_some_and(|d| d < 0);
    let near = days_left.filter(|d| (0..=i64::from(warn_days)).contains(d));
    if expired && memory.expired_raised_for.as_deref() != Some(terms.expires.as_str()) {
        alerts.push(Alert::Expired {
            expires: terms.expires.clone(),
        });
        next.expired_raised_for = Some(terms.expires.clone());
    }
    if let Some(days_left) = near
        && memory.near_expiry_raised_on.as_deref() != Some(today_text.as_str())
    {
        alerts.push(Alert::NearExpiry {
            expires: terms.expires.clone(),
            days_left,
        });
        next.near_expiry_raised_on = Some(today_text);
    }
    let level = UsageLevel::of(protected, terms.instance_limit);
    if level > memory.usage_level {
        let limit = terms.instance_limit;
        alerts.push(match level {
            UsageLevel::Full => Alert::UsageFull { protected, limit },
            _ => Alert::UsageHigh { protected, limit },
        });
    }
    next.usage_level = level;
    (alerts, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(expires: &str, limit: u32) -> LicenceTerms {
        LicenceTerms {
            product_uuid: "p".into(),
            issued: "2026-01-01".into(),
            expires: expires.into(),
            instance_limit: limit,
            platforms: vec!["openstack".into()],
        }
    }

    fn day(s: &str) -> jiff::civil::Date {
        s.parse().unwrap()
    }

    #[test]
    fn usage_levels() {
        assert_eq!(UsageLevel::of(0, 10), UsageLevel::Normal);
        assert_eq!(UsageLevel::of(8, 10), UsageLevel::Normal);
        assert_eq!(UsageLevel::of(9, 10), UsageLevel::High);
        assert_eq!(UsageLevel::of(10, 10), UsageLevel::Full);
        assert_eq!(UsageLevel::of(11, 10), UsageLevel::Full);
        assert_eq!(UsageLevel::of(89, 100), UsageLevel::Normal);
        assert_eq!(UsageLevel::of(90, 100), UsageLevel::High);
        assert_eq!(UsageLevel::of(0, 0), UsageLevel::Normal);
        assert_eq!(UsageLevel::of(1, 0), UsageLevel::Full);
        assert_eq!(UsageLevel::of(1, 1), UsageLevel::Full);
    }

    #[test]
    fn usage_percent_rounds_down() {
        assert_eq!(usage_percent(0, 10), Some(0));
        assert_eq!(usage_percent(9, 10), Some(90));
        assert_eq!(usage_percent(2, 3), Some(66));
        assert_eq!(usage_percent(12, 10), Some(120));
        assert_eq!(usage_percent(1, 0), None);
    }

    #[test]
    fn days_to_expiry_counts_the_last_valid_day() {
        let t = terms("2026-12-31", 10);
        assert_eq!(days_to_expiry(&t, day("2026-12-31")), Some(0));
        assert_eq!(days_to_expiry(&t, day("2026-12-01")), Some(30));
        assert_eq!(days_to_expiry(&t, day("2027-01-01")), Some(-1));
        assert_eq!(
            days_to_expiry(&terms("garbage", 1), day("2026-01-01")),
            None
        );
    }

    #[test]
    fn near_expiry_is_raised_once_per_day_inside_the_window() {
        let t = terms("2026-12-31", 10);
        let m0 = AlertMemory::default();
        // Outside the window: nothing.
        let (a, m) = decide(Some(&t), 0, day("2026-11-30"), 30, &m0);
        assert!(a.is_empty());
        assert_eq!(m, m0);
        // First day inside: raised; the same day again: not.
        let (a, m) = decide(Some(&t), 0, day("2026-12-01"), 30, &m);
        assert_eq!(
            a,
            vec![Alert::NearExpiry {
                expires: "2026-12-31".into(),
                days_left: 30
            }]
        );
        let (a, m) = decide(Some(&t), 0, day("2026-12-01"), 30, &m);
        assert!(a.is_empty());
        // Next day: raised again, with one day less.
        let (a, m) = decide(Some(&t), 0, day("2026-12-02"), 30, &m);
        assert_eq!(
            a,
            vec![Alert::NearExpiry {
                expires: "2026-12-31".into(),
                days_left: 29
            }]
        );
        // The last valid day is still "near", not expired.
        let (a, m) = decide(Some(&t), 0, day("2026-12-31"), 30, &m);
        assert!(matches!(a[..], [Alert::NearExpiry { days_left: 0, .. }]));
        // The day after: expired, once.
        let (a, m) = decide(Some(&t), 0, day("2027-01-01"), 30, &m);
        assert_eq!(
            a,
            vec![Alert::Expired {
                expires: "2026-12-31".into()
            }]
        );
        let (a, m) = decide(Some(&t), 0, day("2027-01-02"), 30, &m);
        assert!(a.is_empty());
        // A renewed licence that expires again is raised again.
        let renewed = terms("2027-01-05", 10);
        let (a, _) = decide(Some(&renewed), 0, day("2027-01-06"), 30, &m);
        assert_eq!(
            a,
            vec![Alert::Expired {
                expires: "2027-01-05".into()
            }]
        );
    }

    #[test]
    fn usage_is_raised_once_per_upward_crossing() {
        let t = terms("2099-12-31", 10);
        let today = day("2026-06-01");
        let (a, m) = decide(Some(&t), 5, today, 30, &AlertMemory::default());
        assert!(a.is_empty());
        let (a, m) = decide(Some(&t), 9, today, 30, &m);
        assert_eq!(
            a,
            vec![Alert::UsageHigh {
                protected: 9,
                limit: 10
            }]
        );
        let (a, m) = decide(Some(&t), 9, today, 30, &m);
        assert!(a.is_empty());
        let (a, m) = decide(Some(&t), 10, today, 30, &m);
        assert_eq!(
            a,
            vec![Alert::UsageFull {
                protected: 10,
                limit: 10
            }]
        );
        let (a, m) = decide(Some(&t), 10, today, 30, &m);
        assert!(a.is_empty());
        // Back under 90 %, then up again: raised again.
        let (a, m) = decide(Some(&t), 3, today, 30, &m);
        assert!(a.is_empty());
        assert_eq!(m.usage_level, UsageLevel::Normal);
        // A jump straight to the limit raises only the highest level.
        let (a, _) = decide(Some(&t), 10, today, 30, &m);
        assert_eq!(
            a,
            vec![Alert::UsageFull {
                protected: 10,
                limit: 10
            }]
        );
    }

    #[test]
    fn no_licence_raises_nothing() {
        let m = AlertMemory {
            usage_level: UsageLevel::High,
            ..AlertMemory::default()
        };
        let (a, next) = decide(None, 100, day("2026-06-01"), 30, &m);
        assert!(a.is_empty());
        assert_eq!(next, m);
    }

    #[test]
    fn memory_reads_what_older_versions_stored() {
        let m: AlertMemory = serde_json::from_str("{}").unwrap();
        assert_eq!(m, AlertMemory::default());
    }
}
