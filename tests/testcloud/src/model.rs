//! The cloud's in-memory state and its consistency rules, as plain Rust.
//!
//! Every operation is a method on [`Cloud`] that validates its input, changes the state
//! and records the [`Effect`]s it needs performed (notifications to send, delayed jobs
//! such as "create the volume file, then mark the volume available"). No I/O happens
//! here; [`crate::engine`] performs the effects and feeds job outcomes back through
//! [`Cloud::finish`].

pub mod block;
pub mod compute;
pub mod effect;
pub mod identity;
pub mod network;
pub mod page;
pub mod quota;

use std::path::PathBuf;

pub use effect::{Effect, Job, Notification, Priority, Service};

/// Why an operation was refused. The HTTP edge maps each variant to the status and
/// error body of the service that was called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{kind} {id} could not be found.")]
    NotFound { kind: &'static str, id: String },
    /// `code` is Neutron's error type (e.g. `NetworkInUse`).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unauthorized(String),
}

impl CloudError {
    pub fn bad(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            id: id.into(),
        }
    }
    pub fn conflict(code: &'static str, msg: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: msg.into(),
        }
    }
}

pub type CloudResult<T> = Result<T, CloudError>;

/// The whole cloud: identity, networking, block storage and compute, kept consistent.
#[derive(Debug)]
pub struct Cloud {
    pub region: String,
    pub storage_root: PathBuf,
    pub token_ttl_secs: u64,
    pub identity: identity::Identity,
    pub net: network::Networking,
    pub block: block::BlockStorage,
    pub compute: compute::Compute,
    pub quotas: quota::Quotas,
    effects: Vec<Effect>,
    /// Loading a fixture: build no notifications (they would be dropped anyway).
    pub(crate) quiet: bool,
}

impl Cloud {
    /// An empty cloud with the bootstrap identity (domain `default`, project `admin`,
    /// user `admin`, roles `admin`/`member`/`reader`, project `service`), the given
    /// volume backends and a default volume type on the first backend.
    pub fn new(
        region: &str,
        storage_root: PathBuf,
        admin_password: &str,
        backends: &[crate::config::Backend],
    ) -> Self {
        let mut cloud = Self {
            region: region.to_owned(),
            storage_root,
            token_ttl_secs: 3600,
            identity: identity::Identity::default(),
            net: network::Networking::default(),
            block: block::BlockStorage::default(),
            compute: compute::Compute::default(),
            quotas: quota::Quotas::default(),
            effects: Vec::new(),
            quiet: false,
        };
        cloud.bootstrap_identity(admin_password);
        for b in backends {
            cloud.block.add_pool(&b.name, &b.pool, b.capacity_gb);
        }
        if let Some(first) = backends.first() {
            cloud.block.add_default_type(&first.name);
        }
        cloud.take_effects();
        cloud
    }

    pub(crate) fn notify(&mut self, n: Notification) {
        if self.quiet {
            return;
        }
        self.effects.push(Effect::Notify(n));
    }

    pub(crate) fn job(&mut self, j: Job) {
        self.effects.push(Effect::Job(j));
    }

    /// The effects recorded since the last call.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Applies the outcome of a job the engine has performed.
    pub fn finish(&mut self, job: &Job, outcome: Result<(), String>) {
        match job {
            Job::CreateVolume { volume_id, .. } => self.finish_volume_create(volume_id, outcome),
            Job::DeleteVolume { volume_id, .. } => self.finish_volume_delete(volume_id, outcome),
            Job::ExtendVolume {
                volume_id, size_gb, ..
            } => self.finish_volume_extend(volume_id, *size_gb, outcome),
            Job::AdoptVolume { volume_id, .. } => self.finish_volume_manage(volume_id, outcome),
            Job::CreateSnapshot { snapshot_id, .. } => {
                self.finish_snapshot_create(snapshot_id, outcome)
            }
            Job::DeleteSnapshot { snapshot_id, .. } => {
                self.finish_snapshot_delete(snapshot_id, outcome)
            }
            Job::AttachVolume {
                volume_id,
                server_id,
            } => self.finish_volume_attach(volume_id, server_id),
            Job::DetachVolume {
                volume_id,
                server_id,
            } => self.finish_volume_detach(volume_id, server_id),
            Job::BuildServer { server_id } => self.finish_server_build(server_id),
            Job::DeleteServer { server_id } => self.finish_server_delete(server_id),
            Job::PowerServer { server_id, action } => self.finish_server_power(server_id, *action),
        }
    }
}

/// A fresh UUID in its hyphenated form (Nova, Cinder, Neutron ids).
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A fresh UUID without hyphens (Keystone ids).
pub fn new_hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::config::Backend;

    /// A cloud with one hypervisor (8 vCPU, 16 GiB) and flavor `small` (2 vCPU, 4 GiB).
    pub(crate) fn cloud() -> Cloud {
        let mut c = Cloud::new("R", "/storage".into(), "pw", &[Backend::default()]);
        c.compute.add_hypervisor("hv1", "nova", 8, 16384, 100);
        c.compute
            .create_flavor(compute::Flavor {
                id: "small".into(),
                name: "small".into(),
                ram: 4096,
                vcpus: 2,
                disk: 10,
                ephemeral: 0,
                swap: 0,
                rxtx_factor: 1.0,
                is_public: true,
                description: None,
                extra_specs: Default::default(),
            })
            .unwrap();
        c
    }

    pub(crate) fn admin_project(c: &Cloud) -> String {
        c.identity
            .projects
            .values()
            .find(|p| p.name == "admin")
            .unwrap()
            .id
            .clone()
    }

    /// Completes every pending job successfully (no files are touched) and returns the
    /// notifications' event types.
    pub(crate) fn settle(c: &mut Cloud) -> Vec<String> {
        let mut events = vec![];
        loop {
            let effects = c.take_effects();
            if effects.is_empty() {
                return events;
            }
            for e in effects {
                match e {
                    Effect::Job(j) => c.finish(&j, Ok(())),
                    Effect::Notify(n) => events.push(n.event_type),
                }
            }
        }
    }
}
