//! Nova: hypervisors and availability zones, flavors, keypairs and servers (with their
//! Neutron ports and Cinder volume attachments).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::{CloudError, CloudResult};

pub mod server;

pub use server::{BlockDevice, NetworkRequest, Server, ServerPort, ServerSpec, ServerVolume};

#[derive(Debug, Clone)]
pub struct Hypervisor {
    pub id: u64,
    pub uuid: String,
    pub hostname: String,
    pub availability_zone: String,
    pub host_ip: String,
    pub vcpus: u64,
    pub memory_mb: u64,
    pub local_gb: u64,
    pub vcpus_used: u64,
    pub memory_mb_used: u64,
    pub local_gb_used: u64,
    pub running_vms: u64,
}

impl Hypervisor {
    pub fn fits(&self, vcpus: u64, ram: u64, disk: u64) -> bool {
        self.vcpus_used + vcpus <= self.vcpus
            && self.memory_mb_used + ram <= self.memory_mb
            && self.local_gb_used + disk <= self.local_gb
    }
}

#[derive(Debug, Clone)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub ram: u64,
    pub vcpus: u64,
    pub disk: u64,
    pub ephemeral: u64,
    pub swap: u64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub description: Option<String>,
    pub extra_specs: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Keypair {
    pub name: String,
    pub user_id: String,
    pub public_key: String,
    pub fingerprint: String,
    pub key_type: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Default)]
pub struct Compute {
    pub hypervisors: BTreeMap<u64, Hypervisor>,
    pub flavors: BTreeMap<String, Flavor>,
    /// Keyed by (user id, name).
    pub keypairs: BTreeMap<(String, String), Keypair>,
    pub servers: BTreeMap<String, Server>,
}

impl Compute {
    pub fn availability_zones(&self) -> BTreeSet<String> {
        self.hypervisors
            .values()
            .map(|h| h.availability_zone.clone())
            .collect()
    }

    pub fn add_hypervisor(
        &mut self,
        hostname: &str,
        availability_zone: &str,
        vcpus: u64,
        memory_mb: u64,
        local_gb: u64,
    ) -> u64 {
        let id = self.hypervisors.len() as u64 + 1;
        self.hypervisors.insert(
            id,
            Hypervisor {
                id,
                uuid: super::new_uuid(),
                hostname: hostname.to_owned(),
                availability_zone: availability_zone.to_owned(),
                host_ip: format!("127.0.0.{}", (id % 250) + 1),
                vcpus,
                memory_mb,
                local_gb,
                vcpus_used: 0,
                memory_mb_used: 0,
                local_gb_used: 0,
                running_vms: 0,
            },
        );
        id
    }

    pub fn find_flavor(&self, id_or_name: &str) -> Option<&Flavor> {
        self.flavors
            .get(id_or_name)
            .or_else(|| self.flavors.values().find(|f| f.name == id_or_name))
    }

    pub fn create_flavor(&mut self, f: Flavor) -> CloudResult<Flavor> {
        if f.name.is_empty() || f.name.len() > 255 {
            return Err(CloudError::bad("Invalid input for field/attribute name."));
        }
        if f.vcpus == 0 {
            return Err(CloudError::bad(
                "Invalid input for field/attribute vcpus. Value: 0. 0 is less than the minimum of 1",
            ));
        }
        if f.ram == 0 {
            return Err(CloudError::bad(
                "Invalid input for field/attribute ram. Value: 0. 0 is less than the minimum of 1",
            ));
        }
        if self.flavors.contains_key(&f.id) {
            return Err(CloudError::conflict(
                "FlavorIdExists",
                format!("Flavor with ID {} already exists.", f.id),
            ));
        }
        if self.flavors.values().any(|x| x.name == f.name) {
            return Err(CloudError::conflict(
                "FlavorExists",
                format!("Flavor with name {} already exists.", f.name),
            ));
        }
        self.flavors.insert(f.id.clone(), f.clone());
        Ok(f)
    }

    pub fn delete_flavor(&mut self, id: &str) -> CloudResult<()> {
        self.flavors
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| CloudError::not_found("Flavor", id))
    }

    pub fn create_keypair(&mut self, k: Keypair) -> CloudResult<Keypair> {
        if k.name.is_empty()
            || k.name.len() > 255
            || !k
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' ' | '.' | '@'))
        {
            return Err(CloudError::bad(
                "Keypair data is invalid: Keypair name contains unsafe characters",
            ));
        }
        let key = (k.user_id.clone(), k.name.clone());
        if self.keypairs.contains_key(&key) {
            return Err(CloudError::conflict(
                "KeyPairExists",
                format!("Key pair '{}' already exists.", k.name),
            ));
        }
        self.keypairs.insert(key, k.clone());
        Ok(k)
    }

    pub fn delete_keypair(&mut self, user_id: &str, name: &str) -> CloudResult<()> {
        self.keypairs
            .remove(&(user_id.to_owned(), name.to_owned()))
            .map(|_| ())
            .ok_or_else(|| CloudError::not_found("Keypair", name))
    }
}

#[cfg(test)]
mod tests;
