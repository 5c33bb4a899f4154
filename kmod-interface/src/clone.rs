//! Copy-on-write file clones (`FICLONE`, as `cp --reflink` uses), for snapshots on the
//! target: on btrfs, XFS (reflink=1), bcachefs and similar a clone costs no data space
//! until either file is rewritten.

use std::fs::File;
use std::os::fd::AsRawFd;

nix::ioctl_write_int!(
    /// `FICLONE` = `_IOW(0x94, 9, int)`: make the destination share the source's extents.
    ficlone,
    0x94,
    9
);

/// Makes `dest` (open for writing, empty) a copy-on-write clone of `src`. Fails with
/// `EOPNOTSUPP`/`EXDEV`/`EINVAL` where the filesystem cannot share extents; the caller
/// then copies.
pub fn reflink(src: &File, dest: &File) -> nix::Result<()> {
    // SAFETY: both descriptors are open for the duration of the call (borrowed `File`s);
    // FICLONE takes the source fd by value as its argument and touches no user memory.
    unsafe {
        ficlone(
            dest.as_raw_fd(),
            src.as_raw_fd() as nix::sys::ioctl::ioctl_param_type,
        )
    }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn clone_or_a_clear_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let src_path = dir.path().join("a");
        std::fs::File::create(&src_path)
            .unwrap()
            .write_all(b"hello")
            .unwrap();
        let src = File::open(&src_path).unwrap();
        let dest_path = dir.path().join("b");
        let dest = File::create(&dest_path).unwrap();
        match reflink(&src, &dest) {
            Ok(()) => {
                let mut s = String::new();
                File::open(&dest_path)
                    .unwrap()
                    .read_to_string(&mut s)
                    .unwrap();
                assert_eq!(s, "hello");
            }
            Err(e) => assert!(
                matches!(
                    e,
                    nix::Error::EOPNOTSUPP
                        | nix::Error::EXDEV
                        | nix::Error::EINVAL
                        | nix::Error::ENOTTY
                ),
                "{e}"
            ),
        }
    }
}
