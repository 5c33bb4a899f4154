//! Safe wrappers over the kernel module's ioctls, and the kernel tracker.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::abi::{self, HfFetchDirty, HfStatus, HfTrackRequest, HfVersion};
use crate::bitmap;
use crate::durable::{remove_durably, write_atomic};
use crate::tracker::{ChangeSet, ChangeTracker, TrackerError, TrackerKind, check_block_size};

/// An open handle on the module's control device.
#[derive(Debug)]
pub struct KernelDevice {
    file: File,
}

/// What [`KernelDevice::fetch_dirty`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirtyFetch {
    pub new_epoch: u64,
    pub nr_blocks: u64,
    pub block_size: u32,
    /// Dirty block indices, ascending; every block when the bitmap overflowed.
    pub blocks: Vec<u64>,
    pub overflowed: bool,
}

fn ioctl_err(call: &'static str) -> impl FnOnce(nix::Error) -> TrackerError {
    move |source| TrackerError::Ioctl { call, source }
}

impl KernelDevice {
    /// Opens [`abi::DEVICE_PATH`] and checks the module's ABI version.
    pub fn open() -> Result<KernelDevice, TrackerError> {
        KernelDevice::open_at(Path::new(abi::DEVICE_PATH))
    }

    pub fn open_at(path: &Path) -> Result<KernelDevice, TrackerError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| TrackerError::KernelUnavailable(format!("{}: {e}", path.display())))?;
        let dev = KernelDevice { file };
        let v = dev.version()?;
        if v.abi_version != abi::ABI_VERSION {
            return Err(TrackerError::AbiMismatch {
                found: v.abi_version,
                expected: abi::ABI_VERSION,
            });
        }
        Ok(dev)
    }

    pub fn version(&self) -> Result<HfVersion, TrackerError> {
        let mut v = HfVersion::default();
        // SAFETY: the fd is open for the lifetime of `self.file`; `v` is a valid,
        // exclusively borrowed `HfVersion` whose size is encoded in the request number,
        // so the kernel writes at most `size_of::<HfVersion>()` bytes into it.
        unsafe { abi::hf_ioc_version(self.file.as_raw_fd(), &mut v) }
            .map_err(ioctl_err("HF_IOC_VERSION"))?;
        Ok(v)
    }

    pub fn track_start(&self, dev: u64, block_size: u32) -> Result<(), TrackerError> {
        let req = HfTrackRequest {
            dev,
            block_size,
            flags: 0,
        };
        // SAFETY: `req` is a valid `HfTrackRequest` that outlives the call; the kernel
        // only reads `size_of::<HfTrackRequest>()` bytes from it.
        unsafe { abi::hf_ioc_track_start(self.file.as_raw_fd(), &req) }
            .map_err(ioctl_err("HF_IOC_TRACK_START"))?;
        Ok(())
    }

    pub fn track_stop(&self, dev: u64) -> Result<(), TrackerError> {
        let req = HfTrackRequest {
            dev,
            block_size: 0,
            flags: 0,
        };
        // SAFETY: as in `track_start`: a valid request struct read by the kernel only.
        unsafe { abi::hf_ioc_track_stop(self.file.as_raw_fd(), &req) }
            .map_err(ioctl_err("HF_IOC_TRACK_STOP"))?;
        Ok(())
    }

    pub fn status(&self, dev: u64) -> Result<HfStatus, TrackerError> {
        let mut st = HfStatus {
            dev,
            ..HfStatus::default()
        };
        // SAFETY: `st` is a valid, exclusively borrowed `HfStatus`; the kernel reads
        // `dev` and writes the other fields, within the struct's size.
        unsafe { abi::hf_ioc_status(self.file.as_raw_fd(), &mut st) }
            .map_err(ioctl_err("HF_IOC_STATUS"))?;
        Ok(st)
    }

    /// Closes `epoch` of `dev` and returns its dirty blocks.
    pub fn fetch_dirty(
        &self,
        dev: u64,
        epoch: u64,
        nr_blocks: u64,
    ) -> Result<DirtyFetch, TrackerError> {
        let mut buf = vec![0u8; bitmap::bytes_for(nr_blocks).max(1)];
        let mut req = HfFetchDirty {
            dev,
            epoch,
            bitmap_addr: buf.as_mut_ptr() as u64,
            bitmap_len: buf.len() as u64,
            ..HfFetchDirty::default()
        };
        // SAFETY: `req` is valid and exclusively borrowed; `bitmap_addr` points to
        // `buf`, which is `bitmap_len` bytes long, alive and not otherwise borrowed
        // until the call returns; the module writes at most `bitmap_len` bytes there.
        unsafe { abi::hf_ioc_fetch_dirty(self.file.as_raw_fd(), &mut req) }
            .map_err(ioctl_err("HF_IOC_FETCH_DIRTY"))?;
        let overflowed = req.flags & abi::HF_FETCH_OVERFLOW != 0;
        let blocks = if overflowed {
            (0..req.nr_blocks).collect()
        } else {
            bitmap::dirty_blocks(&buf, req.nr_blocks)
        };
        Ok(DirtyFetch {
            new_epoch: req.epoch,
            nr_blocks: req.nr_blocks,
            block_size: req.block_size,
            blocks,
            overflowed,
        })
    }
}

