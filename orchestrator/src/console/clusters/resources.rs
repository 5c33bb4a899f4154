//! A cluster's synced resources of one kind: search, filters (status, project, host,
//! zone, deleted ones too) and pagination, through the API's resource list.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::super::layout::{self, Nav};
use super::super::session::Session;
use super::super::users::paging;
use super::super::widgets::{self, non_empty};
use super::kind_label;
use crate::api::clusters::resources::ResourceQuery;
use crate::api::extract::Params;
use crate::domain::cluster::ResourceKind;
use crate::state::AppState;

/// Filters of a resource list, as the filter form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Search text (name or id).
    pub q: Option<String>,
    /// Status (exact).
    pub status: Option<String>,
    /// Project id.
    pub project_id: Option<String>,
    /// Host (exact).
    pub host: Option<String>,
    /// Availability zone.
    pub zone: Option<String>,
    /// `on` to include resources gone from the cloud.
    pub deleted: Option<String>,
    /// Items skipped.
    pub offset: Option<String>,
    /// Page size.
    pub limit: Option<String>,
}

/// `GET /console/clusters/{id}/resources/{kind}`.
pub async fn list(
    State(state): State<AppState>,
    s: Session,
    Path((id, kind)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = s.lang;
    let cluster =
        match crate::api::clusters::get(State(state.clone()), s.auth.clone(), Path(id.clone()))
            .await
        {
            Ok(Json(c)) => c,
            Err(e) => return layout::error(&s, Nav::Clusters, e),
        };
    let (limit, offset) = paging(q.limit.as_deref(), q.offset.as_deref());
    let search = non_empty(q.q);
    let status = non_empty(q.status);
    let project = non_empty(q.project_id);
    let host = non_empty(q.host);
    let zone = non_empty(q.zone);
    let deleted = non_empty(q.deleted).is_some();
    let page = match crate::api::clusters::resources::list(
        State(state.clone()),
        s.auth.clone(),
        Path((id.clone(), kind.clone())),
        Params(ResourceQuery {
            project_id: project.clone(),
            status: status.clone(),
            host: host.clone(),
            zone: zone.clone(),
            parent_id: None,
            q: search.clone(),
            include_deleted: deleted,
            documents: false,
            limit: Some(limit),
            offset: Some(offset),
        }),
    )
    .await
    {
        Ok(Json(p)) => p,
        Err(e) => return layout::error(&s, Nav::Clusters, e),
    };
    let path = format!("/console/clusters/{id}/resources/{kind}");
    let kind_name = ResourceKind::parse(&kind).map_or(kind.as_str(), |k| kind_label(lang, k));
    let title = format!("{} · {kind_name}", cluster.name);
    let filter_fields = html! {
        div .field {
            label for="f-q" { (lang.t("resources.search")) }
            input #f-q type="search" name="q" value=[search.as_deref()];
        }
        div .field {
            label for="f-status" { (lang.t("resources.status")) }
            input #f-status type="text" name="status" value=[status.as_deref()];
        }
        div .field {
            label for="f-project" { (lang.t("resources.project")) }
            input #f-project type="text" name="project_id" value=[project.as_deref()];
        }
        div .field {
            label for="f-host" { (lang.t("resources.host")) }
            input #f-host type="text" name="host" value=[host.as_deref()];
        }
        div .field {
            label for="f-zone" { (lang.t("resources.zone")) }
            input #f-zone type="text" name="zone" value=[zone.as_deref()];
        }
        div .field {
            label .check {
                input #f-deleted type="checkbox" name="deleted" value="on" checked[deleted];
                " " (lang.t("resources.include_deleted"))
            }
        }
    };
    let rows = html! {
        @for r in &page.items {
            tr data-resource=(r.id) .deleted[r.deleted_at.is_some()] {
                td { span data-role="name" { (r.name) } br; code .hint { (r.id) } }
                td { (r.status.as_deref().unwrap_or("")) }
                td { code { (r.project_id.as_deref().unwrap_or("")) } }
                td { (r.host.as_deref().unwrap_or("")) }
                td { (r.zone.as_deref().unwrap_or("")) }
                td { (widgets::time_text(&r.updated_at)) }
                td {
                    @if let Some(d) = &r.deleted_at { span .badge.sev-warning { (lang.t("resources.deleted")) } " " (widgets::time_text(d)) }
                }
            }
        }
    };
    let columns = [
        lang.t("resources.name"),
        lang.t("resources.status"),
        lang.t("resources.project"),
        lang.t("resources.host"),
        lang.t("resources.zone"),
        lang.t("resources.updated_at"),
        lang.t("resources.deleted"),
    ];
    let pairs = [
        ("q", search.unwrap_or_default()),
        ("status", status.unwrap_or_default()),
        ("project_id", project.unwrap_or_default()),
        ("host", host.unwrap_or_default()),
        ("zone", zone.unwrap_or_default()),
        (
            "deleted",
            if deleted {
                "on".to_owned()
            } else {
                String::new()
            },
        ),
    ];
    let back = format!("/console/clusters/{id}");
    let body = widgets::list_page(
        lang,
        widgets::ListPage {
            path: &path,
            title: &title,
            actions: html! { a .button.secondary href=(back) { (lang.t("resources.back")) } },
            intro: html! {
                nav .kinds aria-label=(lang.t("clusters.kind")) {
                    @for k in ResourceKind::ALL {
                        a href=(format!("/console/clusters/{id}/resources/{}", k.as_str()))
                            aria-current=[(k.as_str() == kind).then_some("page")] { (kind_label(lang, k)) } " "
                    }
                }
            },
            filters: Some(filter_fields),
            table: widgets::table(
                lang,
                "resources-table",
                &title,
                &columns,
                rows,
                page.items.is_empty(),
            ),
            paging: Some(widgets::Paging {
                pairs: &pairs,
                total: page.total,
                limit,
                offset,
            }),
        },
    );
    layout::page(&s, &title, Nav::Clusters, body)
}
