//! The quotas of the project a job creates: a new project gets the cloud's default
//! quotas (often 10 instances, 10 volumes), too small for most plans. After the
//! admin membership, every quota the plan needs is raised to what it needs (never
//! lowered). Quotas go with the project: nothing to record for rollback.

use std::collections::{BTreeMap, BTreeSet};

use holdfast_openstack::{QuotaService, Session};

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
    admin: &Session,
    job: &LoadedJob,
    project: &str,
) -> Result<(), RecoveryError> {
    let needed = needed(admin, job).await?;
    for (service, quota) in [
        ("compute", QuotaService::Compute),
        ("volume", QuotaService::Volume),
        ("network", QuotaService::Network),
    ] {
        let current = admin.quotas(quota, project).await?;
        let raise: BTreeMap<String, i64> = needed
            .iter()
            .filter(|((s, _), _)| *s == service)
            .filter(|((_, key), want)| {
                // -1 is unlimited; a missing key is left to the cloud's default.
                current
                    .get(*key)
                    .is_some_and(|have| *have >= 0 && have < *want)
            })
            .map(|((_, key), want)| ((*key).to_owned(), *want))
            .collect();
        if !raise.is_empty() {
            admin.set_quotas(quota, project, &raise).await?;
        }
    }
    Ok(())
}
