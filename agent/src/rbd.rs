//! Ceph RBD images as replication sources and targets, reached through the `rbd` tool
//! (see [`cli`] for why): image and snapshot operations, the export-diff stream
//! ([`stream`]), the source-side change tracker ([`tracker`]) and the target-side
//! writer ([`sink`]).

pub mod cli;
pub mod sink;
pub mod stream;
pub mod tracker;

use serde::Deserialize;

pub use cli::{Cluster, RbdError};

/// Validates an image or snapshot name: 1-200 of `A-Za-z0-9._-`, not starting with
/// `.` or `-` (so it can never be read as an option, a pool or a snapshot spec).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && !s.starts_with(['.', '-'])
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// One RBD image in a cluster's pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub cluster: Cluster,
    pub name: String,
}

#[derive(Debug, Deserialize)]
struct Info {
    size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SnapInfo {
    pub name: String,
    pub size: u64,
}

/// Prefix of the image-meta key recording the epoch a target snapshot holds.
const EPOCH_KEY: &str = "holdfast.snapshot-epoch.";

impl Image {
    pub fn new(cluster: Cluster, name: impl Into<String>) -> Image {
        Image {
            cluster,
            name: name.into(),
        }
    }

    pub fn spec(&self) -> String {
        self.cluster.spec(&self.name, None)
    }

    pub fn snap_spec(&self, snap: &str) -> String {
        self.cluster.spec(&self.name, Some(snap))
    }

