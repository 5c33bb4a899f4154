//! Nova v2.1: servers (with actions and volume attachments), flavors, keypairs,
//! availability zones, hypervisors, quotas and limits.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, OriginalUri, Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::auth::{Auth, require_token};
use super::layers::{Mv, NOVA_MAX, microversion};
use super::query::{Params, all_tenants, next_links, paging};
use super::{ApiError, App, Svc, member, opt_bool, opt_map, opt_str, opt_u64, parse_body};
use crate::model::compute::{BlockDevice, Flavor, Keypair, NetworkRequest, ServerSpec};
use crate::model::effect::PowerAction;
use crate::model::page::paginate;
use crate::model::{CloudError, new_uuid, quota};
use crate::views::nova as view;

pub mod keypair;

pub fn router(app: App) -> Router<App> {
    let api = Router::new()
        .route("/servers", get(list_servers).post(create_server))
        .route("/servers/detail", get(list_servers_detail))
        .route(
            "/servers/{id}",
            get(show_server).put(update_server).delete(delete_server),
        )
        .route("/servers/{id}/action", axum::routing::post(server_action))
        .route(
            "/servers/{id}/metadata",
            get(server_metadata)
                .post(merge_metadata)
                .put(replace_metadata),
        )
        .route(
            "/servers/{id}/os-volume_attachments",
            get(list_attachments).post(attach_volume),
        )
        .route(
            "/servers/{id}/os-volume_attachments/{vid}",
            get(show_attachment).delete(detach_volume),
        )
        .route("/servers/{id}/os-interface", get(list_interfaces))
        .route("/flavors", get(list_flavors).post(create_flavor))
        .route("/flavors/detail", get(list_flavors_detail))
        .route("/flavors/{id}", get(show_flavor).delete(delete_flavor))
        .route(
            "/flavors/{id}/os-extra_specs",
            get(flavor_specs).post(set_flavor_specs),
        )
        .route("/os-keypairs", get(keypair::list).post(keypair::create))
        .route(
            "/os-keypairs/{name}",
            get(keypair::show).delete(keypair::delete),
        )
        .route("/os-availability-zone", get(availability_zones))
        .route(
            "/os-availability-zone/detail",
            get(availability_zones_detail),
        )
        .route("/os-hypervisors", get(list_hypervisors))
        .route("/os-hypervisors/detail", get(list_hypervisors_detail))
        .route("/os-hypervisors/{id}", get(show_hypervisor))
        .route("/os-quota-sets/{p}", get(show_quota).put(update_quota))
        .route("/os-quota-sets/{p}/detail", get(show_quota_detail))
        .route("/limits", get(limits))
        .route("/os-services", get(services))
        .fallback(not_found)
        .route_layer(from_fn_with_state(app.clone(), require_token))
        .layer(from_fn_with_state(Svc::Compute, microversion));
    Router::new()
        .route("/", get(versions))
        .route("/v2.1", get(version))
        .nest("/v2.1", api)
        .layer(from_fn_with_state((app, Svc::Compute), super::layers::edge))
}

async fn not_found() -> ApiError {
    CloudError::not_found("Resource", "requested").into()
}

fn version_doc(base: &str) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": format!("2.{NOVA_MAX}"),
        "min_version": "2.1",
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{base}/compute/v2.1/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}],
    })
}

async fn versions(State(app): State<App>) -> Json<Value> {
    Json(json!({"versions": [version_doc(&app.base)]}))
}

async fn version(State(app): State<App>) -> Json<Value> {
    Json(json!({"version": version_doc(&app.base)}))
}

fn visible(auth: &Auth, project: &str) -> bool {
    auth.is_admin || auth.project_id.as_deref() == Some(project)
}

