//! Nova (compute v2.1): servers, actions, volume attachments, flavors, keypairs,
//! availability zones, hypervisors.

use crate::microversion::{Microversion, Requirement};
use crate::session::Session;

mod flavors;
mod hypervisors;
mod keypairs;
mod servers;
mod volume_attachments;
mod zones;

pub use flavors::{Flavor, FlavorCreate};
pub use hypervisors::{Hypervisor, HypervisorService};
pub use keypairs::{Keypair, KeypairCreate};
pub use servers::{
    Address, AttachedVolume, BlockDeviceMapping, NamedRef, NetworkRequest, Networks, Server,
    ServerCreate, ServerCreated, ServerFlavor,
};
pub use volume_attachments::VolumeAttachment;
pub use zones::{AvailabilityZone, ZoneState};

/// Nova microversions: at least 2.53 (UUID hypervisor ids, embedded flavors), at most
/// 2.79 (below 2.88, which removed hypervisor capacity fields the sync reads).
pub const MICROVERSIONS: Requirement = Requirement {
    minimum: Microversion::new(2, 53),
    wanted: Microversion::new(2, 79),
};

/// Nova calls of a session.
#[derive(Debug, Clone, Copy)]
pub struct Nova<'a> {
    session: &'a Session,
}

impl<'a> Nova<'a> {
    pub(crate) fn new(session: &'a Session) -> Self {
        Self { session }
    }
}
