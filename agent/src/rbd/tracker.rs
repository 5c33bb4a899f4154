//! The source-side change tracker of an RBD image: every cycle takes a snapshot
//! `holdfast-<unix ms>` and reads the changes since the previous cycle's snapshot
//! with `rbd export-diff --from-snap` (the first cycle: everything allocated). The
//! data comes from the snapshot, so the epoch is a point-in-time copy whatever is
//! written meanwhile. Once the target has the epoch (`commit`), the older snapshot is
//! removed and the new one becomes the baseline.
//!
//! State (`rbd-tracker.json` in the volume's state dir): the baseline snapshot and the
//! pending one. The pending name is persisted *before* the snapshot is taken, so a
//! crash at any point leaves no snapshot the agent does not know about.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use holdfast_kmod::{ChangeSet, ChangeTracker, Extent, StagedChanges, TrackerError, TrackerKind};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::stream::{Reader, Record};
use super::{Image, RbdError};
use crate::durable;

/// Prefix of the snapshots this tracker takes on source images.
pub const SNAP_PREFIX: &str = "holdfast-";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    baseline: Option<String>,
    pending: Option<String>,
    /// Former baselines being removed in the background; the next cycle removes any
    /// still there (e.g. after a crash).
    #[serde(default)]
    obsolete: Vec<String>,
}

/// Tracks one RBD image through snapshot diffs.
#[derive(Debug)]
pub struct RbdTracker {
    image: Image,
    state_path: PathBuf,
    block_size: u32,
    /// The runtime the `rbd` commands run on; the tracker's methods are called from a
    /// blocking thread (the replicator's `spawn_blocking`), never from a runtime worker.
    handle: tokio::runtime::Handle,
    /// Largest extent in a staged plan.
    max_extent: u64,
}

fn backend(e: RbdError) -> TrackerError {
    TrackerError::Backend(e.to_string())
}

#[derive(Deserialize)]
struct DiffExtent {
    offset: u64,
    length: u64,
}

