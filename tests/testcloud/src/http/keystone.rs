//! Keystone v3: authentication, catalog, projects, users, roles, role assignments,
//! domains.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Value, json};

use super::auth::{Auth, require_token};
use super::query::Params;
use super::{ApiError, App, Svc, member, opt_bool, opt_str, parse_body};
use crate::model::identity::{
    DomainRef, ProjectRef, ProjectSpec, Scope, ScopeRequest, Token, UserRef, UserSpec,
};
use crate::model::{Cloud, CloudError};
use crate::views::keystone as view;

pub fn router(app: App) -> Router<App> {
    let protected = Router::new()
        .route(
            "/v3/auth/tokens",
            get(validate_token).head(check_token).delete(revoke_token),
        )
        .route("/v3/auth/catalog", get(auth_catalog))
        .route("/v3/auth/projects", get(auth_projects))
        .route("/v3/projects", get(list_projects).post(create_project))
        .route(
            "/v3/projects/{id}",
            get(show_project)
                .patch(update_project)
                .delete(delete_project),
        )
        .route(
            "/v3/projects/{p}/users/{u}/roles",
            get(list_project_user_roles),
        )
        .route(
            "/v3/projects/{p}/users/{u}/roles/{r}",
            put(grant_project_role)
                .get(check_project_role)
                .head(check_project_role)
                .delete(revoke_project_role),
        )
        .route(
            "/v3/domains/{d}/users/{u}/roles/{r}",
            put(grant_domain_role)
                .get(check_domain_role)
                .head(check_domain_role)
                .delete(revoke_domain_role),
        )
        .route("/v3/users", get(list_users).post(create_user))
        .route(
            "/v3/users/{id}",
            get(show_user).patch(update_user).delete(delete_user),
        )
        .route("/v3/users/{id}/projects", get(user_projects))
        .route("/v3/roles", get(list_roles).post(create_role))
        .route("/v3/roles/{id}", get(show_role))
        .route("/v3/role_assignments", get(role_assignments))
        .route("/v3/domains", get(list_domains))
        .route("/v3/domains/{id}", get(show_domain))
        .route_layer(from_fn_with_state(app.clone(), require_token));
    Router::new()
        .route("/", get(versions))
        .route("/v3", get(version))
        .route("/v3/auth/tokens", axum::routing::post(issue_token))
        .merge(protected)
        .layer(from_fn_with_state(
            (app, Svc::Identity),
            super::layers::edge,
        ))
}

fn version_doc(base: &str) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

async fn versions(State(app): State<App>) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": {"values": [version_doc(&app.base)]}})),
    )
        .into_response()
}

async fn version(State(app): State<App>) -> Json<Value> {
    Json(json!({"version": version_doc(&app.base)}))
}

fn forbidden(action: &str) -> ApiError {
    CloudError::Forbidden(format!(
        "You are not authorized to perform the requested action: {action}."
    ))
    .into()
}

fn require_admin(auth: &Auth, action: &str) -> Result<(), ApiError> {
    if auth.is_admin {
        Ok(())
    } else {
        Err(forbidden(action))
    }
}

fn domain_ref(v: &Value) -> Result<DomainRef, ApiError> {
    if let Some(id) = opt_str(v, "id")? {
        Ok(DomainRef::Id(id))
    } else if let Some(name) = opt_str(v, "name")? {
        Ok(DomainRef::Name(name))
    } else {
        Err(CloudError::bad("Expecting to find domain id or name in the request.").into())
    }
}

/// The service catalog: every service on this server, three interfaces each.
pub fn catalog(base: &str, region: &str, project_id: Option<&str>) -> Value {
    let volume = match project_id {
        Some(p) => format!("{base}/volume/v3/{p}"),
        None => format!("{base}/volume/v3"),
    };
    let services = [
        ("identity", "keystone", format!("{base}/v3")),
        ("compute", "nova", format!("{base}/compute/v2.1")),
        ("volumev3", "cinderv3", volume.clone()),
        ("block-storage", "cinder", volume),
        ("network", "neutron", format!("{base}/network")),
    ];
    Value::Array(
        services
            .iter()
            .map(|(kind, name, url)| {
                let endpoints: Vec<Value> = ["public", "internal", "admin"]
                    .iter()
                    .map(|i| json!({"id": format!("{name}-{i}"), "interface": i, "region": region, "region_id": region, "url": url}))
                    .collect();
                json!({"id": format!("{name}-service"), "type": kind, "name": name, "endpoints": endpoints})
            })
            .collect(),
    )
}

