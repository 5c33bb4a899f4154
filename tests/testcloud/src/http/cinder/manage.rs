//! Manage-existing (adopt a file of a backend's pool as a volume), the manageable listing
//! and the scheduler's pool statistics.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::require_admin;
use crate::http::auth::Auth;
use crate::http::query::Params;
use crate::http::{ApiError, App, member, opt_bool, opt_map, opt_str, parse_body};
use crate::model::CloudError;
use crate::model::block::ManageSpec;
use crate::storage;
use crate::views::cinder as view;

/// `POST /manageable_volumes` and `POST /os-volume-manage`.
pub(super) async fn manage(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&auth, "volume_extension:volume_manage")?;
    let body: Value = parse_body(&body)?;
    let v = member(&body, "volume")?;
    let host = opt_str(v, "host")?
        .ok_or_else(|| CloudError::bad("Invalid input received: 'host' is a required property"))?;
    let source_name = v
        .get("ref")
        .and_then(|r| r.get("source-name").or_else(|| r.get("source-id")))
        .and_then(|s| s.as_str())
        .map(str::to_owned)
        .ok_or_else(|| CloudError::bad("Manage existing volume failed due to invalid backend reference: source-name is required"))?;
    let dir = app
        .engine
        .read(|c| c.block.pool_by_host(&host).map(|p| c.pool_dir(p)));
    let dir = dir.ok_or_else(|| {
        CloudError::bad(format!("Invalid input received: Service {host} not found."))
    })?;
    if source_name.contains('/') || source_name.starts_with('.') {
        return Err(CloudError::bad(format!("Manage existing volume failed due to invalid backend reference {{'source-name': '{source_name}'}}")).into());
    }
    let path = dir.join(&source_name);
    let size = tokio::task::spawn_blocking(move || storage::file_size(&path))
        .await
        .map_err(|e| CloudError::bad(format!("Manage existing volume failed: {e}")))?
        .map_err(|_| CloudError::bad(format!("Manage existing volume failed due to invalid backend reference {{'source-name': '{source_name}'}}: volume not found on the backend.")))?;
    let spec = ManageSpec {
        host,
        source_name,
        size_gb: storage::gib_ceil(size),
        name: opt_str(v, "name")?,
        description: opt_str(v, "description")?,
        volume_type: opt_str(v, "volume_type")?,
        availability_zone: opt_str(v, "availability_zone")?,
        bootable: opt_bool(v, "bootable")?.unwrap_or(false),
        metadata: opt_map(v, "metadata")?.unwrap_or_default(),
    };
    let project = auth.project()?.to_owned();
    let body = app.engine.apply(|c| {
        let vol = c.manage_volume(&project, &auth.user_id, spec)?;
        Ok(view::volume(c, &vol, &app.base))
    })?;
    Ok((StatusCode::ACCEPTED, Json(json!({"volume": body}))).into_response())
}

async fn listing(
    app: &App,
    auth: &Auth,
    q: &Params,
    detail: bool,
) -> Result<Json<Value>, ApiError> {
    require_admin(auth, "volume_extension:list_manageable")?;
    let host = q.get("host").ok_or_else(|| {
        CloudError::bad("Invalid input received: Must specify 'host' or 'cluster'.")
    })?;
    let (dirs, managed) = app.engine.read(|c| {
        let rest = host.split_once('@').map_or(host.as_str(), |(_, r)| r);
        let backend = rest.split('#').next().unwrap_or(rest);
        let pool = rest.split_once('#').map(|(_, p)| p.to_owned());
        let dirs: Vec<(String, std::path::PathBuf)> = c
            .block
            .pools
            .iter()
            .enumerate()
            .filter(|(_, p)| p.backend == backend && pool.as_ref().is_none_or(|x| *x == p.pool))
            .map(|(i, p)| (p.host(), c.pool_dir(i)))
            .collect();
        let managed: std::collections::HashMap<String, String> = c
            .block
            .volumes
            .keys()
            .map(|id| (format!("volume-{id}"), id.clone()))
            .chain(
                c.block
                    .snapshots
                    .keys()
                    .map(|id| (format!("snapshot-{id}"), String::new())),
            )
            .collect();
        (dirs, managed)
    });
    if dirs.is_empty() {
        return Err(
            CloudError::bad(format!("Invalid input received: Service {host} not found.")).into(),
        );
    }
    let files = tokio::task::spawn_blocking(move || {
        dirs.into_iter()
            .map(|(_, d)| storage::list_files(&d))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| CloudError::bad(format!("listing failed: {e}")))?
    .map_err(|e| CloudError::bad(format!("listing failed: {e}")))?;
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let offset: usize = q.get("offset").and_then(|l| l.parse().ok()).unwrap_or(0);
    let list: Vec<Value> = files
        .into_iter()
        .flatten()
        .skip_while(|(name, _)| q.get("marker").is_some_and(|m| name.as_str() <= m.as_str()))
        .skip(offset)
        .take(limit)
        .map(|(name, size)| {
            let cinder_id = managed.get(&name).filter(|id| !id.is_empty()).cloned();
            let is_snapshot = managed.get(&name).is_some_and(|id| id.is_empty());
            let safe = cinder_id.is_none() && !is_snapshot;
            let mut v = json!({"reference": {"source-name": name}, "size": storage::gib_ceil(size), "safe_to_manage": safe});
            if detail {
                v["reason_not_safe"] = json!(if cinder_id.is_some() { Some("already managed") } else if is_snapshot { Some("snapshot data") } else { None });
                v["cinder_id"] = json!(cinder_id);
                v["extra_info"] = json!(null);
            }
            v
        })
        .collect();
    Ok(Json(json!({"manageable-volumes": list})))
}

pub(super) async fn list(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    listing(&app, &auth, &q, false).await
}

pub(super) async fn list_detail(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    listing(&app, &auth, &q, true).await
}

/// `GET /scheduler-stats/get_pools[?detail=true]`.
pub(super) async fn pools(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "scheduler_extension:scheduler_stats:get_pools")?;
    let detail = q
        .get("detail")
        .is_some_and(|d| d == "true" || d == "True" || d == "1");
    let list: Vec<Value> = app.engine.read(|c| {
        c.block
            .pools
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let allocated = c.block.allocated_gb(i);
                let mut v = json!({"name": p.host()});
                if detail {
                    v["capabilities"] = json!({
                        "pool_name": p.pool,
                        "volume_backend_name": p.backend,
                        "total_capacity_gb": p.capacity_gb,
                        "free_capacity_gb": p.capacity_gb.saturating_sub(allocated),
                        "allocated_capacity_gb": allocated,
                        "provisioned_capacity_gb": allocated,
                        "max_over_subscription_ratio": "1.0",
                        "thin_provisioning_support": true,
                        "thick_provisioning_support": false,
                        "reserved_percentage": 0,
                        "storage_protocol": "file",
                        "vendor_name": "Holdfast test cloud",
                        "driver_version": "1.0.0",
                        "QoS_support": false,
                        "multiattach": true,
                        "timestamp": crate::time::iso_micro(crate::time::now()),
                    });
                }
                v
            })
            .collect()
    });
    Ok(Json(json!({"pools": list})))
}
