//! Golden byte vectors: one per message kind, stored as insta snapshots under
//! `tests/snapshots/`. A change in any snapshot is a change of the wire format: it must
//! be deliberate (and compatible within a major version).

use holdfast_protocol::messages::*;
use holdfast_protocol::{
    AnyMessage, DecodeError, Envelope, Header, MAX_MESSAGE_BYTES, MessageKind, NodeId,
    ProtocolVersion, Sender, UnixMillis, VolumeId,
};
use uuid::Uuid;

fn node(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn vol(s: &str) -> VolumeId {
    VolumeId(s.to_owned())
}

fn loc(backend: &str, kind: StorageKind, object: &str) -> VolumeLocation {
    VolumeLocation {
        backend: backend.into(),
        kind,
        object: object.into(),
    }
}

const CUT: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00c7);
const EXPORT: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00e1);

/// One realistic sample of every message kind.
fn samples() -> Vec<AnyMessage> {
    let v1 = vol("7c1d6a1e-94f5-4c3a-9a51-0c8f3b0e2d11");
    vec![
        AgentHello {
            node_id: node("compute-01"),
            hostname: "compute-01.dc1".into(),
            agent_version: "0.1.0".into(),
            protocol: ProtocolVersion::CURRENT,
            data_plane_addr: Some("10.0.0.11:7410".into()),
            backends: vec![
                BackendInfo {
                    name: "files".into(),
                    kind: StorageKind::File,
                },
                BackendInfo {
                    name: "ceph".into(),
                    kind: StorageKind::Rbd,
                },
            ],
            tracker: TrackerKind::Scan,
        }
        .into(),
        AgentWelcome {
            node_id: node("compute-01"),
            accepted: true,
            reason: None,
            heartbeat_interval_ms: 10_000,
            orchestrator_version: "0.1.0".into(),
        }
        .into(),
        Heartbeat {
            node_id: node("compute-01"),
            agent_version: "0.1.0".into(),
            uptime_s: 86_400,
            load: LoadAverage {
                one: 0.5,
                five: 0.25,
                fifteen: 0.125,
            },
            memory: MemoryStats {
                total_bytes: 64 << 30,
                available_bytes: 40 << 30,
            },
            process: ProcessStats {
                pid: 4242,
                threads: 9,
                rss_bytes: 48 << 20,
            },
            disks: vec![DiskSpace {
                path: "/var/lib/holdfast".into(),
                total_bytes: 1 << 40,
                available_bytes: 1 << 39,
            }],
            workers: vec![
                WorkerStatus {
                    name: "replicator-0".into(),
                    state: WorkerState::Busy,
                },
                WorkerStatus {
                    name: "data-plane".into(),
                    state: WorkerState::Idle,
                },
            ],
            tracker: TrackerStatus {
                kind: TrackerKind::Kernel,
                kmod_loaded: true,
                kmod_abi_version: Some(1),
                tracked_volumes: 3,
            },
            replications: 3,
        }
        .into(),
        ReplicationStart {
            volume_id: v1.clone(),
            plan_id: "plan-1".into(),
            size_bytes: 10 << 30,
            source: ReplicationEndpoint {
                node_id: node("compute-01"),
                location: loc("files", StorageKind::File, "volume-7c1d6a1e"),
            },
            target: ReplicationEndpoint {
                node_id: node("dr-ctl-01"),
                location: loc("ceph", StorageKind::Rbd, "holdfast-7c1d6a1e"),
            },
            target_data_addr: "10.1.0.5:7410".into(),
            session_secret: SessionSecret(vec![7; 32]),
            block_size: 65_536,
            cycle_interval_ms: 60_000,
            compression: Compression::Zstd,
            bandwidth_limit_bps: Some(100 << 20),
        }
        .into(),
        ReplicationStop {
            volume_id: v1.clone(),
            remove_target_copy: true,
        }
        .into(),
        ReplicationResync {
            volume_id: v1.clone(),
        }
        .into(),
        ReplicationPause {
            volume_id: v1.clone(),
        }
        .into(),
        ReplicationResume {
            volume_id: v1.clone(),
        }
        .into(),
        ReplicationAck {
            volume_id: v1.clone(),
            state: ReplicationState::Replicating,
        }
        .into(),
        ReplicationStatus {
            volume_id: v1.clone(),
            node_id: node("compute-01"),
            state: ReplicationState::Replicating,
            acked_epoch: 42,
            size_bytes: 10 << 30,
            initial_copy_bytes: 10 << 30,
            bytes_sent_total: 11 << 30,
            last_cycle_bytes: 4 << 20,
            throughput_bps: 80 << 20,
            lag_ms: Some(1_500),
            last_synced_at: Some(UnixMillis(1_790_000_000_000)),
            last_error: None,
        }
        .into(),
        CutPrepare {
            cut_id: CUT,
            group_id: "group-1".into(),
            volumes: vec![v1.clone(), vol("b2")],
            hold_timeout_ms: 30_000,
        }
        .into(),
        CutPrepared {
            cut_id: CUT,
            volumes: vec![v1.clone(), vol("b2")],
            cut_at: UnixMillis(1_790_000_000_500),
        }
        .into(),
        CutCommit {
            cut_id: CUT,
            snapshot_name: "hf-snap-0001".into(),
        }
        .into(),
        CutAbort {
            cut_id: CUT,
            reason: "agent dr-ctl-02 did not prepare in time".into(),
        }
        .into(),
        CutResult {
            cut_id: CUT,
            outcome: CutOutcome::Committed,
            cut_at: Some(UnixMillis(1_790_000_000_500)),
            volumes: vec![VolumeCut {
                volume_id: v1.clone(),
                epoch: 43,
                target_snapshot: Some("hf-snap-0001".into()),
                error: None,
            }],
        }
        .into(),
        TargetSnapshotCreate {
            volume_id: v1.clone(),
            snapshot_name: "hf-snap-0002".into(),
        }
        .into(),
        TargetSnapshotDelete {
            volume_id: v1.clone(),
            snapshot_name: "hf-snap-0001".into(),
        }
        .into(),
        TargetSnapshotResult {
            volume_id: v1.clone(),
            snapshot_name: "hf-snap-0002".into(),
            op: TargetSnapshotOp::Created,
            epoch: Some(44),
            created_at: Some(UnixMillis(1_790_000_100_000)),
        }
        .into(),
        VolumeExport {
            export_id: EXPORT,
            volume_id: v1.clone(),
            point: RecoveryPoint::Snapshot {
                name: "hf-snap-0002".into(),
            },
            destination: loc("ceph", StorageKind::Rbd, "hf-recover-7c1d6a1e"),
        }
        .into(),
        VolumeExported {
            export_id: EXPORT,
            volume_id: v1.clone(),
            destination: loc("ceph", StorageKind::Rbd, "hf-recover-7c1d6a1e"),
            size_bytes: 10 << 30,
            point_in_time: Some(UnixMillis(1_790_000_100_000)),
        }
        .into(),
        VolumeExportDiscard {
            export_id: EXPORT,
            volume_id: v1.clone(),
            destination: loc("ceph", StorageKind::Rbd, "hf-recover-7c1d6a1e"),
        }
        .into(),
        VolumeExportDiscarded {
            export_id: EXPORT,
            destination: loc("ceph", StorageKind::Rbd, "hf-recover-7c1d6a1e"),
            removed: true,
        }
        .into(),
        ErrorReport {
            code: ErrorCode::StorageFull,
            message: "target pool 'rbd' has 1 GiB free, 10 GiB needed".into(),
            request_kind: Some("replication.start".into()),
            volume_id: Some(v1),
            retryable: false,
        }
        .into(),
    ]
}

