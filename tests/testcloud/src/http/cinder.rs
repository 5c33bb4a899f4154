//! Cinder v3 (`/volume/v3/{project_id}`): volumes and their actions, snapshots, volume
//! types, groups, group snapshots, manage-existing, pools, quotas and limits.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::auth::{Auth, require_token};
use super::layers::{CINDER_MAX, microversion};
use super::query::{Params, all_tenants, next_links, paging};
use super::{ApiError, App, Svc, member, opt_bool, opt_map, opt_str, opt_u64, parse_body};
use crate::model::block::VolumeSpec;
use crate::model::page::paginate;
use crate::model::{Cloud, CloudError, quota};
use crate::views::cinder as view;

pub mod groups;
pub mod manage;
pub mod snapshots;

pub fn router(app: App) -> Router<App> {
    let api = Router::new()
        .route("/volumes", get(list_volumes).post(create_volume))
        .route("/volumes/detail", get(list_volumes_detail))
        .route(
            "/volumes/{id}",
            get(show_volume).put(update_volume).delete(delete_volume),
        )
        .route("/volumes/{id}/action", post(volume_action))
        .route(
            "/volumes/{id}/metadata",
            get(volume_metadata)
                .post(merge_metadata)
                .put(replace_metadata),
        )
        .route("/snapshots", get(snapshots::list).post(snapshots::create))
        .route("/snapshots/detail", get(snapshots::list_detail))
        .route(
            "/snapshots/{id}",
            get(snapshots::show)
                .put(snapshots::update)
                .delete(snapshots::delete),
        )
        .route("/snapshots/{id}/action", post(snapshots::action))
        .route("/types", get(list_types).post(create_type))
        .route("/types/{id}", get(show_type).delete(delete_type))
        .route(
            "/types/{id}/extra_specs",
            get(type_specs).post(set_type_specs),
        )
        .route(
            "/group_types",
            get(groups::list_types).post(groups::create_type),
        )
        .route("/group_types/{id}", get(groups::show_type))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/detail", get(groups::list_detail))
        .route("/groups/{id}", get(groups::show).put(groups::update))
        .route("/groups/{id}/action", post(groups::action))
        .route(
            "/group_snapshots",
            get(groups::list_snapshots).post(groups::create_snapshot),
        )
        .route("/group_snapshots/detail", get(groups::list_snapshots))
        .route(
            "/group_snapshots/{id}",
            get(groups::show_snapshot).delete(groups::delete_snapshot),
        )
        .route(
            "/manageable_volumes",
            get(manage::list).post(manage::manage),
        )
        .route("/manageable_volumes/detail", get(manage::list_detail))
        .route("/os-volume-manage", post(manage::manage))
        .route("/scheduler-stats/get_pools", get(manage::pools))
        .route("/os-availability-zone", get(availability_zones))
        .route("/os-quota-sets/{target}", get(show_quota).put(update_quota))
        .route("/limits", get(limits))
        .route("/os-services", get(services))
        .fallback(not_found)
        .route_layer(from_fn_with_state(app.clone(), check_project))
        .route_layer(from_fn_with_state(app.clone(), require_token));
    Router::new()
        .route("/", get(versions))
        .route("/v3", get(version))
        .nest("/v3/{project_id}", api)
        .layer(from_fn_with_state(Svc::Volume, microversion))
        .layer(from_fn_with_state((app, Svc::Volume), super::layers::edge))
}

async fn not_found() -> ApiError {
    CloudError::not_found("Resource", "requested").into()
}

/// The project in the URL must be the token's (admins may use any).
async fn check_project(
    State(_app): State<App>,
    Path(params): Path<BTreeMap<String, String>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let auth = req.extensions().get::<Auth>().cloned();
    if let (Some(auth), Some(p)) = (auth, params.get("project_id"))
        && !auth.is_admin
        && auth.project_id.as_deref() != Some(p.as_str())
    {
        return ApiError(CloudError::Forbidden(
            "Policy doesn't allow this operation on another project.".into(),
        ))
        .into_response();
    }
    next.run(req).await
}

fn version_doc(base: &str) -> Value {
    json!({
        "id": "v3.0",
        "status": "CURRENT",
        "version": format!("3.{CINDER_MAX}"),
        "min_version": "3.0",
        "updated": "2023-08-31T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/volume/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}],
    })
}