fn token_body(c: &Cloud, t: &Token, base: &str, with_catalog: bool) -> Value {
    let user = &c.identity.users[&t.user_id];
    let user_domain = c.identity.domains.get(&user.domain_id);
    let mut body = json!({
        "methods": t.methods,
        "user": {
            "id": user.id,
            "name": user.name,
            "domain": {"id": user.domain_id, "name": user_domain.map(|d| d.name.clone())},
            "password_expires_at": null,
        },
        "audit_ids": [t.audit_id],
        "issued_at": crate::time::iso_micro_z(t.issued_at),
        "expires_at": crate::time::iso_micro_z(t.expires_at),
    });
    let mut project_id = None;
    match &t.scope {
        Some(s @ Scope::Project(p)) => {
            if let Some(proj) = c.identity.projects.get(p) {
                let d = c.identity.domains.get(&proj.domain_id);
                body["project"] = json!({"id": proj.id, "name": proj.name, "domain": {"id": proj.domain_id, "name": d.map(|d| d.name.clone())}});
            }
            body["is_domain"] = json!(false);
            body["roles"] = json!(
                c.roles_on(&t.user_id, s)
                    .iter()
                    .map(|r| json!({"id": r.id, "name": r.name}))
                    .collect::<Vec<_>>()
            );
            project_id = Some(p.as_str());
        }
        Some(s @ Scope::Domain(d)) => {
            let dom = c.identity.domains.get(d);
            body["domain"] = json!({"id": d, "name": dom.map(|d| d.name.clone())});
            body["roles"] = json!(
                c.roles_on(&t.user_id, s)
                    .iter()
                    .map(|r| json!({"id": r.id, "name": r.name}))
                    .collect::<Vec<_>>()
            );
        }
        None => {}
    }
    if with_catalog && t.scope.is_some() {
        body["catalog"] = catalog(base, &c.region, project_id);
    }
    json!({"token": body})
}

fn scope_request(auth: &Value) -> Result<ScopeRequest, ApiError> {
    let Some(scope) = auth.get("scope") else {
        return Ok(ScopeRequest::Unscoped);
    };
    if let Some(p) = scope.get("project") {
        if let Some(id) = opt_str(p, "id")? {
            return Ok(ScopeRequest::Project(ProjectRef::Id(id)));
        }
        let name = opt_str(p, "name")?.ok_or_else(|| {
            CloudError::bad("Expecting to find project id or name in the request.")
        })?;
        let domain = domain_ref(p.get("domain").ok_or_else(|| CloudError::bad("Expecting to find domain in project. The server could not comply with the request since it is either malformed or otherwise incorrect."))?)?;
        return Ok(ScopeRequest::Project(ProjectRef::Name { name, domain }));
    }
    if let Some(d) = scope.get("domain") {
        return Ok(ScopeRequest::Domain(domain_ref(d)?));
    }
    if scope.get("system").is_some() {
        return Err(CloudError::bad("System scope is not supported by this cloud.").into());
    }
    Ok(ScopeRequest::Unscoped)
}

async fn issue_token(
    State(app): State<App>,
    Query(q): Query<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(&body)?;
    let auth = member(&body, "auth")?;
    let identity = member(auth, "identity")?;
    let methods: Vec<String> = identity
        .get("methods")
        .and_then(|m| m.as_array())
        .map(|a| a.iter().filter_map(|m| m.as_str().map(str::to_owned)).collect())
        .ok_or_else(|| CloudError::bad("Expecting to find methods in identity. The server could not comply with the request since it is either malformed or otherwise incorrect."))?;
    let scope = scope_request(auth)?;
    let now = crate::time::now();
    let with_catalog = !q.contains_key("nocatalog");
    let (token_id, body) = if methods.iter().any(|m| m == "password") {
        let user = member(identity, "password").and_then(|p| member(p, "user"))?;
        let password = opt_str(user, "password")?.unwrap_or_default();
        let user_ref = match opt_str(user, "id")? {
            Some(id) => UserRef::Id(id),
            None => {
                let name = opt_str(user, "name")?.ok_or_else(|| {
                    CloudError::bad("Expecting to find user id or name in the request.")
                })?;
                let domain = domain_ref(user.get("domain").ok_or_else(|| CloudError::bad("Expecting to find domain in user. The server could not comply with the request since it is either malformed or otherwise incorrect."))?)?;
                UserRef::Name { name, domain }
            }
        };
        let base = app.base.clone();
        app.engine.apply(|c| {
            let t = c.issue_token_password(&user_ref, &password, &scope, now)?;
            Ok((t.id.clone(), token_body(c, &t, &base, with_catalog)))
        })?
    } else if methods.iter().any(|m| m == "token") {
        let tok = member(identity, "token")?;
        let id =
            opt_str(tok, "id")?.ok_or_else(|| CloudError::bad("Expecting to find id in token."))?;
        let base = app.base.clone();
        app.engine.apply(|c| {
            let t = c.issue_token_from_token(&id, &scope, now)?;
            Ok((t.id.clone(), token_body(c, &t, &base, with_catalog)))
        })?
    } else {
        return Err(CloudError::Unauthorized(
            "The request you have made requires authentication.".into(),
        )
        .into());
    };
    let mut r = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&token_id) {
        r.headers_mut().insert("x-subject-token", v);
    }
    Ok(r)
}

