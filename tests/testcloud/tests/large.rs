//! The generated large fixture loads and lists with pagination (a smaller instance of the
//! 10k/20k fixture keeps the debug-build test quick; `examples/bench.rs` runs the full one).

use std::collections::HashSet;

use holdfast_testcloud::fixture::generate::generate;
use serde_json::Value;

use crate::support::{Creds, Session, spawn_with};

#[tokio::test]
async fn generated_fixture_loads_and_pages_through_every_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixture.json");
    std::fs::write(
        &path,
        serde_json::to_vec(&generate(1500, 3000, 10)).unwrap(),
    )
    .unwrap();
    let cloud = spawn_with(|c| c.fixture = Some(path.clone())).await;
    let s = Session::login(&Creds::admin_of(&cloud)).await;

    let mut seen = HashSet::new();
    let mut url = format!("{}/servers/detail?all_tenants=1&limit=400", s.compute);
    loop {
        let r = s.get(&url).await;
        let page = r.body["servers"].as_array().unwrap();
        for srv in page {
            assert_eq!(srv["status"], "ACTIVE");
            assert!(seen.insert(srv["id"].as_str().unwrap().to_owned()));
        }
        match r
            .body
            .get("servers_links")
            .and_then(|l| l[0]["href"].as_str())
        {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1500);
    // Without a limit Nova caps a page at 1000 and links the rest.
    let capped = s.get(&format!("{}/servers?all_tenants=1", s.compute)).await;
    assert_eq!(capped.body["servers"].as_array().unwrap().len(), 1000);
    assert!(capped.body["servers_links"][0]["href"].as_str().is_some());

    let volumes = s
        .get(&format!(
            "{}/volumes/detail?all_tenants=1&limit=1000",
            s.volume
        ))
        .await;
    let in_use = volumes.body["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["status"] == "in-use")
        .count();
    assert!(in_use > 0);
    let hv = s.get(&format!("{}/os-hypervisors/detail", s.compute)).await;
    let running: u64 = hv.body["hypervisors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["running_vms"].as_u64().unwrap())
        .sum();
    assert_eq!(running, 1500);
    let counters: Value = reqwest::get(format!("{}/counters", cloud.admin_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["resources"]["volumes"], 3000);
    assert_eq!(
        counters["resources"]["ports"].as_u64().unwrap(),
        1500 + 10 * 2
    );
    cloud.shutdown().await;
}
