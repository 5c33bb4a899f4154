//! What the model asks the engine to do: send notifications and run delayed jobs.

use std::path::PathBuf;

use serde_json::Value;

/// Which service a notification comes from (picks the exchange and publisher id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Compute,
    Volume,
    Identity,
    Network,
}

impl Service {
    pub fn publisher_prefix(self) -> &'static str {
        match self {
            Service::Compute => "compute",
            Service::Volume => "volume",
            Service::Identity => "identity",
            Service::Network => "network",
        }
    }
}

/// oslo.messaging priority; the routing key is `<topic>.<priority>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Info,
    Error,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Info => "info",
            Priority::Error => "error",
        }
    }
    pub fn upper(self) -> &'static str {
        match self {
            Priority::Info => "INFO",
            Priority::Error => "ERROR",
        }
    }
}

/// One notification as the service would emit it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub service: Service,
    pub event_type: String,
    pub priority: Priority,
    /// The host part of `publisher_id` (`compute.<host>`).
    pub host: String,
    pub payload: Value,
}

impl Notification {
    pub fn info(service: Service, event_type: &str, host: &str, payload: Value) -> Self {
        Self {
            service,
            event_type: event_type.to_owned(),
            priority: Priority::Info,
            host: host.to_owned(),
            payload,
        }
    }
}

/// Reboot/start/stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    Start,
    Stop,
    Reboot,
}

/// Delayed work the engine performs, then reports back with [`crate::model::Cloud::finish`].
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Make the volume's file: a sparse file of `size_gb`, or a copy of `source`, then
    /// write `content` at offset 0.
    CreateVolume {
        volume_id: String,
        path: PathBuf,
        size_gb: u64,
        source: Option<PathBuf>,
        content: Option<Vec<u8>>,
    },
    DeleteVolume {
        volume_id: String,
        path: PathBuf,
    },
    ExtendVolume {
        volume_id: String,
        path: PathBuf,
        size_gb: u64,
    },
    /// Manage-existing: rename an unmanaged file of the backend to the volume's name.
    AdoptVolume {
        volume_id: String,
        from: PathBuf,
        to: PathBuf,
    },
    CreateSnapshot {
        snapshot_id: String,
        source: PathBuf,
        path: PathBuf,
    },
    DeleteSnapshot {
        snapshot_id: String,
        path: PathBuf,
    },
    AttachVolume {
        volume_id: String,
        server_id: String,
    },
    DetachVolume {
        volume_id: String,
        server_id: String,
    },
    BuildServer {
        server_id: String,
    },
    DeleteServer {
        server_id: String,
    },
    PowerServer {
        server_id: String,
        action: PowerAction,
    },
}

/// One thing to do after an operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Notify(Notification),
    Job(Job),
}
