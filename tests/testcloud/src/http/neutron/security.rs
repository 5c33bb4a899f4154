//! Security groups and rules, and Neutron quotas.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Pairs, owner, respond, visible};
use crate::http::auth::Auth;
use crate::http::{ApiError, App, member, opt_bool, opt_str, opt_u64, parse_body};
use crate::model::network::RuleSpec;
use crate::model::{Cloud, CloudError, quota};
use crate::views::neutron as view;

pub(crate) async fn list_groups(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Pairs>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    if let Some(p) = auth.project_id.clone() {
        app.engine.apply(|c| {
            c.ensure_default_security_group(&p);
            Ok(())
        })?;
    }
    app.engine.read(|c| {
        let items = c
            .net
            .security_groups
            .values()
            .filter(|g| visible(&auth, &g.project_id, false));
        respond(
            &app,
            &uri,
            "security_groups",
            &q,
            items,
            |g| &g.id,
            |g| view::security_group(c, g),
        )
    })
}

pub(crate) async fn create_group(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let g = member(&body, "security_group")?;
    let name = opt_str(g, "name")?.unwrap_or_default();
    let (description, stateful) = (opt_str(g, "description")?, opt_bool(g, "stateful")?);
    let project = owner(&auth, g)?;
    let v = app.engine.apply(|c| {
        c.ensure_default_security_group(&project);
        let g = c.create_security_group(&project, &name, description, stateful)?;
        Ok(view::security_group(c, &g))
    })?;
    Ok((StatusCode::CREATED, Json(json!({"security_group": v}))).into_response())
}

fn check_group(c: &Cloud, auth: &Auth, id: &str) -> Result<(), CloudError> {
    match c.net.security_groups.get(id) {
        Some(g) if visible(auth, &g.project_id, false) => Ok(()),
        _ => Err(CloudError::not_found("Security group", id)),
    }
}

pub(crate) async fn show_group(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let v = app.engine.read(|c| {
        check_group(c, &auth, &id)?;
        Ok::<_, CloudError>(view::security_group(c, &c.net.security_groups[&id]))
    })?;
    Ok(Json(json!({"security_group": v})))
}

pub(crate) async fn update_group(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Value = parse_body(&body)?;
    let g = member(&body, "security_group")?;
    let (name, description) = (opt_str(g, "name")?, opt_str(g, "description")?);
    let v = app.engine.apply(|c| {
        check_group(c, &auth, &id)?;
        let g = c.update_security_group(&id, name, description)?;
        Ok(view::security_group(c, &g))
    })?;
    Ok(Json(json!({"security_group": v})))
}

