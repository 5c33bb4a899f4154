//! Nova: flavors, keypairs, availability zones, hypervisors.

use holdfast_openstack::Filters;
use holdfast_openstack::nova::{FlavorCreate, KeypairCreate};

use crate::support::{target, unique};

const PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBiOjI7EmcXdxVSVAE5KyZW8cPYLEJgUUuHgXL0b9pAS holdfast@contract";

#[tokio::test]
async fn flavor_lifecycle() {
    let t = target().await;
    let nova = t.session.nova();
    let name = unique("flavor");
    let created = nova
        .create_flavor(&FlavorCreate {
            name: name.clone(),
            id: None,
            vcpus: 2,
            ram: 1024,
            disk: 5,
            is_public: true,
        })
        .await
        .unwrap();
    assert_eq!(
        (
            created.name.as_str(),
            created.vcpus,
            created.ram,
            created.disk
        ),
        (name.as_str(), 2, 1024, 5)
    );
    let all = nova
        .flavors(&Filters::none().eq("is_public", "None"))
        .await
        .unwrap();
    assert!(
        all.iter().any(|f| f.id == created.id),
        "created flavor is listed"
    );
    assert_eq!(nova.flavor(&created.id).await.unwrap().name, name);
    nova.delete_flavor(&created.id).await.unwrap();
    assert!(nova.flavor(&created.id).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn keypair_lifecycle() {
    let t = target().await;
    let nova = t.session.nova();
    let name = unique("key");
    let created = nova
        .create_keypair(&KeypairCreate {
            name: name.clone(),
            public_key: PUBLIC_KEY.into(),
            key_type: Some("ssh".into()),
            user_id: None,
        })
        .await
        .unwrap();
    assert_eq!(created.name, name);
    assert!(!created.fingerprint.is_empty());
    let listed = nova.keypairs(&Filters::none()).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|k| k.name == name && k.public_key == PUBLIC_KEY)
    );
    assert_eq!(
        nova.keypair(&name).await.unwrap().fingerprint,
        created.fingerprint
    );
    // A second import of the same name is refused, not duplicated.
    let again = nova
        .create_keypair(&KeypairCreate {
            name: name.clone(),
            public_key: PUBLIC_KEY.into(),
            key_type: None,
            user_id: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(again, holdfast_openstack::Error::Conflict(_)),
        "{again}"
    );
    nova.delete_keypair(&name).await.unwrap();
    assert!(nova.keypair(&name).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn zones_and_hypervisors() {
    let t = target().await;
    let nova = t.session.nova();
    let zones = nova.availability_zones().await.unwrap();
    assert!(
        zones
            .iter()
            .any(|z| z.state.available && !z.compute_hosts().is_empty()),
        "a zone with a compute host: {zones:?}"
    );
    let hypervisors = nova.hypervisors().await.unwrap();
    assert!(!hypervisors.is_empty());
    for h in &hypervisors {
        assert!(!h.id.is_empty() && !h.hypervisor_hostname.is_empty());
        assert!(h.vcpus > 0 && h.memory_mb > 0, "capacity reported: {h:?}");
        assert!(h.vcpus_used <= h.vcpus * 16);
    }
    let hosts: Vec<&str> = zones.iter().flat_map(|z| z.compute_hosts()).collect();
    assert!(
        hypervisors.iter().any(|h| h
            .service
            .as_ref()
            .is_some_and(|s| hosts.contains(&s.host.as_str()))),
        "hypervisors' hosts appear in the zones"
    );
}
