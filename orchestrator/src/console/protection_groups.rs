//! Protection groups: list (search, cluster filter, pagination), create (source cluster
//! → project → its unprotected instances, RPO/RTO/snapshot interval, owner group), and
//! the detail with edit and delete ([`detail`]). Every change is the API's, whose
//! refusals (an instance in another group, mixed projects, the licence limit, a shared
//! volume) appear in the form.

pub mod detail;
pub mod history;
pub mod snapshots;

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::clusters::{group_names, owner_choices};
use super::i18n::Lang;
use super::layout::{self, Nav};
use super::session::Session;
use super::users::paging;
use super::widgets::{self, FieldAttrs, non_empty};
use crate::api::clusters::resources::{ResourceQuery, ResourceView};
use crate::api::clusters::{ClusterQuery, ClusterView};
use crate::api::error::ApiError;
use crate::api::extract::Params;
use crate::api::page::MAX_LIMIT;
use crate::api::protection_groups::ProtectionGroupQuery;
use crate::domain::rbac::{self, Action, Menu, Owner};
use crate::domain::schedule::Recurrence;
use crate::state::AppState;

/// Filters of the group list and the steps of the create form.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Search text (name).
    pub q: Option<String>,
    /// Source cluster id.
    pub cluster: Option<String>,
    /// Source project id (create form).
    pub project: Option<String>,
    /// Items skipped.
    pub offset: Option<String>,
    /// Page size.
    pub limit: Option<String>,
}

/// The clusters the user may see, by id (at most one API page: `MAX_LIMIT`).
pub async fn clusters(state: &AppState, s: &Session) -> Result<Vec<ClusterView>, ApiError> {
    let Json(page) = crate::api::clusters::list(
        State(state.clone()),
        s.auth.clone(),
        Params(ClusterQuery {
            q: None,
            limit: Some(MAX_LIMIT),
            offset: None,
        }),
    )
    .await?;
    Ok(page.items)
}

/// Cluster names by id (others show their id).
pub fn cluster_names(clusters: &[ClusterView]) -> BTreeMap<String, String> {
    clusters
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect()
}

/// A cluster's synced resources of one kind through the resource API (first
/// `MAX_LIMIT`), optionally of one project and with their documents.
pub async fn resources(
    state: &AppState,
    s: &Session,
    cluster_id: &str,
    kind: &str,
    project_id: Option<&str>,
    documents: bool,
) -> Result<Vec<ResourceView>, ApiError> {
    let Json(page) = crate::api::clusters::resources::list(
        State(state.clone()),
        s.auth.clone(),
        Path((cluster_id.to_owned(), kind.to_owned())),
        Params(resource_query(project_id, documents)),
    )
    .await?;
    Ok(page.items)
}

fn resource_query(project_id: Option<&str>, documents: bool) -> ResourceQuery {
    ResourceQuery {
        project_id: project_id.map(ToOwned::to_owned),
        status: None,
        host: None,
        zone: None,
        parent_id: None,
        q: None,
        include_deleted: false,
        documents,
        limit: Some(MAX_LIMIT),
        offset: None,
    }
}

/// The live instances of a cluster's project that no group protects.
pub async fn unprotected(
    state: &AppState,
    s: &Session,
    cluster_id: &str,
    project_id: &str,
) -> Result<Vec<ResourceView>, ApiError> {
    let Json(page) = crate::api::clusters::resources::unprotected_instances(
        State(state.clone()),
        s.auth.clone(),
        Path(cluster_id.to_owned()),
        Params(resource_query(Some(project_id), false)),
    )
    .await?;
    Ok(page.items)
}

/// The units of a snapshot interval the form offers (protection.md: every N minutes /
/// hours / weeks / months).
const UNITS: [(&str, &str); 4] = [
    ("every_minutes", "pgroups.unit_minutes"),
    ("every_hours", "pgroups.unit_hours"),
    ("every_weeks", "pgroups.unit_weeks"),
    ("every_months", "pgroups.unit_months"),
];

