//! The plan form, for create (`/console/plans/new?group=..&target=..`) and edit
//! (`/console/plans/{id}/edit?target=..`): info (name, target cluster, retention), boot
//! plan (start or stay stopped, boot group per instance), resource mapping (project
//! name, availability zone, volume types, networks: an existing target network or a
//! copy, floating IP policy, external network) and node mapping (a compute node per
//! instance or any in the zone). What needs a mapping comes from the group's synced
//! source resources, the choices from the synced target cluster, both through the
//! resource API; the API's plan rules decide and their refusal is shown in the form.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use holdfast_openstack::{cinder, neutron, nova};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::super::i18n::Lang;
use super::super::layout::{self, Nav};
use super::super::protection_groups::{clusters, resources};
use super::super::session::Session;
use super::super::widgets::{self, FieldAttrs, non_empty};
use crate::api::error::ApiError;
use crate::api::extract::Params;
use crate::api::page::MAX_LIMIT;
use crate::api::plans::PlanView;
use crate::api::protection_groups::{ProtectionGroupQuery, ProtectionGroupView};
use crate::domain::rbac::{self, Action, Menu, Owner};
use crate::protection::mapping::{FloatingIpChoice, NetworkChoice, PlanMapping};
use crate::state::AppState;

/// The steps of the form.
#[derive(Debug, Default, Deserialize)]
pub struct FormQuery {
    /// Protection group id (create).
    pub group: Option<String>,
    /// Target cluster id.
    pub target: Option<String>,
}

/// What the group's source side needs mapped.
#[derive(Debug, Default)]
pub struct SourceNeeds {
    /// Instances: id → name.
    pub instances: Vec<(String, String)>,
    /// Volume type names of the instances' volumes.
    pub volume_types: BTreeSet<String>,
    /// Networks of the instances' ports: id → name.
    pub networks: BTreeMap<String, String>,
    /// Floating IP addresses → instance name.
    pub floating_ips: BTreeMap<String, String>,
    /// The group's project name.
    pub project_name: String,
}

/// The target's choices.
#[derive(Debug, Default)]
pub struct TargetChoices {
    /// Availability zone names.
    pub zones: Vec<String>,
    /// Compute nodes: host name and zone.
    pub nodes: Vec<(String, String)>,
    /// Internal networks: id, name.
    pub networks: Vec<(String, String)>,
    /// External networks: id, name.
    pub external_networks: Vec<(String, String)>,
    /// Volume type names.
    pub volume_types: Vec<String>,
    /// Flavors: id, name.
    pub flavors: Vec<(String, String)>,
}

fn typed<T: serde::de::DeserializeOwned>(doc: Option<&Value>) -> Option<T> {
    doc.and_then(|d| serde_json::from_value(d.clone()).ok())
}

/// Reads the group's needs from the source cluster's synced resources.
pub async fn source_needs(
    state: &AppState,
    s: &Session,
    g: &ProtectionGroupView,
) -> Result<SourceNeeds, ApiError> {
    let c = &g.source_cluster_id;
    let p = Some(g.project_id.as_str());
    let servers = resources(state, s, c, "instances", p, true).await?;
    let volumes = resources(state, s, c, "volumes", p, true).await?;
    let ports = resources(state, s, c, "ports", None, false).await?;
    let networks = resources(state, s, c, "networks", None, false).await?;
    let fips = resources(state, s, c, "floating-ips", None, false).await?;
    let projects = resources(state, s, c, "projects", None, false).await?;
    let mut needs = SourceNeeds {
        project_name: projects
            .into_iter()
            .find(|x| x.id == g.project_id)
            .map_or_else(|| g.project_id.clone(), |x| x.name),
        ..SourceNeeds::default()
    };
    let net_names: BTreeMap<&str, &str> = networks
        .iter()
        .map(|n| (n.id.as_str(), n.name.as_str()))
        .collect();
    // The documents read back into the client layer's types (as the sync stored them).
    let type_of: BTreeMap<String, String> = volumes
        .iter()
        .filter_map(|v| typed::<cinder::Volume>(v.document.as_ref()))
        .filter_map(|v| Some((v.id, v.volume_type?)))
        .collect();
    for id in &g.instances {
        let server = servers.iter().find(|x| &x.id == id);
        let name = server.map_or_else(|| id.clone(), |x| x.name.clone());
        let attached = server
            .and_then(|x| typed::<nova::Server>(x.document.as_ref()))
            .map(|x| x.volumes_attached)
            .unwrap_or_default();
        for a in attached {
            if let Some(t) = type_of.get(&a.id) {
                needs.volume_types.insert(t.clone());
            }
        }
        for port in ports
            .iter()
            .filter(|x| x.host.as_deref() == Some(id.as_str()))
        {
            if let Some(n) = &port.parent_id {
                let label = net_names.get(n.as_str()).copied().unwrap_or(n.as_str());
                needs.networks.insert(n.clone(), label.to_owned());
            }
            for f in fips
                .iter()
                .filter(|f| f.host.as_deref() == Some(port.id.as_str()))
            {
                needs.floating_ips.insert(f.name.clone(), name.clone());
            }
        }
        needs.instances.push((id.clone(), name));
    }
    Ok(needs)
}