fn subject(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| CloudError::bad("X-Subject-Token header is required.").into())
}

async fn validate_token(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let id = subject(&headers)?;
    let now = crate::time::now();
    let with_catalog = !q.contains_key("nocatalog");
    let body = app.engine.read(|c| {
        let t = c
            .validate_token(&id, now)
            .map_err(|_| CloudError::not_found("token", id.clone()))?;
        Ok::<_, CloudError>(token_body(c, t, &app.base, with_catalog))
    })?;
    let mut r = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&id) {
        r.headers_mut().insert("x-subject-token", v);
    }
    Ok(r)
}

async fn check_token(State(app): State<App>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let id = subject(&headers)?;
    let now = crate::time::now();
    app.engine.read(|c| {
        c.validate_token(&id, now)
            .map(|_| ())
            .map_err(|_| CloudError::not_found("token", id.clone()))
    })?;
    Ok(StatusCode::OK)
}

async fn revoke_token(State(app): State<App>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let id = subject(&headers)?;
    app.engine.apply(|c| c.revoke_token(&id))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn auth_catalog(State(app): State<App>, Extension(auth): Extension<Auth>) -> Json<Value> {
    let region = app.engine.read(|c| c.region.clone());
    Json(
        json!({"catalog": catalog(&app.base, &region, auth.project_id.as_deref()), "links": {"self": format!("{}/v3/auth/catalog", app.base)}}),
    )
}

async fn auth_projects(State(app): State<App>, Extension(auth): Extension<Auth>) -> Json<Value> {
    Json(user_projects_body(&app, &auth.user_id))
}

fn user_projects_body(app: &App, user_id: &str) -> Value {
    app.engine.read(|c| {
        let projects: Vec<Value> = c
            .identity
            .projects
            .values()
            .filter(|p| c.identity.assignments.iter().any(|(s, u, _)| u == user_id && *s == Scope::Project(p.id.clone())))
            .map(|p| view::project(p, &app.base))
            .collect();
        json!({"projects": projects, "links": {"self": format!("{}/v3/auth/projects", app.base), "next": null, "previous": null}})
    })
}

async fn user_projects(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if id != auth.user_id {
        require_admin(&auth, "identity:list_user_projects")?;
    }
    app.engine.read(|c| {
        c.identity
            .users
            .get(&id)
            .map(|_| ())
            .ok_or_else(|| CloudError::not_found("user", id.clone()))
    })?;
    Ok(Json(user_projects_body(&app, &id)))
}

fn list_links(base: &str, what: &str) -> Value {
    json!({"self": format!("{base}/v3/{what}"), "next": null, "previous": null})
}

async fn list_projects(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "identity:list_projects")?;
    let projects = app.engine.read(|c| {
        c.identity
            .projects
            .values()
            .filter(|p| q.get("name").is_none_or(|n| &p.name == n))
            .filter(|p| q.get("domain_id").is_none_or(|d| &p.domain_id == d))
            .filter(|p| {
                q.get("enabled")
                    .is_none_or(|e| p.enabled == (e != "false" && e != "0"))
            })
            .map(|p| view::project(p, &app.base))
            .collect::<Vec<_>>()
    });
    Ok(Json(
        json!({"projects": projects, "links": list_links(&app.base, "projects")}),
    ))
}

fn project_spec(v: &Value) -> Result<ProjectSpec, ApiError> {
    let tags = match v.get("tags") {
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    };
    if opt_bool(v, "is_domain")? == Some(true) {
        return Err(CloudError::bad(
            "Creating projects acting as domains is not supported by this cloud.",
        )
        .into());
    }
    Ok(ProjectSpec {
        name: opt_str(v, "name")?,
        domain_id: opt_str(v, "domain_id")?,
        description: opt_str(v, "description")?,
        enabled: opt_bool(v, "enabled")?,
        tags,
    })
}

