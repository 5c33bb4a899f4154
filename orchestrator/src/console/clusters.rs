//! Clusters: list (search, pagination), register (the API's connection check decides),
//! detail with sync, resource counts, edit, password rotation and delete
//! ([`detail`]), and the synced resources per kind ([`resources`]).

pub mod detail;
pub mod live;
pub mod resources;
pub mod storage;

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{self, Nav};
use super::session::Session;
use super::users::{paging, visible_groups};
use super::widgets::{self, FieldAttrs, non_empty};
use crate::api::clusters::{ClusterQuery, ClusterView};
use crate::api::extract::Params;
use crate::domain::cluster::ResourceKind;
use crate::domain::rbac::{self, Action, Menu, Owner, Role};
use crate::state::AppState;

/// Filters of the cluster list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Search text (name).
    pub q: Option<String>,
    /// Items skipped.
    pub offset: Option<String>,
    /// Page size.
    pub limit: Option<String>,
}

/// Group names by id, for the groups the user may see (others show their id).
pub async fn group_names(state: &AppState, s: &Session) -> BTreeMap<String, String> {
    visible_groups(state, s)
        .await
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect()
}

/// The status badge: Active / Inactive (with the reason as its title).
pub fn status_badge(lang: Lang, c: &ClusterView) -> Markup {
    let (class, label) = if c.status == "active" {
        ("badge sev-info", lang.t("clusters.active"))
    } else {
        ("badge sev-error", lang.t("clusters.inactive"))
    };
    html! { span class=(class) data-role="cluster-status" title=[c.status_reason.as_deref()] { (label) } }
}

/// The sync status badge: INIT / Running / Done, plus the last error.
pub fn sync_badge(lang: Lang, c: &ClusterView) -> Markup {
    let (class, label) = match c.sync_status.as_str() {
        "Running" => ("badge sev-warning", lang.t("clusters.sync_running")),
        "Done" if c.sync_error.is_some() => ("badge sev-error", lang.t("clusters.sync_failed")),
        "Done" => ("badge sev-info", lang.t("clusters.sync_done")),
        _ => ("badge", lang.t("clusters.sync_init")),
    };
    html! {
        span class=(class) data-role="sync-status" data-value=(c.sync_status) { (label) }
        @if let Some(e) = &c.sync_error {
            " " span .sync-error data-role="sync-error" { (e) }
        }
    }
}

/// The last sync's time, or "never".
pub fn last_sync_cell(lang: Lang, c: &ClusterView) -> Markup {
    html! {
        @match &c.sync_finished_at {
            Some(t) => (widgets::time_text(t)),
            None => span .hint { (lang.t("clusters.never")) },
        }
    }
}

/// The label of a resource kind.
pub fn kind_label(lang: Lang, k: ResourceKind) -> &'static str {
    match k {
        ResourceKind::Hypervisor => lang.t("kinds.hypervisors"),
        ResourceKind::AvailabilityZone => lang.t("kinds.availability_zones"),
        ResourceKind::Project => lang.t("kinds.projects"),
        ResourceKind::Network => lang.t("kinds.networks"),
        ResourceKind::Subnet => lang.t("kinds.subnets"),
        ResourceKind::Router => lang.t("kinds.routers"),
        ResourceKind::Port => lang.t("kinds.ports"),
        ResourceKind::FloatingIp => lang.t("kinds.floating_ips"),
        ResourceKind::SecurityGroup => lang.t("kinds.security_groups"),
        ResourceKind::SecurityGroupRule => lang.t("kinds.security_group_rules"),
        ResourceKind::Instance => lang.t("kinds.instances"),
        ResourceKind::Volume => lang.t("kinds.volumes"),
        ResourceKind::VolumeType => lang.t("kinds.volume_types"),
        ResourceKind::VolumeGroup => lang.t("kinds.volume_groups"),
        ResourceKind::VolumeSnapshot => lang.t("kinds.volume_snapshots"),
        ResourceKind::Keypair => lang.t("kinds.keypairs"),
        ResourceKind::Flavor => lang.t("kinds.flavors"),
    }
}