/// Change tracking through the kernel module for one block device.
///
/// Fetching a bitmap resets it in the kernel, so the fetched blocks are persisted as
/// pending (`K.kpending`) before they are returned, and merged into every later fetch
/// until [`commit`](ChangeTracker::commit): a crash between fetch and commit loses
/// nothing. `K.kbase` marks that a baseline exists (the first call reports every block).
#[derive(Debug)]
pub struct KernelTracker {
    device: KernelDevice,
    volume: PathBuf,
    dev: u64,
    block_size: u32,
    pending_path: PathBuf,
    base_path: PathBuf,
}

impl KernelTracker {
    pub fn new(
        device: KernelDevice,
        volume: impl Into<PathBuf>,
        state_dir: &Path,
        key: &str,
        block_size: u32,
    ) -> Result<KernelTracker, TrackerError> {
        check_block_size(block_size)?;
        let volume = volume.into();
        let meta = std::fs::metadata(&volume).map_err(|source| TrackerError::ReadSource {
            path: volume.clone(),
            source,
        })?;
        let dev = meta.rdev();
        let st = device.status(dev)?;
        if st.state & abi::HF_STATE_TRACKING == 0 {
            device.track_start(dev, block_size)?;
        }
        Ok(KernelTracker {
            device,
            volume,
            dev,
            block_size,
            pending_path: state_dir.join(format!("{key}.kpending")),
            base_path: state_dir.join(format!("{key}.kbase")),
        })
    }

    fn volume_size(&self) -> Result<u64, TrackerError> {
        File::open(&self.volume)
            .and_then(|mut f| f.seek(SeekFrom::End(0)))
            .map_err(|source| TrackerError::ReadSource {
                path: self.volume.clone(),
                source,
            })
    }

    fn state_err(&self, path: &Path) -> impl FnOnce(std::io::Error) -> TrackerError {
        let path = path.to_owned();
        move |source| TrackerError::State { path, source }
    }
}

impl ChangeTracker for KernelTracker {
    fn kind(&self) -> TrackerKind {
        TrackerKind::Kernel
    }

    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn changes(&mut self) -> Result<ChangeSet, TrackerError> {
        let size = self.volume_size()?;
        let nr = size.div_ceil(u64::from(self.block_size));
        let st = self.device.status(self.dev)?;
        let fetched = self.device.fetch_dirty(self.dev, st.current_epoch, nr)?;
        let mut blocks = match std::fs::read(&self.pending_path) {
            Ok(bytes) => bitmap::dirty_blocks(&bytes, nr),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(self.state_err(&self.pending_path)(e)),
        };
        let initial = !self.base_path.exists();
        if initial {
            blocks = (0..nr).collect();
        } else {
            blocks.extend(fetched.blocks);
            blocks.sort_unstable();
            blocks.dedup();
        }
        write_atomic(&self.pending_path, &bitmap::encode(&blocks, nr))
            .map_err(self.state_err(&self.pending_path))?;
        Ok(ChangeSet {
            volume_size: size,
            block_size: self.block_size,
            blocks,
            initial,
        })
    }

    fn commit(&mut self) -> Result<(), TrackerError> {
        write_atomic(&self.base_path, b"1").map_err(self.state_err(&self.base_path))?;
        remove_durably(&self.pending_path).map_err(self.state_err(&self.pending_path))
    }

    fn reset(&mut self) -> Result<(), TrackerError> {
        remove_durably(&self.base_path).map_err(self.state_err(&self.base_path))?;
        remove_durably(&self.pending_path).map_err(self.state_err(&self.pending_path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_a_missing_device_says_the_module_is_unavailable() {
        let err = KernelDevice::open_at(Path::new("/nonexistent/holdfast-cbt")).unwrap_err();
        assert!(matches!(err, TrackerError::KernelUnavailable(_)), "{err}");
    }

    #[test]
    fn a_device_that_does_not_speak_the_abi_is_refused() {
        // /dev/null accepts open but answers ENOTTY to our ioctls.
        let err = KernelDevice::open_at(Path::new("/dev/null")).unwrap_err();
        assert!(
            matches!(
                err,
                TrackerError::Ioctl {
                    call: "HF_IOC_VERSION",
                    ..
                }
            ),
            "{err}"
        );
    }
}