async fn create_project(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&auth, "identity:create_project")?;
    let body: Value = parse_body(&body)?;
    let spec = project_spec(member(&body, "project")?)?;
    let p = app.engine.apply(|c| c.create_project(spec))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"project": view::project(&p, &app.base)})),
    )
        .into_response())
}

async fn show_project(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if auth.project_id.as_deref() != Some(&id) {
        require_admin(&auth, "identity:get_project")?;
    }
    let p = app
        .engine
        .read(|c| c.identity.projects.get(&id).cloned())
        .ok_or_else(|| CloudError::not_found("project", id.clone()))?;
    Ok(Json(json!({"project": view::project(&p, &app.base)})))
}

async fn update_project(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "identity:update_project")?;
    let body: Value = parse_body(&body)?;
    let spec = project_spec(member(&body, "project")?)?;
    let p = app.engine.apply(|c| c.update_project(&id, spec))?;
    Ok(Json(json!({"project": view::project(&p, &app.base)})))
}

async fn delete_project(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&auth, "identity:delete_project")?;
    app.engine.apply(|c| c.delete_project(&id))?;
    Ok(StatusCode::NO_CONTENT)
}

fn user_spec(v: &Value) -> Result<UserSpec, ApiError> {
    Ok(UserSpec {
        name: opt_str(v, "name")?,
        domain_id: opt_str(v, "domain_id")?,
        password: opt_str(v, "password")?,
        enabled: opt_bool(v, "enabled")?,
        email: opt_str(v, "email")?,
        description: opt_str(v, "description")?,
        default_project_id: opt_str(v, "default_project_id")?,
    })
}

async fn list_users(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "identity:list_users")?;
    let users = app.engine.read(|c| {
        c.identity
            .users
            .values()
            .filter(|u| q.get("name").is_none_or(|n| &u.name == n))
            .filter(|u| q.get("domain_id").is_none_or(|d| &u.domain_id == d))
            .map(|u| view::user(u, &app.base))
            .collect::<Vec<_>>()
    });
    Ok(Json(
        json!({"users": users, "links": list_links(&app.base, "users")}),
    ))
}

async fn create_user(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&auth, "identity:create_user")?;
    let body: Value = parse_body(&body)?;
    let spec = user_spec(member(&body, "user")?)?;
    let u = app.engine.apply(|c| c.create_user(spec))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user": view::user(&u, &app.base)})),
    )
        .into_response())
}

async fn show_user(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if id != auth.user_id {
        require_admin(&auth, "identity:get_user")?;
    }
    let u = app
        .engine
        .read(|c| c.identity.users.get(&id).cloned())
        .ok_or_else(|| CloudError::not_found("user", id.clone()))?;
    Ok(Json(json!({"user": view::user(&u, &app.base)})))
}

async fn update_user(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_admin(&auth, "identity:update_user")?;
    let body: Value = parse_body(&body)?;
    let spec = user_spec(member(&body, "user")?)?;
    let u = app.engine.apply(|c| c.update_user(&id, spec))?;
    Ok(Json(json!({"user": view::user(&u, &app.base)})))
}

async fn delete_user(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&auth, "identity:delete_user")?;
    app.engine.apply(|c| c.delete_user(&id))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_roles(State(app): State<App>, Query(q): Query<Params>) -> Json<Value> {
    let roles = app.engine.read(|c| {
        c.identity
            .roles
            .values()
            .filter(|r| q.get("name").is_none_or(|n| &r.name == n))
            .map(|r| view::role(r, &app.base))
            .collect::<Vec<_>>()
    });
    Json(json!({"roles": roles, "links": list_links(&app.base, "roles")}))
}

async fn create_role(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&auth, "identity:create_role")?;
    let body: Value = parse_body(&body)?;
    let name = opt_str(member(&body, "role")?, "name")?.unwrap_or_default();
    let r = app.engine.apply(|c| c.create_role(&name))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"role": view::role(&r, &app.base)})),
    )
        .into_response())
}

async fn show_role(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = app
        .engine
        .read(|c| c.identity.roles.get(&id).cloned())
        .ok_or_else(|| CloudError::not_found("role", id.clone()))?;
    Ok(Json(json!({"role": view::role(&r, &app.base)})))
}

