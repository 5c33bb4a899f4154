//! Keypairs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Nova;
use crate::catalog::ServiceType;
use crate::session::{Call, Paging, enc};
use crate::{Filters, Result};

/// A keypair.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Keypair {
    /// Name (unique per user).
    pub name: String,
    /// Public key.
    #[serde(default)]
    pub public_key: String,
    /// Fingerprint.
    #[serde(default)]
    pub fingerprint: String,
    /// `ssh` or `x509` (2.2+).
    #[serde(default, rename = "type")]
    pub key_type: Option<String>,
    /// Owner (in `show`).
    #[serde(default)]
    pub user_id: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A keypair to import.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeypairCreate {
    /// Name.
    pub name: String,
    /// The public key to import (Holdfast copies keys, it never generates them).
    pub public_key: String,
    /// `ssh` or `x509`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// Owner (admin, 2.10+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    keypair: Keypair,
}

impl Nova<'_> {
    /// Keypairs of the session's user (or of `user_id=<id>`, admin), every page.
    #[tracing::instrument(skip_all)]
    pub async fn keypairs(&self, filters: &Filters) -> Result<Vec<Keypair>> {
        let items: Vec<Item> = self
            .session
            .list(
                ServiceType::Compute,
                "os-keypairs",
                "keypairs",
                &filters.without_all_tenants(),
                Paging::Marker,
            )
            .await?;
        Ok(items.into_iter().map(|i| i.keypair).collect())
    }

    /// One keypair.
    #[tracing::instrument(skip_all, fields(name))]
    pub async fn keypair(&self, name: &str) -> Result<Keypair> {
        let item: Item = self
            .session
            .get(Call::new(
                ServiceType::Compute,
                format!("os-keypairs/{}", enc(name)),
            ))
            .await?;
        Ok(item.keypair)
    }

    /// Imports a keypair. Not retried: a repeated import answers 409.
    #[tracing::instrument(skip_all, fields(name = %keypair.name))]
    pub async fn create_keypair(&self, keypair: &KeypairCreate) -> Result<Keypair> {
        let item: Item = self
            .session
            .post(
                Call::new(ServiceType::Compute, "os-keypairs"),
                &json!({ "keypair": keypair }),
            )
            .await?;
        Ok(item.keypair)
    }

    /// Deletes a keypair.
    #[tracing::instrument(skip_all, fields(name))]
    pub async fn delete_keypair(&self, name: &str) -> Result<()> {
        self.session
            .delete(Call::new(
                ServiceType::Compute,
                format!("os-keypairs/{}", enc(name)),
            ))
            .await
    }
}
