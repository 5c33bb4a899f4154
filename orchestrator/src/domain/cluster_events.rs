//! OpenStack notifications, pure: the oslo.messaging v2 envelope and the spec's event
//! table (clusters.md, "Event monitoring") as a mapping from an event to the resources
//! it changed.
//!
//! An event does not carry the resource in the API's shape (Nova and Cinder send their
//! own payloads, Keystone sends CADF), so an event is turned into [`Change`]s: "this
//! resource changed, read it again" or "this resource is gone". The listener performs
//! them (one GET per changed resource, or a soft delete).

use serde_json::Value;

use super::cluster::ResourceKind;

/// What to do about one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Read the resource from the cloud again (created or updated).
    Refresh(ResourceKind, String),
    /// The resource is gone from the cloud.
    Delete(ResourceKind, String),
}

/// A decoded notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// `volume.create.end`, `compute.instance.update`, ...
    pub event_type: String,
    /// The service's payload.
    pub payload: Value,
    /// oslo message id (for logs).
    pub message_id: Option<String>,
}

/// Why a notification could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedNotification {
    /// Not JSON.
    #[error("the message is not JSON: {0}")]
    NotJson(String),
    /// No `oslo.message` string (not a messagingv2 envelope).
    #[error("the message has no oslo.message string (not a messagingv2 envelope)")]
    NoEnvelope,
    /// `oslo.message` is not a JSON object with `event_type` and `payload`.
    #[error("oslo.message is not a notification: {0}")]
    BadMessage(String),
    /// A known event lacks the id of its resource.
    #[error("{event_type} has no resource id at {path}")]
    NoId {
        /// The event.
        event_type: String,
        /// Where the id was expected.
        path: &'static str,
    },
}

