//! Networks, subnets and ports.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Pairs, owner, respond, visible};
use crate::http::auth::Auth;
use crate::http::{ApiError, App, member, opt_bool, opt_str, opt_u64, parse_body};
use crate::model::CloudError;
use crate::model::network::{NetworkSpec, PortSpec, SubnetSpec};
use crate::views::neutron as view;

fn created(key: &str, v: Value) -> Response {
    (StatusCode::CREATED, Json(json!({key: v}))).into_response()
}

fn network_spec(n: &Value) -> Result<NetworkSpec, ApiError> {
    Ok(NetworkSpec {
        name: opt_str(n, "name")?,
        admin_state_up: opt_bool(n, "admin_state_up")?,
        shared: opt_bool(n, "shared")?,
        external: opt_bool(n, "router:external")?,
        mtu: opt_u64(n, "mtu")?.map(|m| m as u32),
        network_type: opt_str(n, "provider:network_type")?,
        physical_network: opt_str(n, "provider:physical_network")?,
        segmentation_id: opt_u64(n, "provider:segmentation_id")?.map(|s| s as u32),
        description: opt_str(n, "description")?,
        port_security_enabled: opt_bool(n, "port_security_enabled")?,
    })
}

pub(crate) async fn list_networks(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Pairs>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    app.engine.read(|c| {
        let items = c
            .net
            .networks
            .values()
            .filter(|n| visible(&auth, &n.project_id, n.shared || n.external));
        respond(
            &app,
            &uri,
            "networks",
            &q,
            items,
            |n| &n.id,
            |n| view::network(n, &c.subnet_ids_of(&n.id)),
        )
    })
}

pub(crate) async fn create_network(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let n = member(&body, "network")?;
    let spec = network_spec(n)?;
    if (spec.external.is_some() || spec.network_type.is_some() || spec.physical_network.is_some())
        && !auth.is_admin
    {
        return Err(CloudError::Forbidden(
            "(rule:create_network and rule:create_network:router:external) is disallowed by policy"
                .into(),
        )
        .into());
    }
    let project = owner(&auth, n)?;
    let v = app.engine.apply(|c| {
        c.create_network(&project, spec)
            .map(|n| view::network(&n, &[]))
    })?;
    Ok(created("network", v))
}

fn check_network(c: &crate::model::Cloud, auth: &Auth, id: &str) -> Result<(), CloudError> {
    match c.net.networks.get(id) {
        Some(n) if visible(auth, &n.project_id, n.shared || n.external) => Ok(()),
        _ => Err(CloudError::not_found("Network", id)),
    }
}

pub(crate) async fn show_network(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let v = app.engine.read(|c| {
        check_network(c, &auth, &id)?;
        Ok::<_, CloudError>(view::network(&c.net.networks[&id], &c.subnet_ids_of(&id)))
    })?;
    Ok(Json(json!({"network": v})))
}

pub(crate) async fn update_network(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Value = parse_body(&body)?;
    let spec = network_spec(member(&body, "network")?)?;
    let v = app.engine.apply(|c| {
        check_network(c, &auth, &id)?;
        let n = c.update_network(&id, spec)?;
        Ok(view::network(&n, &c.subnet_ids_of(&id)))
    })?;
    Ok(Json(json!({"network": v})))
}

pub(crate) async fn delete_network(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.engine.apply(|c| {
        check_network(c, &auth, &id)?;
        c.delete_network(&id)
    })?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_subnets(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Pairs>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    app.engine.read(|c| {
        let items = c.net.subnets.values().filter(|s| {
            let shared = c
                .net
                .networks
                .get(&s.network_id)
                .is_some_and(|n| n.shared || n.external);
            visible(&auth, &s.project_id, shared)
        });
        respond(&app, &uri, "subnets", &q, items, |s| &s.id, view::subnet)
    })
}

pub(crate) async fn create_subnet(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let s = member(&body, "subnet")?;
    if opt_str(s, "subnetpool_id")?.is_some() {
        return Err(
            CloudError::bad("Subnet pools are not supported by this cloud; give a cidr.").into(),
        );
    }
    let pools = match s.get("allocation_pools") {
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|p| {
                    Ok((
                        opt_str(p, "start")?.unwrap_or_default(),
                        opt_str(p, "end")?.unwrap_or_default(),
                    ))
                })
                .collect::<Result<Vec<_>, ApiError>>()?,
        ),
        _ => None,
    };
    let gateway_ip = match s.get("gateway_ip") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(_) => Some(opt_str(s, "gateway_ip")?),
    };
    let spec = SubnetSpec {
        name: opt_str(s, "name")?,
        network_id: opt_str(s, "network_id")?.ok_or_else(|| {
            CloudError::bad(
                "Failed to parse request. Required attribute 'network_id' not specified",
            )
        })?,
        cidr: opt_str(s, "cidr")?.ok_or_else(|| {
            CloudError::bad(
                "Bad subnets request: a cidr must be specified in the absence of a subnet pool",
            )
        })?,
        ip_version: opt_u64(s, "ip_version")?.unwrap_or(4) as u8,
        gateway_ip,
        allocation_pools: pools,
        enable_dhcp: opt_bool(s, "enable_dhcp")?,
        dns_nameservers: s
            .get("dns_nameservers")
            .and_then(|d| d.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            }),
        description: opt_str(s, "description")?,
    };
    let project = owner(&auth, s)?;
    let v = app.engine.apply(|c| {
        check_network(c, &auth, &spec.network_id)?;
        c.create_subnet(&project, spec).map(|s| view::subnet(&s))
    })?;
    Ok(created("subnet", v))
}

