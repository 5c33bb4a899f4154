//! Neutron v2.0 (`/network/v2.0`): networks, subnets, ports, routers, floating IPs,
//! security groups and rules, extensions and quotas; field filters and pagination.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, put};
use serde_json::{Value, json};

use super::auth::{Auth, require_token};
use super::query::next_links;
use super::{ApiError, App, Svc};
use crate::model::CloudError;

pub mod networks;
pub mod routers;
pub mod security;

/// The query as a list (Neutron filters may repeat a key).
pub type Pairs = Vec<(String, String)>;

pub fn router(app: App) -> Router<App> {
    let api = Router::new()
        .route(
            "/networks",
            get(networks::list_networks).post(networks::create_network),
        )
        .route(
            "/networks/{id}",
            get(networks::show_network)
                .put(networks::update_network)
                .delete(networks::delete_network),
        )
        .route(
            "/subnets",
            get(networks::list_subnets).post(networks::create_subnet),
        )
        .route(
            "/subnets/{id}",
            get(networks::show_subnet)
                .put(networks::update_subnet)
                .delete(networks::delete_subnet),
        )
        .route(
            "/ports",
            get(networks::list_ports).post(networks::create_port),
        )
        .route(
            "/ports/{id}",
            get(networks::show_port)
                .put(networks::update_port)
                .delete(networks::delete_port),
        )
        .route(
            "/routers",
            get(routers::list_routers).post(routers::create_router),
        )
        .route(
            "/routers/{id}",
            get(routers::show_router)
                .put(routers::update_router)
                .delete(routers::delete_router),
        )
        .route(
            "/routers/{id}/add_router_interface",
            put(routers::add_interface),
        )
        .route(
            "/routers/{id}/remove_router_interface",
            put(routers::remove_interface),
        )
        .route(
            "/floatingips",
            get(routers::list_fips).post(routers::create_fip),
        )
        .route(
            "/floatingips/{id}",
            get(routers::show_fip)
                .put(routers::update_fip)
                .delete(routers::delete_fip),
        )
        .route(
            "/security-groups",
            get(security::list_groups).post(security::create_group),
        )
        .route(
            "/security-groups/{id}",
            get(security::show_group)
                .put(security::update_group)
                .delete(security::delete_group),
        )
        .route(
            "/security-group-rules",
            get(security::list_rules).post(security::create_rule),
        )
        .route(
            "/security-group-rules/{id}",
            get(security::show_rule).delete(security::delete_rule),
        )
        .route("/extensions", get(extensions))
        .route("/extensions/{alias}", get(extension))
        .route(
            "/quotas/{project}",
            get(security::show_quota).put(security::update_quota),
        )
        .route("/quotas/{project}/details", get(security::quota_details))
        .fallback(not_found)
        .route_layer(from_fn_with_state(app.clone(), require_token));
    Router::new()
        .route("/", get(versions))
        .route("/v2.0", get(resources))
        .nest("/v2.0", api)
        .layer(from_fn_with_state((app, Svc::Network), super::layers::edge))
}

async fn not_found() -> ApiError {
    CloudError::not_found("Resource", "requested").into()
}

async fn versions(State(app): State<App>) -> Json<Value> {
    Json(
        json!({"versions": [{"status": "CURRENT", "id": "v2.0", "links": [{"href": format!("{}/network/v2.0/", app.base), "rel": "self"}]}]}),
    )
}

async fn resources(State(app): State<App>) -> Json<Value> {
    let list: Vec<Value> = [
        ("network", "networks"),
        ("subnet", "subnets"),
        ("port", "ports"),
        ("router", "routers"),
        ("floatingip", "floatingips"),
        ("security_group", "security-groups"),
        ("security_group_rule", "security-group-rules"),
    ]
    .iter()
    .map(|(n, c)| json!({"name": n, "collection": c, "links": [{"href": format!("{}/network/v2.0/{c}", app.base), "rel": "self"}]}))
    .collect();
    Json(json!({"resources": list}))
}

const EXTENSIONS: &[(&str, &str)] = &[
    ("external-net", "Neutron external network"),
    ("router", "Neutron L3 Router"),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
    ),
    ("security-group", "security-group"),
    ("quotas", "Quota management support"),
    ("quota_details", "Quota details management support"),
    ("provider", "Provider Network"),
    ("binding", "Port Binding"),
    ("port-security", "Port Security"),
    ("project-id", "project_id field enabled"),
    ("standard-attr-description", "standard-attr-description"),
    ("standard-attr-revisions", "Resource revision numbers"),
    ("standard-attr-timestamp", "Resource timestamps"),
    ("net-mtu", "Network MTU"),
    ("stateful-security-group", "Stateful security group"),
];

