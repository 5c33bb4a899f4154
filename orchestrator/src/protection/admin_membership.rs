//! The group creation constraint "the cluster's admin account is a member (with the
//! `admin` role) of the source project" (protection.md, "Protection groups";
//! operations.md, known constraint 6). Role assignments are not part of the synced
//! copy, so the constraint is checked on the cloud itself, fresh, when a group is
//! created: a grant or revocation made a minute ago counts.

use std::collections::BTreeSet;

use holdfast_openstack::Filters;

use super::ProtectionError;
use crate::db;
use crate::domain::cluster::ResourceKind;
use crate::dr::ids::ProjectId;
use crate::state::App;

/// The role the account needs on the project.
const ADMIN_ROLE: &str = "admin";

/// What the cloud says about the cluster's admin account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminMembership {
    /// The account's user name (for messages).
    pub user: String,
    /// The projects asked about on which it has the `admin` role (directly, through
    /// a group, or inherited: Keystone's effective assignments).
    pub projects: BTreeSet<ProjectId>,
}

/// The projects of the selected instances, from the synced copy (instances that are
/// not synced are left to the group rules, which refuse them).
pub async fn projects_of(
    app: &App,
    cluster_id: &str,
    instances: &[String],
) -> Result<BTreeSet<String>, ProtectionError> {
    let mut conn = app.db.conn().await?;
    let mut out = BTreeSet::new();
    for id in instances {
        let row =
            db::resources::get(&mut conn, cluster_id, ResourceKind::Instance.as_str(), id).await?;
        if let Some(p) = row
            .filter(|r| r.deleted_at.is_none())
            .and_then(|r| r.row.project_id)
        {
            out.insert(p);
        }
    }
    Ok(out)
}

/// Asks the cluster's Keystone, for each project, whether the account Holdfast signs in
/// with has the `admin` role there (`GET /v3/role_assignments?user.id=…
/// &scope.project.id=…&effective&include_names`).
#[tracing::instrument(skip_all, fields(cluster_id = %cluster_id))]
pub async fn check(
    app: &App,
    cluster_id: &str,
    projects: &BTreeSet<String>,
) -> Result<AdminMembership, ProtectionError> {
    let unreachable = |e: String| ProtectionError::ClusterUnreachable {
        cluster_id: cluster_id.to_owned(),
        reason: e,
    };
    let session = app
        .clusters
        .session(app, cluster_id)
        .await
        .map_err(unreachable)?;
    let token = session
        .token()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let keystone = session.keystone();
    let mut with_admin = BTreeSet::new();
    let mut admin_role_id: Option<Option<String>> = None;
    for project in projects {
        let assignments = keystone
            .role_assignments(
                &Filters::none()
                    .eq("user.id", token.user.id.clone())
                    .eq("scope.project.id", project.clone())
                    .eq("effective", "true")
                    .eq("include_names", "true"),
            )
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let mut member = assignments
            .iter()
            .any(|a| a.role.name.as_deref() == Some(ADMIN_ROLE));
        if !member && assignments.iter().any(|a| a.role.name.is_none()) {
            // a cloud that ignores include_names: compare role ids instead
            if admin_role_id.is_none() {
                let role = keystone
                    .role_by_name(ADMIN_ROLE)
                    .await
                    .map_err(|e| unreachable(e.to_string()))?;
                admin_role_id = Some(role.map(|r| r.id));
            }
            if let Some(Some(id)) = &admin_role_id {
                member = assignments.iter().any(|a| &a.role.id == id);
            }
        }
        if member {
            with_admin.insert(ProjectId::new(project));
        }
    }
    Ok(AdminMembership {
        user: token.user.name.clone(),
        projects: with_admin,
    })
}
