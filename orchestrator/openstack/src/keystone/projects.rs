//! Projects (tenants).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Keystone;
use crate::catalog::ServiceType;
use crate::session::{Call, Paging, enc};
use crate::{Filters, Result};

/// A project.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Project {
    /// Id.
    pub id: String,
    /// Name (unique within its domain).
    pub name: String,
    /// Domain id.
    #[serde(default)]
    pub domain_id: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Enabled.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Parent project (its domain for a top-level project).
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Everything else Keystone sent.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

fn yes() -> bool {
    true
}

/// A project to create.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct ProjectCreate {
    /// Name.
    pub name: String,
    /// Domain id (`default` if `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Enabled.
    pub enabled: bool,
    /// Tags (Holdfast tags what it creates with the job id).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Deserialize)]
struct One {
    project: Project,
}

impl Keystone<'_> {
    /// Every project (`GET /v3/projects`; filters such as `name`, `domain_id`).
    #[tracing::instrument(skip_all)]
    pub async fn projects(&self, filters: &Filters) -> Result<Vec<Project>> {
        self.session
            .list(
                ServiceType::Identity,
                "projects",
                "projects",
                filters,
                Paging::None,
            )
            .await
    }

    /// One project.
    #[tracing::instrument(skip_all, fields(project_id = id))]
    pub async fn project(&self, id: &str) -> Result<Project> {
        let one: One = self
            .session
            .get(Call::new(
                ServiceType::Identity,
                format!("projects/{}", enc(id)),
            ))
            .await?;
        Ok(one.project)
    }

    /// Creates a project. Not retried: on an error, look the name up before trying again.
    #[tracing::instrument(skip_all, fields(name = %project.name))]
    pub async fn create_project(&self, project: &ProjectCreate) -> Result<Project> {
        let one: One = self
            .session
            .post(
                Call::new(ServiceType::Identity, "projects"),
                &json!({ "project": project }),
            )
            .await?;
        Ok(one.project)
    }

    /// Deletes a project.
    #[tracing::instrument(skip_all, fields(project_id = id))]
    pub async fn delete_project(&self, id: &str) -> Result<()> {
        self.session
            .delete(Call::new(
                ServiceType::Identity,
                format!("projects/{}", enc(id)),
            ))
            .await
    }
}
