use reqwest::StatusCode;
use serde_json::json;

use super::target;
use crate::support::{Session, unique};

#[tokio::test]
async fn volume_and_snapshot_lifecycle() {
    let (creds, _cloud) = target().await;
    let s = Session::login(&creds).await;
    let r = s
        .post(
            &format!("{}/volumes", s.volume),
            json!({"volume": {"size": 1, "name": unique("c-vol")}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let vid = r.body["volume"]["id"].as_str().unwrap().to_owned();
    let vurl = format!("{}/volumes/{vid}", s.volume);
    let v = s.wait_status(&vurl, "volume", "available").await;
    assert_eq!(v["size"], 1);
    assert_eq!(v["bootable"], "false");

    let sr = s
        .post(
            &format!("{}/snapshots", s.volume),
            json!({"snapshot": {"volume_id": vid, "name": unique("c-snap")}}),
        )
        .await;
    assert_eq!(sr.status, StatusCode::ACCEPTED, "{}", sr.body);
    let sid = sr.body["snapshot"]["id"].as_str().unwrap().to_owned();
    let surl = format!("{}/snapshots/{sid}", s.volume);
    s.wait_status(&surl, "snapshot", "available").await;

    let refused = s.delete(&vurl).await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "a volume with snapshots is not deleted"
    );
    assert_eq!(refused.body["badRequest"]["code"], 400);

    let ext = s
        .post(
            &format!("{vurl}/action"),
            json!({"os-extend": {"new_size": 2}}),
        )
        .await;
    assert_eq!(ext.status, StatusCode::ACCEPTED, "{}", ext.body);
    let v = s.wait_status(&vurl, "volume", "available").await;
    assert_eq!(v["size"], 2);

    let missing = s
        .get(&format!("{}/volumes/{}", s.volume, uuid::Uuid::new_v4()))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["itemNotFound"]["code"], 404);

    assert_eq!(s.delete(&surl).await.status, StatusCode::ACCEPTED);
    s.wait_gone(&surl).await;
    assert_eq!(s.delete(&vurl).await.status, StatusCode::ACCEPTED);
    s.wait_gone(&vurl).await;
}

#[tokio::test]
async fn volume_list_paginates_and_rejects_bad_input() {
    let (creds, _cloud) = target().await;
    let s = Session::login(&creds).await;
    let mut ids = vec![];
    for _ in 0..3 {
        let r = s
            .post(
                &format!("{}/volumes", s.volume),
                json!({"volume": {"size": 1, "name": unique("c-page")}}),
            )
            .await;
        ids.push(r.body["volume"]["id"].as_str().unwrap().to_owned());
    }
    let first = s.get(&format!("{}/volumes/detail?limit=2", s.volume)).await;
    assert_eq!(first.body["volumes"].as_array().unwrap().len(), 2);
    let next = first.body["volumes_links"][0]["href"]
        .as_str()
        .expect("next link")
        .to_owned();
    let second = s.get(&next).await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(!second.body["volumes"].as_array().unwrap().is_empty());

    let bad = s
        .post(
            &format!("{}/volumes", s.volume),
            json!({"volume": {"size": "lots"}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let malformed = s
        .call(
            reqwest::Method::POST,
            &format!("{}/volumes", s.volume),
            None,
            &[("content-type", "application/json")],
        )
        .await;
    // Cinder answers a create without a body with a 500 (a fault, not a 400).
    assert_eq!(
        malformed.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        malformed.body
    );
    assert!(
        malformed.body["computeFault"].is_object(),
        "{}",
        malformed.body
    );
    for id in ids {
        let url = format!("{}/volumes/{id}", s.volume);
        s.wait_status(&url, "volume", "available").await;
        s.delete(&url).await;
    }
}