async fn versions(State(app): State<App>) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": [version_doc(&app.base)]})),
    )
        .into_response()
}

async fn version(State(app): State<App>) -> Json<Value> {
    Json(json!({"versions": [version_doc(&app.base)]}))
}

pub(crate) fn visible(auth: &Auth, project: &str) -> bool {
    auth.is_admin || auth.project_id.as_deref() == Some(project)
}

pub(crate) fn require_admin(auth: &Auth, action: &str) -> Result<(), ApiError> {
    if auth.is_admin {
        Ok(())
    } else {
        Err(CloudError::Forbidden(format!("Policy doesn't allow {action} to be performed.")).into())
    }
}

fn list_common(
    app: &App,
    auth: &Auth,
    q: &Params,
    uri: &axum::http::Uri,
    detail: bool,
) -> Result<Json<Value>, ApiError> {
    let (limit, marker) = paging(q)?;
    let everyone = all_tenants(q, auth.is_admin);
    let project = auth.project()?.to_owned();
    let body = app.engine.read(|c| {
        let page = paginate(
            &c.block.volumes,
            marker.as_deref(),
            limit,
            Some(1000),
            |v| {
                (if everyone {
                    q.get("project_id").is_none_or(|p| &v.project_id == p)
                } else {
                    v.project_id == project
                }) && q.get("name").is_none_or(|n| &v.name == n)
                    && q.get("status").is_none_or(|s| &v.status == s)
                    && q.get("availability_zone")
                        .is_none_or(|a| &v.availability_zone == a)
                    && q.get("group_id")
                        .is_none_or(|g| v.group_id.as_ref() == Some(g))
                    && q.get("bootable")
                        .is_none_or(|b| v.bootable == (b == "true" || b == "1"))
            },
        )?;
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|v| {
                if detail {
                    view::volume(c, v, &app.base)
                } else {
                    view::volume_brief(v, &app.base)
                }
            })
            .collect();
        let mut body = json!({"volumes": items});
        if page.full {
            body["volumes_links"] = next_links(
                &app.base,
                uri,
                true,
                page.items.last().map(|v| v.id.as_str()),
                limit,
            );
        }
        if q.contains_key("with_count") {
            body["count"] = json!(
                c.block
                    .volumes
                    .values()
                    .filter(|v| everyone || v.project_id == project)
                    .count()
            );
        }
        Ok::<_, CloudError>(body)
    })?;
    Ok(Json(body))
}

async fn list_volumes(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    list_common(&app, &auth, &q, &uri, false)
}

async fn list_volumes_detail(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    list_common(&app, &auth, &q, &uri, true)
}

async fn create_volume(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if body.is_empty() {
        // Cinder fails on a create without a body with a 500, not a 400 (seen on
        // the real stack's Cinder); a client must treat it as its own error.
        return Ok(super::error::render_status(
            Svc::Volume,
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server has either erred or is incapable of performing the requested operation.",
        ));
    }
    let body: Value = parse_body(&body)?;
    let v = member(&body, "volume")?;
    if opt_str(v, "imageRef")?.is_some() {
        return Err(CloudError::bad(
            "Invalid input received: this cloud has no image service; imageRef is not supported.",
        )
        .into());
    }
    let spec = VolumeSpec {
        size_gb: opt_u64(v, "size")?,
        name: opt_str(v, "name")?.or(opt_str(v, "display_name")?),
        description: opt_str(v, "description")?,
        volume_type: opt_str(v, "volume_type")?,
        availability_zone: opt_str(v, "availability_zone")?,
        snapshot_id: opt_str(v, "snapshot_id")?,
        source_volid: opt_str(v, "source_volid")?,
        metadata: opt_map(v, "metadata")?.unwrap_or_default(),
        group_id: opt_str(v, "group_id")?,
        bootable: opt_bool(v, "bootable")?.unwrap_or(false),
        multiattach: opt_bool(v, "multiattach")?.unwrap_or(false),
        content: None,
    };
    let project = auth.project()?.to_owned();
    let body = app.engine.apply(|c| {
        let vol = c.create_volume(&project, &auth.user_id, spec)?;
        Ok(view::volume(c, &vol, &app.base))
    })?;
    Ok((StatusCode::ACCEPTED, Json(json!({"volume": body}))).into_response())
}