fn ext_view(alias: &str, name: &str) -> Value {
    json!({"alias": alias, "name": name, "description": name, "updated": "2013-01-01T00:00:00-00:00", "links": []})
}

async fn extensions() -> Json<Value> {
    Json(json!({"extensions": EXTENSIONS.iter().map(|(a, n)| ext_view(a, n)).collect::<Vec<_>>()}))
}

async fn extension(
    axum::extract::Path(alias): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    EXTENSIONS
        .iter()
        .find(|(a, _)| *a == alias)
        .map(|(a, n)| Json(json!({"extension": ext_view(a, n)})))
        .ok_or_else(|| CloudError::not_found("Extension", alias).into())
}

const NON_FILTERS: &[&str] = &[
    "limit",
    "marker",
    "fields",
    "sort_key",
    "sort_dir",
    "page_reverse",
    "all_tenants",
    "all_projects",
];

fn value_matches(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Bool(b) => want.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Number(n) => n.to_string() == want,
        Value::Null => want.is_empty() || want == "None",
        Value::Array(a) => a.iter().any(|x| value_matches(x, want)),
        Value::Object(_) => false,
    }
}

/// Does a rendered resource pass the query's attribute filters?
pub fn matches(item: &Value, q: &Pairs) -> bool {
    let mut keys: Vec<&str> = q
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !NON_FILTERS.contains(k))
        .collect();
    keys.dedup();
    keys.iter().all(|k| {
        let Some(field) = item.get(*k) else {
            return true;
        };
        q.iter()
            .filter(|(x, _)| x == k)
            .any(|(_, want)| value_matches(field, want))
    })
}

/// Applies filters, `fields`, limit/marker to `items` (in id order) and builds the
/// response with `<collection>_links`. Only what is needed is rendered: without attribute
/// filters, only the page.
pub fn respond<'a, T: 'a>(
    app: &App,
    uri: &axum::http::Uri,
    collection: &str,
    q: &Pairs,
    items: impl Iterator<Item = &'a T>,
    id: impl Fn(&T) -> &str,
    render: impl Fn(&T) -> Value,
) -> Result<Json<Value>, ApiError> {
    let get = |k: &str| q.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    let limit = match get("limit") {
        None => None,
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            CloudError::bad(format!(
                "Bad limit request: Limit must be an integer 0 or greater and not '{l}'."
            ))
        })?),
    }
    .filter(|l| *l > 0);
    let marker = get("marker");
    let filtered = q.iter().any(|(k, _)| !NON_FILTERS.contains(&k.as_str()));
    let mut page = vec![];
    for item in items.filter(|t| marker.as_deref().is_none_or(|m| id(t) > m)) {
        if limit.is_some_and(|l| page.len() >= l) {
            break;
        }
        let v = render(item);
        if !filtered || matches(&v, q) {
            page.push(v);
        }
    }
    let full = limit.is_some_and(|l| page.len() == l);
    let fields: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "fields")
        .map(|(_, v)| v.clone())
        .collect();
    let last = page
        .last()
        .and_then(|i| i.get("id"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    if !fields.is_empty() {
        for i in &mut page {
            if let Some(o) = i.as_object_mut() {
                o.retain(|k, _| fields.iter().any(|f| f == k));
            }
        }
    }
    let mut body = json!({collection: page});
    if limit.is_some() {
        body[format!("{collection}_links")] =
            next_links(&app.base, uri, full, last.as_deref(), limit);
    }
    Ok(Json(body))
}

/// Which project a new resource belongs to: the body's (admins only) or the token's.
pub fn owner(auth: &Auth, body: &Value) -> Result<String, ApiError> {
    let asked = body
        .get("project_id")
        .or_else(|| body.get("tenant_id"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    match asked {
        Some(p) if auth.is_admin || auth.project_id.as_deref() == Some(p.as_str()) => Ok(p),
        Some(_) => Err(CloudError::Forbidden(
            "Only admin can specify a project other than its own.".into(),
        )
        .into()),
        None => Ok(auth.project()?.to_owned()),
    }
}

/// May `auth` see a resource of `project` (shared: visible to all)?
pub fn visible(auth: &Auth, project: &str, shared: bool) -> bool {
    shared || auth.is_admin || auth.project_id.as_deref() == Some(project)
}
