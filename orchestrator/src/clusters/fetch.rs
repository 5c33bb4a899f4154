//! Reading one resource again after a notification said it changed.

use holdfast_openstack::{Filters, Session};

use super::rows;
use crate::db::resources::ResourceRow;
use crate::domain::cluster::ResourceKind;

/// The rows a refreshed resource produces: the resource itself, plus the rows it
/// contains (a security group's rules). `None`: the cloud no longer has it.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// The resource.
    pub row: ResourceRow,
    /// Contained rows (kind, rows) that replace the stored children.
    pub children: Option<(ResourceKind, Vec<ResourceRow>)>,
}

/// Why a refresh failed (the periodic sync repairs it later).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The cloud failed.
    #[error(transparent)]
    Cloud(#[from] holdfast_openstack::Error),
    /// The event table never asks for this kind.
    #[error("{0:?} is refreshed by the full sync only")]
    NotRefreshable(ResourceKind),
}

fn found<T>(r: holdfast_openstack::Result<T>) -> Result<Option<T>, FetchError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn plain(row: ResourceRow) -> Refreshed {
    Refreshed {
        row,
        children: None,
    }
}

/// Reads `kind` `id` from the cloud.
pub async fn refresh(
    s: &Session,
    kind: ResourceKind,
    id: &str,
) -> Result<Option<Refreshed>, FetchError> {
    use ResourceKind as K;
    Ok(match kind {
        K::Instance => found(s.nova().server(id).await)?.map(|v| plain(rows::instance(&v))),
        K::Volume => found(s.cinder().volume(id).await)?.map(|v| plain(rows::volume(&v))),
        K::VolumeSnapshot => {
            found(s.cinder().snapshot(id).await)?.map(|v| plain(rows::snapshot(&v)))
        }
        K::VolumeType => {
            found(s.cinder().volume_type(id).await)?.map(|v| plain(rows::volume_type(&v)))
        }
        K::VolumeGroup => found(s.cinder().group(id).await)?.map(|v| plain(rows::volume_group(&v))),
        K::Project => found(s.keystone().project(id).await)?.map(|v| plain(rows::project(&v))),
        K::Network => found(s.neutron().network(id).await)?.map(|v| plain(rows::network(&v))),
        K::Subnet => found(s.neutron().subnet(id).await)?.map(|v| plain(rows::subnet(&v))),
        K::Port => found(s.neutron().port(id).await)?.map(|v| plain(rows::port(&v))),
        K::FloatingIp => {
            found(s.neutron().floating_ip(id).await)?.map(|v| plain(rows::floating_ip(&v)))
        }
        K::Router => match found(s.neutron().router(id).await)? {
            None => None,
            Some(r) => {
                let ports = s
                    .neutron()
                    .ports(&Filters::none().eq("device_id", id))
                    .await?;
                Some(plain(rows::router(&r, &rows::interfaces_of(id, &ports))))
            }
        },
        K::SecurityGroup => found(s.neutron().security_group(id).await)?.map(|g| {
            let (row, rules) = rows::security_group(&g);
            Refreshed {
                row,
                children: Some((K::SecurityGroupRule, rules)),
            }
        }),
        K::Hypervisor | K::AvailabilityZone | K::SecurityGroupRule | K::Keypair | K::Flavor => {
            return Err(FetchError::NotRefreshable(kind));
        }
    })
}