/// Reads the target cluster's choices from its synced resources.
pub async fn target_choices(
    state: &AppState,
    s: &Session,
    target: &str,
) -> Result<TargetChoices, ApiError> {
    let zones = resources(state, s, target, "availability-zones", None, true).await?;
    let hypervisors = resources(state, s, target, "hypervisors", None, false).await?;
    let networks = resources(state, s, target, "networks", None, true).await?;
    let types = resources(state, s, target, "volume-types", None, false).await?;
    let flavors = resources(state, s, target, "flavors", None, false).await?;
    // A node's zone: the zone where it runs nova-compute (an all-in-one node is listed
    // in `internal` too), else the zone whose host list names it, else Nova's `nova`.
    let zone_docs: Vec<nova::AvailabilityZone> = zones
        .iter()
        .filter_map(|z| typed(z.document.as_ref()))
        .collect();
    let zone_of = |host: &str| {
        zone_docs
            .iter()
            .find(|z| z.compute_hosts().contains(&host))
            .or_else(|| {
                zone_docs
                    .iter()
                    .find(|z| z.hosts.as_ref().is_some_and(|h| h.contains_key(host)))
            })
            .map_or_else(|| "nova".to_owned(), |z| z.name.clone())
    };
    let (external, internal): (Vec<_>, Vec<_>) = networks
        .iter()
        .partition(|n| typed::<neutron::Network>(n.document.as_ref()).is_some_and(|x| x.external));
    let pair = |n: &&crate::api::clusters::resources::ResourceView| (n.id.clone(), n.name.clone());
    Ok(TargetChoices {
        zones: zones.iter().map(|z| z.name.clone()).collect(),
        nodes: hypervisors
            .iter()
            .map(|h| {
                let host = h.host.clone().unwrap_or_else(|| h.name.clone());
                (h.name.clone(), zone_of(&host))
            })
            .collect(),
        networks: internal.iter().map(pair).collect(),
        external_networks: external.iter().map(pair).collect(),
        volume_types: types.into_iter().map(|t| t.name).collect(),
        flavors: flavors.into_iter().map(|f| (f.id, f.name)).collect(),
    })
}

