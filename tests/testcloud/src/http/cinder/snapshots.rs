//! Cinder snapshots.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{require_admin, visible};
use crate::http::auth::Auth;
use crate::http::query::{Params, all_tenants, next_links, paging};
use crate::http::{ApiError, App, member, opt_bool, opt_map, opt_str, parse_body};
use crate::model::block::SnapshotSpec;
use crate::model::page::paginate;
use crate::model::{Cloud, CloudError};
use crate::views::cinder as view;

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
        let page = paginate(&c.block.snapshots, marker.as_deref(), limit, Some(1000), |s| {
            (everyone || s.project_id == project)
                && q.get("name").is_none_or(|n| &s.name == n)
                && q.get("status").is_none_or(|st| &s.status == st)
                && q.get("volume_id").is_none_or(|v| &s.volume_id == v)
        })?;
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|s| if detail { view::snapshot(s) } else { json!({"id": s.id, "name": s.name, "volume_id": s.volume_id, "status": s.status, "size": s.size_gb, "created_at": crate::time::iso_micro(s.created_at), "description": s.description, "metadata": s.metadata}) })
            .collect();
        let mut body = json!({"snapshots": items});
        if page.full {
            body["snapshots_links"] = next_links(&app.base, uri, true, page.items.last().map(|s| s.id.as_str()), limit);
        }
        Ok::<_, CloudError>(body)
    })?;
    Ok(Json(body))
}

pub(super) async fn list(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    list_common(&app, &auth, &q, &uri, false)
}

pub(super) async fn list_detail(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    list_common(&app, &auth, &q, &uri, true)
}

fn check(c: &Cloud, auth: &Auth, id: &str) -> Result<(), CloudError> {
    let s = c.snapshot(id)?;
    if visible(auth, &s.project_id) {
        Ok(())
    } else {
        Err(CloudError::not_found("Snapshot", id))
    }
}

pub(super) async fn create(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let s = member(&body, "snapshot")?;
    let volume_id = opt_str(s, "volume_id")?
        .ok_or_else(|| CloudError::bad("Invalid input received: 'volume_id' must be specified"))?;
    let name = opt_str(s, "name")?.or(opt_str(s, "display_name")?);
    let description = opt_str(s, "description")?;
    let force = opt_bool(s, "force")?.unwrap_or(false);
    let metadata = opt_map(s, "metadata")?.unwrap_or_default();
    let project = auth.project()?.to_owned();
    let snap = app.engine.apply(|c| {
        let v = c.volume(&volume_id)?;
        if !visible(&auth, &v.project_id) {
            return Err(CloudError::not_found("Volume", volume_id.clone()));
        }
        c.create_snapshot(
            &project,
            &auth.user_id,
            SnapshotSpec {
                volume_id: volume_id.clone(),
                name,
                description,
                force,
                metadata,
                group_snapshot_id: None,
            },
        )
    })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"snapshot": view::snapshot(&snap)})),
    )
        .into_response())
}

pub(super) async fn show(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let v = app.engine.read(|c| {
        check(c, &auth, &id)?;
        Ok::<_, CloudError>(view::snapshot(c.snapshot(&id)?))
    })?;
    Ok(Json(json!({"snapshot": v})))
}

pub(super) async fn update(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Value = parse_body(&body)?;
    let s = member(&body, "snapshot")?;
    let (name, description) = (opt_str(s, "name")?, opt_str(s, "description")?);
    let snap = app.engine.apply(|c| {
        check(c, &auth, &id)?;
        c.update_snapshot(&id, name, description)
    })?;
    Ok(Json(json!({"snapshot": view::snapshot(&snap)})))
}

pub(super) async fn delete(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.engine.apply(|c| {
        check(c, &auth, &id)?;
        c.delete_snapshot(&id)
    })?;
    Ok(StatusCode::ACCEPTED)
}

pub(super) async fn action(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body: Value = parse_body(&body)?;
    match body.get("os-reset_status") {
        Some(arg) => {
            require_admin(
                &auth,
                "volume_extension:snapshot_admin_actions:reset_status",
            )?;
            let status = opt_str(arg, "status")?
                .ok_or_else(|| CloudError::bad("Invalid input received: Must specify 'status'"))?;
            app.engine
                .apply(|c| c.reset_snapshot_status(&id, &status))?;
            Ok(StatusCode::ACCEPTED)
        }
        None => Err(CloudError::bad("Invalid input received: There is no such action").into()),
    }
}
