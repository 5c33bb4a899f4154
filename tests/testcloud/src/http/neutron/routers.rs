//! Routers (gateway, interfaces) and floating IPs.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Pairs, owner, respond, visible};
use crate::http::auth::Auth;
use crate::http::{ApiError, App, member, opt_bool, opt_str, parse_body};
use crate::model::{Cloud, CloudError};
use crate::views::neutron as view;

/// `None`: not given; `Some(None)`: clear it; `Some(Some((network, enable_snat)))`: set it.
type GatewayChange = Option<Option<(String, Option<bool>)>>;

fn gateway(r: &Value) -> Result<GatewayChange, ApiError> {
    match r.get("external_gateway_info") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(g) if g.as_object().is_some_and(|o| o.is_empty()) => Ok(Some(None)),
        Some(g) => {
            let net = opt_str(g, "network_id")?.ok_or_else(|| {
                CloudError::bad(
                    "Invalid input for external_gateway_info. Reason: network_id is required.",
                )
            })?;
            Ok(Some(Some((net, opt_bool(g, "enable_snat")?))))
        }
    }
}

pub(crate) async fn list_routers(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Pairs>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    app.engine.read(|c| {
        let items = c
            .net
            .routers
            .values()
            .filter(|r| visible(&auth, &r.project_id, false));
        respond(
            &app,
            &uri,
            "routers",
            &q,
            items,
            |r| &r.id,
            |r| view::router(c, r),
        )
    })
}

pub(crate) async fn create_router(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let r = member(&body, "router")?;
    let gw = gateway(r)?.flatten();
    let (name, description, up) = (
        opt_str(r, "name")?,
        opt_str(r, "description")?,
        opt_bool(r, "admin_state_up")?,
    );
    let project = owner(&auth, r)?;
    let v = app.engine.apply(|c| {
        let r = c.create_router(&project, name, description, up, gw)?;
        Ok(view::router(c, &r))
    })?;
    Ok((StatusCode::CREATED, Json(json!({"router": v}))).into_response())
}

fn check_router(c: &Cloud, auth: &Auth, id: &str) -> Result<(), CloudError> {
    match c.net.routers.get(id) {
        Some(r) if visible(auth, &r.project_id, false) => Ok(()),
        _ => Err(CloudError::not_found("Router", id)),
    }
}

pub(crate) async fn show_router(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let v = app.engine.read(|c| {
        check_router(c, &auth, &id)?;
        Ok::<_, CloudError>(view::router(c, &c.net.routers[&id]))
    })?;
    Ok(Json(json!({"router": v})))
}

pub(crate) async fn update_router(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Value = parse_body(&body)?;
    let r = member(&body, "router")?;
    let gw = gateway(r)?;
    let (name, description, up) = (
        opt_str(r, "name")?,
        opt_str(r, "description")?,
        opt_bool(r, "admin_state_up")?,
    );
    let v = app.engine.apply(|c| {
        check_router(c, &auth, &id)?;
        if let Some(g) = gw {
            c.set_router_gateway(&id, g)?;
        }
        let r = c.rename_router(&id, name, description, up)?;
        Ok(view::router(c, &r))
    })?;
    Ok(Json(json!({"router": v})))
}

pub(crate) async fn delete_router(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.engine.apply(|c| {
        check_router(c, &auth, &id)?;
        c.delete_router(&id)
    })?;
    Ok(StatusCode::NO_CONTENT)
}

fn interface_body(router_id: &str, p: &crate::model::network::Port) -> Value {
    json!({
        "id": router_id,
        "tenant_id": p.project_id,
        "project_id": p.project_id,
        "port_id": p.id,
        "network_id": p.network_id,
        "subnet_id": p.fixed_ips.first().map(|f| f.0.clone()),
        "subnet_ids": p.fixed_ips.iter().map(|f| f.0.clone()).collect::<Vec<_>>(),
    })
}

pub(crate) async fn add_interface(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Value = parse_body(&body)?;
    let (subnet, port) = (opt_str(&body, "subnet_id")?, opt_str(&body, "port_id")?);
    let v = app.engine.apply(|c| {
        check_router(c, &auth, &id)?;
        let p = c.add_router_interface(&id, subnet.as_deref(), port.as_deref())?;
        Ok(interface_body(&id, &p))
    })?;
    Ok(Json(v))
}

pub(crate) async fn remove_interface(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Value = parse_body(&body)?;
    let (subnet, port) = (opt_str(&body, "subnet_id")?, opt_str(&body, "port_id")?);
    let v = app.engine.apply(|c| {
        check_router(c, &auth, &id)?;
        let p = c.remove_router_interface(&id, subnet.as_deref(), port.as_deref())?;
        Ok(interface_body(&id, &p))
    })?;
    Ok(Json(v))
}

pub(crate) async fn list_fips(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Pairs>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    app.engine.read(|c| {
        let items = c
            .net
            .floating_ips
            .values()
            .filter(|f| visible(&auth, &f.project_id, false));
        respond(
            &app,
            &uri,
            "floatingips",
            &q,
            items,
            |f| &f.id,
            view::floating_ip,
        )
    })
}

pub(crate) async fn create_fip(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let f = member(&body, "floatingip")?;
    let net = opt_str(f, "floating_network_id")?.ok_or_else(|| {
        CloudError::bad(
            "Failed to parse request. Required attribute 'floating_network_id' not specified",
        )
    })?;
    let (addr, port, description) = (
        opt_str(f, "floating_ip_address")?,
        opt_str(f, "port_id")?,
        opt_str(f, "description")?,
    );
    let project = owner(&auth, f)?;
    let v = app.engine.apply(|c| {
        c.create_floating_ip(
            &project,
            &net,
            addr.as_deref(),
            port.as_deref(),
            description,
        )
        .map(|f| view::floating_ip(&f))
    })?;
    Ok((StatusCode::CREATED, Json(json!({"floatingip": v}))).into_response())
}

fn check_fip(c: &Cloud, auth: &Auth, id: &str) -> Result<(), CloudError> {
    match c.net.floating_ips.get(id) {
        Some(f) if visible(auth, &f.project_id, false) => Ok(()),
        _ => Err(CloudError::not_found("Floating IP", id)),
    }
}

pub(crate) async fn show_fip(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let v = app.engine.read(|c| {
        check_fip(c, &auth, &id)?;
        Ok::<_, CloudError>(view::floating_ip(&c.net.floating_ips[&id]))
    })?;
    Ok(Json(json!({"floatingip": v})))
}

pub(crate) async fn update_fip(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Value = parse_body(&body)?;
    let f = member(&body, "floatingip")?;
    let (port, fixed) = (opt_str(f, "port_id")?, opt_str(f, "fixed_ip_address")?);
    let v = app.engine.apply(|c| {
        check_fip(c, &auth, &id)?;
        c.update_floating_ip(&id, port.as_deref(), fixed.as_deref())
            .map(|f| view::floating_ip(&f))
    })?;
    Ok(Json(json!({"floatingip": v})))
}

pub(crate) async fn delete_fip(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.engine.apply(|c| {
        check_fip(c, &auth, &id)?;
        c.delete_floating_ip(&id)
    })?;
    Ok(StatusCode::NO_CONTENT)
}
