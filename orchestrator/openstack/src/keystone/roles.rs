//! Roles and role assignments.

use reqwest::Method;
use serde::Deserialize;

use super::Keystone;
use crate::catalog::ServiceType;
use crate::session::{Call, Paging, enc};
use crate::{Filters, Result};

/// A role.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Role {
    /// Id.
    pub id: String,
    /// Name (e.g. `admin`, `member`, `reader`).
    pub name: String,
    /// Domain of a domain-specific role.
    #[serde(default)]
    pub domain_id: Option<String>,
}

/// Reference by id.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct IdRef {
    /// Id.
    pub id: String,
    /// Name, when `include_names` was asked for.
    #[serde(default)]
    pub name: Option<String>,
}

/// Where an assignment applies.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
pub struct RoleAssignmentScope {
    /// Project scope.
    #[serde(default)]
    pub project: Option<IdRef>,
    /// Domain scope.
    #[serde(default)]
    pub domain: Option<IdRef>,
}

/// A role assignment (`GET /v3/role_assignments`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RoleAssignment {
    /// The role.
    pub role: IdRef,
    /// The user (absent for group assignments).
    #[serde(default)]
    pub user: Option<IdRef>,
    /// The group (absent for user assignments).
    #[serde(default)]
    pub group: Option<IdRef>,
    /// Where it applies.
    #[serde(default)]
    pub scope: RoleAssignmentScope,
}

impl Keystone<'_> {
    /// Every role (filter `name`).
    #[tracing::instrument(skip_all)]
    pub async fn roles(&self, filters: &Filters) -> Result<Vec<Role>> {
        self.session
            .list(
                ServiceType::Identity,
                "roles",
                "roles",
                filters,
                Paging::None,
            )
            .await
    }

    /// The role called `name`, if it exists.
    pub async fn role_by_name(&self, name: &str) -> Result<Option<Role>> {
        let roles = self.roles(&Filters::none().eq("name", name)).await?;
        Ok(roles.into_iter().find(|r| r.name == name))
    }

    /// Role assignments (filters such as `user.id`, `scope.project.id`, `role.id`,
    /// `effective`, `include_names`).
    #[tracing::instrument(skip_all)]
    pub async fn role_assignments(&self, filters: &Filters) -> Result<Vec<RoleAssignment>> {
        self.session
            .list(
                ServiceType::Identity,
                "role_assignments",
                "role_assignments",
                filters,
                Paging::None,
            )
            .await
    }

    /// Grants `role` to `user` on `project` (`PUT /v3/projects/{p}/users/{u}/roles/{r}`;
    /// idempotent).
    #[tracing::instrument(skip_all, fields(project_id = project, user_id = user, role_id = role))]
    pub async fn grant_project_role(&self, project: &str, user: &str, role: &str) -> Result<()> {
        let path = format!(
            "projects/{}/users/{}/roles/{}",
            enc(project),
            enc(user),
            enc(role)
        );
        self.session
            .send(Call::new(ServiceType::Identity, path).method(Method::PUT))
            .await
            .map(drop)
    }

    /// Whether `user` has `role` on `project` (directly).
    #[tracing::instrument(skip_all, fields(project_id = project, user_id = user, role_id = role))]
    pub async fn has_project_role(&self, project: &str, user: &str, role: &str) -> Result<bool> {
        let path = format!(
            "projects/{}/users/{}/roles/{}",
            enc(project),
            enc(user),
            enc(role)
        );
        match self
            .session
            .send(Call::new(ServiceType::Identity, path).method(Method::HEAD))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Revokes `role` from `user` on `project`.
    #[tracing::instrument(skip_all, fields(project_id = project, user_id = user, role_id = role))]
    pub async fn revoke_project_role(&self, project: &str, user: &str, role: &str) -> Result<()> {
        let path = format!(
            "projects/{}/users/{}/roles/{}",
            enc(project),
            enc(user),
            enc(role)
        );
        self.session
            .delete(Call::new(ServiceType::Identity, path))
            .await
    }
}
