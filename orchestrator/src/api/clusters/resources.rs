//! `/api/v1/clusters/{id}/resources/{kind}`: the synced copy of a cluster's resources,
//! visible to whoever may read the cluster.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::authorised;
use crate::api::auth::Auth;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::Params;
use crate::api::page::{Page, PageRequest};
use crate::api::time_text;
use crate::db::resources::{self, ResourceFilter, StoredResource};
use crate::domain::cluster::ResourceKind;
use crate::domain::rbac::Action;
use crate::state::AppState;

/// A synced resource.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResourceView {
    /// The cloud's id.
    pub id: String,
    /// Kind (`instances`, `volumes`, ...).
    pub kind: String,
    /// Name.
    pub name: String,
    /// Owning project.
    pub project_id: Option<String>,
    /// Status as the cloud says it.
    pub status: Option<String>,
    /// Hypervisor host (instances), backend host (volumes), device (ports, floating IPs).
    pub host: Option<String>,
    /// Availability zone.
    pub zone: Option<String>,
    /// Containing resource (network of a subnet or port, group of a rule, volume of a
    /// snapshot, source snapshot of a volume, domain of a project).
    pub parent_id: Option<String>,
    /// First seen (RFC 3339).
    pub first_seen_at: String,
    /// Last changed in the copy (RFC 3339).
    pub updated_at: String,
    /// Gone from the cloud since (RFC 3339); absent while it exists.
    pub deleted_at: Option<String>,
    /// The cloud's document (single view, or lists with `documents=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
}

fn view(r: StoredResource, with_doc: bool) -> ResourceView {
    let document = with_doc.then(|| serde_json::from_str(&r.row.doc_json).unwrap_or(Value::Null));
    ResourceView {
        id: r.row.id,
        kind: r.row.kind.to_owned(),
        name: r.row.name,
        project_id: r.row.project_id,
        status: r.row.status,
        host: r.row.host,
        zone: r.row.zone,
        parent_id: r.row.parent_id,
        first_seen_at: time_text(r.first_seen_at),
        updated_at: time_text(r.updated_at),
        deleted_at: r.deleted_at.map(time_text),
        document,
    }
}

fn kind_of(s: &str) -> ApiResult<ResourceKind> {
    ResourceKind::parse(s).ok_or_else(|| {
        let all: Vec<&str> = ResourceKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::not_found("resource kind", &format!("{s} (kinds: {})", all.join(", ")))
    })
}

/// Filters of a resource list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResourceQuery {
    /// Project id.
    pub project_id: Option<String>,
    /// Status (exact, as the cloud writes it).
    pub status: Option<String>,
    /// Host (exact).
    pub host: Option<String>,
    /// Availability zone.
    pub zone: Option<String>,
    /// Parent id.
    pub parent_id: Option<String>,
    /// Substring of the name, or of the id.
    pub q: Option<String>,
    /// Include resources deleted from the cloud.
    #[serde(default)]
    pub include_deleted: bool,
    /// Include each resource's document.
    #[serde(default)]
    pub documents: bool,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

impl ResourceQuery {
    fn filter(&self) -> ResourceFilter<'_> {
        ResourceFilter {
            project_id: self.project_id.as_deref(),
            status: self.status.as_deref(),
            host: self.host.as_deref(),
            zone: self.zone.as_deref(),
            parent_id: self.parent_id.as_deref(),
            search: self.q.as_deref(),
            include_deleted: self.include_deleted,
            unprotected: false,
        }
    }
}

async fn page_of(
    state: &AppState,
    cluster_id: &str,
    kind: ResourceKind,
    q: &ResourceQuery,
    unprotected: bool,
) -> ApiResult<Page<ResourceView>> {
    let page = PageRequest::new(q.limit, q.offset)?;
    let (rows, total) = {
        let mut conn = state.db.read_conn().await?;
        resources::list(
            &mut conn,
            cluster_id,
            kind.as_str(),
            &ResourceFilter {
                unprotected,
                ..q.filter()
            },
            (page.limit, page.offset),
            q.documents,
        )
        .await?
    };
    let items = rows.into_iter().map(|r| view(r, q.documents)).collect();
    Ok(Page::new(items, total, page))
}

/// Lists a cluster's resources of one kind.
#[utoipa::path(get, path = "/api/v1/clusters/{id}/resources/{kind}", tag = "clusters",
    params(("id" = String, Path, description = "cluster id"),
           ("kind" = String, Path, description = "hypervisors, availability-zones, projects, networks, subnets, routers, ports, floating-ips, security-groups, security-group-rules, instances, volumes, volume-types, volume-groups, volume-snapshots, keypairs, flavors"),
           ResourceQuery),
    responses((status = 200, body = Page<ResourceView>), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, kind)): Path<(String, String)>,
    Params(q): Params<ResourceQuery>,
) -> ApiResult<Json<Page<ResourceView>>> {
    let kind = kind_of(&kind)?;
    authorised(&state, &auth, &id, Action::Read).await?;
    Ok(Json(page_of(&state, &id, kind, &q, false).await?))
}

/// Shows one resource with its document.
#[utoipa::path(get, path = "/api/v1/clusters/{id}/resources/{kind}/{rid}", tag = "clusters",
    params(("id" = String, Path, description = "cluster id"),
           ("kind" = String, Path, description = "resource kind"),
           ("rid" = String, Path, description = "the cloud's id")),
    responses((status = 200, body = ResourceView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, kind, rid)): Path<(String, String, String)>,
) -> ApiResult<Json<ResourceView>> {
    let kind = kind_of(&kind)?;
    authorised(&state, &auth, &id, Action::Read).await?;
    let r = {
        let mut conn = state.db.read_conn().await?;
        resources::get(&mut conn, &id, kind.as_str(), &rid).await?
    }
    .ok_or_else(|| ApiError::not_found(kind.as_str(), &rid))?;
    Ok(Json(view(r, true)))
}

/// Live instances of the cluster that no protection group protects (protection.md,
/// "Unprotected instances"; Admin: every cluster, others: their groups' clusters).
#[utoipa::path(get, path = "/api/v1/clusters/{id}/unprotected-instances", tag = "clusters",
    params(("id" = String, Path, description = "cluster id"), ResourceQuery),
    responses((status = 200, body = Page<ResourceView>), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn unprotected_instances(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Params(mut q): Params<ResourceQuery>,
) -> ApiResult<Json<Page<ResourceView>>> {
    authorised(&state, &auth, &id, Action::Read).await?;
    q.include_deleted = false;
    Ok(Json(
        page_of(&state, &id, ResourceKind::Instance, &q, true).await?,
    ))
}
