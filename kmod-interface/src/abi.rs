//! The kernel module's user-space ABI, version 1: device node, ioctl numbers and the
//! structures they carry. Every structure is `#[repr(C)]` with explicit padding so its
//! layout is the same for the C side (`include/uapi/holdfast_cbt.h` of the module).
//!
//! Semantics:
//! - [`HF_IOC_VERSION`]: fills [`HfVersion`].
//! - [`HF_IOC_TRACK_START`] / [`HF_IOC_TRACK_STOP`]: start or stop tracking writes to
//!   the block device `dev` at `block_size` granularity.
//! - [`HF_IOC_FETCH_DIRTY`]: atomically closes epoch `epoch` of device `dev` (it must be
//!   the current one, else `ESTALE`), copies its dirty bitmap (bit *i* = block *i*,
//!   least significant bit first within each byte) into the caller's buffer, starts
//!   epoch `epoch + 1` with an empty bitmap and returns its number in `epoch`. If the
//!   buffer is too small it sets [`HF_FETCH_OVERFLOW`] and the caller must treat every
//!   block as dirty.
//! - [`HF_IOC_STATUS`]: fills [`HfStatus`] for device `dev`.

/// Character device the module creates.
pub const DEVICE_PATH: &str = "/dev/holdfast-cbt";
/// Name of the module as `/proc/modules` lists it.
pub const MODULE_NAME: &str = "holdfast_cbt";
/// The ABI version this crate speaks.
pub const ABI_VERSION: u32 = 1;
/// ioctl "type" byte of every request.
pub const IOCTL_MAGIC: u8 = b'H';

/// Set in [`HfFetchDirty::flags`] when the bitmap did not fit the buffer.
pub const HF_FETCH_OVERFLOW: u32 = 1;
/// [`HfStatus::state`]: the device is being tracked.
pub const HF_STATE_TRACKING: u32 = 1;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HfVersion {
    pub abi_version: u32,
    pub module_major: u16,
    pub module_minor: u16,
    pub module_patch: u16,
    pub reserved0: u16,
    pub reserved1: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HfTrackRequest {
    /// `dev_t` of the block device (as `makedev(major, minor)`).
    pub dev: u64,
    pub block_size: u32,
    pub flags: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HfFetchDirty {
    pub dev: u64,
    /// In: the epoch to close. Out: the new current epoch.
    pub epoch: u64,
    /// User-space address of the bitmap buffer.
    pub bitmap_addr: u64,
    /// Capacity of the buffer in bytes.
    pub bitmap_len: u64,
    /// Out: number of blocks the bitmap covers.
    pub nr_blocks: u64,
    /// Out: the tracking granularity.
    pub block_size: u32,
    /// Out: [`HF_FETCH_OVERFLOW`].
    pub flags: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HfStatus {
    pub dev: u64,
    pub current_epoch: u64,
    pub nr_blocks: u64,
    pub dirty_blocks: u64,
    pub block_size: u32,
    pub state: u32,
}

nix::ioctl_read!(
    /// `HF_IOC_VERSION`
    hf_ioc_version,
    IOCTL_MAGIC,
    0x01,
    HfVersion
);
nix::ioctl_write_ptr!(
    /// `HF_IOC_TRACK_START`
    hf_ioc_track_start,
    IOCTL_MAGIC,
    0x02,
    HfTrackRequest
);
nix::ioctl_write_ptr!(
    /// `HF_IOC_TRACK_STOP`
    hf_ioc_track_stop,
    IOCTL_MAGIC,
    0x03,
    HfTrackRequest
);
nix::ioctl_readwrite!(
    /// `HF_IOC_FETCH_DIRTY`
    hf_ioc_fetch_dirty,
    IOCTL_MAGIC,
    0x04,
    HfFetchDirty
);
nix::ioctl_readwrite!(
    /// `HF_IOC_STATUS`
    hf_ioc_status,
    IOCTL_MAGIC,
    0x05,
    HfStatus
);

/// The request numbers, as the C header defines them (`_IOR('H', 1, struct hf_version)`…).
pub const HF_IOC_VERSION: u64 =
    nix::request_code_read!(IOCTL_MAGIC, 0x01, std::mem::size_of::<HfVersion>()) as u64;
pub const HF_IOC_TRACK_START: u64 =
    nix::request_code_write!(IOCTL_MAGIC, 0x02, std::mem::size_of::<HfTrackRequest>()) as u64;
pub const HF_IOC_TRACK_STOP: u64 =
    nix::request_code_write!(IOCTL_MAGIC, 0x03, std::mem::size_of::<HfTrackRequest>()) as u64;
pub const HF_IOC_FETCH_DIRTY: u64 =
    nix::request_code_readwrite!(IOCTL_MAGIC, 0x04, std::mem::size_of::<HfFetchDirty>()) as u64;
pub const HF_IOC_STATUS: u64 =
    nix::request_code_readwrite!(IOCTL_MAGIC, 0x05, std::mem::size_of::<HfStatus>()) as u64;

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    #[test]
    fn struct_layouts_match_the_c_header() {
        assert_eq!(size_of::<HfVersion>(), 16);
        assert_eq!(offset_of!(HfVersion, module_major), 4);
        assert_eq!(offset_of!(HfVersion, module_patch), 8);
        assert_eq!(size_of::<HfTrackRequest>(), 16);
        assert_eq!(offset_of!(HfTrackRequest, block_size), 8);
        assert_eq!(size_of::<HfFetchDirty>(), 48);
        assert_eq!(offset_of!(HfFetchDirty, epoch), 8);
        assert_eq!(offset_of!(HfFetchDirty, bitmap_addr), 16);
        assert_eq!(offset_of!(HfFetchDirty, bitmap_len), 24);
        assert_eq!(offset_of!(HfFetchDirty, nr_blocks), 32);
        assert_eq!(offset_of!(HfFetchDirty, block_size), 40);
        assert_eq!(offset_of!(HfFetchDirty, flags), 44);
        assert_eq!(size_of::<HfStatus>(), 40);
        assert_eq!(offset_of!(HfStatus, dirty_blocks), 24);
        assert_eq!(offset_of!(HfStatus, state), 36);
        assert_eq!(align_of::<HfFetchDirty>(), 8);
    }

    /// `_IOC(dir, type, nr, size)` on x86_64/aarch64: dir<<30 | size<<16 | type<<8 | nr,
    /// with read = 2 and write = 1.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn ioctl_numbers_are_the_documented_ones() {
        assert_eq!(HF_IOC_VERSION, 0x8010_4801);
        assert_eq!(HF_IOC_TRACK_START, 0x4010_4802);
        assert_eq!(HF_IOC_TRACK_STOP, 0x4010_4803);
        assert_eq!(HF_IOC_FETCH_DIRTY, 0xC030_4804);
        assert_eq!(HF_IOC_STATUS, 0xC028_4805);
    }
}