pub(crate) async fn delete_group(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.engine.apply(|c| {
        check_group(c, &auth, &id)?;
        c.delete_security_group(&id)
    })?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_rules(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Pairs>,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    app.engine.read(|c| {
        let items = c
            .net
            .security_group_rules
            .values()
            .filter(|r| visible(&auth, &r.project_id, false));
        respond(
            &app,
            &uri,
            "security_group_rules",
            &q,
            items,
            |r| &r.id,
            view::security_group_rule,
        )
    })
}

pub(crate) async fn create_rule(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let r = member(&body, "security_group_rule")?;
    let port = |k: &str| -> Result<Option<u16>, ApiError> {
        opt_u64(r, k)?
            .map(|p| {
                u16::try_from(p)
                    .map_err(|_| CloudError::bad(format!("Invalid value for port {p}")).into())
            })
            .transpose()
    };
    let spec = RuleSpec {
        security_group_id: opt_str(r, "security_group_id")?.ok_or_else(|| {
            CloudError::bad(
                "Failed to parse request. Required attribute 'security_group_id' not specified",
            )
        })?,
        direction: opt_str(r, "direction")?.ok_or_else(|| {
            CloudError::bad("Failed to parse request. Required attribute 'direction' not specified")
        })?,
        ethertype: opt_str(r, "ethertype")?,
        protocol: match r.get("protocol") {
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => opt_str(r, "protocol")?,
        },
        port_range_min: port("port_range_min")?,
        port_range_max: port("port_range_max")?,
        remote_ip_prefix: opt_str(r, "remote_ip_prefix")?,
        remote_group_id: opt_str(r, "remote_group_id")?,
        description: opt_str(r, "description")?,
    };
    let project = owner(&auth, r)?;
    let v = app.engine.apply(|c| {
        check_group(c, &auth, &spec.security_group_id)?;
        c.create_security_group_rule(&project, spec)
            .map(|r| view::security_group_rule(&r))
    })?;
    Ok((StatusCode::CREATED, Json(json!({"security_group_rule": v}))).into_response())
}

pub(crate) async fn show_rule(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let v = app
        .engine
        .read(|c| {
            c.net
                .security_group_rules
                .get(&id)
                .filter(|r| visible(&auth, &r.project_id, false))
                .map(view::security_group_rule)
        })
        .ok_or_else(|| CloudError::not_found("Security group rule", id.clone()))?;
    Ok(Json(json!({"security_group_rule": v})))
}

pub(crate) async fn delete_rule(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.engine.apply(|c| {
        match c.net.security_group_rules.get(&id) {
            Some(r) if visible(&auth, &r.project_id, false) => {}
            _ => return Err(CloudError::not_found("Security group rule", id.clone())),
        }
        c.delete_security_group_rule(&id)
    })?;
    Ok(StatusCode::NO_CONTENT)
}

fn used(c: &Cloud, project: &str, resource: &str) -> usize {
    let n = &c.net;
    match resource {
        "network" => n
            .networks
            .values()
            .filter(|x| x.project_id == project)
            .count(),
        "subnet" => n
            .subnets
            .values()
            .filter(|x| x.project_id == project)
            .count(),
        "port" => n.ports.values().filter(|x| x.project_id == project).count(),
        "router" => n
            .routers
            .values()
            .filter(|x| x.project_id == project)
            .count(),
        "floatingip" => n
            .floating_ips
            .values()
            .filter(|x| x.project_id == project)
            .count(),
        "security_group" => n
            .security_groups
            .values()
            .filter(|x| x.project_id == project)
            .count(),
        "security_group_rule" => n
            .security_group_rules
            .values()
            .filter(|x| x.project_id == project)
            .count(),
        _ => 0,
    }
}

fn require_own_or_admin(auth: &Auth, project: &str) -> Result<(), ApiError> {
    if auth.is_admin || auth.project_id.as_deref() == Some(project) {
        Ok(())
    } else {
        Err(CloudError::Forbidden("rule:get_quota is disallowed by policy".into()).into())
    }
}

pub(crate) async fn show_quota(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_own_or_admin(&auth, &project)?;
    let q: serde_json::Map<String, Value> = app.engine.read(|c| {
        quota::NETWORK
            .iter()
            .map(|r| ((*r).to_owned(), json!(c.quotas.limit(&project, r))))
            .collect()
    });
    Ok(Json(json!({"quota": q})))
}

pub(crate) async fn quota_details(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_own_or_admin(&auth, &project)?;
    let q: serde_json::Map<String, Value> = app.engine.read(|c| {
        quota::NETWORK
            .iter()
            .map(|r| ((*r).to_owned(), json!({"limit": c.quotas.limit(&project, r), "used": used(c, &project, r), "reserved": 0})))
            .collect()
    });
    Ok(Json(json!({"quota": q})))
}

pub(crate) async fn update_quota(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(project): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    if !auth.is_admin {
        return Err(
            CloudError::Forbidden("rule:update_quota is disallowed by policy".into()).into(),
        );
    }
    let body: Value = parse_body(&body)?;
    let q = member(&body, "quota")?;
    let mut updates = vec![];
    for (k, v) in q.as_object().into_iter().flatten() {
        if !quota::NETWORK.contains(&k.as_str()) {
            return Err(CloudError::bad(format!("Unrecognized attribute(s) '{k}'")).into());
        }
        let n = v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|n| *n >= -1)
            .ok_or_else(|| CloudError::bad(format!("Invalid input for {k}.")))?;
        updates.push((k.clone(), n));
    }
    let out: serde_json::Map<String, Value> = app.engine.apply(|c| {
        for (k, n) in &updates {
            c.quotas.set(&project, k, *n);
        }
        Ok(quota::NETWORK
            .iter()
            .map(|r| ((*r).to_owned(), json!(c.quotas.limit(&project, r))))
            .collect())
    })?;
    Ok(Json(json!({"quota": out})))
}
