//! Keystone v3 resource shapes.

use serde_json::{Value, json};

use crate::model::identity::{Domain, Project, Role, User};

pub fn project(p: &Project, base: &str) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "description": p.description,
        "enabled": p.enabled,
        "is_domain": false,
        "parent_id": p.domain_id,
        "tags": p.tags,
        "options": {},
        "links": {"self": format!("{base}/v3/projects/{}", p.id)},
    })
}

pub fn user(u: &User, base: &str) -> Value {
    let mut v = json!({
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled,
        "password_expires_at": null,
        "options": {},
        "links": {"self": format!("{base}/v3/users/{}", u.id)},
    });
    if let Some(e) = &u.email {
        v["email"] = json!(e);
    }
    if !u.description.is_empty() {
        v["description"] = json!(u.description);
    }
    if let Some(p) = &u.default_project_id {
        v["default_project_id"] = json!(p);
    }
    v
}

pub fn role(r: &Role, base: &str) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "domain_id": null,
        "description": null,
        "options": {},
        "links": {"self": format!("{base}/v3/roles/{}", r.id)},
    })
}

pub fn domain(d: &Domain, base: &str) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "enabled": d.enabled,
        "tags": [],
        "options": {},
        "links": {"self": format!("{base}/v3/domains/{}", d.id)},
    })
}