fn list_servers_common(
    app: &App,
    auth: &Auth,
    mv: u32,
    q: &Params,
    uri: &axum::http::Uri,
    detail: bool,
) -> Result<Json<Value>, ApiError> {
    let (limit, marker) = paging(q)?;
    let everyone = all_tenants(q, auth.is_admin);
    let project = auth.project()?.to_owned();
    let filter_project = q.get("project_id").or_else(|| q.get("tenant_id")).cloned();
    let changes_since = match q.get("changes-since").or_else(|| q.get("changes_since")) {
        None => None,
        Some(t) => Some(parse_time(t).ok_or_else(|| {
            CloudError::bad(format!("Invalid filter field: changes-since. Value: {t}"))
        })?),
    };
    let body = app.engine.read(|c| {
        let page = paginate(
            &c.compute.servers,
            marker.as_deref(),
            limit,
            Some(1000),
            |s| {
                let scope_ok = match (&filter_project, everyone) {
                    (Some(p), true) => &s.project_id == p,
                    (_, true) => true,
                    _ => s.project_id == project,
                };
                scope_ok
                    && q.get("name").is_none_or(|n| s.name.contains(n.as_str()))
                    && q.get("status")
                        .is_none_or(|st| s.status.eq_ignore_ascii_case(st))
                    && q.get("availability_zone")
                        .is_none_or(|az| &s.availability_zone == az)
                    && q.get("flavor").is_none_or(|f| &s.flavor.id == f)
                    && changes_since.is_none_or(|t| s.updated_at >= t)
                    && q.get("host").is_none_or(|h| {
                        s.hypervisor
                            .and_then(|id| c.compute.hypervisors.get(&id))
                            .is_some_and(|hv| &hv.hostname == h)
                    })
            },
        )?;
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|s| {
                if detail {
                    view::server(c, s, mv, &app.base)
                } else {
                    view::server_brief(s, &app.base)
                }
            })
            .collect();
        let links = next_links(
            &app.base,
            uri,
            page.full,
            page.items.last().map(|s| s.id.as_str()),
            limit,
        );
        let mut body = json!({"servers": items});
        if page.full {
            body["servers_links"] = links;
        }
        Ok::<_, CloudError>(body)
    })?;
    Ok(Json(body))
}

async fn list_servers(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Query(q): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    list_servers_common(&app, &auth, mv, &q, &uri, false)
}

async fn list_servers_detail(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Query(q): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    list_servers_common(&app, &auth, mv, &q, &uri, true)
}

