//! Counters of the cluster sync, the notification listeners and the status probes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::metrics::Metrics;

/// Labels: the cluster.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabel {
    /// Cluster id.
    pub cluster: String,
}

/// Labels: the cluster and an outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// Cluster id.
    pub cluster: String,
    /// `applied`, `ignored`, `malformed`, `failed`.
    pub outcome: String,
}

/// The cluster metrics (cheap to clone; clones share the values).
#[derive(Debug, Clone)]
pub struct ClusterMetrics {
    /// Notifications by outcome.
    pub notifications: Family<OutcomeLabel, Counter>,
    /// Rows a full sync had to change although notifications should have (drift).
    pub drift: Family<ClusterLabel, Counter>,
    /// Full syncs by outcome (`done`, `failed`).
    pub syncs: Family<OutcomeLabel, Counter>,
    /// Full sync duration.
    pub sync_seconds: Family<ClusterLabel, Histogram>,
}

impl ClusterMetrics {
    /// Fresh counters, registered in `registry`.
    pub fn new(registry: &Metrics) -> Self {
        let m = ClusterMetrics {
            notifications: Family::default(),
            drift: Family::default(),
            syncs: Family::default(),
            sync_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.05, 2.0, 14))
            }),
        };
        registry.register(
            "cluster_notifications",
            "OpenStack notifications by outcome (applied, ignored, malformed, failed)",
            m.notifications.clone(),
        );
        registry.register(
            "cluster_sync_drift",
            "Resource rows a periodic full sync repaired (missed or lost notifications)",
            m.drift.clone(),
        );
        registry.register(
            "cluster_syncs",
            "Full resource syncs by outcome",
            m.syncs.clone(),
        );
        registry.register(
            "cluster_sync_duration_seconds",
            "Duration of full resource syncs",
            m.sync_seconds.clone(),
        );
        m
    }

    /// Counts `n` notifications of `outcome`.
    pub fn notification(&self, cluster: &str, outcome: &str, n: u64) {
        self.notifications
            .get_or_create(&OutcomeLabel {
                cluster: cluster.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc_by(n);
    }
}
