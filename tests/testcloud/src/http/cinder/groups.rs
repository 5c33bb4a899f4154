//! Cinder generic volume groups, group types and group snapshots (microversion 3.13+).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{require_admin, visible};
use crate::http::auth::Auth;
use crate::http::query::Params;
use crate::http::{ApiError, App, member, opt_bool, opt_map, opt_str, parse_body};
use crate::model::CloudError;
use crate::views::cinder as view;

fn type_view(t: &crate::model::block::GroupType) -> Value {
    json!({"id": t.id, "name": t.name, "description": t.description, "is_public": t.is_public, "group_specs": t.group_specs})
}

pub(super) async fn list_types(State(app): State<App>) -> Json<Value> {
    let list: Vec<Value> = app
        .engine
        .read(|c| c.block.group_types.values().map(type_view).collect());
    Json(json!({"group_types": list}))
}

pub(super) async fn create_type(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "group:group_types_manage")?;
    let body: Value = parse_body(&body)?;
    let t = member(&body, "group_type")?;
    let name = opt_str(t, "name")?.unwrap_or_default();
    let (description, public, specs) = (
        opt_str(t, "description")?,
        opt_bool(t, "is_public")?,
        opt_map(t, "group_specs")?.unwrap_or_default(),
    );
    let t = app
        .engine
        .apply(|c| c.create_group_type(&name, description, public, specs))?;
    Ok(Json(json!({"group_type": type_view(&t)})))
}

pub(super) async fn show_type(
    State(app): State<App>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let t = app.engine.read(|c| c.find_group_type(&id).map(type_view))?;
    Ok(Json(json!({"group_type": t})))
}

fn list_common(app: &App, auth: &Auth, q: &Params, detail: bool) -> Result<Json<Value>, ApiError> {
    let everyone = crate::http::query::all_tenants(q, auth.is_admin);
    let project = auth.project()?.to_owned();
    let list: Vec<Value> = app.engine.read(|c| {
        c.block
            .groups
            .values()
            .filter(|g| everyone || g.project_id == project)
            .map(|g| {
                if detail {
                    view::group(c, g)
                } else {
                    json!({"id": g.id, "name": g.name})
                }
            })
            .collect()
    });
    Ok(Json(json!({"groups": list})))
}

pub(super) async fn list(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    list_common(&app, &auth, &q, false)
}

pub(super) async fn list_detail(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    list_common(&app, &auth, &q, true)
}

pub(super) async fn create(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let g = member(&body, "group")?;
    let group_type = opt_str(g, "group_type")?.ok_or_else(|| {
        CloudError::bad("Invalid input received: group_type must be provided to create group.")
    })?;
    let types: Vec<String> = match g.get("volume_types") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
        _ => vec![],
    };
    let (name, description, az) = (
        opt_str(g, "name")?,
        opt_str(g, "description")?,
        opt_str(g, "availability_zone")?,
    );
    let project = auth.project()?.to_owned();
    let g = app
        .engine
        .apply(|c| c.create_group(&project, &group_type, &types, name, description, az))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"group": {"id": g.id, "name": g.name}})),
    )
        .into_response())
}

fn check(c: &crate::model::Cloud, auth: &Auth, id: &str) -> Result<(), CloudError> {
    match c.block.groups.get(id) {
        Some(g) if visible(auth, &g.project_id) => Ok(()),
        _ => Err(CloudError::not_found("Group", id)),
    }
}

pub(super) async fn show(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let g = app.engine.read(|c| {
        check(c, &auth, &id)?;
        Ok::<_, CloudError>(view::group(c, &c.block.groups[&id]))
    })?;
    Ok(Json(json!({"group": g})))
}

fn id_list(v: &Value, key: &str) -> Vec<String> {
    match v.get(key) {
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    }
}

pub(super) async fn update(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body: Value = parse_body(&body)?;
    let g = member(&body, "group")?;
    let (add, remove) = (id_list(g, "add_volumes"), id_list(g, "remove_volumes"));
    let (name, description) = (opt_str(g, "name")?, opt_str(g, "description")?);
    app.engine.apply(|c| {
        check(c, &auth, &id)?;
        c.update_group(&id, name, description, &add, &remove)
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
    match body.get("delete") {
        Some(arg) => {
            let delete_volumes = opt_bool(arg, "delete-volumes")?.unwrap_or(false);
            app.engine.apply(|c| {
                check(c, &auth, &id)?;
                c.delete_group(&id, delete_volumes)
            })?;
            Ok(StatusCode::ACCEPTED)
        }
        None => Err(CloudError::bad("Invalid input received: There is no such action").into()),
    }
}

pub(super) async fn list_snapshots(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let everyone = crate::http::query::all_tenants(&q, auth.is_admin);
    let project = auth.project()?.to_owned();
    let list: Vec<Value> = app.engine.read(|c| {
        c.block
            .group_snapshots
            .values()
            .filter(|g| everyone || g.project_id == project)
            .filter(|g| q.get("group_id").is_none_or(|x| &g.group_id == x))
            .map(view::group_snapshot)
            .collect()
    });
    Ok(Json(json!({"group_snapshots": list})))
}

pub(super) async fn create_snapshot(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let g = member(&body, "group_snapshot")?;
    let group_id = opt_str(g, "group_id")?
        .ok_or_else(|| CloudError::bad("Invalid input received: group_id must be provided."))?;
    let (name, description) = (opt_str(g, "name")?, opt_str(g, "description")?);
    let project = auth.project()?.to_owned();
    let gs = app.engine.apply(|c| {
        check(c, &auth, &group_id)?;
        c.create_group_snapshot(&project, &auth.user_id, &group_id, name, description)
    })?;
    Ok((StatusCode::ACCEPTED, Json(json!({"group_snapshot": {"id": gs.id, "name": gs.name, "group_type_id": gs.group_type_id}}))).into_response())
}

pub(super) async fn show_snapshot(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let gs = app
        .engine
        .read(|c| {
            c.block
                .group_snapshots
                .get(&id)
                .filter(|g| visible(&auth, &g.project_id))
                .map(view::group_snapshot)
        })
        .ok_or_else(|| CloudError::not_found("GroupSnapshot", id.clone()))?;
    Ok(Json(json!({"group_snapshot": gs})))
}

pub(super) async fn delete_snapshot(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.engine.apply(|c| {
        match c.block.group_snapshots.get(&id) {
            Some(g) if visible(&auth, &g.project_id) => {}
            _ => return Err(CloudError::not_found("GroupSnapshot", id.clone())),
        }
        c.delete_group_snapshot(&id)
    })?;
    Ok(StatusCode::ACCEPTED)
}