/// `GET /console/clusters`.
pub async fn list(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = s.lang;
    let (limit, offset) = paging(q.limit.as_deref(), q.offset.as_deref());
    let search = non_empty(q.q);
    let page = match crate::api::clusters::list(
        State(state.clone()),
        s.auth.clone(),
        Params(ClusterQuery {
            q: search.clone(),
            limit: Some(limit),
            offset: Some(offset),
        }),
    )
    .await
    {
        Ok(Json(p)) => p,
        Err(e) => return layout::error(&s, Nav::Clusters, e),
    };
    let names = group_names(&state, &s).await;
    let actions = html! {
        @if s.may(Menu::Clusters, Action::Create) {
            a .button href="/console/clusters/new" { (lang.t("clusters.new")) }
        }
    };
    let filter_fields = html! {
        div .field {
            label for="f-q" { (lang.t("clusters.search")) }
            input #f-q type="search" name="q" value=[search.as_deref()];
        }
    };
    let rows = html! {
        @for c in &page.items {
            tr data-cluster=(c.name) data-live-key=(c.id) {
                td { a href=(format!("/console/clusters/{}", c.id)) { (c.name) } }
                td { (names.get(&c.owner_group_id).unwrap_or(&c.owner_group_id)) }
                td data-live-cell="status" { (status_badge(lang, c)) }
                td data-live-cell="sync" { (sync_badge(lang, c)) }
                td data-live-cell="last_sync" { (last_sync_cell(lang, c)) }
            }
        }
    };
    let columns = [
        lang.t("clusters.name"),
        lang.t("clusters.owner_group"),
        lang.t("clusters.status"),
        lang.t("clusters.sync_status"),
        lang.t("clusters.last_sync"),
    ];
    let pairs = [("q", search.unwrap_or_default())];
    // The statuses follow the server's stream (`live`) for this very page of the list.
    let mut stream_pairs = pairs.to_vec();
    stream_pairs.push(("offset", offset.to_string()));
    stream_pairs.push(("limit", limit.to_string()));
    let stream = widgets::url_with("/console/clusters/stream", &stream_pairs);
    let title = lang.t("clusters.title");
    let body = widgets::list_page(
        lang,
        widgets::ListPage {
            path: "/console/clusters",
            title,
            actions,
            filters: Some(filter_fields),
            table: html! {
                div #clusters-live data-live-rows=(stream) {
                    (widgets::table(lang, "clusters-table", title, &columns, rows, page.items.is_empty()))
                }
            },
            paging: Some(widgets::Paging {
                pairs: &pairs,
                total: page.total,
                limit,
                offset,
            }),
            ..widgets::ListPage::default()
        },
    );
    layout::page(&s, title, Nav::Clusters, body)
}

/// The groups `s` may create an item of `menu` for (a cluster, a protection group):
/// Admin any group, others their own.
pub async fn owner_choices(state: &AppState, s: &Session, menu: Menu) -> Vec<(String, String)> {
    let names = group_names(state, s).await;
    let ids: Vec<String> = if s.role() == Role::Admin {
        names.keys().cloned().collect()
    } else {
        s.actor().groups.iter().cloned().collect()
    };
    ids.into_iter()
        .filter(|id| {
            rbac::decide(
                s.actor(),
                menu,
                Action::Create,
                Owner::Groups(std::slice::from_ref(id)),
            )
            .is_ok()
        })
        .map(|id| {
            let name = names.get(&id).cloned().unwrap_or_else(|| id.clone());
            (id, name)
        })
        .collect()
}