fn parse_server_spec(s: &Value, mv: u32) -> Result<ServerSpec, ApiError> {
    let name = opt_str(s, "name")?.ok_or_else(|| {
        CloudError::bad(
            "Invalid input for field/attribute server. Value: 'name' is a required property",
        )
    })?;
    let flavor_ref = match s.get("flavorRef") {
        Some(Value::String(f)) => f.rsplit('/').next().unwrap_or(f).to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(CloudError::bad(
            "Invalid input for field/attribute server. Value: 'flavorRef' is a required property",
        )
        .into()),
    };
    let networks = match s.get("networks") {
        None | Some(Value::Null) => {
            if mv >= 37 {
                return Err(CloudError::bad("Invalid input for field/attribute server. Value: 'networks' is a required property").into());
            }
            None
        }
        Some(Value::String(a)) if a == "auto" => None,
        Some(Value::String(a)) if a == "none" => Some(vec![]),
        Some(Value::Array(list)) => Some(
            list.iter()
                .map(|n| {
                    Ok(NetworkRequest {
                        network_id: opt_str(n, "uuid")?,
                        port_id: opt_str(n, "port")?,
                        fixed_ip: opt_str(n, "fixed_ip")?,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?,
        ),
        Some(other) => {
            return Err(CloudError::bad(format!(
                "Invalid input for field/attribute networks. Value: {other}."
            ))
            .into());
        }
    };
    let security_groups = match s.get("security_groups") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|g| g.get("name").and_then(|n| n.as_str()).map(str::to_owned))
            .collect(),
        _ => vec![],
    };
    let mut block_devices = vec![];
    if let Some(Value::Array(bdms)) = s.get("block_device_mapping_v2") {
        for b in bdms {
            let boot_index = match b.get("boot_index") {
                Some(Value::Number(n)) => n.as_i64().map(|i| i as i32),
                Some(Value::String(s)) => s.parse().ok(),
                _ => None,
            };
            block_devices.push(BlockDevice {
                boot_index,
                uuid: opt_str(b, "uuid")?,
                source_type: opt_str(b, "source_type")?.unwrap_or_else(|| "volume".into()),
                destination_type: opt_str(b, "destination_type")?
                    .unwrap_or_else(|| "volume".into()),
                delete_on_termination: opt_bool(b, "delete_on_termination")?.unwrap_or(false),
                device_name: opt_str(b, "device_name")?,
            });
        }
    }
    if let Some(Value::Array(old)) = s.get("block_device_mapping") {
        for b in old {
            block_devices.push(BlockDevice {
                boot_index: if block_devices.is_empty() {
                    Some(0)
                } else {
                    None
                },
                uuid: opt_str(b, "volume_id")?,
                source_type: "volume".into(),
                destination_type: "volume".into(),
                delete_on_termination: opt_bool(b, "delete_on_termination")?.unwrap_or(false),
                device_name: opt_str(b, "device_name")?,
            });
        }
    }
    let tags = match s.get("tags") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    };
    Ok(ServerSpec {
        name,
        flavor_ref,
        image_ref: opt_str(s, "imageRef")?,
        networks,
        key_name: opt_str(s, "key_name")?,
        availability_zone: opt_str(s, "availability_zone")?
            .map(|az| az.split(':').next().unwrap_or("").to_owned())
            .filter(|a| !a.is_empty()),
        security_groups,
        block_devices,
        metadata: opt_map(s, "metadata")?.unwrap_or_default(),
        description: opt_str(s, "description")?,
        tags,
    })
}

async fn create_server(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let spec = parse_server_spec(member(&body, "server")?, mv)?;
    let count = opt_u64(member(&body, "server")?, "min_count")?.unwrap_or(1);
    if count != 1 {
        return Err(CloudError::bad(
            "min_count/max_count other than 1 are not supported by this cloud.",
        )
        .into());
    }
    let project = auth.project()?.to_owned();
    let s = app
        .engine
        .apply(|c| c.create_server(&project, &auth.user_id, spec))?;
    let admin_pass: String = new_uuid()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(12)
        .collect();
    let body = json!({"server": {
        "id": s.id,
        "links": view::server_brief(&s, &app.base)["links"],
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": s.security_groups.iter().map(|n| json!({"name": n})).collect::<Vec<_>>(),
        "adminPass": admin_pass,
    }});
    let mut r = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{}/compute/v2.1/servers/{}", app.base, s.id)) {
        r.headers_mut().insert("location", v);
    }
    Ok(r)
}

fn with_server<T>(
    app: &App,
    auth: &Auth,
    id: &str,
    f: impl FnOnce(&crate::model::Cloud, &crate::model::compute::Server) -> T,
) -> Result<T, ApiError> {
    app.engine
        .read(|c| {
            let s = c.server(id)?;
            if !visible(auth, &s.project_id) {
                return Err(CloudError::not_found("Instance", id));
            }
            Ok(f(c, s))
        })
        .map_err(ApiError::from)
}

async fn show_server(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let v = with_server(&app, &auth, &id, |c, s| view::server(c, s, mv, &app.base))?;
    Ok(Json(json!({"server": v})))
}

async fn update_server(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    with_server(&app, &auth, &id, |_, _| ())?;
    let body: Value = parse_body(&body)?;
    let s = member(&body, "server")?;
    let name = opt_str(s, "name")?;
    let description = if s.get("description").is_some() {
        Some(opt_str(s, "description")?)
    } else {
        None
    };
    let v = app.engine.apply(|c| {
        c.update_server(&id, name, description)?;
        Ok(view::server(c, c.server(&id)?, mv, &app.base))
    })?;
    Ok(Json(json!({"server": v})))
}