/// The mapping fields (`m`: the current mapping when editing, else defaults).
pub fn mapping_fields(
    lang: Lang,
    need: &SourceNeeds,
    t: &TargetChoices,
    m: &PlanMapping,
) -> Markup {
    let project = if m.project_name.is_empty() {
        need.project_name.as_str()
    } else {
        m.project_name.as_str()
    };
    let boot_groups = u32::try_from(need.instances.len().max(1)).unwrap_or(u32::MAX);
    html! {
        fieldset #plan-resources {
            legend { (lang.t("plans.resource_mapping")) }
            div .columns {
                (widgets::text_field("p-project", lang.t("plans.project_name"), "mapping.project_name", project, FieldAttrs {
                    required: true, maxlength: Some(64), hint: Some(lang.t("plans.project_hint")), ..FieldAttrs::default()
                }))
                div .field {
                    label for="p-zone" { (lang.t("plans.zone")) }
                    select #p-zone name="mapping.availability_zone" required {
                        @for z in &t.zones { option value=(z) selected[*z == m.availability_zone] { (z) } }
                        (missing_option(lang, &m.availability_zone, t.zones.contains(&m.availability_zone)))
                    }
                }
                div .field {
                    label for="p-external" { (lang.t("plans.external_network")) }
                    select #p-external name="mapping.external_network" data-empty="omit" {
                        option value="" { (lang.t("plans.external_only")) }
                        @for (id, name) in &t.external_networks {
                            option value=(id) selected[m.external_network.as_deref() == Some(id.as_str())] { (name) }
                        }
                    }
                }
            }
            label .check {
                input type="checkbox" name="mapping.drill_external_access" value="true" data-type="json"
                    checked[m.drill_external_access];
                (lang.t("plans.drill_external"))
            }
            @if t.zones.is_empty() { p .hint data-role="target-not-synced" { (lang.t("plans.target_empty")) } }
        }
        @if !need.volume_types.is_empty() {
            fieldset #plan-volume-types {
                legend { (lang.t("plans.volume_types")) }
                @for (i, src) in need.volume_types.iter().enumerate() {
                    @let id = format!("p-vt-{i}");
                    @let cur = m.volume_types.get(src);
                    div .field {
                        label for=(id) { (lang.f("plans.volume_type_for", &[("type", src)])) }
                        select #(id) name="mapping.volume_types" data-key=(src) required {
                            @for tt in &t.volume_types { option value=(tt) selected[cur == Some(tt)] { (tt) } }
                            @if let Some(c) = cur { (missing_option(lang, c, t.volume_types.contains(c))) }
                        }
                    }
                }
            }
        }
        @if !need.networks.is_empty() {
            fieldset #plan-networks {
                legend { (lang.t("plans.networks")) }
                @for (i, (net, name)) in need.networks.iter().enumerate() {
                    @let id = format!("p-net-{i}");
                    @let cur = m.networks.get(net);
                    div .field {
                        label for=(id) { (lang.f("plans.network_for", &[("network", name)])) }
                        select #(id) name="mapping.networks" data-key=(net) data-type="json" {
                            option value="\"create\"" selected[cur == Some(&NetworkChoice::Create)] { (lang.t("plans.network_create")) }
                            @for (tid, tname) in &t.networks {
                                @let v = serde_json::json!({ "existing": tid }).to_string();
                                option value=(v) selected[cur == Some(&NetworkChoice::Existing(tid.clone()))] {
                                    (lang.f("plans.network_existing", &[("network", tname)]))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !need.floating_ips.is_empty() {
            fieldset #plan-floating-ips {
                legend { (lang.t("plans.floating_ips")) }
                @for (i, (address, instance)) in need.floating_ips.iter().enumerate() {
                    @let id = format!("p-fip-{i}");
                    @let cur = m.floating_ips.get(address).copied();
                    div .field {
                        label for=(id) { (lang.f("plans.floating_ip_for", &[("address", address), ("instance", instance)])) }
                        select #(id) name="mapping.floating_ips" data-key=(address) {
                            @for (v, c, key) in [("keep", FloatingIpChoice::Keep, "plans.fip_keep"), ("another", FloatingIpChoice::Another, "plans.fip_another"), ("none", FloatingIpChoice::None, "plans.fip_none")] {
                                option value=(v) selected[cur == Some(c)] { (lang.t(key)) }
                            }
                        }
                    }
                }
            }
        }
        fieldset #plan-instances {
            legend { (lang.t("plans.boot_and_nodes")) }
            p .hint { (lang.t("plans.boot_hint")) }
            div .table-wrap {
                table .list #plan-instance-table {
                    caption .visually-hidden { (lang.t("plans.boot_and_nodes")) }
                    thead { tr {
                        th scope="col" { (lang.t("plans.instance")) }
                        th scope="col" { (lang.t("plans.boot")) }
                        th scope="col" { (lang.t("plans.node")) }
                        th scope="col" { (lang.t("plans.flavor")) }
                    } }
                    tbody {
                        @for (n, (iid, name)) in need.instances.iter().enumerate() {
                            @let cur = m.instances.get(iid).cloned().unwrap_or_default();
                            @let base = format!("mapping.instances.{iid}");
                            tr data-instance=(name) {
                                th scope="row" {
                                    (name)
                                    input type="hidden" name=(base) value="{}" data-type="json";
                                }
                                td {
                                    label .visually-hidden for=(format!("p-boot-{n}")) { (lang.f("plans.boot_of", &[("instance", name)])) }
                                    select id=(format!("p-boot-{n}")) name=(format!("{base}.start_order")) data-type="number" data-empty="omit" {
                                        option value="" selected[cur.start_order.is_none()] { (lang.t("plans.stay_stopped")) }
                                        @for g in 0..boot_groups {
                                            option value=(g) selected[cur.start_order == Some(g)] {
                                                (lang.f("plans.boot_group", &[("n", &(g + 1).to_string())]))
                                            }
                                        }
                                    }
                                }
                                td {
                                    label .visually-hidden for=(format!("p-node-{n}")) { (lang.f("plans.node_of", &[("instance", name)])) }
                                    select id=(format!("p-node-{n}")) name=(format!("{base}.node")) data-empty="omit" {
                                        option value="" { (lang.t("plans.any_node")) }
                                        @for (host, zone) in &t.nodes {
                                            option value=(host) selected[cur.node.as_deref() == Some(host.as_str())] { (host) " (" (zone) ")" }
                                        }
                                    }
                                }
                                td {
                                    label .visually-hidden for=(format!("p-flavor-{n}")) { (lang.f("plans.flavor_of", &[("instance", name)])) }
                                    select id=(format!("p-flavor-{n}")) name=(format!("{base}.flavor")) data-empty="omit" {
                                        option value="" { (lang.t("plans.same_flavor")) }
                                        @for (fid, fname) in &t.flavors {
                                            option value=(fid) selected[cur.flavor.as_deref() == Some(fid.as_str())] { (fname) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The current value when the target no longer offers it (kept, and marked).
fn missing_option(lang: Lang, value: &str, offered: bool) -> Markup {
    html! {
        @if !offered && !value.is_empty() {
            option value=(value) selected { (value) " — " (lang.t("plans.missing_on_target")) }
        }
    }
}

/// The target cluster chooser (a GET form: the choices below come from it).
fn target_chooser(
    lang: Lang,
    action: &str,
    group: Option<&str>,
    targets: &[(String, String)],
    target: Option<&str>,
) -> Markup {
    html! {
        form .card #plan-target method="get" action=(action) {
            @if let Some(g) = group { input type="hidden" name="group" value=(g); }
            div .field {
                label for="p-target" { (lang.t("plans.target_cluster")) }
                select #p-target name="target" required {
                    option value="" { (lang.t("pgroups.choose")) }
                    @for (id, name) in targets { option value=(id) selected[target == Some(id.as_str())] { (name) } }
                }
                p .hint { (lang.t("plans.target_hint")) }
            }
            div .form-buttons { button type="submit" .secondary { (lang.t("plans.use_target")) } }
        }
    }
}

/// The info fields (name, retention).
fn info_fields(lang: Lang, name: &str, retention: i64) -> Markup {
    html! {
        div .columns {
            (widgets::text_field("p-name", lang.t("plans.name"), "name", name, FieldAttrs {
                required: true, maxlength: Some(255), autocomplete: Some("off"), hint: Some(lang.t("clusters.name_hint")), ..FieldAttrs::default()
            }))
            (widgets::text_field("p-retention", lang.t("plans.retention"), "retention", &retention.to_string(), FieldAttrs {
                kind: "number", required: true, data_type: Some("number"), hint: Some(lang.t("plans.retention_hint")), ..FieldAttrs::default()
            }))
        }
    }
}

/// Clusters other than the group's source, as (id, name).
async fn targets(
    state: &AppState,
    s: &Session,
    source: &str,
) -> Result<Vec<(String, String)>, ApiError> {
    Ok(clusters(state, s)
        .await?
        .into_iter()
        .filter(|c| c.id != source)
        .map(|c| (c.id, c.name))
        .collect())
}

/// `GET /console/plans/new`.
pub async fn new(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<FormQuery>,
) -> Response {
    let lang = s.lang;
    if let Err(e) = rbac::decide(
        s.actor(),
        Menu::RecoveryPlans,
        Action::Create,
        Owner::System,
    ) {
        return layout::error(&s, Nav::RecoveryPlans, e.into());
    }
    let groups = match crate::api::protection_groups::list(
        State(state.clone()),
        s.auth.clone(),
        Params(ProtectionGroupQuery {
            cluster_id: None,
            q: None,
            limit: Some(MAX_LIMIT),
            offset: None,
        }),
    )
    .await
    {
        Ok(Json(p)) => p.items,
        Err(e) => return layout::error(&s, Nav::RecoveryPlans, e),
    };
    // Groups without a plan whose owner group lets the user create one.
    let open: Vec<ProtectionGroupView> = groups
        .into_iter()
        .filter(|g| {
            g.plan_id.is_none()
                && rbac::decide(
                    s.actor(),
                    Menu::RecoveryPlans,
                    Action::Create,
                    Owner::Groups(std::slice::from_ref(&g.owner_group_id)),
                )
                .is_ok()
        })
        .collect();
    let group = non_empty(q.group).and_then(|id| open.iter().find(|g| g.id == id).cloned());
    let step_group = html! {
        form .card #plan-group method="get" action="/console/plans/new" {
            div .field {
                label for="p-group" { (lang.t("plans.group")) }
                select #p-group name="group" required {
                    option value="" { (lang.t("pgroups.choose")) }
                    @for g in &open {
                        option value=(g.id) selected[group.as_ref().is_some_and(|x| x.id == g.id)] { (g.name) }
                    }
                }
                @if open.is_empty() { p .hint { (lang.t("plans.no_open_groups")) } }
            }
            div .form-buttons { button type="submit" .secondary { (lang.t("plans.use_group")) } }
        }
    };
    let mut rest = html! {};
    if let Some(g) = &group {
        let choices = match targets(&state, &s, &g.source_cluster_id).await {
            Ok(t) => t,
            Err(e) => return layout::error(&s, Nav::RecoveryPlans, e),
        };
        let target = non_empty(q.target).filter(|t| choices.iter().any(|(id, _)| id == t));
        let chooser = target_chooser(
            lang,
            "/console/plans/new",
            Some(&g.id),
            &choices,
            target.as_deref(),
        );
        let form = match &target {
            Some(t) => {
                let (need, offer) = match needs_and_choices(&state, &s, g, t).await {
                    Ok(x) => x,
                    Err(e) => return layout::error(&s, Nav::RecoveryPlans, e),
                };
                html! {
                    form .card #plan-form data-api="POST /api/v1/plans" data-success="redirect:/console/plans/{id}"
                        data-toast=(lang.t("plans.created")) novalidate {
                        h2 { (lang.t("plans.info")) }
                        input type="hidden" name="group_id" value=(g.id);
                        input type="hidden" name="target_cluster_id" value=(t);
                        (info_fields(lang, "", 3))
                        (mapping_fields(lang, &need, &offer, &PlanMapping::default()))
                        (widgets::form_error())
                        div .form-buttons {
                            button type="submit" { (lang.t("plans.create")) }
                            a .button.secondary href="/console/plans" { (lang.t("form.cancel")) }
                        }
                    }
                }
            }
            None => html! {},
        };
        rest = html! { (chooser) (form) };
    }
    let body = html! {
        (widgets::page_header(lang.t("plans.new"), html! {}))
        (step_group)
        (rest)
    };
    layout::page(&s, lang.t("plans.new"), Nav::RecoveryPlans, body)
}

async fn needs_and_choices(
    state: &AppState,
    s: &Session,
    g: &ProtectionGroupView,
    target: &str,
) -> Result<(SourceNeeds, TargetChoices), ApiError> {
    Ok((
        source_needs(state, s, g).await?,
        target_choices(state, s, target).await?,
    ))
}

/// `GET /console/plans/{id}/edit`.
pub async fn edit(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<FormQuery>,
) -> Response {
    let lang = s.lang;
    let p: PlanView =
        match crate::api::plans::get(State(state.clone()), s.auth.clone(), Path(id)).await {
            Ok(Json(p)) => p,
            Err(e) => return layout::error(&s, Nav::RecoveryPlans, e),
        };
    let g = match crate::api::protection_groups::get(
        State(state.clone()),
        s.auth.clone(),
        Path(p.group_id.clone()),
    )
    .await
    {
        Ok(Json(g)) => g,
        Err(e) => return layout::error(&s, Nav::RecoveryPlans, e),
    };
    let owner = [g.owner_group_id.clone()];
    if let Err(e) = rbac::decide(
        s.actor(),
        Menu::RecoveryPlans,
        Action::Update,
        Owner::Groups(&owner),
    ) {
        return layout::error(&s, Nav::RecoveryPlans, e.into());
    }
    let choices = match targets(&state, &s, &g.source_cluster_id).await {
        Ok(t) => t,
        Err(e) => return layout::error(&s, Nav::RecoveryPlans, e),
    };
    let target = non_empty(q.target)
        .filter(|t| choices.iter().any(|(id, _)| id == t))
        .unwrap_or_else(|| p.target_cluster_id.clone());
    let (need, offer) = match needs_and_choices(&state, &s, &g, &target).await {
        Ok(x) => x,
        Err(e) => return layout::error(&s, Nav::RecoveryPlans, e),
    };
    let action = format!("/console/plans/{}/edit", p.id);
    let title = lang.f("plans.edit_title", &[("name", &p.name)]);
    let body = html! {
        (widgets::page_header(&title, html! {}))
        (target_chooser(lang, &action, None, &choices, Some(&target)))
        form .card #plan-form data-api=(format!("PATCH /api/v1/plans/{}", p.id))
            data-success=(format!("redirect:/console/plans/{}", p.id)) data-toast=(lang.t("plans.saved")) novalidate {
            h2 { (lang.t("plans.info")) }
            input type="hidden" name="target_cluster_id" value=(target);
            (info_fields(lang, &p.name, p.retention))
            (mapping_fields(lang, &need, &offer, &p.mapping))
            (widgets::form_error())
            div .form-buttons {
                button type="submit" { (lang.t("form.save")) }
                a .button.secondary href=(format!("/console/plans/{}", p.id)) { (lang.t("form.cancel")) }
            }
        }
    };
    layout::page(&s, &title, Nav::RecoveryPlans, body)
}
