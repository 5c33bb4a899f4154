use super::*;

fn status(state: &str, done: u64, lag: Option<u64>, at: i64) -> StatusInput<'_> {
    StatusInput {
        state,
        size_bytes: 100,
        initial_copy_bytes: done,
        lag_ms: lag,
        last_error: None,
        updated_at: at,
    }
}

fn vol(status: Option<StatusInput<'_>>) -> VolumeInput<'_> {
    VolumeInput {
        volume: "v",
        rpo_ms: 1_000,
        started: true,
        source_online: true,
        status,
    }
}

const NOW: i64 = 100_000;
const STALE: i64 = 30_000;

#[test]
fn initial_copy_then_healthy() {
    let f = evaluate(&vol(None), NOW, STALE);
    assert!(matches!(f.phase, VolumePhase::InitialCopy { .. }));
    assert!(!f.initial_copy_done);
    let f = evaluate(
        &vol(Some(status("initial_copy", 40, None, NOW))),
        NOW,
        STALE,
    );
    assert_eq!(
        f.phase,
        VolumePhase::InitialCopy {
            done_bytes: 40,
            total_bytes: 100
        }
    );
    let f = evaluate(
        &vol(Some(status("replicating", 100, Some(10), NOW))),
        NOW,
        STALE,
    );
    assert_eq!(f.phase, VolumePhase::Healthy);
    assert!(f.initial_copy_done);
    assert!(!f.over_rpo);
    let f = evaluate(
        &vol(Some(status("paused", 100, Some(5_000), NOW))),
        NOW,
        STALE,
    );
    assert_eq!(f.phase, VolumePhase::Healthy);
    assert!(f.over_rpo);
}

#[test]
fn broken_for_every_reason() {
    let mut failed = status("failed", 100, None, NOW);
    failed.last_error = Some("disk full");
    let cases = [
        (vol(Some(failed)), "disk full"),
        (vol(Some(status("stopped", 100, None, NOW))), "stopped"),
        (
            vol(Some(status("replicating", 100, None, NOW - STALE - 1))),
            "reported nothing",
        ),
        (
            vol(Some(status("resyncing", 100, None, NOW))),
            "resynchronised",
        ),
        (
            vol(Some(status("unknown", 100, None, NOW))),
            "unknown state",
        ),
        (
            VolumeInput {
                source_online: false,
                ..vol(Some(status("replicating", 100, None, NOW)))
            },
            "unreachable",
        ),
        (
            VolumeInput {
                started: false,
                ..vol(None)
            },
            "not started",
        ),
    ];
    for (input, words) in cases {
        let f = evaluate(&input, NOW, STALE);
        match &f.phase {
            VolumePhase::Broken { reason } => assert!(reason.contains(words), "{reason}"),
            other => panic!("{input:?}: {other:?}"),
        }
    }
    // A broken mirror keeps its finished initial copy.
    let f = evaluate(&vol(Some(status("failed", 100, None, NOW))), NOW, STALE);
    assert!(f.initial_copy_done);
}

#[test]
fn aggregates() {
    let healthy = evaluate(
        &vol(Some(status("replicating", 100, Some(2_000), NOW))),
        NOW,
        STALE,
    );
    let copying = evaluate(&vol(Some(status("initial_copy", 1, None, NOW))), NOW, STALE);
    let none = ReplicationFacts::default();
    assert!(!none.healthy() && !none.initial_copy_done());
    let one = ReplicationFacts {
        volumes: vec![healthy.clone()],
    };
    assert!(one.healthy() && one.initial_copy_done());
    assert_eq!(one.over_rpo().len(), 1);
    let two = ReplicationFacts {
        volumes: vec![healthy, copying],
    };
    assert!(!two.healthy() && !two.initial_copy_done());
    assert!(two.broken().is_empty());
}

proptest::proptest! {
    #[test]
    fn healthy_only_when_everything_holds(
        state in proptest::sample::select(vec![
            "starting", "initial_copy", "replicating", "paused", "resyncing", "stopped",
            "failed", "unknown", "other",
        ]),
        size in 0u64..1_000,
        done in 0u64..1_200,
        lag in proptest::option::of(0u64..5_000),
        age in 0i64..100_000,
        online in proptest::bool::ANY,
        started in proptest::bool::ANY,
        reported in proptest::bool::ANY,
    ) {
        let s = StatusInput {
            state,
            size_bytes: size,
            initial_copy_bytes: done,
            lag_ms: lag,
            last_error: None,
            updated_at: NOW - age,
        };
        let input = VolumeInput {
            volume: "v",
            rpo_ms: 1_000,
            started,
            source_online: online,
            status: reported.then_some(s),
        };
        let f = evaluate(&input, NOW, STALE);
        proptest::prop_assert_eq!(f.over_rpo, reported && lag.is_some_and(|l| l > 1_000));
        if f.phase == VolumePhase::Healthy {
            proptest::prop_assert!(online && reported && age <= STALE);
            proptest::prop_assert!(f.initial_copy_done);
            proptest::prop_assert!(matches!(state, "replicating" | "paused"));
        }
        if f.initial_copy_done {
            proptest::prop_assert!(reported && size > 0 && done >= size);
        }
    }
}