/// Decodes a messagingv2 envelope: `{"oslo.version": "2.0", "oslo.message": "<json>"}`.
pub fn decode(body: &[u8]) -> Result<Notification, MalformedNotification> {
    let outer: Value =
        serde_json::from_slice(body).map_err(|e| MalformedNotification::NotJson(e.to_string()))?;
    let inner = outer
        .get("oslo.message")
        .and_then(Value::as_str)
        .ok_or(MalformedNotification::NoEnvelope)?;
    let msg: Value = serde_json::from_str(inner)
        .map_err(|e| MalformedNotification::BadMessage(e.to_string()))?;
    let event_type = msg
        .get("event_type")
        .and_then(Value::as_str)
        .ok_or_else(|| MalformedNotification::BadMessage("no event_type".into()))?;
    let payload = msg
        .get("payload")
        .cloned()
        .ok_or_else(|| MalformedNotification::BadMessage("no payload".into()))?;
    Ok(Notification {
        event_type: event_type.to_owned(),
        payload,
        message_id: msg
            .get("message_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

struct Ctx<'a> {
    event_type: &'a str,
    payload: &'a Value,
}

impl Ctx<'_> {
    /// The first id found at one of `paths` (each a dotted path for the error text).
    fn id(&self, paths: &[&'static str]) -> Result<String, MalformedNotification> {
        for p in paths {
            let parts: Vec<&str> = p.split('/').collect();
            if let Some(id) = at(self.payload, &parts) {
                return Ok(id.to_owned());
            }
        }
        Err(MalformedNotification::NoId {
            event_type: self.event_type.to_owned(),
            path: paths.first().copied().unwrap_or("payload"),
        })
    }
}

/// Neutron resources: `<kind>.<op>.end` with `{"<kind>": {...}}` or `{"<kind>_id": ..}`.
fn neutron(
    kind: ResourceKind,
    op: &str,
    c: &Ctx<'_>,
) -> Result<Vec<Change>, MalformedNotification> {
    let (obj, id_key): (&'static str, &'static str) = match kind {
        ResourceKind::Network => ("network/id", "network_id"),
        ResourceKind::Subnet => ("subnet/id", "subnet_id"),
        ResourceKind::Port => ("port/id", "port_id"),
        ResourceKind::Router => ("router/id", "router_id"),
        ResourceKind::FloatingIp => ("floatingip/id", "floatingip_id"),
        _ => ("security_group/id", "security_group_id"),
    };
    let id = c.id(&[obj, id_key, "id"])?;
    Ok(vec![if op == "delete" {
        Change::Delete(kind, id)
    } else {
        Change::Refresh(kind, id)
    }])
}

/// The changes an event makes; `Ok(None)` for events outside the table (unknown, or a
/// `.start` whose `.end` follows).
pub fn classify(n: &Notification) -> Result<Option<Vec<Change>>, MalformedNotification> {
    use ResourceKind as K;
    let c = Ctx {
        event_type: &n.event_type,
        payload: &n.payload,
    };
    let e = n.event_type.as_str();
    let parts: Vec<&str> = e.split('.').collect();
    let changes = match parts.as_slice() {
        // 2. tenant created / updated / deleted (Keystone basic or CADF format).
        [
            "identity",
            "project",
            op @ ("created" | "updated" | "deleted"),
        ] => {
            let id = c.id(&["resource_info", "target/id"])?;
            vec![if *op == "deleted" {
                Change::Delete(K::Project, id)
            } else {
                Change::Refresh(K::Project, id)
            }]
        }
        // 3. network (and its subnets, ports, routers, floating IPs).
        [
            kind @ ("network" | "subnet" | "port" | "router" | "floatingip"),
            op,
            "end",
        ] if matches!(*op, "create" | "update" | "delete") => {
            let kind = match *kind {
                "network" => K::Network,
                "subnet" => K::Subnet,
                "port" => K::Port,
                "router" => K::Router,
                _ => K::FloatingIp,
            };
            neutron(kind, op, &c)?
        }
        ["router", "interface", op @ ("create" | "delete"), "end"] => {
            let router = c.id(&["router_interface/id"])?;
            let mut v = vec![Change::Refresh(K::Router, router)];
            if let Ok(port) = c.id(&["router_interface/port_id"]) {
                v.push(if *op == "delete" {
                    Change::Delete(K::Port, port)
                } else {
                    Change::Refresh(K::Port, port)
                });
            }
            v
        }
        // 4. security group created / updated / deleted, and its rules.
        [
            "security_group",
            op @ ("create" | "update" | "delete"),
            "end",
        ] => neutron(K::SecurityGroup, op, &c)?,
        ["security_group_rule", "create", "end"] => {
            let sg = c.id(&["security_group_rule/security_group_id"])?;
            vec![Change::Refresh(K::SecurityGroup, sg)]
        }
        ["security_group_rule", "delete", "end"] => {
            let id = c.id(&["security_group_rule_id", "security_group_rule/id"])?;
            vec![Change::Delete(K::SecurityGroupRule, id)]
        }
        // 5. instance created / updated / deleted (legacy and versioned notifications).
        ["compute", "instance", rest @ ..] | ["instance", rest @ ..] => {
            if rest.last() == Some(&"start") {
                return Ok(None);
            }
            let id = c.id(&["instance_id", "nova_object.data/uuid"])?;
            if rest == ["delete", "end"] {
                vec![Change::Delete(K::Instance, id)]
            } else {
                vec![Change::Refresh(K::Instance, id)]
            }
        }
        // 6. volume type created / updated / deleted.
        ["volume_type", op @ ("create" | "update" | "delete")] => {
            let id = c.id(&["volume_types/id", "volume_type_id"])?;
            vec![if *op == "delete" {
                Change::Delete(K::VolumeType, id)
            } else {
                Change::Refresh(K::VolumeType, id)
            }]
        }
        // 7–9. volume created / updated / deleted, manage / unmanage, resized (and
        // attach / detach / retype, which change the volume too).
        ["volume", op, "end"] => {
            let id = c.id(&["volume_id"])?;
            match *op {
                "delete" | "unmanage" => vec![Change::Delete(K::Volume, id)],
                _ => vec![Change::Refresh(K::Volume, id)],
            }
        }
        // 10–11. snapshot created / updated / deleted, status reset.
        ["snapshot", op, "end"] => {
            let id = c.id(&["snapshot_id"])?;
            if *op == "delete" {
                vec![Change::Delete(K::VolumeSnapshot, id)]
            } else {
                vec![Change::Refresh(K::VolumeSnapshot, id)]
            }
        }
        // Volume groups (consistency groups).
        ["group", op, "end"] => {
            let id = c.id(&["group_id", "id"])?;
            if *op == "delete" {
                vec![Change::Delete(K::VolumeGroup, id)]
            } else {
                vec![Change::Refresh(K::VolumeGroup, id)]
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(changes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn n(event_type: &str, payload: Value) -> Notification {
        Notification {
            event_type: event_type.into(),
            payload,
            message_id: None,
        }
    }

    fn one(event_type: &str, payload: Value) -> Change {
        let mut v = classify(&n(event_type, payload)).unwrap().unwrap();
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    #[test]
    fn envelope_is_decoded() {
        let inner = json!({"message_id": "m", "event_type": "volume.create.end", "priority": "INFO",
            "payload": {"volume_id": "v1"}, "timestamp": "t"});
        let body = json!({"oslo.version": "2.0", "oslo.message": inner.to_string()}).to_string();
        let d = decode(body.as_bytes()).unwrap();
        assert_eq!(d.event_type, "volume.create.end");
        assert_eq!(d.message_id.as_deref(), Some("m"));
        assert_eq!(
            classify(&d).unwrap().unwrap(),
            vec![Change::Refresh(ResourceKind::Volume, "v1".into())]
        );
    }

    #[test]
    fn malformed_envelopes_are_errors() {
        assert!(matches!(
            decode(b"not json"),
            Err(MalformedNotification::NotJson(_))
        ));
        assert_eq!(
            decode(br#"{"event_type": "x"}"#),
            Err(MalformedNotification::NoEnvelope)
        );
        assert!(matches!(
            decode(br#"{"oslo.message": "{broken"}"#),
            Err(MalformedNotification::BadMessage(_))
        ));
        assert!(matches!(
            decode(br#"{"oslo.message": "{\"payload\": {}}"}"#),
            Err(MalformedNotification::BadMessage(_))
        ));
        assert!(matches!(
            classify(&n("volume.delete.end", json!({}))),
            Err(MalformedNotification::NoId { .. })
        ));
    }

    #[test]
    fn the_event_table() {
        use Change::{Delete, Refresh};
        use ResourceKind as K;
        let cadf = json!({"target": {"id": "p1"}, "resource_info": "p1"});
        assert_eq!(
            one("identity.project.created", cadf.clone()),
            Refresh(K::Project, "p1".into())
        );
        assert_eq!(
            one("identity.project.deleted", cadf),
            Delete(K::Project, "p1".into())
        );
        assert_eq!(
            one("network.create.end", json!({"network": {"id": "n1"}})),
            Refresh(K::Network, "n1".into())
        );
        assert_eq!(
            one("network.delete.end", json!({"network_id": "n1"})),
            Delete(K::Network, "n1".into())
        );
        assert_eq!(
            one(
                "security_group.update.end",
                json!({"security_group": {"id": "s"}})
            ),
            Refresh(K::SecurityGroup, "s".into())
        );
        assert_eq!(
            one(
                "security_group_rule.create.end",
                json!({"security_group_rule": {"id": "r", "security_group_id": "s"}})
            ),
            Refresh(K::SecurityGroup, "s".into())
        );
        assert_eq!(
            one(
                "security_group_rule.delete.end",
                json!({"security_group_rule_id": "r"})
            ),
            Delete(K::SecurityGroupRule, "r".into())
        );
        assert_eq!(
            one("compute.instance.create.end", json!({"instance_id": "i"})),
            Refresh(K::Instance, "i".into())
        );
        assert_eq!(
            one("compute.instance.update", json!({"instance_id": "i"})),
            Refresh(K::Instance, "i".into())
        );
        assert_eq!(
            one("compute.instance.delete.end", json!({"instance_id": "i"})),
            Delete(K::Instance, "i".into())
        );
        assert_eq!(
            one(
                "instance.update",
                json!({"nova_object.data": {"uuid": "i"}})
            ),
            Refresh(K::Instance, "i".into())
        );
        assert_eq!(
            one("volume_type.create", json!({"volume_types": {"id": "t"}})),
            Refresh(K::VolumeType, "t".into())
        );
        assert_eq!(
            one("volume_type.delete", json!({"volume_types": {"id": "t"}})),
            Delete(K::VolumeType, "t".into())
        );
        for (e, expect) in [
            ("volume.create.end", Refresh(K::Volume, "v".into())),
            ("volume.update.end", Refresh(K::Volume, "v".into())),
            ("volume.delete.end", Delete(K::Volume, "v".into())),
            ("volume.manage_existing.end", Refresh(K::Volume, "v".into())),
            ("volume.unmanage.end", Delete(K::Volume, "v".into())),
            ("volume.resize.end", Refresh(K::Volume, "v".into())),
        ] {
            assert_eq!(one(e, json!({"volume_id": "v"})), expect, "{e}");
        }
        for (e, expect) in [
            (
                "snapshot.create.end",
                Refresh(K::VolumeSnapshot, "s".into()),
            ),
            (
                "snapshot.update.end",
                Refresh(K::VolumeSnapshot, "s".into()),
            ),
            ("snapshot.delete.end", Delete(K::VolumeSnapshot, "s".into())),
            (
                "snapshot.reset_status.end",
                Refresh(K::VolumeSnapshot, "s".into()),
            ),
        ] {
            assert_eq!(one(e, json!({"snapshot_id": "s"})), expect, "{e}");
        }
        let ri = classify(&n(
            "router.interface.delete.end",
            json!({"router_interface": {"id": "r", "port_id": "p"}}),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            ri,
            vec![Refresh(K::Router, "r".into()), Delete(K::Port, "p".into())]
        );
    }

    #[test]
    fn starts_and_unknown_events_are_outside_the_table() {
        for e in [
            "compute.instance.create.start",
            "volume.create.start",
            "scheduler.create_volume",
            "identity.user.created",
            "something.else",
        ] {
            assert_eq!(classify(&n(e, json!({}))).unwrap(), None, "{e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            if let Ok(d) = decode(&body) {
                let _ = classify(&d);
            }
        }
    }
}