fn check_subnet(c: &crate::model::Cloud, auth: &Auth, id: &str) -> Result<(), CloudError> {
    match c.net.subnets.get(id) {
        Some(s) => {
            let shared = c
                .net
                .networks
                .get(&s.network_id)
                .is_some_and(|n| n.shared || n.external);
            if visible(auth, &s.project_id, shared) {
                Ok(())
            } else {
                Err(CloudError::not_found("Subnet", id))
            }
        }
        None => Err(CloudError::not_found("Subnet", id)),
    }
}

pub(crate) async fn show_subnet(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let v = app.engine.read(|c| {
        check_subnet(c, &auth, &id)?;
        Ok::<_, CloudError>(view::subnet(&c.net.subnets[&id]))
    })?;
    Ok(Json(json!({"subnet": v})))
}

pub(crate) async fn update_subnet(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Value = parse_body(&body)?;
    let s = member(&body, "subnet")?;
    let dns = s
        .get("dns_nameservers")
        .and_then(|d| d.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        });
    let (name, description, dhcp) = (
        opt_str(s, "name")?,
        opt_str(s, "description")?,
        opt_bool(s, "enable_dhcp")?,
    );
    let v = app.engine.apply(|c| {
        check_subnet(c, &auth, &id)?;
        c.update_subnet(&id, name, description, dhcp, dns)
            .map(|s| view::subnet(&s))
    })?;
    Ok(Json(json!({"subnet": v})))
}

pub(crate) async fn delete_subnet(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.engine.apply(|c| {
        check_subnet(c, &auth, &id)?;
        c.delete_subnet(&id)
    })?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_ports(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Pairs>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    app.engine.read(|c| {
        let items = c
            .net
            .ports
            .values()
            .filter(|p| visible(&auth, &p.project_id, false));
        respond(&app, &uri, "ports", &q, items, |p| &p.id, view::port)
    })
}

fn str_list(v: &Value, key: &str) -> Option<Vec<String>> {
    v.get(key).and_then(|d| d.as_array()).map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect()
    })
}

pub(crate) async fn create_port(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let p = member(&body, "port")?;
    let fixed_ips = match p.get("fixed_ips") {
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|f| Ok((opt_str(f, "subnet_id")?, opt_str(f, "ip_address")?)))
                .collect::<Result<Vec<_>, ApiError>>()?,
        ),
        _ => None,
    };
    let spec = PortSpec {
        name: opt_str(p, "name")?,
        network_id: opt_str(p, "network_id")?.ok_or_else(|| {
            CloudError::bad(
                "Failed to parse request. Required attribute 'network_id' not specified",
            )
        })?,
        fixed_ips,
        device_id: opt_str(p, "device_id")?,
        device_owner: opt_str(p, "device_owner")?,
        admin_state_up: opt_bool(p, "admin_state_up")?,
        security_groups: str_list(p, "security_groups"),
        mac_address: opt_str(p, "mac_address")?,
        description: opt_str(p, "description")?,
        port_security_enabled: opt_bool(p, "port_security_enabled")?,
        binding_host: opt_str(p, "binding:host_id")?,
    };
    let project = owner(&auth, p)?;
    let v = app.engine.apply(|c| {
        check_network(c, &auth, &spec.network_id)?;
        c.create_port(&project, spec).map(|p| view::port(&p))
    })?;
    Ok(created("port", v))
}

fn check_port(c: &crate::model::Cloud, auth: &Auth, id: &str) -> Result<(), CloudError> {
    match c.net.ports.get(id) {
        Some(p) if visible(auth, &p.project_id, false) => Ok(()),
        _ => Err(CloudError::not_found("Port", id)),
    }
}

pub(crate) async fn show_port(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let v = app.engine.read(|c| {
        check_port(c, &auth, &id)?;
        Ok::<_, CloudError>(view::port(&c.net.ports[&id]))
    })?;
    Ok(Json(json!({"port": v})))
}

pub(crate) async fn update_port(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Value = parse_body(&body)?;
    let p = member(&body, "port")?;
    let device = match (opt_str(p, "device_id")?, opt_str(p, "device_owner")?) {
        (None, None) => None,
        (d, o) => Some((d.unwrap_or_default(), o.unwrap_or_default())),
    };
    let (name, description, up, sgs) = (
        opt_str(p, "name")?,
        opt_str(p, "description")?,
        opt_bool(p, "admin_state_up")?,
        str_list(p, "security_groups"),
    );
    let v = app.engine.apply(|c| {
        check_port(c, &auth, &id)?;
        c.update_port(&id, name, description, up, sgs, device)
            .map(|p| view::port(&p))
    })?;
    Ok(Json(json!({"port": v})))
}

pub(crate) async fn delete_port(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.engine.apply(|c| {
        check_port(c, &auth, &id)?;
        c.delete_port(&id)
    })?;
    Ok(StatusCode::NO_CONTENT)
}
