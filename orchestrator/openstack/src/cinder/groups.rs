//! Volume groups (consistency groups) and group snapshots.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Cinder;
use crate::catalog::ServiceType;
use crate::session::{Call, Paging, enc};
use crate::{Filters, Result};

/// A volume group (`GET /groups/detail`, 3.13+).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Group {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// `creating`, `available`, ...
    pub status: String,
    /// Group type id.
    #[serde(default)]
    pub group_type: Option<String>,
    /// Volume type ids.
    #[serde(default)]
    pub volume_types: Vec<String>,
    /// Availability zone.
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// Member volume ids (with `list_volume=True`, 3.25+).
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Project (3.58+).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A group snapshot (`GET /group_snapshots/detail`, 3.14+).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GroupSnapshot {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// `creating`, `available`, ...
    pub status: String,
    /// The group.
    pub group_id: String,
    /// Project (3.58+).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A group to create.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct GroupCreate {
    /// Name.
    pub name: String,
    /// Group type (id or name).
    pub group_type: String,
    /// Volume types (ids or names).
    pub volume_types: Vec<String>,
    /// Availability zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Deserialize)]
struct OneGroup {
    group: Group,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct OneCreated<T> {
    #[serde(alias = "group", alias = "group_snapshot")]
    item: T,
}

impl Cinder<'_> {
    /// Groups with details (and member volumes), every page.
    #[tracing::instrument(skip_all)]
    pub async fn groups(&self, filters: &Filters) -> Result<Vec<Group>> {
        let filters = filters.clone().eq("list_volume", "True");
        self.session
            .list(
                ServiceType::BlockStorage,
                "groups/detail",
                "groups",
                &filters,
                Paging::None,
            )
            .await
    }

    /// One group with its member volumes.
    #[tracing::instrument(skip_all, fields(group_id = id))]
    pub async fn group(&self, id: &str) -> Result<Group> {
        let call = Call::new(ServiceType::BlockStorage, format!("groups/{}", enc(id)))
            .param("list_volume", "True");
        let one: OneGroup = self.session.get(call).await?;
        Ok(one.group)
    }

    /// Creates a group (202); answers its id. Not retried.
    #[tracing::instrument(skip_all, fields(name = %group.name))]
    pub async fn create_group(&self, group: &GroupCreate) -> Result<String> {
        let one: OneCreated<Created> = self
            .session
            .post(
                Call::new(ServiceType::BlockStorage, "groups"),
                &json!({ "group": group }),
            )
            .await?;
        Ok(one.item.id)
    }

    /// Adds and removes member volumes (`PUT /groups/{id}`).
    #[tracing::instrument(skip_all, fields(group_id = id))]
    pub async fn update_group_volumes(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<()> {
        let body =
            json!({"group": {"add_volumes": add.join(","), "remove_volumes": remove.join(",")}});
        let call = Call::new(ServiceType::BlockStorage, format!("groups/{}", enc(id)))
            .method(reqwest::Method::PUT);
        self.session.send(call.json(&body)?).await.map(drop)
    }

    /// Deletes a group, keeping its volumes (`delete` action, 202).
    #[tracing::instrument(skip_all, fields(group_id = id))]
    pub async fn delete_group(&self, id: &str) -> Result<()> {
        let call = Call::new(
            ServiceType::BlockStorage,
            format!("groups/{}/action", enc(id)),
        );
        self.session
            .post_no_content(call, &json!({"delete": {"delete-volumes": false}}))
            .await
    }

    /// Group snapshots with details, every page.
    #[tracing::instrument(skip_all)]
    pub async fn group_snapshots(&self, filters: &Filters) -> Result<Vec<GroupSnapshot>> {
        self.session
            .list(
                ServiceType::BlockStorage,
                "group_snapshots/detail",
                "group_snapshots",
                filters,
                Paging::None,
            )
            .await
    }

    /// Snapshots every volume of a group at one point (202); answers its id. Not retried.
    #[tracing::instrument(skip_all, fields(group_id))]
    pub async fn create_group_snapshot(&self, group_id: &str, name: &str) -> Result<String> {
        let body = json!({"group_snapshot": {"group_id": group_id, "name": name}});
        let one: OneCreated<Created> = self
            .session
            .post(
                Call::new(ServiceType::BlockStorage, "group_snapshots"),
                &body,
            )
            .await?;
        Ok(one.item.id)
    }

    /// Deletes a group snapshot (202).
    #[tracing::instrument(skip_all, fields(group_snapshot_id = id))]
    pub async fn delete_group_snapshot(&self, id: &str) -> Result<()> {
        self.session
            .delete(Call::new(
                ServiceType::BlockStorage,
                format!("group_snapshots/{}", enc(id)),
            ))
            .await
    }
}