fn check_volume(c: &Cloud, auth: &Auth, id: &str) -> Result<(), CloudError> {
    let v = c.volume(id)?;
    if visible(auth, &v.project_id) {
        Ok(())
    } else {
        Err(CloudError::not_found("Volume", id))
    }
}

async fn show_volume(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let body = app.engine.read(|c| {
        check_volume(c, &auth, &id)?;
        Ok::<_, CloudError>(view::volume(c, c.volume(&id)?, &app.base))
    })?;
    Ok(Json(json!({"volume": body})))
}

async fn update_volume(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Value = parse_body(&body)?;
    let v = member(&body, "volume")?;
    let (name, description, metadata) = (
        opt_str(v, "name")?,
        opt_str(v, "description")?,
        opt_map(v, "metadata")?,
    );
    let body = app.engine.apply(|c| {
        check_volume(c, &auth, &id)?;
        let vol = c.update_volume(&id, name, description, metadata)?;
        Ok(view::volume(c, &vol, &app.base))
    })?;
    Ok(Json(json!({"volume": body})))
}

async fn delete_volume(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Result<StatusCode, ApiError> {
    let cascade = q
        .get("cascade")
        .is_some_and(|v| v == "true" || v == "True" || v == "1");
    app.engine.apply(|c| {
        check_volume(c, &auth, &id)?;
        c.delete_volume(&id, cascade)
    })?;
    Ok(StatusCode::ACCEPTED)
}

async fn volume_action(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body: Value = parse_body(&body)?;
    let (action, arg) = body
        .as_object()
        .and_then(|o| o.iter().next())
        .map(|(k, v)| (k.clone(), v.clone()))
        .ok_or_else(|| CloudError::bad("Malformed request body"))?;
    app.engine.read(|c| check_volume(c, &auth, &id))?;
    match action.as_str() {
        "os-extend" => {
            let size = opt_u64(&arg, "new_size")?
                .ok_or_else(|| CloudError::bad("Invalid input for field/attribute new_size."))?;
            app.engine.apply(|c| c.extend_volume(&id, size))?;
        }
        "os-reset_status" => {
            require_admin(&auth, "volume_extension:volume_admin_actions:reset_status")?;
            let status = opt_str(&arg, "status")?;
            app.engine
                .apply(|c| c.reset_volume_status(&id, status.as_deref()))?;
        }
        "os-attach" => {
            let server = opt_str(&arg, "instance_uuid")?;
            let host = opt_str(&arg, "host_name")?;
            let mountpoint = opt_str(&arg, "mountpoint")?.ok_or_else(|| {
                CloudError::bad("Invalid input received: mountpoint is required.")
            })?;
            if server.is_none() && host.is_none() {
                return Err(CloudError::bad(
                    "Invalid request to attach volume to an invalid target",
                )
                .into());
            }
            app.engine.apply(|c| {
                c.attach_bookkeeping(&id, server.as_deref(), host.as_deref(), &mountpoint)
            })?;
        }
        "os-detach" => {
            let attachment = opt_str(&arg, "attachment_id")?;
            app.engine
                .apply(|c| c.detach_bookkeeping(&id, attachment.as_deref()))?;
        }
        "os-unmanage" => {
            require_admin(&auth, "volume_extension:volume_unmanage")?;
            app.engine.apply(|c| c.unmanage_volume(&id).map(|_| ()))?;
        }
        "os-force_delete" => {
            require_admin(&auth, "volume_extension:volume_admin_actions:force_delete")?;
            app.engine.apply(|c| {
                c.reset_volume_status(&id, Some("error"))?;
                c.delete_volume(&id, true)
            })?;
        }
        "os-set_bootable" => {
            let b = opt_bool(&arg, "bootable")?
                .ok_or_else(|| CloudError::bad("Invalid input for field/attribute bootable."))?;
            app.engine.apply(|c| {
                c.volume(&id)?;
                if let Some(v) = c.block.volumes.get_mut(&id) {
                    v.bootable = b;
                }
                Ok(())
            })?;
            // Cinder answers this action 200, the others 202.
            return Ok(StatusCode::OK);
        }
        "os-reserve" | "os-unreserve" | "os-begin_detaching" | "os-roll_detaching" => {
            let status = match action.as_str() {
                "os-reserve" => "attaching",
                "os-begin_detaching" => "detaching",
                _ => "",
            };
            app.engine.apply(|c| {
                let v = c.volume(&id)?;
                let next = match status {
                    "" if v.attachments.is_empty() => "available",
                    "" => "in-use",
                    s => s,
                };
                c.reset_volume_status(&id, Some(next))
            })?;
        }
        other => {
            return Err(CloudError::bad(format!(
                "Invalid input received: There is no such action: {other}"
            ))
            .into());
        }
    }
    Ok(StatusCode::ACCEPTED)
}

async fn volume_metadata(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let m = app.engine.read(|c| {
        check_volume(c, &auth, &id)?;
        Ok::<_, CloudError>(c.volume(&id)?.metadata.clone())
    })?;
    Ok(Json(json!({"metadata": m})))
}

async fn set_metadata(
    app: App,
    auth: Auth,
    id: String,
    body: Bytes,
    replace: bool,
) -> Result<Json<Value>, ApiError> {
    let body: Value = parse_body(&body)?;
    let m = opt_map(&body, "metadata")?
        .ok_or_else(|| CloudError::bad("Malformed request body: metadata is required"))?;
    let out = app.engine.apply(|c| {
        check_volume(c, &auth, &id)?;
        let mut meta = if replace {
            BTreeMap::new()
        } else {
            c.volume(&id)?.metadata.clone()
        };
        meta.extend(m);
        Ok(c.update_volume(&id, None, None, Some(meta))?.metadata)
    })?;
    Ok(Json(json!({"metadata": out})))
}

async fn merge_metadata(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    set_metadata(app, auth, id, body, false).await
}

async fn replace_metadata(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    set_metadata(app, auth, id, body, true).await
}

async fn list_types(State(app): State<App>) -> Json<Value> {
    let list: Vec<Value> = app
        .engine
        .read(|c| c.block.types.values().map(view::volume_type).collect());
    Json(json!({"volume_types": list}))
}

async fn create_type(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "volume_extension:types_manage")?;
    let body: Value = parse_body(&body)?;
    let t = member(&body, "volume_type")?;
    let name = opt_str(t, "name")?.unwrap_or_default();
    let description = opt_str(t, "description")?;
    let public = opt_bool(t, "os-volume-type-access:is_public")?.or(opt_bool(t, "is_public")?);
    let specs = opt_map(t, "extra_specs")?.unwrap_or_default();
    let t = app
        .engine
        .apply(|c| c.create_volume_type(&name, description, public, specs))?;
    Ok(Json(json!({"volume_type": view::volume_type(&t)})))
}

