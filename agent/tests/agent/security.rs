use holdfast_agent::dataplane::frame::{Encoding, Msg};
use holdfast_agent::dataplane::session::{self, ClientHello, DataPlaneError};
use holdfast_agent::replication::source::{self, ReplicationError, run_cycle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

async fn assert_refused(
    vol: holdfast_agent::replication::source::SourceVolume,
    mirror: &std::path::Path,
) {
    let mut tracker = Some(source::make_tracker(&vol.path, &vol.state_dir, 4096, None).unwrap());
    let err = run_cycle(&vol, &mut tracker, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            ReplicationError::DataPlane(
                DataPlaneError::AuthenticationFailed(_) | DataPlaneError::Refused(_)
            )
        ),
        "{err}"
    );
    assert!(!mirror.exists(), "nothing may be written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_wrong_node_and_unknown_volume_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let target = spawn_target(dir.path()).await;
    let src = dir.path().join("src.img");
    random_file(&src, 1 << 20, 1 << 20, 1);
    let mirror = dir.path().join("mirror.img");
    target.add("vol-1", mirror.clone());

    let mut wrong_secret = source("vol-1", &src, &dir.path().join("a"), &target.addr);
    wrong_secret.secret = b"not the secret".to_vec();
    assert_refused(wrong_secret, &mirror).await;

    let mut wrong_node = source("vol-1", &src, &dir.path().join("b"), &target.addr);
    wrong_node.source_node = "node-evil".into();
    assert_refused(wrong_node, &mirror).await;

    let mut wrong_target = source("vol-1", &src, &dir.path().join("c"), &target.addr);
    wrong_target.target_node = "node-c".into();
    assert_refused(wrong_target, &mirror).await;

    let unknown = source("vol-2", &src, &dir.path().join("d"), &target.addr);
    assert_refused(unknown, &mirror).await;

    // Garbage instead of a handshake: the target hangs up, writes nothing.
    let mut raw = tokio::net::TcpStream::connect(&target.addr).await.unwrap();
    raw.write_all(&[0xff; 64]).await.unwrap();
    let mut buf = Vec::new();
    let _ = raw.read_to_end(&mut buf).await;
    assert!(!mirror.exists());

    // And the right source still gets through.
    let ok = source("vol-1", &src, &dir.path().join("e"), &target.addr);
    let mut tracker = Some(source::make_tracker(&src, &ok.state_dir, 4096, None).unwrap());
    run_cycle(&ok, &mut tracker, None).await.unwrap();
    assert_eq!(digest(&src), digest(&mirror));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_refuses_a_target_that_does_not_know_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let target = spawn_target(dir.path()).await;
    let src = dir.path().join("src.img");
    random_file(&src, 1 << 20, 1 << 20, 1);
    target.add("vol-1", dir.path().join("mirror.img"));
    let stream = tokio::net::TcpStream::connect(&target.addr).await.unwrap();
    let hello = ClientHello {
        volume: "vol-1".into(),
        source_node: "node-a".into(),
        target_node: "node-b".into(),
    };
    let err = session::connect(stream, &hello, b"a different secret")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DataPlaneError::AuthenticationFailed(_)),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_extent_is_rejected_not_written_and_accepted_when_resent() {
    let dir = tempfile::tempdir().unwrap();
    let target = spawn_target(dir.path()).await;
    let mirror = dir.path().join("mirror.img");
    target.add("vol-1", mirror.clone());
    let stream = tokio::net::TcpStream::connect(&target.addr).await.unwrap();
    let hello = ClientHello {
        volume: "vol-1".into(),
        source_node: "node-a".into(),
        target_node: "node-b".into(),
    };
    let mut s = session::connect(stream, &hello, SECRET).await.unwrap();
    assert!(matches!(
        s.reader.expect().await.unwrap(),
        Msg::Position { epoch: 0, .. }
    ));
    s.writer
        .send_now(&Msg::Begin {
            epoch: 1,
            count: 1,
            volume_size: 8192,
            initial: true,
        })
        .await
        .unwrap();
    assert!(matches!(
        s.reader.expect().await.unwrap(),
        Msg::Ack { epoch: 1, .. }
    ));
    let data = vec![0x5au8; 4096];
    let good = *blake3::hash(&data).as_bytes();
    let mut bad = good;
    bad[0] ^= 1;
    let block = |checksum| Msg::Block {
        seq: 0,
        offset: 4096,
        len: 4096,
        checksum,
        encoding: Encoding::Raw,
        payload: data.clone(),
    };
    s.writer.send_now(&block(bad)).await.unwrap();
    s.writer
        .send_now(&Msg::End { epoch: 1, count: 1 })
        .await
        .unwrap();
    assert!(matches!(
        s.reader.expect().await.unwrap(),
        Msg::Nack { seq: 0, .. }
    ));
    // The End is answered with the missing extent, not with completion.
    assert!(matches!(
        s.reader.expect().await.unwrap(),
        Msg::Nack { seq: 0, .. }
    ));
    assert_eq!(
        std::fs::read(&mirror).unwrap(),
        vec![0u8; 8192],
        "the bad extent was not written"
    );
    s.writer.send_now(&block(good)).await.unwrap();
    s.writer
        .send_now(&Msg::End { epoch: 1, count: 1 })
        .await
        .unwrap();
    assert!(matches!(
        s.reader.expect().await.unwrap(),
        Msg::Ack {
            epoch: 1,
            complete: true,
            ..
        }
    ));
    assert_eq!(&std::fs::read(&mirror).unwrap()[4096..], &data[..]);

    // An extent past the end of the volume ends the session without writing.
    s.writer
        .send_now(&Msg::Begin {
            epoch: 2,
            count: 1,
            volume_size: 8192,
            initial: false,
        })
        .await
        .unwrap();
    assert!(matches!(
        s.reader.expect().await.unwrap(),
        Msg::Ack { epoch: 2, .. }
    ));
    s.writer
        .send_now(&Msg::Block {
            seq: 0,
            offset: 8192,
            len: 4096,
            checksum: good,
            encoding: Encoding::Raw,
            payload: data.clone(),
        })
        .await
        .unwrap();
    assert!(s.reader.recv().await.map(|m| m.is_none()).unwrap_or(true));
    assert_eq!(std::fs::metadata(&mirror).unwrap().len(), 8192);
}