fn envelope(message: AnyMessage) -> Envelope {
    let sender = match message.kind() {
        MessageKind::AgentHello
        | MessageKind::Heartbeat
        | MessageKind::ReplicationAck
        | MessageKind::ReplicationStatus
        | MessageKind::CutPrepared
        | MessageKind::CutResult
        | MessageKind::TargetSnapshotResult
        | MessageKind::VolumeExported
        | MessageKind::VolumeExportDiscarded
        | MessageKind::ErrorReport => Sender::Node(node("compute-01")),
        _ => Sender::Orchestrator,
    };
    Envelope {
        header: Header {
            version: ProtocolVersion::CURRENT,
            message_id: Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001),
            correlation_id: Some(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0002)),
            sender,
            sent_at: UnixMillis(1_790_000_000_000),
        },
        message,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .chunks(32)
        .map(|c| c.iter().map(|b| format!("{b:02x}")).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn samples_cover_every_kind() {
    let mut kinds: Vec<MessageKind> = samples().iter().map(AnyMessage::kind).collect();
    kinds.sort();
    let mut all = MessageKind::ALL.to_vec();
    all.sort();
    assert_eq!(kinds, all, "add a sample for every new message kind");
}

#[test]
fn golden_vectors() {
    for message in samples() {
        let env = envelope(message);
        let bytes = env.encode().unwrap();
        insta::assert_snapshot!(env.kind().as_str(), hex(&bytes));
        assert_eq!(Envelope::decode(&bytes).unwrap(), env);
    }
}

#[test]
fn every_prefix_of_every_vector_is_refused_without_panic() {
    for message in samples() {
        let bytes = envelope(message).encode().unwrap();
        for len in 0..bytes.len() {
            assert!(
                Envelope::decode(&bytes[..len]).is_err(),
                "prefix {len} decoded"
            );
        }
    }
}

#[test]
fn oversized_messages_are_refused_before_decoding() {
    let bytes = vec![0x90; MAX_MESSAGE_BYTES + 1];
    assert!(matches!(
        Envelope::decode(&bytes),
        Err(DecodeError::TooLarge {
            limit: MAX_MESSAGE_BYTES,
            ..
        })
    ));
    let env = envelope(samples().remove(0));
    let bytes = env.encode().unwrap();
    assert!(matches!(
        Envelope::decode_with_limit(&bytes, 16),
        Err(DecodeError::TooLarge { limit: 16, .. })
    ));
}

#[test]
fn oversized_messages_are_refused_on_encode() {
    let env = envelope(
        ErrorReport {
            code: ErrorCode::Internal,
            message: "x".repeat(MAX_MESSAGE_BYTES),
            request_kind: None,
            volume_id: None,
            retryable: false,
        }
        .into(),
    );
    assert!(matches!(
        env.encode(),
        Err(holdfast_protocol::EncodeError::TooLarge { .. })
    ));
}

/// The wire layout written by hand, as a peer of another version would write it.
#[derive(serde::Serialize)]
struct ForeignWire<B> {
    version: ProtocolVersion,
    message_id: Uuid,
    correlation_id: Option<Uuid>,
    sender: String,
    sent_at_ms: u64,
    kind: String,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    #[serde(skip)]
    _b: std::marker::PhantomData<B>,
}

fn foreign(version: ProtocolVersion, sender: &str, kind: &str, body: Vec<u8>) -> Vec<u8> {
    rmp_serde::to_vec_named(&ForeignWire::<()> {
        version,
        message_id: Uuid::from_u128(1),
        correlation_id: None,
        sender: sender.into(),
        sent_at_ms: 5,
        kind: kind.into(),
        body,
        _b: Default::default(),
    })
    .unwrap()
}

/// What a newer minor version of the protocol might send: an extra field in the body,
/// a new enum value, and an extra header field.
#[derive(serde::Serialize)]
struct ReplicationAckV1_1 {
    volume_id: String,
    state: &'static str,
    verified_blocks: u64,
}

#[test]
fn newer_minor_version_with_extra_fields_still_decodes() {
    let body = rmp_serde::to_vec_named(&ReplicationAckV1_1 {
        volume_id: "v1".into(),
        state: "throttled",
        verified_blocks: 12,
    })
    .unwrap();
    let newer = ProtocolVersion { major: 1, minor: 7 };
    let bytes = foreign(newer, "compute-01", "replication.ack", body);
    let env = Envelope::decode(&bytes).unwrap();
    assert_eq!(env.header.version, newer);
    let ack: ReplicationAck = env.into_body().unwrap();
    assert_eq!(ack.volume_id, vol("v1"));
    assert_eq!(ack.state, ReplicationState::Unknown);
}

#[test]
fn newer_minor_version_with_an_extra_header_field_still_decodes() {
    #[derive(serde::Serialize)]
    struct WireV1_3 {
        version: ProtocolVersion,
        message_id: Uuid,
        correlation_id: Option<Uuid>,
        sender: String,
        sent_at_ms: u64,
        kind: String,
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
        trace_parent: String,
    }
    let body = rmp_serde::to_vec_named(&ReplicationResync {
        volume_id: vol("v"),
    })
    .unwrap();
    let bytes = rmp_serde::to_vec_named(&WireV1_3 {
        version: ProtocolVersion { major: 1, minor: 3 },
        message_id: Uuid::from_u128(9),
        correlation_id: None,
        sender: "orchestrator".into(),
        sent_at_ms: 1,
        kind: "replication.resync".into(),
        body,
        trace_parent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
    })
    .unwrap();
    let resync: ReplicationResync = Envelope::decode(&bytes).unwrap().into_body().unwrap();
    assert_eq!(resync.volume_id, vol("v"));
}

#[test]
fn older_sender_omitting_optional_fields_still_decodes() {
    #[derive(serde::Serialize)]
    struct ResultV1_0 {
        volume_id: String,
        snapshot_name: String,
        op: &'static str,
    }
    let body = rmp_serde::to_vec_named(&ResultV1_0 {
        volume_id: "v1".into(),
        snapshot_name: "s".into(),
        op: "deleted",
    })
    .unwrap();
    let bytes = foreign(
        ProtocolVersion::CURRENT,
        "n1",
        "target-snapshot.result",
        body,
    );
    let result: TargetSnapshotResult = Envelope::decode(&bytes).unwrap().into_body().unwrap();
    assert_eq!(result.op, TargetSnapshotOp::Deleted);
    assert_eq!(result.epoch, None);
}

#[test]
fn unknown_major_versions_are_refused() {
    let body = rmp_serde::to_vec_named(&ReplicationResync {
        volume_id: vol("v"),
    })
    .unwrap();
    let bytes = foreign(
        ProtocolVersion { major: 2, minor: 0 },
        "orchestrator",
        "replication.resync",
        body,
    );
    assert!(matches!(
        Envelope::decode(&bytes),
        Err(DecodeError::UnsupportedVersion {
            found: ProtocolVersion { major: 2, .. },
            ..
        })
    ));
}

#[test]
fn unknown_kinds_are_refused() {
    let bytes = foreign(
        ProtocolVersion::CURRENT,
        "orchestrator",
        "replication.teleport",
        vec![0x80],
    );
    match Envelope::decode(&bytes) {
        Err(DecodeError::UnknownKind(kind)) => assert_eq!(kind, "replication.teleport"),
        other => panic!("expected UnknownKind, got {other:?}"),
    }
}

#[test]
fn invalid_senders_are_refused() {
    let body = rmp_serde::to_vec_named(&ReplicationResync {
        volume_id: vol("v"),
    })
    .unwrap();
    let bytes = foreign(
        ProtocolVersion::CURRENT,
        "not a node",
        "replication.resync",
        body,
    );
    assert!(matches!(
        Envelope::decode(&bytes),
        Err(DecodeError::InvalidSender(_))
    ));
}

#[test]
fn body_of_the_wrong_shape_is_refused() {
    let body = rmp_serde::to_vec_named(&ReplicationResync {
        volume_id: vol("v"),
    })
    .unwrap();
    let bytes = foreign(
        ProtocolVersion::CURRENT,
        "orchestrator",
        "replication.start",
        body,
    );
    assert!(matches!(
        Envelope::decode(&bytes),
        Err(DecodeError::MalformedBody {
            kind: MessageKind::ReplicationStart,
            ..
        })
    ));
}

#[test]
fn typed_access_checks_the_kind() {
    let env = envelope(
        ReplicationPause {
            volume_id: vol("v"),
        }
        .into(),
    );
    assert!(matches!(
        env.clone().into_body::<ReplicationResume>(),
        Err(DecodeError::KindMismatch {
            expected: MessageKind::ReplicationResume,
            found: MessageKind::ReplicationPause
        })
    ));
    assert_eq!(
        env.into_body::<ReplicationPause>().unwrap().volume_id,
        vol("v")
    );
}

#[test]
fn replies_correlate_with_their_request() {
    let request = Envelope::new(
        Sender::Orchestrator,
        CutCommit {
            cut_id: CUT,
            snapshot_name: "s".into(),
        },
        UnixMillis::now(),
    );
    let reply = request.reply(
        Sender::Node(node("n1")),
        CutResult {
            cut_id: CUT,
            outcome: CutOutcome::Aborted,
            cut_at: None,
            volumes: vec![],
        },
        UnixMillis::now(),
    );
    assert_eq!(reply.header.correlation_id, Some(request.header.message_id));
    assert_ne!(reply.header.message_id, request.header.message_id);
}

#[test]
fn session_secrets_never_print() {
    let s = SessionSecret(vec![0xAB; 32]);
    assert!(!format!("{s:?}").contains("ab") && !format!("{s:?}").contains("171"));
}

// Request/reply pairing is checked by the compiler; this spells it out for readers.
fn _pairs() {
    fn reply_of<R: holdfast_protocol::Request>() -> MessageKind {
        <R::Reply as holdfast_protocol::Body>::KIND
    }
    let _ = reply_of::<AgentHello>();
}
