//! Volumes as real files: content, snapshots as point-in-time copies, manage/unmanage.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Creds, Session, spawn_cloud};

fn read_head(path: &std::path::Path, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    std::fs::File::open(path)
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    buf
}

#[tokio::test]
async fn volume_files_snapshots_and_manage_existing() {
    let cloud = spawn_cloud().await;
    let s = Session::login(&Creds::admin_of(&cloud)).await;
    let pool = cloud.storage_dir().join("file").join("file");

    let vid = s
        .post(
            &format!("{}/volumes", s.volume),
            json!({"volume": {"size": 2, "name": "data"}}),
        )
        .await
        .body["volume"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let vurl = format!("{}/volumes/{vid}", s.volume);
    s.wait_status(&vurl, "volume", "available").await;
    let file = pool.join(format!("volume-{vid}"));
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.len(), 2 << 30, "size in bytes");
    assert!(meta.blocks() * 512 < 1 << 20, "sparse");

    // Write, snapshot, overwrite: the snapshot keeps the old bytes.
    let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.write_all(b"before").unwrap();
    f.sync_all().unwrap();
    let sid = s
        .post(
            &format!("{}/snapshots", s.volume),
            json!({"snapshot": {"volume_id": vid}}),
        )
        .await
        .body["snapshot"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.wait_status(
        &format!("{}/snapshots/{sid}", s.volume),
        "snapshot",
        "available",
    )
    .await;
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(b"after!").unwrap();
    assert_eq!(
        read_head(&pool.join(format!("snapshot-{sid}")), 6),
        b"before"
    );

    // A volume from the snapshot carries the snapshot's bytes.
    let cid = s
        .post(
            &format!("{}/volumes", s.volume),
            json!({"volume": {"snapshot_id": sid, "size": 3}}),
        )
        .await
        .body["volume"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.wait_status(
        &format!("{}/volumes/{cid}", s.volume),
        "volume",
        "available",
    )
    .await;
    let clone = pool.join(format!("volume-{cid}"));
    assert_eq!(read_head(&clone, 6), b"before");
    assert_eq!(std::fs::metadata(&clone).unwrap().len(), 3 << 30);

    // Manage-existing adopts a file dropped into the pool directory.
    let replica = pool.join("replica-of-something");
    let mut r = std::fs::File::create(&replica).unwrap();
    r.write_all(b"replicated").unwrap();
    r.set_len(1 << 30).unwrap();
    let listing = s
        .get(&format!(
            "{}/manageable_volumes/detail?host=testcloud@file%23file",
            s.volume
        ))
        .await;
    assert_eq!(listing.status, StatusCode::OK, "{}", listing.body);
    let entries = listing.body["manageable-volumes"].as_array().unwrap();
    let entry = entries
        .iter()
        .find(|e| e["reference"]["source-name"] == "replica-of-something")
        .expect("listed");
    assert_eq!(entry["safe_to_manage"], true);
    assert!(
        entries
            .iter()
            .any(|e| e["cinder_id"] == vid.as_str() && e["safe_to_manage"] == false)
    );
    let managed = s
        .post(&format!("{}/manageable_volumes", s.volume), json!({"volume": {"host": "testcloud@file#file", "ref": {"source-name": "replica-of-something"}, "name": "adopted"}}))
        .await;
    assert_eq!(managed.status, StatusCode::ACCEPTED, "{}", managed.body);
    let mid = managed.body["volume"]["id"].as_str().unwrap().to_owned();
    let murl = format!("{}/volumes/{mid}", s.volume);
    let v = s.wait_status(&murl, "volume", "available").await;
    assert_eq!(v["size"], 1);
    let adopted = pool.join(format!("volume-{mid}"));
    assert!(!replica.exists());
    assert_eq!(read_head(&adopted, 10), b"replicated");
    let missing = s
        .post(
            &format!("{}/os-volume-manage", s.volume),
            json!({"volume": {"host": "testcloud@file#file", "ref": {"source-name": "nope"}}}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);

    // Unmanage releases the volume and keeps the file.
    let un = s
        .post(&format!("{murl}/action"), json!({"os-unmanage": {}}))
        .await;
    assert_eq!(un.status, StatusCode::ACCEPTED);
    assert_eq!(s.get(&murl).await.status, StatusCode::NOT_FOUND);
    assert!(adopted.exists());

    // Pools report capacity.
    let pools = s
        .get(&format!(
            "{}/scheduler-stats/get_pools?detail=true",
            s.volume
        ))
        .await;
    let caps = &pools.body["pools"][0]["capabilities"];
    assert!(caps["allocated_capacity_gb"].as_u64().unwrap() >= 5);

    // Deleting removes the file.
    s.delete(&format!("{}/snapshots/{sid}", s.volume)).await;
    s.wait_gone(&format!("{}/snapshots/{sid}", s.volume)).await;
    s.delete(&vurl).await;
    s.wait_gone(&vurl).await;
    assert!(!file.exists());
    cloud.shutdown().await;
}
