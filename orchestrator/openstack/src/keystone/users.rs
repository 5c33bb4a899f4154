//! Users.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::Keystone;
use crate::catalog::ServiceType;
use crate::session::{Call, Paging, enc};
use crate::{Filters, Result};

/// A user.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct User {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Domain id.
    #[serde(default)]
    pub domain_id: String,
    /// Enabled.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Default project.
    #[serde(default)]
    pub default_project_id: Option<String>,
    /// Everything else Keystone sent.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct One {
    user: User,
}

impl Keystone<'_> {
    /// Every user (filters such as `name`, `domain_id`).
    #[tracing::instrument(skip_all)]
    pub async fn users(&self, filters: &Filters) -> Result<Vec<User>> {
        self.session
            .list(
                ServiceType::Identity,
                "users",
                "users",
                filters,
                Paging::None,
            )
            .await
    }

    /// One user.
    #[tracing::instrument(skip_all, fields(user_id = id))]
    pub async fn user(&self, id: &str) -> Result<User> {
        let one: One = self
            .session
            .get(Call::new(
                ServiceType::Identity,
                format!("users/{}", enc(id)),
            ))
            .await?;
        Ok(one.user)
    }
}