/// `every_hours` and N of an interval the form can show.
fn interval_parts(r: &Recurrence) -> Option<(&'static str, u32)> {
    match *r {
        Recurrence::EveryMinutes { n } => Some(("every_minutes", n)),
        Recurrence::EveryHours { n } => Some(("every_hours", n)),
        Recurrence::EveryWeeks { n } => Some(("every_weeks", n)),
        Recurrence::EveryMonths { n } => Some(("every_months", n)),
        _ => None,
    }
}

/// "every 15 minutes" (other recurrences as their JSON).
pub fn interval_text(lang: Lang, r: &Recurrence) -> String {
    match interval_parts(r) {
        Some((kind, n)) => {
            let unit = UNITS
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(kind, |(_, label)| lang.t(label));
            lang.f("pgroups.every", &[("n", &n.to_string()), ("unit", unit)])
        }
        None => serde_json::to_string(r).unwrap_or_default(),
    }
}

/// RPO, RTO and snapshot interval fields (`current`: the group's values when editing).
pub fn objectives_fields(lang: Lang, current: Option<(i64, i64, &Recurrence)>) -> Markup {
    let (rpo, rto) = current.map_or((String::new(), String::new()), |(a, b, _)| {
        (a.to_string(), b.to_string())
    });
    let (unit, n) = current
        .and_then(|(_, _, r)| interval_parts(r))
        .unwrap_or(("every_hours", 1));
    let number = |id, label, name, value: &str, hint| {
        widgets::text_field(
            id,
            label,
            name,
            value,
            FieldAttrs {
                kind: "number",
                required: true,
                data_type: Some("number"),
                hint: Some(hint),
                ..FieldAttrs::default()
            },
        )
    };
    html! {
        div .columns {
            (number("g-rpo", lang.t("pgroups.rpo"), "rpo_minutes", &rpo, lang.t("pgroups.minutes_hint")))
            (number("g-rto", lang.t("pgroups.rto"), "rto_minutes", &rto, lang.t("pgroups.minutes_hint")))
        }
        fieldset {
            legend { (lang.t("pgroups.interval")) }
            div .columns {
                (number("g-interval-n", lang.t("pgroups.interval_n"), "snapshot_interval.n", &n.to_string(), lang.t("pgroups.interval_hint")))
                div .field {
                    label for="g-interval-unit" { (lang.t("pgroups.interval_unit")) }
                    select #g-interval-unit name="snapshot_interval.kind" {
                        @for (k, label) in UNITS {
                            option value=(k) selected[k == unit] { (lang.t(label)) }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /console/protection-groups`.
pub async fn list(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = s.lang;
    let (limit, offset) = paging(q.limit.as_deref(), q.offset.as_deref());
    let search = non_empty(q.q);
    let cluster = non_empty(q.cluster);
    let page = match crate::api::protection_groups::list(
        State(state.clone()),
        s.auth.clone(),
        Params(ProtectionGroupQuery {
            cluster_id: cluster.clone(),
            q: search.clone(),
            limit: Some(limit),
            offset: Some(offset),
        }),
    )
    .await
    {
        Ok(Json(p)) => p,
        Err(e) => return layout::error(&s, Nav::ProtectionGroups, e),
    };
    let all_clusters = clusters(&state, &s).await.unwrap_or_default();
    let cnames = cluster_names(&all_clusters);
    let gnames = group_names(&state, &s).await;
    let actions = html! {
        @if s.may(Menu::ProtectionGroups, Action::Create) {
            a .button href="/console/protection-groups/new" { (lang.t("pgroups.new")) }
        }
    };
    let filter_fields = html! {
        div .field {
            label for="f-q" { (lang.t("pgroups.search")) }
            input #f-q type="search" name="q" value=[search.as_deref()];
        }
        div .field {
            label for="f-cluster" { (lang.t("pgroups.source_cluster")) }
            select #f-cluster name="cluster" {
                option value="" { (lang.t("pgroups.any_cluster")) }
                @for c in &all_clusters {
                    option value=(c.id) selected[cluster.as_deref() == Some(c.id.as_str())] { (c.name) }
                }
            }
        }
    };
    let rows = html! {
        @for g in &page.items {
            tr data-group=(g.name) {
                td { a href=(format!("/console/protection-groups/{}", g.id)) { (g.name) } }
                td { (cnames.get(&g.source_cluster_id).unwrap_or(&g.source_cluster_id)) }
                td { (gnames.get(&g.owner_group_id).unwrap_or(&g.owner_group_id)) }
                td .num { (g.instances.len()) }
                td { (g.rpo_minutes) " / " (g.rto_minutes) }
                td { (interval_text(lang, &g.snapshot_interval)) }
                td {
                    @match &g.plan_id {
                        Some(p) => a href=(format!("/console/plans/{p}")) data-role="plan-link" { (lang.t("pgroups.plan_open")) },
                        None => span .hint { (lang.t("pgroups.no_plan")) },
                    }
                }
            }
        }
    };
    let columns = [
        lang.t("pgroups.name"),
        lang.t("pgroups.source_cluster"),
        lang.t("pgroups.owner_group"),
        lang.t("pgroups.instances"),
        lang.t("pgroups.rpo_rto"),
        lang.t("pgroups.interval"),
        lang.t("pgroups.plan"),
    ];
    let pairs = [
        ("q", search.unwrap_or_default()),
        ("cluster", cluster.unwrap_or_default()),
    ];
    let title = lang.t("pgroups.title");
    let body = widgets::list_page(
        lang,
        widgets::ListPage {
            path: "/console/protection-groups",
            title,
            actions,
            filters: Some(filter_fields),
            table: widgets::table(
                lang,
                "pgroups-table",
                title,
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
            ..widgets::ListPage::default()
        },
    );
    layout::page(&s, title, Nav::ProtectionGroups, body)
}

/// `GET /console/protection-groups/new[?cluster=..&project=..]`: the source cluster
/// and project are chosen first (a GET form), then the project's unprotected
/// instances are offered.
pub async fn new(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = s.lang;
    if let Err(e) = rbac::decide(
        s.actor(),
        Menu::ProtectionGroups,
        Action::Create,
        Owner::System,
    ) {
        return layout::error(&s, Nav::ProtectionGroups, e.into());
    }
    let all_clusters = match clusters(&state, &s).await {
        Ok(c) => c,
        Err(e) => return layout::error(&s, Nav::ProtectionGroups, e),
    };
    let cluster = non_empty(q.cluster).filter(|c| all_clusters.iter().any(|x| &x.id == c));
    let projects = match &cluster {
        Some(c) => match resources(&state, &s, c, "projects", None, false).await {
            Ok(p) => p,
            Err(e) => return layout::error(&s, Nav::ProtectionGroups, e),
        },
        None => Vec::new(),
    };
    let project = non_empty(q.project).filter(|p| projects.iter().any(|x| &x.id == p));
    let instances = match (&cluster, &project) {
        (Some(c), Some(p)) => match unprotected(&state, &s, c, p).await {
            Ok(i) => i,
            Err(e) => return layout::error(&s, Nav::ProtectionGroups, e),
        },
        _ => Vec::new(),
    };
    let owners = owner_choices(&state, &s, Menu::ProtectionGroups).await;
    let source = html! {
        form .card #source-form method="get" action="/console/protection-groups/new" {
            h2 { (lang.t("pgroups.step_source")) }
            div .columns {
                div .field {
                    label for="g-cluster" { (lang.t("pgroups.source_cluster")) }
                    select #g-cluster name="cluster" required {
                        option value="" { (lang.t("pgroups.choose")) }
                        @for c in &all_clusters {
                            option value=(c.id) selected[cluster.as_deref() == Some(c.id.as_str())] { (c.name) }
                        }
                    }
                }
                @if cluster.is_some() {
                    div .field {
                        label for="g-project" { (lang.t("pgroups.project")) }
                        select #g-project name="project" required {
                            option value="" { (lang.t("pgroups.choose")) }
                            @for p in &projects {
                                option value=(p.id) selected[project.as_deref() == Some(p.id.as_str())] { (p.name) }
                            }
                        }
                    }
                }
            }
            @if all_clusters.is_empty() { p .hint { (lang.t("pgroups.no_clusters")) } }
            div .form-buttons {
                button type="submit" .secondary {
                    @if cluster.is_some() { (lang.t("pgroups.show_instances")) } @else { (lang.t("pgroups.show_projects")) }
                }
            }
        }
    };
    let form = match (&cluster, &project) {
        (Some(c), Some(_)) => html! {
            form .card #pgroup-form data-api="POST /api/v1/protection-groups" data-arrays="instances"
                data-success="redirect:/console/protection-groups/{id}" data-toast=(lang.t("pgroups.created")) novalidate {
                h2 { (lang.t("pgroups.step_details")) }
                input type="hidden" name="source_cluster_id" value=(c);
                (widgets::text_field("g-name", lang.t("pgroups.name"), "name", "", FieldAttrs {
                    required: true, maxlength: Some(255), autocomplete: Some("off"), hint: Some(lang.t("clusters.name_hint")), ..FieldAttrs::default()
                }))
                div .field {
                    label for="g-description" { (lang.t("pgroups.description")) }
                    textarea #g-description name="description" maxlength="1024" rows="2" {}
                }
                div .field {
                    label for="g-owner" { (lang.t("pgroups.owner_group")) }
                    select #g-owner name="owner_group_id" required {
                        @for (id, name) in &owners { option value=(id) { (name) } }
                    }
                    @if owners.is_empty() { p .hint { (lang.t("clusters.no_groups")) } }
                }
                (instance_checks(lang, &instances, &[]))
                (objectives_fields(lang, None))
                (widgets::form_error())
                div .form-buttons {
                    button type="submit" { (lang.t("pgroups.create")) }
                    a .button.secondary href="/console/protection-groups" { (lang.t("form.cancel")) }
                }
            }
        },
        _ => html! {},
    };
    let body = html! {
        (widgets::page_header(lang.t("pgroups.new"), html! {}))
        (source)
        (form)
    };
    layout::page(&s, lang.t("pgroups.new"), Nav::ProtectionGroups, body)
}

/// Check boxes of instances: `current` (checked) then the unprotected ones.
pub fn instance_checks(
    lang: Lang,
    unprotected: &[ResourceView],
    current: &[(String, String)],
) -> Markup {
    html! {
        fieldset .checks #g-instances {
            legend { (lang.t("pgroups.instances")) }
            @for (id, name) in current {
                label .check {
                    input type="checkbox" name="instances" value=(id) data-type="array" checked;
                    (name) " " span .hint { (id) }
                }
            }
            @for i in unprotected {
                label .check {
                    input type="checkbox" name="instances" value=(i.id) data-type="array";
                    (i.name) " " span .hint { (i.id) }
                    @if let Some(st) = &i.status { " " span .badge { (st) } }
                }
            }
            @if unprotected.is_empty() && current.is_empty() {
                p .hint { (lang.t("pgroups.no_unprotected")) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_in_both_languages() {
        let r = Recurrence::EveryMinutes { n: 15 };
        assert_eq!(interval_text(Lang::En, &r), "every 15 minutes");
        assert_eq!(interval_text(Lang::Ko, &r), "15분마다");
        assert_eq!(
            interval_text(Lang::En, &Recurrence::EveryMonths { n: 2 }),
            "every 2 months"
        );
        let f = objectives_fields(Lang::En, Some((30, 60, &Recurrence::EveryWeeks { n: 3 })))
            .into_string();
        assert!(f.contains(r#"value="every_weeks" selected"#), "{f}");
        assert!(
            f.contains(r#"name="snapshot_interval.n" type="number" value="3""#),
            "{f}"
        );
        assert!(
            f.contains(r#"name="rpo_minutes" type="number" value="30""#),
            "{f}"
        );
    }
}