async fn list_project_user_roles(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((p, u)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    if u != auth.user_id {
        require_admin(&auth, "identity:list_grants")?;
    }
    let roles = app.engine.read(|c| {
        if !c.identity.projects.contains_key(&p) {
            return Err(CloudError::not_found("project", p.clone()));
        }
        if !c.identity.users.contains_key(&u) {
            return Err(CloudError::not_found("user", u.clone()));
        }
        Ok(c.roles_on(&u, &Scope::Project(p.clone()))
            .iter()
            .map(|r| view::role(r, &app.base))
            .collect::<Vec<_>>())
    })?;
    Ok(Json(
        json!({"roles": roles, "links": list_links(&app.base, &format!("projects/{p}/users/{u}/roles"))}),
    ))
}

async fn grant_project_role(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((p, u, r)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    require_admin(&auth, "identity:create_grant")?;
    require_no_body_or_object(&body)?;
    app.engine
        .apply(|c| c.grant_role(Scope::Project(p), &u, &r))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn check_project_role(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((p, u, r)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    require_admin(&auth, "identity:check_grant")?;
    app.engine
        .read(|c| c.check_role(Scope::Project(p), &u, &r))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_project_role(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((p, u, r)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    require_admin(&auth, "identity:revoke_grant")?;
    app.engine
        .apply(|c| c.revoke_role(Scope::Project(p), &u, &r))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn grant_domain_role(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((d, u, r)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    require_admin(&auth, "identity:create_grant")?;
    require_no_body_or_object(&body)?;
    app.engine
        .apply(|c| c.grant_role(Scope::Domain(d), &u, &r))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn check_domain_role(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((d, u, r)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    require_admin(&auth, "identity:check_grant")?;
    app.engine
        .read(|c| c.check_role(Scope::Domain(d), &u, &r))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_domain_role(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Path((d, u, r)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    require_admin(&auth, "identity:revoke_grant")?;
    app.engine
        .apply(|c| c.revoke_role(Scope::Domain(d), &u, &r))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn role_assignments(
    State(app): State<App>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let own = q.get("user.id").is_some_and(|u| *u == auth.user_id);
    if !own {
        require_admin(&auth, "identity:list_role_assignments")?;
    }
    let names = q.contains_key("include_names");
    let list = app.engine.read(|c| {
        c.identity
            .assignments
            .iter()
            .filter(|(_, u, _)| q.get("user.id").is_none_or(|x| x == u))
            .filter(|(_, _, r)| q.get("role.id").is_none_or(|x| x == r))
            .filter(|(s, _, _)| q.get("scope.project.id").is_none_or(|x| *s == Scope::Project(x.clone())))
            .filter(|(s, _, _)| q.get("scope.domain.id").is_none_or(|x| *s == Scope::Domain(x.clone())))
            .map(|(s, u, r)| {
                let scope = match s {
                    Scope::Project(p) => {
                        let mut v = json!({"project": {"id": p}});
                        if names && let Some(pr) = c.identity.projects.get(p) {
                            v["project"]["name"] = json!(pr.name);
                            v["project"]["domain"] = json!({"id": pr.domain_id});
                        }
                        v
                    }
                    Scope::Domain(d) => json!({"domain": {"id": d}}),
                };
                let mut user = json!({"id": u});
                let mut role = json!({"id": r});
                if names {
                    if let Some(x) = c.identity.users.get(u) {
                        user["name"] = json!(x.name);
                        user["domain"] = json!({"id": x.domain_id});
                    }
                    if let Some(x) = c.identity.roles.get(r) {
                        role["name"] = json!(x.name);
                    }
                }
                json!({"scope": scope, "user": user, "role": role, "links": {"assignment": format!("{}/v3/projects/x/users/{u}/roles/{r}", app.base)}})
            })
            .collect::<Vec<_>>()
    });
    Ok(Json(
        json!({"role_assignments": list, "links": list_links(&app.base, "role_assignments")}),
    ))
}

async fn list_domains(State(app): State<App>, Query(q): Query<Params>) -> Json<Value> {
    let domains = app.engine.read(|c| {
        c.identity
            .domains
            .values()
            .filter(|d| q.get("name").is_none_or(|n| &d.name == n))
            .map(|d| view::domain(d, &app.base))
            .collect::<Vec<_>>()
    });
    Json(json!({"domains": domains, "links": list_links(&app.base, "domains")}))
}

async fn show_domain(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d = app
        .engine
        .read(|c| c.identity.domains.get(&id).cloned())
        .ok_or_else(|| CloudError::not_found("domain", id.clone()))?;
    Ok(Json(json!({"domain": view::domain(&d, &app.base)})))
}

/// Keystone's JSON body middleware: a request body, when there is one, must be a JSON
/// object (`null` or `[]` is refused before the handler runs).
fn require_no_body_or_object(body: &Bytes) -> Result<(), ApiError> {
    if body.is_empty() || matches!(serde_json::from_slice::<Value>(body), Ok(Value::Object(_))) {
        return Ok(());
    }
    Err(CloudError::bad(
        "Expecting to find valid JSON in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
    )
    .into())
}