async fn show_type(
    State(app): State<App>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let t = app
        .engine
        .read(|c| {
            if id == "default" {
                return c.block.types.get(&c.block.default_type_id).cloned();
            }
            c.block.find_type(&id).cloned()
        })
        .ok_or_else(|| CloudError::not_found("VolumeType", id.clone()))?;
    Ok(Json(json!({"volume_type": view::volume_type(&t)})))
}

async fn delete_type(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require_admin(&auth, "volume_extension:types_manage")?;
    app.engine.apply(|c| c.delete_volume_type(&id))?;
    Ok(StatusCode::ACCEPTED)
}

async fn type_specs(
    State(app): State<App>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let t = app
        .engine
        .read(|c| c.block.types.get(&id).cloned())
        .ok_or_else(|| CloudError::not_found("VolumeType", id.clone()))?;
    Ok(Json(json!({"extra_specs": t.extra_specs})))
}

async fn set_type_specs(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "volume_extension:types_extra_specs:create")?;
    let body: Value = parse_body(&body)?;
    let specs = opt_map(&body, "extra_specs")?
        .ok_or_else(|| CloudError::bad("Malformed request body: extra_specs is required"))?;
    app.engine
        .apply(|c| c.set_volume_type_specs(&id, specs.clone()))?;
    Ok(Json(json!({"extra_specs": specs})))
}

async fn availability_zones(State(app): State<App>) -> Json<Value> {
    let mut zones = app.engine.read(|c| c.compute.availability_zones());
    zones.insert("nova".into());
    let list: Vec<Value> = zones
        .into_iter()
        .map(|z| json!({"zoneName": z, "zoneState": {"available": true}}))
        .collect();
    Json(json!({"availabilityZoneInfo": list}))
}

