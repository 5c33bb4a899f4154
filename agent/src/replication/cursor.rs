//! Where a replication stands, on each side, and how the two reconcile after a restart
//! (pure state transitions; persistence is in `state_file`).

/// The target's durable position for one volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetCursor {
    /// The epoch being received or last completed; 0 = nothing received yet.
    pub epoch: u64,
    /// Every extent of `epoch` below this is durable.
    pub next_seq: u64,
    /// `epoch` is completely durable.
    pub complete: bool,
}

/// What the target does with a `Begin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginAction {
    /// Go on with the epoch in progress from `next_seq`.
    Continue,
    /// The epoch is already complete: answer with a complete ack.
    AlreadyComplete,
    /// A new epoch; with `zero_first` the copy restarts from an all-zero volume.
    Start { zero_first: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "epoch {offered} cannot follow the target's epoch {held} (complete: {complete}); a full resync is needed"
)]
pub struct EpochMismatch {
    pub offered: u64,
    pub held: u64,
    pub complete: bool,
}

impl TargetCursor {
    pub fn begin(
        self,
        epoch: u64,
        initial: bool,
    ) -> Result<(TargetCursor, BeginAction), EpochMismatch> {
        let fresh = TargetCursor {
            epoch,
            next_seq: 0,
            complete: false,
        };
        if epoch == self.epoch && epoch != 0 {
            return Ok(if self.complete {
                (self, BeginAction::AlreadyComplete)
            } else {
                (self, BeginAction::Continue)
            });
        }
        if epoch > self.epoch && initial {
            return Ok((fresh, BeginAction::Start { zero_first: true }));
        }
        if epoch == self.epoch + 1 && self.complete {
            return Ok((fresh, BeginAction::Start { zero_first: false }));
        }
        Err(EpochMismatch {
            offered: epoch,
            held: self.epoch,
            complete: self.complete,
        })
    }

    /// Extents below `durable_below` are on stable storage.
    pub fn synced(self, durable_below: u64) -> TargetCursor {
        TargetCursor {
            next_seq: self.next_seq.max(durable_below),
            ..self
        }
    }

    pub fn completed(self, count: u64) -> TargetCursor {
        TargetCursor {
            next_seq: count,
            complete: true,
            ..self
        }
    }
}

/// What the source does after learning the target's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Ship extents from this sequence number on.
    From(u64),
    /// The target already holds the whole epoch: just commit it.
    AlreadyComplete,
    /// The target's copy does not match what the source committed (lost or rolled
    /// back): the source must forget its baseline and copy everything again.
    NeedsInitialCopy,
}

/// Reconciles the source's planned epoch with the target's durable position.
pub fn resume(plan_epoch: u64, plan_initial: bool, target: TargetCursor) -> Resume {
    if target.epoch == plan_epoch && plan_epoch != 0 {
        return if target.complete {
            Resume::AlreadyComplete
        } else {
            Resume::From(target.next_seq)
        };
    }
    if plan_initial && plan_epoch > target.epoch {
        return Resume::From(0);
    }
    if plan_epoch == target.epoch + 1 && target.complete {
        return Resume::From(0);
    }
    Resume::NeedsInitialCopy
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOTHING: TargetCursor = TargetCursor {
        epoch: 0,
        next_seq: 0,
        complete: false,
    };

    #[test]
    fn first_epoch_starts_from_zeroes() {
        let (c, a) = NOTHING.begin(1, true).unwrap();
        assert_eq!(a, BeginAction::Start { zero_first: true });
        assert_eq!(
            c,
            TargetCursor {
                epoch: 1,
                next_seq: 0,
                complete: false
            }
        );
        assert!(NOTHING.begin(1, false).is_err());
    }

    #[test]
    fn an_interrupted_epoch_continues_and_a_complete_one_is_not_redone() {
        let c = TargetCursor {
            epoch: 4,
            next_seq: 17,
            complete: false,
        };
        assert_eq!(c.begin(4, false).unwrap(), (c, BeginAction::Continue));
        let done = c.completed(30);
        assert_eq!(
            done.begin(4, false).unwrap().1,
            BeginAction::AlreadyComplete
        );
        assert_eq!(
            done.begin(5, false).unwrap().1,
            BeginAction::Start { zero_first: false }
        );
        assert!(c.begin(5, false).is_err(), "epoch 4 is not complete");
        assert!(done.begin(7, false).is_err(), "epochs 5 and 6 are missing");
        assert_eq!(
            done.begin(7, true).unwrap().1,
            BeginAction::Start { zero_first: true }
        );
        assert!(done.begin(3, true).is_err(), "never go back in time");
    }

    #[test]
    fn source_resume_decisions() {
        let mid = TargetCursor {
            epoch: 3,
            next_seq: 10,
            complete: false,
        };
        assert_eq!(resume(3, false, mid), Resume::From(10));
        assert_eq!(resume(3, false, mid.completed(20)), Resume::AlreadyComplete);
        assert_eq!(resume(4, false, mid.completed(20)), Resume::From(0));
        assert_eq!(resume(4, false, mid), Resume::NeedsInitialCopy);
        assert_eq!(resume(9, false, NOTHING), Resume::NeedsInitialCopy);
        assert_eq!(resume(9, true, NOTHING), Resume::From(0));
        assert_eq!(resume(1, true, NOTHING), Resume::From(0));
    }

    proptest! {
        /// Whatever the source decides to ship from, the target accepts the same Begin
        /// (the two sides never disagree into a silent skip).
        #[test]
        fn source_and_target_agree(epoch in 0u64..6, next in 0u64..50, complete: bool, plan in 1u64..8, initial: bool) {
            let target = TargetCursor { epoch, next_seq: next, complete };
            match resume(plan, initial, target) {
                Resume::From(seq) => {
                    let (after, action) = target.begin(plan, initial).unwrap();
                    match action {
                        BeginAction::Continue => prop_assert_eq!(seq, target.next_seq),
                        BeginAction::Start { .. } => { prop_assert_eq!(seq, 0); prop_assert_eq!(after.next_seq, 0); }
                        BeginAction::AlreadyComplete => prop_assert!(false, "source would resend a complete epoch"),
                    }
                }
                Resume::AlreadyComplete => prop_assert_eq!(target.begin(plan, initial).unwrap().1, BeginAction::AlreadyComplete),
                Resume::NeedsInitialCopy => prop_assert!(target.begin(plan, initial).is_err() || !initial),
            }
        }

        #[test]
        fn sync_never_moves_backwards(a in 0u64..100, b in 0u64..100) {
            let c = TargetCursor { epoch: 1, next_seq: a, complete: false };
            prop_assert!(c.synced(b).next_seq >= a);
        }
    }
}