async fn delete_server(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    with_server(&app, &auth, &id, |_, _| ())?;
    app.engine.apply(|c| c.delete_server(&id))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn server_action(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    with_server(&app, &auth, &id, |_, _| ())?;
    let body: Value = parse_body(&body)?;
    let action = body
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .unwrap_or_default();
    let power = match action.as_str() {
        "os-start" => PowerAction::Start,
        "os-stop" => PowerAction::Stop,
        "reboot" => PowerAction::Reboot,
        other => return Err(CloudError::bad(format!("There is no such action: {other}")).into()),
    };
    app.engine.apply(|c| c.server_power(&id, power))?;
    Ok(StatusCode::ACCEPTED)
}

async fn server_metadata(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let m = with_server(&app, &auth, &id, |_, s| s.metadata.clone())?;
    Ok(Json(json!({"metadata": m})))
}

async fn set_metadata(
    app: App,
    auth: Auth,
    id: String,
    body: Bytes,
    replace: bool,
) -> Result<Json<Value>, ApiError> {
    with_server(&app, &auth, &id, |_, _| ())?;
    let body: Value = parse_body(&body)?;
    let m = opt_map(&body, "metadata")?
        .ok_or_else(|| CloudError::bad("Malformed request body: metadata is required"))?;
    let out = app
        .engine
        .apply(|c| c.set_server_metadata(&id, m, replace))?;
    Ok(Json(json!({"metadata": out})))
}

async fn merge_metadata(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    set_metadata(app, auth, id, body, false).await
}

async fn replace_metadata(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    set_metadata(app, auth, id, body, true).await
}

fn attachment_view(server_id: &str, v: &crate::model::compute::ServerVolume, mv: u32) -> Value {
    let mut a = json!({"id": v.volume_id, "volumeId": v.volume_id, "serverId": server_id, "device": v.device});
    if mv >= 70 {
        a["tag"] = json!(null);
    }
    if mv >= 79 {
        a["delete_on_termination"] = json!(v.delete_on_termination);
    }
    a
}

async fn list_attachments(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let list = with_server(&app, &auth, &id, |_, s| {
        s.volumes
            .iter()
            .map(|v| attachment_view(&s.id, v, mv))
            .collect::<Vec<_>>()
    })?;
    Ok(Json(json!({"volumeAttachments": list})))
}

async fn show_attachment(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Path((id, vid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let a = with_server(&app, &auth, &id, |_, s| {
        s.volumes
            .iter()
            .find(|v| v.volume_id == vid)
            .map(|v| attachment_view(&s.id, v, mv))
    })?
    .ok_or_else(|| CloudError::not_found("Volume attachment", vid.clone()))?;
    Ok(Json(json!({"volumeAttachment": a})))
}

async fn attach_volume(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    with_server(&app, &auth, &id, |_, _| ())?;
    let body: Value = parse_body(&body)?;
    let a = member(&body, "volumeAttachment")?;
    let vid = opt_str(a, "volumeId")?.ok_or_else(|| CloudError::bad("Invalid input for field/attribute volumeAttachment. Value: 'volumeId' is a required property"))?;
    let device = opt_str(a, "device")?;
    let delete_on_termination = mv >= 79 && opt_bool(a, "delete_on_termination")?.unwrap_or(false);
    let sv = app
        .engine
        .apply(|c| c.attach_volume(&id, &vid, device, delete_on_termination))?;
    Ok(Json(
        json!({"volumeAttachment": attachment_view(&id, &sv, mv)}),
    ))
}

async fn detach_volume(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((id, vid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    with_server(&app, &auth, &id, |_, _| ())?;
    app.engine.apply(|c| c.detach_volume(&id, &vid))?;
    Ok(StatusCode::ACCEPTED)
}

async fn list_interfaces(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let list = with_server(&app, &auth, &id, |c, s| {
        s.ports
            .iter()
            .filter_map(|sp| c.net.ports.get(&sp.port_id))
            .map(|p| json!({
                "port_id": p.id, "net_id": p.network_id, "mac_addr": p.mac_address, "port_state": p.status,
                "fixed_ips": p.fixed_ips.iter().map(|(s, ip)| json!({"subnet_id": s, "ip_address": ip.to_string()})).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    })?;
    Ok(Json(json!({"interfaceAttachments": list})))
}

fn flavor_list(
    app: &App,
    auth: &Auth,
    mv: u32,
    q: &Params,
    uri: &axum::http::Uri,
    detail: bool,
) -> Result<Json<Value>, ApiError> {
    let (limit, marker) = paging(q)?;
    let public_filter = q.get("is_public").map(|v| v.to_lowercase());
    let min_ram: Option<u64> = q.get("minRam").and_then(|v| v.parse().ok());
    let min_disk: Option<u64> = q.get("minDisk").and_then(|v| v.parse().ok());
    let body = app.engine.read(|c| {
        let page = paginate(
            &c.compute.flavors,
            marker.as_deref(),
            limit,
            Some(1000),
            |f| {
                let public_ok = match public_filter.as_deref() {
                    Some("none") if auth.is_admin => true,
                    Some("false") => !f.is_public,
                    _ => f.is_public || auth.is_admin,
                };
                public_ok
                    && min_ram.is_none_or(|m| f.ram >= m)
                    && min_disk.is_none_or(|m| f.disk >= m)
            },
        )?;
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|f| {
                if detail {
                    view::flavor(f, mv, &app.base)
                } else {
                    view::flavor_brief(f, mv, &app.base)
                }
            })
            .collect();
        let mut body = json!({"flavors": items});
        if page.full {
            body["flavors_links"] = next_links(
                &app.base,
                uri,
                true,
                page.items.last().map(|f| f.id.as_str()),
                limit,
            );
        }
        Ok::<_, CloudError>(body)
    })?;
    Ok(Json(body))
}

async fn list_flavors(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Query(q): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    flavor_list(&app, &auth, mv, &q, &uri, false)
}

async fn list_flavors_detail(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Query(q): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    flavor_list(&app, &auth, mv, &q, &uri, true)
}

fn require_admin(auth: &Auth, action: &str) -> Result<(), ApiError> {
    if auth.is_admin {
        Ok(())
    } else {
        Err(CloudError::Forbidden(format!("Policy doesn't allow {action} to be performed.")).into())
    }
}

async fn create_flavor(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "os_compute_api:os-flavor-manage:create")?;
    let body: Value = parse_body(&body)?;
    let f = member(&body, "flavor")?;
    let need = |k: &str| -> Result<u64, ApiError> {
        opt_u64(f, k)?.ok_or_else(|| {
            CloudError::bad(format!(
                "Invalid input for field/attribute flavor. Value: '{k}' is a required property"
            ))
            .into()
        })
    };
    let swap = match f.get("swap") {
        Some(Value::String(s)) if s.is_empty() => 0,
        _ => opt_u64(f, "swap")?.unwrap_or(0),
    };
    let id = match f.get("id") {
        Some(Value::String(s)) if !s.is_empty() && s != "auto" => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => new_uuid(),
    };
    let flavor = Flavor {
        id,
        name: opt_str(f, "name")?.unwrap_or_default(),
        ram: need("ram")?,
        vcpus: need("vcpus")?,
        disk: need("disk")?,
        ephemeral: opt_u64(f, "OS-FLV-EXT-DATA:ephemeral")?.unwrap_or(0),
        swap,
        rxtx_factor: f.get("rxtx_factor").and_then(|v| v.as_f64()).unwrap_or(1.0),
        is_public: opt_bool(f, "os-flavor-access:is_public")?.unwrap_or(true),
        description: opt_str(f, "description")?,
        extra_specs: BTreeMap::new(),
    };
    let f = app.engine.apply(|c| c.compute.create_flavor(flavor))?;
    Ok(Json(json!({"flavor": view::flavor(&f, mv, &app.base)})))
}

fn find_flavor(app: &App, id: &str) -> Result<Flavor, ApiError> {
    app.engine
        .read(|c| c.compute.flavors.get(id).cloned())
        .ok_or_else(|| CloudError::not_found("Flavor", id).into())
}

async fn show_flavor(
    State(app): State<App>,
    Extension(Mv(mv)): Extension<Mv>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let f = find_flavor(&app, &id)?;
    Ok(Json(json!({"flavor": view::flavor(&f, mv, &app.base)})))
}

async fn delete_flavor(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&auth, "os_compute_api:os-flavor-manage:delete")?;
    app.engine.apply(|c| c.compute.delete_flavor(&id))?;
    Ok(StatusCode::ACCEPTED)
}

async fn flavor_specs(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let f = find_flavor(&app, &id)?;
    Ok(Json(json!({"extra_specs": f.extra_specs})))
}

async fn set_flavor_specs(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "os_compute_api:os-flavor-extra-specs:create")?;
    let body: Value = parse_body(&body)?;
    let specs = opt_map(&body, "extra_specs")?
        .ok_or_else(|| CloudError::bad("Invalid input for field/attribute extra_specs."))?;
    let out = app.engine.apply(|c| {
        let f = c
            .compute
            .flavors
            .get_mut(&id)
            .ok_or_else(|| CloudError::not_found("Flavor", id.clone()))?;
        f.extra_specs.extend(specs.clone());
        Ok(specs)
    })?;
    Ok(Json(json!({"extra_specs": out})))
}

async fn availability_zones(State(app): State<App>) -> Json<Value> {
    let zones: Vec<Value> = app.engine.read(|c| {
        c.compute
            .availability_zones()
            .into_iter()
            .map(|z| json!({"zoneName": z, "zoneState": {"available": true}, "hosts": null}))
            .collect()
    });
    Json(json!({"availabilityZoneInfo": zones}))
}

async fn availability_zones_detail(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "os_compute_api:os-availability-zone:detail")?;
    let zones: Vec<Value> = app.engine.read(|c| {
        let now = crate::time::iso_micro(crate::time::now());
        c.compute
            .availability_zones()
            .into_iter()
            .map(|z| {
                let hosts: serde_json::Map<String, Value> = c
                    .compute
                    .hypervisors
                    .values()
                    .filter(|h| h.availability_zone == z)
                    .map(|h| (h.hostname.clone(), json!({"nova-compute": {"available": true, "active": true, "updated_at": now}})))
                    .collect();
                json!({"zoneName": z, "zoneState": {"available": true}, "hosts": hosts})
            })
            .collect()
    });
    Ok(Json(json!({"availabilityZoneInfo": zones})))
}

fn hypervisor_list(
    app: &App,
    auth: &Auth,
    mv: u32,
    q: &Params,
    detail: bool,
) -> Result<Json<Value>, ApiError> {
    require_admin(auth, "os_compute_api:os-hypervisors:list")?;
    let pattern = q.get("hypervisor_hostname_pattern");
    let list: Vec<Value> = app.engine.read(|c| {
        c.compute
            .hypervisors
            .values()
            .filter(|h| pattern.is_none_or(|p| h.hostname.contains(p.as_str())))
            .map(|h| view::hypervisor(h, mv, detail))
            .collect()
    });
    Ok(Json(json!({"hypervisors": list})))
}

async fn list_hypervisors(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    hypervisor_list(&app, &auth, mv, &q, false)
}

async fn list_hypervisors_detail(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    hypervisor_list(&app, &auth, mv, &q, true)
}

async fn show_hypervisor(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Extension(Mv(mv)): Extension<Mv>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "os_compute_api:os-hypervisors:show")?;
    let h = app
        .engine
        .read(|c| {
            c.compute
                .hypervisors
                .values()
                .find(|h| h.uuid == id || h.id.to_string() == id)
                .map(|h| view::hypervisor(h, mv, true))
        })
        .ok_or_else(|| CloudError::not_found("Hypervisor", id.clone()))?;
    Ok(Json(json!({"hypervisor": h})))
}

fn compute_usage(c: &crate::model::Cloud, project: &str) -> BTreeMap<&'static str, i64> {
    let mut u = BTreeMap::new();
    for s in c
        .compute
        .servers
        .values()
        .filter(|s| s.project_id == project)
    {
        *u.entry("instances").or_default() += 1;
        *u.entry("cores").or_default() += s.flavor.vcpus as i64;
        *u.entry("ram").or_default() += s.flavor.ram as i64;
    }
    u
}

fn quota_body(app: &App, project: &str, detail: bool) -> Result<Value, ApiError> {
    app.engine.read(|c| {
        if !c.identity.projects.contains_key(project) {
            return Err(CloudError::bad(format!("Project ID {project} is not a valid project.")));
        }
        let usage = compute_usage(c, project);
        let mut qs = serde_json::Map::new();
        qs.insert("id".into(), json!(project));
        for r in quota::COMPUTE {
            let limit = c.quotas.limit(project, r);
            qs.insert((*r).into(), if detail { json!({"limit": limit, "in_use": usage.get(r).copied().unwrap_or(0), "reserved": 0}) } else { json!(limit) });
        }
        Ok(json!({"quota_set": qs}))
    }).map_err(ApiError::from)
}

async fn show_quota(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !visible(&auth, &p) {
        require_admin(&auth, "os_compute_api:os-quota-sets:show")?;
    }
    Ok(Json(quota_body(&app, &p, false)?))
}

async fn show_quota_detail(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !visible(&auth, &p) {
        require_admin(&auth, "os_compute_api:os-quota-sets:detail")?;
    }
    Ok(Json(quota_body(&app, &p, true)?))
}

async fn update_quota(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(p): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "os_compute_api:os-quota-sets:update")?;
    let body: Value = parse_body(&body)?;
    let qs = member(&body, "quota_set")?;
    let mut updates = vec![];
    for (k, v) in qs.as_object().into_iter().flatten() {
        if k == "force" {
            continue;
        }
        if !quota::COMPUTE.contains(&k.as_str()) {
            return Err(CloudError::bad(format!("Bad key(s) {k} in quota_set")).into());
        }
        let n = v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|n| *n >= -1)
            .ok_or_else(|| CloudError::bad(format!("Invalid input for field/attribute {k}.")))?;
        updates.push((k.clone(), n));
    }
    app.engine.apply(|c| {
        for (k, n) in &updates {
            c.quotas.set(&p, k, *n);
        }
        Ok(())
    })?;
    let mut body = quota_body(&app, &p, false)?;
    if let Some(o) = body["quota_set"].as_object_mut() {
        o.remove("id");
    }
    Ok(Json(body))
}

