//! What a plan's own jobs hold on the target, for its evaluation
//! ([`crate::dr::plan_state::OwnJobsHold`]): the resources their ledgers recorded as
//! created and not deleted (a completed drill until its rollback, a DR until its
//! confirm), looked up in the synced target — the instances' nodes and flavor needs,
//! the projects' names, the floating IPs' addresses.

use sqlx::AnyConnection;

use super::capacity_facts::instance_needs;
use super::inventory::ClusterDocs;
use crate::db::{self, DbError};
use crate::dr::ids::NodeId;
use crate::dr::plan_state::OwnJobsHold;
use crate::dr::rollback::Resource;

/// The resources the jobs (ids of the plan's existing jobs) created on the target and
/// hold now, from their current runs' ledgers.
pub async fn held_resources(
    conn: &mut AnyConnection,
    jobs: &[String],
) -> Result<Vec<Resource>, DbError> {
    let mut out = Vec::new();
    for id in jobs {
        let Some(run) = db::job_engine::get(conn, id).await?.and_then(|j| j.run_id) else {
            continue;
        };
        for r in db::recovery_resources::all(conn, &run).await? {
            let Some(json) = r.resource_json.filter(|_| r.state != "deleted") else {
                continue;
            };
            out.push(serde_json::from_str(&json).map_err(|e| DbError::Corrupt {
                table: "recovery_resources",
                reason: format!("job {id}, resource {}: {e}", r.tag),
            })?);
        }
    }
    Ok(out)
}

/// What the resources hold on the synced target (pure). Resources the target's copy
/// does not have (yet) hold nothing there.
pub fn hold(resources: &[Resource], target: &ClusterDocs) -> OwnJobsHold {
    let mut out = OwnJobsHold::default();
    for r in resources {
        match r {
            Resource::Instance { id } => {
                let Some(srv) = target.instances.get(id) else {
                    continue;
                };
                let Some(node) = srv.hypervisor_hostname.as_deref() else {
                    continue;
                };
                let held = out.on_nodes.entry(NodeId::new(node)).or_default();
                *held = held.plus(instance_needs(srv, &target.flavors));
            }
            Resource::Project { id } => {
                if let Some(p) = target.projects.get(id) {
                    out.projects.insert(p.name.clone());
                }
            }
            Resource::FloatingIp { id } => {
                if let Some(f) = target.floating_ips.get(id) {
                    out.addresses.insert(f.floating_ip_address.clone());
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
