//! Block indices to byte extents.

/// A byte range of a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Extent {
    pub offset: u64,
    pub len: u64,
}

impl Extent {
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// Coalesces ascending, unique block indices into extents of at most `max_len` bytes
/// (rounded down to whole blocks, at least one block), clipped to `volume_size` (the
/// last block of a volume may be partial). Blocks past the end are dropped.
pub fn coalesce(blocks: &[u64], block_size: u32, volume_size: u64, max_len: u64) -> Vec<Extent> {
    let bs = u64::from(block_size.max(1));
    let max_blocks = (max_len / bs).max(1);
    let mut out: Vec<Extent> = Vec::new();
    let mut run: Option<(u64, u64)> = None; // (first block, count)
    let flush = |run: (u64, u64), out: &mut Vec<Extent>| {
        let offset = run.0 * bs;
        let end = ((run.0 + run.1) * bs).min(volume_size);
        if end > offset {
            out.push(Extent {
                offset,
                len: end - offset,
            });
        }
    };
    for &b in blocks {
        if b.saturating_mul(bs) >= volume_size {
            break;
        }
        run = match run {
            Some((first, count)) if first + count == b && count < max_blocks => {
                Some((first, count + 1))
            }
            Some(r) => {
                flush(r, &mut out);
                Some((b, 1))
            }
            None => Some((b, 1)),
        };
    }
    if let Some(r) = run {
        flush(r, &mut out);
    }
    out
}

/// The whole of a volume of `volume_size` bytes as extents of at most `max_len` bytes
/// (the same as [`coalesce`] of every block, without listing them).
pub fn whole(volume_size: u64, block_size: u32, max_len: u64) -> Vec<Extent> {
    let bs = u64::from(block_size.max(1));
    let step = (max_len / bs).max(1) * bs;
    (0..volume_size.div_ceil(step))
        .map(|i| {
            let offset = i * step;
            Extent {
                offset,
                len: step.min(volume_size - offset),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn merges_runs_and_clips_the_tail() {
        let e = coalesce(&[0, 1, 2, 5, 6, 9], 4096, 9 * 4096 + 100, 1 << 20);
        assert_eq!(
            e,
            vec![
                Extent {
                    offset: 0,
                    len: 3 * 4096
                },
                Extent {
                    offset: 5 * 4096,
                    len: 2 * 4096
                },
                Extent {
                    offset: 9 * 4096,
                    len: 100
                },
            ]
        );
        assert_eq!(coalesce(&[0, 1, 2, 3], 4096, 4 * 4096, 8192).len(), 2);
        assert!(coalesce(&[10], 4096, 4096, 8192).is_empty());
    }

    proptest! {
        #[test]
        fn whole_is_coalesce_of_every_block(
            size in 0u64..2_000_000,
            bs in prop_oneof![Just(512u32), Just(4096u32)],
            max_blocks in 1u64..40,
        ) {
            let max_len = max_blocks * u64::from(bs);
            let every: Vec<u64> = (0..size.div_ceil(u64::from(bs))).collect();
            prop_assert_eq!(whole(size, bs, max_len), coalesce(&every, bs, size, max_len));
        }

        #[test]
        fn extents_cover_exactly_the_blocks(
            mut blocks in proptest::collection::vec(0u64..300, 0..100),
            bs in prop_oneof![Just(512u32), Just(4096u32)],
            size_blocks in 1u64..300,
            max_blocks in 1u64..20,
        ) {
            blocks.sort_unstable();
            blocks.dedup();
            let size = size_blocks * u64::from(bs);
            let extents = coalesce(&blocks, bs, size, max_blocks * u64::from(bs));
            let mut covered = Vec::new();
            for e in &extents {
                prop_assert!(e.len > 0 && e.len <= max_blocks * u64::from(bs));
                prop_assert!(e.end() <= size);
                for b in (e.offset / u64::from(bs))..e.end().div_ceil(u64::from(bs)) {
                    covered.push(b);
                }
            }
            let expected: Vec<u64> = blocks.into_iter().filter(|&b| b < size_blocks).collect();
            prop_assert_eq!(covered, expected);
        }
    }
}
