//! Decoding the kernel module's dirty bitmap: bit *i* stands for block *i*, least
//! significant bit first within each byte.

/// The indices of the set bits among the first `nr_blocks` bits of `bitmap`, ascending.
/// Bits past `nr_blocks` (padding in the last byte) and bytes past the bitmap are
/// ignored; a bitmap shorter than `nr_blocks` bits covers only what it holds.
pub fn dirty_blocks(bitmap: &[u8], nr_blocks: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for (byte_index, &byte) in bitmap.iter().enumerate() {
        if byte == 0 {
            continue;
        }
        let base = byte_index as u64 * 8;
        if base >= nr_blocks {
            break;
        }
        let mut bits = byte;
        while bits != 0 {
            let bit = u64::from(bits.trailing_zeros());
            let block = base + bit;
            if block < nr_blocks {
                out.push(block);
            }
            bits &= bits - 1;
        }
    }
    out
}

/// Encodes block indices as a bitmap of `nr_blocks` bits (the inverse of
/// [`dirty_blocks`]); indices at or past `nr_blocks` are dropped.
pub fn encode(blocks: &[u64], nr_blocks: u64) -> Vec<u8> {
    let mut bitmap = vec![0u8; bytes_for(nr_blocks)];
    for &b in blocks {
        if b < nr_blocks {
            bitmap[(b / 8) as usize] |= 1 << (b % 8);
        }
    }
    bitmap
}

/// Bytes needed for a bitmap of `nr_blocks` bits.
pub fn bytes_for(nr_blocks: u64) -> usize {
    usize::try_from(nr_blocks.div_ceil(8)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_lsb_first() {
        assert_eq!(dirty_blocks(&[0b0000_0101, 0x80], 16), vec![0, 2, 15]);
        assert_eq!(dirty_blocks(&[0xff], 3), vec![0, 1, 2]);
        assert_eq!(dirty_blocks(&[0, 0, 1], 17), vec![16]);
        assert_eq!(dirty_blocks(&[0, 0, 1], 16), Vec::<u64>::new());
        assert_eq!(dirty_blocks(&[], 100), Vec::<u64>::new());
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips(
            mut blocks in proptest::collection::vec(0u64..4096, 0..200),
            nr in 1u64..5000,
        ) {
            blocks.sort_unstable();
            blocks.dedup();
            let expected: Vec<u64> = blocks.iter().copied().filter(|&b| b < nr).collect();
            let bitmap = encode(&blocks, nr);
            prop_assert_eq!(bitmap.len(), bytes_for(nr));
            prop_assert_eq!(dirty_blocks(&bitmap, nr), expected);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), nr in 0u64..1000) {
            let blocks = dirty_blocks(&bytes, nr);
            prop_assert!(blocks.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(blocks.iter().all(|&b| b < nr));
        }
    }
}