fn usage(c: &Cloud, project: &str) -> BTreeMap<&'static str, i64> {
    let mut u = BTreeMap::new();
    for v in c.block.volumes.values().filter(|v| v.project_id == project) {
        *u.entry("volumes").or_default() += 1;
        *u.entry("gigabytes").or_default() += v.size_gb as i64;
    }
    for s in c
        .block
        .snapshots
        .values()
        .filter(|s| s.project_id == project)
    {
        *u.entry("snapshots").or_default() += 1;
        *u.entry("gigabytes").or_default() += s.size_gb as i64;
    }
    *u.entry("groups").or_default() += c
        .block
        .groups
        .values()
        .filter(|g| g.project_id == project)
        .count() as i64;
    u
}

async fn show_quota(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, target)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    if !visible(&auth, &target) {
        require_admin(&auth, "volume_extension:quotas:show")?;
    }
    let with_usage = q.get("usage").is_some_and(|v| v == "true" || v == "True");
    let body = app.engine.read(|c| {
        let u = usage(c, &target);
        let mut qs = serde_json::Map::new();
        qs.insert("id".into(), json!(target));
        for r in quota::VOLUME {
            let limit = c.quotas.limit(&target, r);
            qs.insert((*r).into(), if with_usage { json!({"limit": limit, "in_use": u.get(r).copied().unwrap_or(0), "reserved": 0, "allocated": 0}) } else { json!(limit) });
        }
        json!({"quota_set": qs})
    });
    Ok(Json(body))
}

async fn update_quota(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, target)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "volume_extension:quotas:update")?;
    let body: Value = parse_body(&body)?;
    let qs = member(&body, "quota_set")?;
    let mut updates = vec![];
    for (k, v) in qs.as_object().into_iter().flatten() {
        if !quota::VOLUME.contains(&k.as_str()) {
            return Err(CloudError::bad(format!(
                "Invalid input received: Bad key(s) in quota set: {k}"
            ))
            .into());
        }
        let n = v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|n| *n >= -1)
            .ok_or_else(|| {
                CloudError::bad(format!(
                    "Invalid input received: Quota {k} must be an integer >= -1."
                ))
            })?;
        updates.push((k.clone(), n));
    }
    let body = app.engine.apply(|c| {
        for (k, n) in &updates {
            c.quotas.set(&target, k, *n);
        }
        let qs: serde_json::Map<String, Value> = quota::VOLUME
            .iter()
            .map(|r| ((*r).to_owned(), json!(c.quotas.limit(&target, r))))
            .collect();
        Ok(json!({"quota_set": qs}))
    })?;
    Ok(Json(body))
}

async fn limits(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project()?.to_owned();
    let body = app.engine.read(|c| {
        let u = usage(c, &project);
        let l = |r: &str| c.quotas.limit(&project, r);
        let used = |r: &str| u.get(r).copied().unwrap_or(0);
        json!({"limits": {"rate": [], "absolute": {
            "maxTotalVolumes": l("volumes"), "totalVolumesUsed": used("volumes"),
            "maxTotalSnapshots": l("snapshots"), "totalSnapshotsUsed": used("snapshots"),
            "maxTotalVolumeGigabytes": l("gigabytes"), "totalGigabytesUsed": used("gigabytes"),
            "maxTotalBackups": l("backups"), "totalBackupsUsed": 0,
            "maxTotalBackupGigabytes": l("backup_gigabytes"), "totalBackupGigabytesUsed": 0,
        }}})
    });
    Ok(Json(body))
}

async fn services(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "volume_extension:services:index")?;
    let now = crate::time::iso_micro(crate::time::now());
    let list: Vec<Value> = app.engine.read(|c| {
        let mut v = vec![json!({"binary": "cinder-scheduler", "host": "testcloud", "zone": "nova", "status": "enabled", "state": "up", "updated_at": now, "disabled_reason": null})];
        let mut backends: Vec<&str> = c.block.pools.iter().map(|p| p.backend.as_str()).collect();
        backends.dedup();
        v.extend(backends.into_iter().map(|b| json!({
            "binary": "cinder-volume", "host": format!("testcloud@{b}"), "zone": "nova",
            "status": "enabled", "state": "up", "updated_at": now, "disabled_reason": null,
            "replication_status": "disabled", "active_backend_id": null, "frozen": false,
        })));
        v
    });
    Ok(Json(json!({"services": list})))
}
