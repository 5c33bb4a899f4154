//! The plan of one epoch on the source: which extents it ships. Persisted before the
//! first byte is sent, so a restarted source ships the same extents again from where
//! the target says it stopped.
//!
//! File: `HFPLAN02`, epoch, volume size, initial flag, scan start (ms), staged flag,
//! extent count,
//! `(offset, len)` pairs, BLAKE3 of everything before it.

use holdfast_kmod::Extent;

const MAGIC: &[u8; 8] = b"HFPLAN02";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub epoch: u64,
    pub volume_size: u64,
    /// Relative to an all-zero target (first copy or resync).
    pub initial: bool,
    /// When the change scan started: the target holds the source as of (at least) this.
    pub scan_started_ms: u64,
    /// The extents' data was copied into the staging file when the epoch was planned
    /// (a cut): it is shipped from there, not from the live volume.
    pub staged: bool,
    pub extents: Vec<Extent>,
}

impl Plan {
    pub fn bytes(&self) -> u64 {
        self.extents.iter().map(|e| e.len).sum()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + self.extents.len() * 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.extend_from_slice(&self.volume_size.to_le_bytes());
        out.push(u8::from(self.initial));
        out.extend_from_slice(&self.scan_started_ms.to_le_bytes());
        out.push(u8::from(self.staged));
        out.extend_from_slice(&(self.extents.len() as u64).to_le_bytes());
        for e in &self.extents {
            out.extend_from_slice(&e.offset.to_le_bytes());
            out.extend_from_slice(&e.len.to_le_bytes());
        }
        let sum = blake3::hash(&out);
        out.extend_from_slice(sum.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Plan, String> {
        const HEAD: usize = 8 + 8 + 8 + 1 + 8 + 1 + 8;
        if bytes.len() < HEAD + 32 {
            return Err("plan file too short".into());
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != sum {
            return Err("plan file checksum mismatch".into());
        }
        if &body[..8] != MAGIC {
            return Err("not a plan file".into());
        }
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&body[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let count = u64_at(34);
        let rest = &body[HEAD..];
        if rest.len() as u64 != count.saturating_mul(16) {
            return Err("plan extent count does not match its length".into());
        }
        let extents = rest
            .chunks_exact(16)
            .map(|c| {
                let mut o = [0u8; 8];
                let mut l = [0u8; 8];
                o.copy_from_slice(&c[..8]);
                l.copy_from_slice(&c[8..]);
                Extent {
                    offset: u64::from_le_bytes(o),
                    len: u64::from_le_bytes(l),
                }
            })
            .collect();
        Ok(Plan {
            epoch: u64_at(8),
            volume_size: u64_at(16),
            initial: body[24] != 0,
            scan_started_ms: u64_at(25),
            staged: body[33] != 0,
            extents,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn plans_round_trip(epoch: u64, size: u64, initial: bool, at: u64, staged: bool,
                            ext in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..50)) {
            let p = Plan {
                epoch, volume_size: size, initial, scan_started_ms: at, staged,
                extents: ext.into_iter().map(|(offset, len)| Extent { offset, len }).collect(),
            };
            prop_assert_eq!(Plan::decode(&p.encode()), Ok(p));
        }

        #[test]
        fn damaged_plans_are_refused(flip in any::<prop::sample::Index>(), bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let p = Plan { epoch: 2, volume_size: 10, initial: false, scan_started_ms: 5, staged: true,
                           extents: vec![Extent { offset: 0, len: 4096 }] };
            let mut enc = p.encode();
            let i = flip.index(enc.len());
            enc[i] ^= 0x55;
            prop_assert!(Plan::decode(&enc).is_err());
            let _ = Plan::decode(&bytes);
        }
    }
}
