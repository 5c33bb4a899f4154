//! The quotas of the project a job creates: a new project gets the cloud's default
//! quotas (often 10 instances, 10 volumes), too small for most plans. After the
//! admin membership, every quota the plan needs is raised to what it needs (never
//! lowered). Quotas go with the project: nothing to record for rollback.
//!
//! `holdfast-openstack` has no quota-set call yet; this uses the session's token and
//! catalog endpoints with Nova's and Cinder's `os-quota-sets` and Neutron's `quotas`.

use std::collections::{BTreeMap, BTreeSet};

use holdfast_openstack::{ServiceType, Session};
use serde_json::{Value, json};

use super::{LoadedJob, RecoveryError};

/// What the plan needs, per service and quota key.
pub(super) async fn needed(
    admin: &Session,
    job: &LoadedJob,
) -> Result<BTreeMap<(&'static str, &'static str), i64>, RecoveryError> {
    let t = &job.spec.topology;
    let d = &job.spec.details;
    let mut vcpus = 0i64;
    let mut ram = 0i64;
    let mut flavors: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for i in &t.instances {
        let Some(details) = d.instances.get(&i.id) else {
            continue;
        };
        let f = match flavors.get(details.flavor.as_str()) {
            Some(f) => *f,
            None => {
                let f = admin.nova().flavor(&details.flavor).await?;
                let v = (i64::from(f.vcpus), i64::try_from(f.ram).unwrap_or(i64::MAX));
                flavors.insert(&details.flavor, v);
                v
            }
        };
        vcpus += f.0;
        ram += f.1;
    }
    let volumes: BTreeSet<_> = t
        .instances
        .iter()
        .flat_map(|i| i.volumes.iter().map(|v| &v.id))
        .collect();
    let gigabytes: i64 = volumes
        .iter()
        .filter_map(|v| d.volumes.get(*v))
        .map(|v| i64::try_from(v.size_gb).unwrap_or(i64::MAX))
        .sum();
    let ports: i64 = t.instances.iter().map(|i| i.ports.len() as i64).sum();
    let fips: i64 = t
        .instances
        .iter()
        .map(|i| i.floating_ips.len() as i64)
        .sum();
    let rules: i64 = d
        .security_group_rules
        .values()
        .map(|r| r.len() as i64)
        .sum();
    let groups = t.security_groups.len() as i64;
    let nets = t.networks.len() as i64;
    let subnets = t.subnets.len() as i64;
    Ok(BTreeMap::from([
        (("compute", "instances"), t.instances.len() as i64),
        (("compute", "cores"), vcpus),
        (("compute", "ram"), ram),
        (("volume", "volumes"), volumes.len() as i64),
        (("volume", "gigabytes"), gigabytes),
        // DHCP and router interface ports come on top of the instances' own
        (("network", "port"), ports + 2 * subnets + 1),
        (("network", "floatingip"), fips),
        (("network", "network"), nets),
        (("network", "subnet"), subnets),
        (("network", "router"), t.routers.len() as i64),
        // the project's default group comes on top, with its own rules
        (("network", "security_group"), groups + 1),
        (("network", "security_group_rule"), rules + 4 * (groups + 1)),
    ]))
}

/// Raises the project's quotas to what the plan needs.
pub(super) async fn raise(
    http: &reqwest::Client,
    admin: &Session,
    job: &LoadedJob,
    project: &str,
) -> Result<(), RecoveryError> {
    let needed = needed(admin, job).await?;
    for (service, kind, wrapper, path) in [
        (
            "compute",
            ServiceType::Compute,
            "quota_set",
            "os-quota-sets",
        ),
        (
            "volume",
            ServiceType::BlockStorage,
            "quota_set",
            "os-quota-sets",
        ),
        ("network", ServiceType::Network, "quota", "quotas"),
    ] {
        let url = format!("{}/{path}/{project}", admin.endpoint(kind).await?);
        let token = admin.token().await?;
        let current: Value = send(http.get(&url), token.secret(), &url).await?;
        let mut raise = serde_json::Map::new();
        for ((s, key), want) in &needed {
            if *s != service {
                continue;
            }
            let have = current[wrapper][*key].as_i64().unwrap_or(-1);
            if have >= 0 && have < *want {
                raise.insert((*key).to_owned(), json!(want));
            }
        }
        if !raise.is_empty() {
            let body = json!({ wrapper: raise });
            send(http.put(&url).json(&body), token.secret(), &url).await?;
        }
    }
    Ok(())
}

async fn send(
    request: reqwest::RequestBuilder,
    token: &str,
    url: &str,
) -> Result<Value, RecoveryError> {
    let response = request
        .header("x-auth-token", token)
        .header("openstack-api-version", "compute 2.1")
        .send()
        .await
        .map_err(|e| RecoveryError::Cloud(format!("quota call {url} failed: {e}")))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(RecoveryError::Cloud(format!(
            "quota call {url} answered {status}: {}",
            body.chars().take(300).collect::<String>()
        )));
    }
    serde_json::from_str(&body)
        .map_err(|e| RecoveryError::Cloud(format!("quota call {url}: invalid JSON: {e}")))
}
