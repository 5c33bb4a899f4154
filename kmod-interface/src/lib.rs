//! The ABI of the Holdfast change-tracking block-device kernel module, and the
//! [`ChangeTracker`] abstraction the replication engine uses to learn which blocks of a
//! volume changed.
//!
//! Three trackers implement it:
//! - [`KernelTracker`]: the kernel module's dirty bitmap, fetched and reset per epoch
//!   through ioctls on [`abi::DEVICE_PATH`];
//! - [`ScanTracker`]: a user-space fallback keeping a per-volume checksum table in the
//!   state directory, so it finds changed blocks by reading only the source;
//! - (Ceph RBD snapshot diffs are not implemented yet.)
//!
//! This is the only crate of the workspace that contains `unsafe` code: the ioctl calls
//! in [`kernel`] and the `FICLONE` call in [`clone`]. Each block carries a `SAFETY`
//! comment.

pub mod abi;
pub mod bitmap;
pub mod blocks;
pub mod clone;
pub mod detect;
mod durable;
pub mod kernel;
pub mod scan;
pub mod shipped;
mod tracker;

pub use blocks::{Extent, coalesce, whole};
pub use detect::{ModuleInfo, module_loaded, parse_proc_modules};
pub use kernel::{KernelDevice, KernelTracker};
pub use scan::ScanTracker;
pub use shipped::ShippedTable;
pub use tracker::{ChangeSet, ChangeTracker, StagedChanges, TrackerError, TrackerKind};