    /// The image's size, `None` when it does not exist.
    pub async fn size(&self) -> Result<Option<u64>, RbdError> {
        match self.cluster.json::<Info>(&["info", &self.spec()]).await {
            Ok(i) => Ok(Some(i.size)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates the image (thin: no data is written). Target copies get only the
    /// `layering` feature, so that consecutive writers never wait for an exclusive lock.
    pub async fn create(&self, size: u64) -> Result<(), RbdError> {
        let size = format!("{size}B");
        self.cluster
            .run(&[
                "create",
                "--no-progress",
                "--size",
                &size,
                "--image-feature",
                "layering",
                &self.spec(),
            ])
            .await
            .map(drop)
    }

    pub async fn resize(&self, size: u64) -> Result<(), RbdError> {
        let size = format!("{size}B");
        self.cluster
            .run(&[
                "resize",
                "--no-progress",
                "--allow-shrink",
                "--size",
                &size,
                &self.spec(),
            ])
            .await
            .map(drop)
    }

    /// Removes the image and all its snapshots; a missing image is not an error.
    pub async fn remove(&self) -> Result<(), RbdError> {
        for args in [
            ["snap", "purge", "--no-progress"].as_slice(),
            ["rm", "--no-progress"].as_slice(),
        ] {
            let mut a = args.to_vec();
            let spec = self.spec();
            a.push(&spec);
            match self.cluster.run(&a).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub async fn snapshots(&self) -> Result<Vec<SnapInfo>, RbdError> {
        self.cluster.json(&["snap", "ls", &self.spec()]).await
    }

    pub async fn snap_exists(&self, snap: &str) -> Result<bool, RbdError> {
        Ok(self.snapshots().await?.iter().any(|s| s.name == snap))
    }

    /// Creates a snapshot; one that already exists is kept.
    pub async fn snap_create(&self, snap: &str) -> Result<(), RbdError> {
        match self
            .cluster
            .run(&["snap", "create", "--no-progress", &self.snap_spec(snap)])
            .await
        {
            Ok(_) | Err(RbdError::Exists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes a snapshot; one that does not exist is not an error.
    pub async fn snap_remove(&self, snap: &str) -> Result<(), RbdError> {
        match self
            .cluster
            .run(&["snap", "rm", "--no-progress", &self.snap_spec(snap)])
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The epoch and creation time (unix ms) recorded for target snapshot `snap` (image
    /// metadata `<epoch> <ms>`).
    pub async fn snap_record(&self, snap: &str) -> Result<Option<(u64, u64)>, RbdError> {
        let key = format!("{EPOCH_KEY}{snap}");
        match self
            .cluster
            .run(&["image-meta", "get", &self.spec(), &key])
            .await
        {
            Ok(out) => {
                let text = String::from_utf8_lossy(&out);
                let mut parts = text.split_whitespace().map(str::parse::<u64>);
                match (parts.next(), parts.next()) {
                    (Some(Ok(epoch)), Some(Ok(ms))) => Ok(Some((epoch, ms))),
                    _ => Err(RbdError::Output {
                        command: format!("rbd image-meta get {} {key}", self.spec()),
                        reason: format!("{text:?} is not \"<epoch> <unix ms>\""),
                    }),
                }
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn set_snap_record(&self, snap: &str, epoch: u64, ms: u64) -> Result<(), RbdError> {
        let key = format!("{EPOCH_KEY}{snap}");
        self.cluster
            .run(&[
                "image-meta",
                "set",
                &self.spec(),
                &key,
                &format!("{epoch} {ms}"),
            ])
            .await
            .map(drop)
    }

    pub async fn clear_snap_epoch(&self, snap: &str) -> Result<(), RbdError> {
        let key = format!("{EPOCH_KEY}{snap}");
        match self
            .cluster
            .run(&["image-meta", "remove", &self.spec(), &key])
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Copies the image (at `snap`, or as it is) into a new independent image `dest` of
    /// the same cluster: first under a temporary name, renamed when complete, so a
    /// crash never leaves a half copy under `dest`.
    pub async fn copy_to(&self, snap: Option<&str>, dest: &Image) -> Result<u64, RbdError> {
        let tmp = Image::new(dest.cluster.clone(), format!("{}.hf-tmp", dest.name));
        tmp.remove().await?;
        let from = match snap {
            Some(s) => self.snap_spec(s),
            None => self.spec(),
        };
        // A whole-image copy is not a short control command.
        let mut long = self.cluster.clone();
        long.timeout = long.timeout.max(std::time::Duration::from_secs(3600));
        long.run(&["cp", "--no-progress", &from, &tmp.spec()])
            .await?;
        self.cluster
            .run(&["rename", &tmp.spec(), &dest.spec()])
            .await?;
        Ok(dest.size().await?.unwrap_or(0))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetSnapError {
    #[error("snapshot {name:?} already exists with epoch {existing}, not {requested}")]
    Conflict {
        name: String,
        existing: u64,
        requested: u64,
    },
    #[error(transparent)]
    Rbd(#[from] RbdError),
}

/// Creates target snapshot `name` of `image` holding `epoch` (recorded in the image's
/// metadata). Idempotent for the same epoch; a crash between the two steps is
/// repaired by the next call.
pub async fn create_target_snapshot(
    image: &Image,
    name: &str,
    epoch: u64,
) -> Result<(), TargetSnapError> {
    if image.snap_exists(name).await? {
        match image.snap_record(name).await? {
            Some((e, _)) if e == epoch => return Ok(()),
            Some((existing, _)) => {
                return Err(TargetSnapError::Conflict {
                    name: name.to_owned(),
                    existing,
                    requested: epoch,
                });
            }
            None => {}
        }
    } else {
        image.snap_create(name).await?;
    }
    let now = holdfast_protocol::UnixMillis::now().0;
    image.set_snap_record(name, epoch, now).await?;
    Ok(())
}

/// Deletes target snapshot `name` and its metadata; a missing one is not an error.
pub async fn delete_target_snapshot(image: &Image, name: &str) -> Result<(), RbdError> {
    image.snap_remove(name).await?;
    image.clear_snap_epoch(name).await
}

/// Whether the cluster answers: `rbd ls` of the pool within the timeout.
pub async fn probe(cluster: &Cluster) -> Result<(), RbdError> {
    cluster.run(&["ls", &cluster.pool]).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_be_options_or_specs_are_refused() {
        assert!(valid_name("volume-1234_a.b"));
        for bad in ["", "-x", ".x", "a/b", "a@b", "a b", &"y".repeat(201)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