impl RbdTracker {
    /// Must be called within a tokio runtime (it keeps a handle on it).
    pub fn new(
        image: Image,
        state_dir: &Path,
        block_size: u32,
        max_extent: u64,
    ) -> Result<RbdTracker, TrackerError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|e| {
            TrackerError::Backend(format!("the RBD tracker needs a tokio runtime: {e}"))
        })?;
        std::fs::create_dir_all(state_dir).map_err(|source| TrackerError::State {
            path: state_dir.to_owned(),
            source,
        })?;
        Ok(RbdTracker {
            image,
            state_path: state_dir.join("rbd-tracker.json"),
            block_size,
            handle,
            max_extent: max_extent.max(4096),
        })
    }

    fn load(&self) -> Result<State, TrackerError> {
        durable::read_json(&self.state_path)
            .map(Option::unwrap_or_default)
            .map_err(|source| TrackerError::State {
                path: self.state_path.clone(),
                source,
            })
    }

    fn save(&self, s: &State) -> Result<(), TrackerError> {
        durable::write_json(&self.state_path, s).map_err(|source| TrackerError::State {
            path: self.state_path.clone(),
            source,
        })
    }

    /// The pending snapshot (taken now unless a crash left one) and the baseline to
    /// diff from (`None` when there is none or it disappeared: a full copy).
    fn pending(&self) -> Result<(String, Option<String>), TrackerError> {
        let mut state = self.load()?;
        let pending = match &state.pending {
            Some(p) => p.clone(),
            None => {
                let mut ms = holdfast_protocol::UnixMillis::now().0;
                let name = loop {
                    let n = format!("{SNAP_PREFIX}{ms}");
                    if state.baseline.as_deref() != Some(n.as_str()) {
                        break n;
                    }
                    ms += 1;
                };
                state.pending = Some(name.clone());
                self.save(&state)?;
                name
            }
        };
        let image = self.image.clone();
        let p = pending.clone();
        let snaps = self.handle.block_on(async move {
            image.snap_create(&p).await?;
            image.snapshots().await
        });
        let snaps = snaps.map_err(backend)?;
        if !state.obsolete.is_empty() {
            let left: Vec<String> = state
                .obsolete
                .iter()
                .filter(|o| snaps.iter().any(|s| &&s.name == o))
                .cloned()
                .collect();
            let image = self.image.clone();
            self.handle
                .block_on(async move {
                    for o in &left {
                        image.snap_remove(o).await?;
                    }
                    Ok::<_, RbdError>(())
                })
                .map_err(backend)?;
            state.obsolete.clear();
            self.save(&state)?;
        }
        let baseline = match state.baseline {
            Some(b) if snaps.iter().any(|s| s.name == b) => Some(b),
            Some(b) => {
                warn!(image = %self.image.spec(), snapshot = %b, "the baseline snapshot is gone; copying the whole image");
                None
            }
            None => None,
        };
        Ok((pending, baseline))
    }

    async fn export(
        image: &Image,
        pending: &str,
        baseline: Option<&str>,
        staging: &Path,
        max_extent: u64,
        block: usize,
    ) -> Result<StagedChanges, String> {
        let spec = image.snap_spec(pending);
        let mut args = vec!["export-diff", "--no-progress"];
        if let Some(b) = baseline {
            args.extend(["--from-snap", b]);
        }
        args.extend([spec.as_str(), "-"]);
        let mut child = image
            .cluster
            .spawn(&args, false)
            .map_err(|e| e.to_string())?;
        let stdout = child
            .child
            .stdout
            .take()
            .ok_or("export-diff has no stdout")?;
        let out = File::create(staging).map_err(|e| format!("{}: {e}", staging.display()))?;
        let mut reader = Reader::new(tokio::io::BufReader::with_capacity(1 << 20, stdout));
        let (mut extents, mut at, mut size) = (Vec::new(), 0u64, None);
        let idle = image.cluster.timeout;
        loop {
            let rec = match tokio::time::timeout(idle, reader.next()).await {
                Ok(Ok(Some(r))) => r,
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    // The command's own error says more than a cut-short stream.
                    image
                        .cluster
                        .finish(child)
                        .await
                        .map_err(|e| e.to_string())?;
                    return Err(format!("`rbd export-diff {spec}`: {e}"));
                }
                Err(_) => {
                    return Err(format!(
                        "`rbd export-diff {spec}` sent nothing for {} s",
                        idle.as_secs()
                    ));
                }
            };
            match rec {
                Record::FromSnap(n) if Some(n.as_str()) != baseline => {
                    return Err(format!("export-diff started from {n:?}, not {baseline:?}"));
                }
                Record::ToSnap(n) if n != pending => {
                    return Err(format!("export-diff ends at {n:?}, not {pending:?}"));
                }
                Record::Size(s) => size = Some(s),
                Record::Data { offset, data } => {
                    // librbd reports an object created since the baseline from its
                    // start, zeroes included: all-zero runs become holes of the
                    // staging file (shipped as zero extents, not as data).
                    for (start, len, zero) in runs(&data, block) {
                        if !zero {
                            out.write_all_at(&data[start..start + len], at)
                                .map_err(|e| format!("{}: {e}", staging.display()))?;
                        }
                        at += len as u64;
                        push_split(&mut extents, offset + start as u64, len as u64, max_extent);
                    }
                }
                Record::Zero { offset, len } => {
                    // Left as a hole in the staging file: it reads back as zeroes.
                    at += len;
                    push_split(&mut extents, offset, len, max_extent);
                }
                Record::FromSnap(_) | Record::ToSnap(_) | Record::End => {}
            }
        }
        image
            .cluster
            .finish(child)
            .await
            .map_err(|e| e.to_string())?;
        let volume_size = size.ok_or("export-diff stream has no size record")?;
        out.set_len(at)
            .and_then(|()| out.sync_all())
            .map_err(|e| format!("{}: {e}", staging.display()))?;
        Ok(StagedChanges {
            volume_size,
            extents,
            initial: baseline.is_none(),
        })
    }
}

/// Splits `data` into maximal runs of `block`-sized pieces that are all zero or not:
/// `(start, len, zero)`.
fn runs(data: &[u8], block: usize) -> Vec<(usize, usize, bool)> {
    let mut out: Vec<(usize, usize, bool)> = Vec::new();
    for (i, piece) in data.chunks(block.max(1)).enumerate() {
        let zero = piece.iter().all(|&b| b == 0);
        match out.last_mut() {
            Some(last) if last.2 == zero => last.1 += piece.len(),
            _ => out.push((i * block.max(1), piece.len(), zero)),
        }
    }
    out
}

/// Appends `offset..offset+len` as extents of at most `max` bytes.
fn push_split(extents: &mut Vec<Extent>, offset: u64, len: u64, max: u64) {
    let mut o = offset;
    while o < offset + len {
        let l = max.min(offset + len - o);
        extents.push(Extent { offset: o, len: l });
        o += l;
    }
}

impl ChangeTracker for RbdTracker {
    fn kind(&self) -> TrackerKind {
        TrackerKind::Rbd
    }

    fn block_size(&self) -> u32 {
        self.block_size
    }

