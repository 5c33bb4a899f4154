//! Security groups and rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Neutron;
use crate::{Filters, Result};

/// A security group with its rules.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SecurityGroup {
    /// Id.
    pub id: String,
    /// Name (`default` for each project's default group).
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Project.
    #[serde(default)]
    pub project_id: String,
    /// The same as `project_id` (Neutron sends both; old releases only this one).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Rules.
    #[serde(default)]
    pub security_group_rules: Vec<SecurityGroupRule>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A security group rule.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct SecurityGroupRule {
    /// Id.
    pub id: String,
    /// Its group.
    pub security_group_id: String,
    /// `ingress` / `egress`.
    pub direction: String,
    /// `IPv4` / `IPv6`.
    #[serde(default)]
    pub ethertype: String,
    /// `tcp`, `udp`, `icmp`, a number, or any.
    #[serde(default)]
    pub protocol: Option<String>,
    /// First port.
    #[serde(default)]
    pub port_range_min: Option<u32>,
    /// Last port.
    #[serde(default)]
    pub port_range_max: Option<u32>,
    /// Source/destination CIDR.
    #[serde(default)]
    pub remote_ip_prefix: Option<String>,
    /// Source/destination group.
    #[serde(default)]
    pub remote_group_id: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Project.
    #[serde(default)]
    pub project_id: String,
    /// The same as `project_id` (Neutron sends both; old releases only this one).
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// A security group to create.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct SecurityGroupCreate {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Owner project (admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

/// A rule to create.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct SecurityGroupRuleCreate {
    /// Its group.
    pub security_group_id: String,
    /// `ingress` / `egress`.
    pub direction: String,
    /// `IPv4` / `IPv6`.
    pub ethertype: String,
    /// Protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// First port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_range_min: Option<u32>,
    /// Last port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_range_max: Option<u32>,
    /// CIDR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ip_prefix: Option<String>,
    /// Group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_group_id: Option<String>,
    /// Owner project (admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Neutron<'_> {
    /// Security groups with their rules, every page.
    #[tracing::instrument(skip_all)]
    pub async fn security_groups(&self, filters: &Filters) -> Result<Vec<SecurityGroup>> {
        self.list_all("security-groups", "security_groups", filters)
            .await
    }

    /// One security group.
    #[tracing::instrument(skip_all, fields(security_group_id = id))]
    pub async fn security_group(&self, id: &str) -> Result<SecurityGroup> {
        self.show("security-groups", id, "security_group").await
    }

    /// Creates a security group (Neutron adds two egress rules). Not retried.
    #[tracing::instrument(skip_all, fields(name = %group.name))]
    pub async fn create_security_group(
        &self,
        group: &SecurityGroupCreate,
    ) -> Result<SecurityGroup> {
        self.create("security-groups", "security_group", group)
            .await
    }

    /// Deletes a security group (409 while ports use it).
    #[tracing::instrument(skip_all, fields(security_group_id = id))]
    pub async fn delete_security_group(&self, id: &str) -> Result<()> {
        self.delete("security-groups", id).await
    }

    /// Security group rules, every page.
    #[tracing::instrument(skip_all)]
    pub async fn security_group_rules(&self, filters: &Filters) -> Result<Vec<SecurityGroupRule>> {
        self.list_all("security-group-rules", "security_group_rules", filters)
            .await
    }

    /// Creates a rule (409 if an identical rule exists). Not retried.
    #[tracing::instrument(skip_all, fields(security_group_id = %rule.security_group_id))]
    pub async fn create_security_group_rule(
        &self,
        rule: &SecurityGroupRuleCreate,
    ) -> Result<SecurityGroupRule> {
        self.create("security-group-rules", "security_group_rule", rule)
            .await
    }

    /// Deletes a rule.
    #[tracing::instrument(skip_all, fields(security_group_rule_id = id))]
    pub async fn delete_security_group_rule(&self, id: &str) -> Result<()> {
        self.delete("security-group-rules", id).await
    }
}
