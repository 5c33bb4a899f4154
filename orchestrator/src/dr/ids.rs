//! Identifiers the DR domain refers to. They are opaque: OpenStack and the database
//! issue them; the domain only compares and prints them.

use std::fmt;

macro_rules! id {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an identifier issued elsewhere.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

id! {
    /// A recovery job.
    JobId,
    /// A protection group.
    GroupId,
    /// A recovery plan.
    PlanId,
    /// A registered cluster.
    ClusterId,
    /// A protection-group snapshot.
    SnapshotId,
    /// A source instance (its Nova id on the source).
    InstanceId,
    /// A source volume (its Cinder id on the source).
    VolumeId,
    /// A source or target network.
    NetworkId,
    /// A source subnet.
    SubnetId,
    /// A source router.
    RouterId,
    /// A source port.
    PortId,
    /// A security group.
    SecurityGroupId,
    /// A compute node (hypervisor).
    NodeId,
    /// An OpenStack project (tenant).
    ProjectId,
    /// An OpenStack volume group (consistency group).
    VolumeGroupId,
}