    /// The changed blocks (at the tracker's block size) between the baseline and a new
    /// pending snapshot, from `rbd diff`.
    fn changes(&mut self) -> Result<ChangeSet, TrackerError> {
        let (pending, baseline) = self.pending()?;
        let image = self.image.clone();
        let (diff, snaps) = self
            .handle
            .block_on(async {
                let spec = image.snap_spec(&pending);
                let mut args = vec!["diff"];
                if let Some(b) = &baseline {
                    args.extend(["--from-snap", b.as_str()]);
                }
                args.push(&spec);
                let diff: Vec<DiffExtent> = image.cluster.json(&args).await?;
                Ok::<_, RbdError>((diff, image.snapshots().await?))
            })
            .map_err(backend)?;
        let volume_size = snaps
            .iter()
            .find(|s| s.name == pending)
            .map(|s| s.size)
            .ok_or_else(|| TrackerError::Backend(format!("snapshot {pending} vanished")))?;
        let bs = u64::from(self.block_size);
        let mut blocks: Vec<u64> = diff
            .iter()
            .filter(|d| d.length > 0)
            .flat_map(|d| d.offset / bs..=(d.offset + d.length - 1) / bs)
            .collect();
        blocks.sort_unstable();
        blocks.dedup();
        Ok(ChangeSet {
            volume_size,
            block_size: self.block_size,
            blocks,
            initial: baseline.is_none(),
        })
    }

    fn stage_changes(&mut self, staging: &Path) -> Option<Result<StagedChanges, TrackerError>> {
        let run = || {
            let (pending, baseline) = self.pending()?;
            let (image, max) = (self.image.clone(), self.max_extent);
            let staged = self
                .handle
                .block_on(RbdTracker::export(
                    &image,
                    &pending,
                    baseline.as_deref(),
                    staging,
                    max,
                    self.block_size as usize,
                ))
                .map_err(TrackerError::Backend)?;
            info!(image = %self.image.spec(), snapshot = %pending, from = ?baseline,
                  extents = staged.extents.len(), "RBD changes staged");
            Ok(staged)
        };
        Some(run())
    }

    fn commit(&mut self) -> Result<(), TrackerError> {
        let mut state = self.load()?;
        let Some(pending) = state.pending.take() else {
            return Err(TrackerError::NothingPending);
        };
        let old = state.baseline.replace(pending);
        if let Some(old) = &old {
            state.obsolete.push(old.clone());
        }
        self.save(&state)?;
        // Removing a snapshot takes about a second (the OSDs trim it): off the
        // replication path. A failure is retried by the next cycle.
        if let Some(old) = old {
            let image = self.image.clone();
            self.handle.spawn(async move {
                if let Err(e) = image.snap_remove(&old).await {
                    warn!(image = %image.spec(), snapshot = %old, error = %e,
                          "could not remove the former baseline snapshot; the next cycle retries");
                }
            });
        }
        Ok(())
    }

    fn reset(&mut self) -> Result<(), TrackerError> {
        let state = self.load()?;
        let image = self.image.clone();
        let names: Vec<String> = state
            .baseline
            .into_iter()
            .chain(state.pending)
            .chain(state.obsolete)
            .collect();
        self.handle
            .block_on(async move {
                for n in names {
                    image.snap_remove(&n).await?;
                }
                Ok::<_, RbdError>(())
            })
            .map_err(backend)?;
        self.save(&State::default())
    }
}

/// Removes the snapshots the tracker of `image` holds (when replication of the image
/// stops for good), so that Cinder can delete the volume later.
pub async fn release(image: &Image, state_dir: &Path) -> Result<(), RbdError> {
    let path = state_dir.join("rbd-tracker.json");
    let state: State = durable::read_json(&path)
        .map_err(|source| RbdError::Io {
            command: format!("reading {}", path.display()),
            source,
        })?
        .unwrap_or_default();
    for snap in state
        .baseline
        .iter()
        .chain(state.pending.iter())
        .chain(state.obsolete.iter())
    {
        image.snap_remove(snap).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_split_into_zero_and_non_zero_runs() {
        let mut d = vec![0u8; 10];
        d[4] = 1;
        assert_eq!(runs(&d, 2), vec![(0, 4, true), (4, 2, false), (6, 4, true)]);
        assert_eq!(runs(&[1, 1, 1], 2), vec![(0, 3, false)]);
        assert_eq!(runs(&[], 4), vec![]);
    }

    #[test]
    fn extents_are_split_at_the_frame_limit() {
        let mut v = Vec::new();
        push_split(&mut v, 10, 2500, 1000);
        push_split(&mut v, 0, 0, 1000);
        assert_eq!(
            v,
            vec![
                Extent {
                    offset: 10,
                    len: 1000
                },
                Extent {
                    offset: 1010,
                    len: 1000
                },
                Extent {
                    offset: 2010,
                    len: 500
                },
            ]
        );
    }
}