/// `GET /console/clusters/new`.
pub async fn new(State(state): State<AppState>, s: Session) -> Response {
    let lang = s.lang;
    if let Err(e) = rbac::decide(s.actor(), Menu::Clusters, Action::Create, Owner::System) {
        return layout::error(&s, Nav::Clusters, e.into());
    }
    let owners = owner_choices(&state, &s, Menu::Clusters).await;
    let text = |id, label, name, required, hint| {
        widgets::text_field(
            id,
            label,
            name,
            "",
            FieldAttrs {
                required,
                autocomplete: Some("off"),
                hint,
                data_empty: (!required).then_some("omit"),
                ..FieldAttrs::default()
            },
        )
    };
    let body = html! {
        (widgets::page_header(lang.t("clusters.new"), html! {}))
        form .card #cluster-form data-api="POST /api/v1/clusters" data-success="redirect:/console/clusters/{id}"
            data-confirm=(lang.t("clusters.register_confirm")) data-toast=(lang.t("clusters.registered")) novalidate {
            p .hint { (lang.t("clusters.register_hint")) }
            (widgets::text_field("c-name", lang.t("clusters.name"), "name", "", FieldAttrs {
                required: true, maxlength: Some(255), autocomplete: Some("off"), hint: Some(lang.t("clusters.name_hint")), ..FieldAttrs::default()
            }))
            div .field {
                label for="c-owner" { (lang.t("clusters.owner_group")) }
                select #c-owner name="owner_group_id" required {
                    @for (id, name) in &owners { option value=(id) { (name) } }
                }
                @if owners.is_empty() { p .hint { (lang.t("clusters.no_groups")) } }
            }
            input type="hidden" name="platform" value="openstack";
            (text("c-auth-url", lang.t("clusters.auth_url"), "auth_url", true, Some(lang.t("clusters.auth_url_hint"))))
            fieldset {
                legend { (lang.t("clusters.credential")) }
                (text("c-username", lang.t("clusters.username"), "credential.username", true, None))
                (widgets::text_field("c-password", lang.t("clusters.password"), "credential.password", "", FieldAttrs {
                    kind: "password", required: true, autocomplete: Some("new-password"), ..FieldAttrs::default()
                }))
                (widgets::text_field("c-user-domain", lang.t("clusters.user_domain"), "credential.user_domain", "Default", FieldAttrs {
                    required: true, ..FieldAttrs::default()
                }))
                (text("c-project", lang.t("clusters.project"), "credential.project", true, None))
                (widgets::text_field("c-project-domain", lang.t("clusters.project_domain"), "credential.project_domain", "Default", FieldAttrs {
                    required: true, ..FieldAttrs::default()
                }))
            }
            div .field {
                label for="c-description" { (lang.t("clusters.description")) }
                textarea #c-description name="description" maxlength="1024" rows="2" {}
            }
            fieldset {
                legend { (lang.t("clusters.notifications")) }
                (text("c-broker", lang.t("clusters.broker_url"), "notification_broker_url", false, Some(lang.t("clusters.broker_hint"))))
                (widgets::text_field("c-exchanges", lang.t("clusters.exchanges"), "notification_exchanges", "", FieldAttrs {
                    data_type: Some("lines"), data_empty: Some("omit"), hint: Some(lang.t("clusters.exchanges_hint")), ..FieldAttrs::default()
                }))
            }
            (storage::storage_fields(lang, "register", &[]))
            (widgets::form_error())
            div .form-buttons {
                button type="submit" { (lang.t("clusters.register")) }
                a .button.secondary href="/console/clusters" { (lang.t("form.cancel")) }
            }
        }
    };
    layout::page(&s, lang.t("clusters.new"), Nav::Clusters, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn cluster(status: &str, sync: &str, error: Option<&str>) -> ClusterView {
        ClusterView {
            id: "c".into(),
            name: "n".into(),
            description: String::new(),
            owner_group_id: "g".into(),
            platform: "openstack".into(),
            auth_url: String::new(),
            username: String::new(),
            user_domain: String::new(),
            project: String::new(),
            project_domain: String::new(),
            notification_broker: None,
            notification_exchanges: Vec::new(),
            notifications: "not_configured".into(),
            storage: Vec::new(),
            status: status.into(),
            status_reason: (status == "inactive").then(|| "Keystone is not reachable".into()),
            status_changed_at: String::new(),
            sync_status: sync.into(),
            sync_started_at: None,
            sync_finished_at: None,
            sync_error: error.map(Into::into),
            resource_counts: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn badges_show_status_sync_state_and_the_last_error() {
        let c = cluster("inactive", "Done", Some("keystone <timeout>"));
        let s = status_badge(Lang::En, &c).into_string();
        assert!(
            s.contains("Inactive") && s.contains("title=\"Keystone is not reachable\""),
            "{s}"
        );
        let s = sync_badge(Lang::En, &c).into_string();
        assert!(
            s.contains("Done (failed)") && s.contains("keystone &lt;timeout&gt;"),
            "{s}"
        );
        let s = sync_badge(Lang::Ko, &cluster("active", "Running", None)).into_string();
        assert!(s.contains("동기화 중") && !s.contains("sync-error"), "{s}");
        let s = sync_badge(Lang::En, &cluster("active", "INIT", None)).into_string();
        assert!(s.contains("data-value=\"INIT\""), "{s}");
        assert!(
            status_badge(Lang::Ko, &cluster("active", "Done", None))
                .into_string()
                .contains("활성")
        );
    }

    #[test]
    fn every_resource_kind_has_a_label_in_both_languages() {
        for k in ResourceKind::ALL {
            for lang in Lang::ALL {
                let l = kind_label(lang, k);
                assert!(
                    !l.is_empty() && !l.starts_with("kinds."),
                    "{k:?} {lang:?}: {l}"
                );
            }
        }
    }
}