async fn limits(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project()?.to_owned();
    let body = app.engine.read(|c| {
        let u = compute_usage(c, &project);
        let l = |r: &str| c.quotas.limit(&project, r);
        json!({"limits": {"rate": [], "absolute": {
            "maxTotalInstances": l("instances"), "totalInstancesUsed": u.get("instances").copied().unwrap_or(0),
            "maxTotalCores": l("cores"), "totalCoresUsed": u.get("cores").copied().unwrap_or(0),
            "maxTotalRAMSize": l("ram"), "totalRAMUsed": u.get("ram").copied().unwrap_or(0),
            "maxTotalKeypairs": l("key_pairs"), "maxServerMeta": l("metadata_items"),
            "maxServerGroups": l("server_groups"), "maxServerGroupMembers": l("server_group_members"),
            "totalServerGroupsUsed": 0,
        }}})
    });
    Ok(Json(body))
}

/// Keypair values used by [`keypair`].
pub(crate) fn keypair_view(k: &Keypair, mv: u32, detail: bool) -> Value {
    view::keypair(k, mv, detail)
}

/// An ISO 8601 time as the services accept it (`Z`, an offset, or none meaning UTC).
pub(crate) fn parse_time(t: &str) -> Option<jiff::Timestamp> {
    t.parse::<jiff::Timestamp>().ok().or_else(|| {
        t.parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })
}

async fn services(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "os_compute_api:os-services:list")?;
    let now = crate::time::iso_micro(crate::time::now());
    let list: Vec<Value> = app.engine.read(|c| {
        let mut v = vec![json!({"id": 1, "binary": "nova-scheduler", "host": "testcloud", "zone": "internal", "status": "enabled", "state": "up", "updated_at": now, "disabled_reason": null, "forced_down": false})];
        v.extend(c.compute.hypervisors.values().map(|h| json!({
            "id": h.id + 1, "binary": "nova-compute", "host": h.hostname, "zone": h.availability_zone,
            "status": "enabled", "state": "up", "updated_at": now, "disabled_reason": null, "forced_down": false,
        })));
        v
    });
    Ok(Json(json!({"services": list})))
}
