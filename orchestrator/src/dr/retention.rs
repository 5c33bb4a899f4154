//! Snapshot retention (protection.md, "Recovery plans": retention 1..48; "when a new
//! snapshot would exceed the retention count, the oldest is deleted"; "Snapshots":
//! target storage needed = source data × (retention + 2)).

use jiff::Timestamp;

use super::ids::SnapshotId;

/// How many protection-group snapshots a plan keeps: 1 to 48.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Retention(u8);

/// A retention outside 1..48.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("snapshot retention must be between 1 and 48 snapshots, not {got}")]
pub struct RetentionError {
    /// The value given.
    pub got: i64,
}

impl Retention {
    /// The largest retention.
    pub const MAX: u8 = 48;

    /// Validates a retention count.
    pub fn parse(n: i64) -> Result<Retention, RetentionError> {
        match u8::try_from(n) {
            Ok(v) if (1..=Self::MAX).contains(&v) => Ok(Retention(v)),
            _ => Err(RetentionError { got: n }),
        }
    }

    /// The count.
    pub fn get(self) -> u8 {
        self.0
    }

    /// Worst-case target storage for `source_bytes` of protected data: the mirror,
    /// the retained snapshots and one being restored, `source × (retention + 2)`
    /// (protection.md, "Snapshots"; operations.md, known constraint 3).
    pub fn storage_needed(self, source_bytes: u64) -> u128 {
        u128::from(source_bytes) * (u128::from(self.0) + 2)
    }
}

/// A snapshot that exists on the target storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// Its id.
    pub id: SnapshotId,
    /// When it was cut.
    pub taken_at: Timestamp,
}

/// Which snapshots to delete so that at most `retention` remain, oldest first
/// (ties broken by id so that the answer does not depend on the input order). Call it
/// with the list that already includes the new snapshot.
pub fn snapshots_to_delete(existing: &[StoredSnapshot], retention: Retention) -> Vec<SnapshotId> {
    let keep = usize::from(retention.get());
    if existing.len() <= keep {
        return Vec::new();
    }
    let mut by_age: Vec<&StoredSnapshot> = existing.iter().collect();
    by_age.sort_by(|a, b| a.taken_at.cmp(&b.taken_at).then_with(|| a.id.cmp(&b.id)));
    by_age
        .into_iter()
        .take(existing.len() - keep)
        .map(|s| s.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn snap(id: &str, secs: i64) -> StoredSnapshot {
        StoredSnapshot {
            id: SnapshotId::new(id),
            taken_at: Timestamp::from_second(secs).unwrap(),
        }
    }

    #[test]
    fn bounds() {
        assert!(Retention::parse(0).is_err());
        assert!(Retention::parse(-1).is_err());
        assert!(Retention::parse(49).is_err());
        assert!(Retention::parse(300).is_err());
        assert_eq!(Retention::parse(1).unwrap().get(), 1);
        assert_eq!(Retention::parse(48).unwrap().get(), 48);
        assert_eq!(
            Retention::parse(49).unwrap_err().to_string(),
            "snapshot retention must be between 1 and 48 snapshots, not 49"
        );
    }

    #[test]
    fn oldest_go_first() {
        let r = Retention::parse(2).unwrap();
        let s = [snap("c", 30), snap("a", 10), snap("b", 20)];
        assert_eq!(snapshots_to_delete(&s, r), vec![SnapshotId::new("a")]);
        assert!(snapshots_to_delete(&s[..2], r).is_empty());
        let r1 = Retention::parse(1).unwrap();
        assert_eq!(
            snapshots_to_delete(&s, r1),
            vec![SnapshotId::new("a"), SnapshotId::new("b")]
        );
    }

    #[test]
    fn storage_need() {
        let r = Retention::parse(3).unwrap();
        assert_eq!(r.storage_needed(100), 500);
        assert_eq!(
            Retention::parse(48).unwrap().storage_needed(u64::MAX),
            u128::from(u64::MAX) * 50
        );
    }

    proptest! {
        #[test]
        fn keeps_exactly_the_newest(
            times in prop::collection::vec(0i64..1000, 0..80),
            n in 1i64..=48,
        ) {
            let r = Retention::parse(n).unwrap();
            let snaps: Vec<_> = times.iter().enumerate().map(|(i, t)| snap(&format!("s{i:03}"), *t)).collect();
            let gone = snapshots_to_delete(&snaps, r);
            let kept: Vec<_> = snaps.iter().filter(|s| !gone.contains(&s.id)).collect();
            prop_assert_eq!(kept.len(), snaps.len().min(usize::from(r.get())));
            // every deleted snapshot is no newer than every kept one
            for g in &gone {
                let g = snaps.iter().find(|s| &s.id == g).unwrap();
                for k in &kept {
                    prop_assert!(g.taken_at <= k.taken_at);
                }
            }
        }

        #[test]
        fn parse_is_total(n in any::<i64>()) {
            prop_assert_eq!(Retention::parse(n).is_ok(), (1..=48).contains(&n));
        }
    }
}
