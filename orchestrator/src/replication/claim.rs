//! Who starts a volume's replication (pure). The `replication_volumes` row is the
//! claim: the process that inserts it (state `starting`) sends the start with its
//! session secret. Another process — a replica serving the plan's creation while the
//! leader's runner starts the same volume — must not send a second start with another
//! secret, so a fresh `starting` row of the same owner is left to its claimer; a row
//! older than the claim's lifetime is from a process that died mid-start and is taken
//! over (by a compare-and-set on its `updated_at`).

/// The row a volume already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Existing<'a> {
    /// Its owner (plan id).
    pub owner: &'a str,
    /// Its state.
    pub state: &'a str,
    /// Last change (ms).
    pub updated_at: i64,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// No row: insert one and start (a unique violation means another process won).
    Insert,
    /// Replace the row last changed at this time and start, if nobody changed it since.
    Replace {
        /// The row's `updated_at` as read.
        seen: i64,
    },
    /// Nothing to do here: started already, or being started by its claimer.
    Leave,
    /// Another owner replicates the volume.
    Refuse,
}

/// Decides for `owner` at `now` (ms), a claim living `lifetime_ms`.
pub fn decide(existing: Option<Existing<'_>>, owner: &str, now: i64, lifetime_ms: i64) -> Claim {
    let Some(e) = existing else {
        return Claim::Insert;
    };
    if e.owner != owner {
        return Claim::Refuse;
    }
    match e.state {
        super::STARTED => Claim::Leave,
        super::STARTING if now.saturating_sub(e.updated_at) < lifetime_ms => Claim::Leave,
        _ => Claim::Replace { seen: e.updated_at },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(owner: &'a str, state: &'a str, updated_at: i64) -> Option<Existing<'a>> {
        Some(Existing {
            owner,
            state,
            updated_at,
        })
    }

    #[test]
    fn every_case() {
        let life = 90_000;
        assert_eq!(decide(None, "p", 1_000_000, life), Claim::Insert);
        assert_eq!(
            decide(row("q", "started", 0), "p", 1_000_000, life),
            Claim::Refuse
        );
        assert_eq!(
            decide(row("q", "starting", 999_999), "p", 1_000_000, life),
            Claim::Refuse
        );
        assert_eq!(
            decide(row("p", "started", 0), "p", 1_000_000, life),
            Claim::Leave
        );
        // being started by its claimer, up to the claim's lifetime
        assert_eq!(
            decide(
                row("p", "starting", 1_000_000 - life + 1),
                "p",
                1_000_000,
                life
            ),
            Claim::Leave
        );
        // its claimer died mid-start
        assert_eq!(
            decide(row("p", "starting", 1_000_000 - life), "p", 1_000_000, life),
            Claim::Replace {
                seen: 1_000_000 - life
            }
        );
        // a row stamped ahead of this replica's clock counts as fresh
        assert_eq!(
            decide(row("p", "starting", 2_000_000), "p", 1_000_000, life),
            Claim::Leave
        );
        // any other state (a failed start's leftovers) is replaced
        assert_eq!(
            decide(row("p", "failed", 5), "p", 1_000_000, life),
            Claim::Replace { seen: 5 }
        );
    }
}
