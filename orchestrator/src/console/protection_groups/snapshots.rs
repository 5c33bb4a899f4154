//! A protection group's snapshots on its page (protection.md, "Snapshots"; the
//! manual's 보호그룹 스냅샷 추가): the list (time taken, the name on the target volumes,
//! how many volumes, and the plan snapshot kept with it), **Snapshot now** (a POST the
//! API may refuse — no plan, initial copy not done, agents failing — shown in a toast
//! in the operator's words) and delete of one snapshot after a confirmation.

use axum::Json;
use axum::extract::{Path, State};
use maud::{Markup, html};

use super::super::i18n::Lang;
use super::super::session::Session;
use super::super::widgets::{self, ApiCall};
use crate::api::extract::Params;
use crate::api::protection_groups::ProtectionGroupView;
use crate::api::snapshots::{SnapshotQuery, SnapshotView};
use crate::domain::rbac::{self, Action, Menu, Owner};
use crate::state::AppState;

/// Snapshots shown (retention allows at most 48, plus any taken since the last cleanup).
const SHOWN: i64 = 100;

/// The snapshots section of the group page.
pub async fn section(state: &AppState, s: &Session, g: &ProtectionGroupView) -> Markup {
    let lang = s.lang;
    let listed = crate::api::snapshots::list(
        State(state.clone()),
        s.auth.clone(),
        Path(g.id.clone()),
        Params(SnapshotQuery {
            since: None,
            limit: Some(SHOWN),
            offset: None,
        }),
    )
    .await;
    let owner = [g.owner_group_id.clone()];
    let may = |a| rbac::decide(s.actor(), Menu::ProtectionGroups, a, Owner::Groups(&owner)).is_ok();
    let url = format!("/api/v1/protection-groups/{}/snapshots", g.id);
    html! {
        section .card #pgroup-snapshots aria-labelledby="snapshots-title" {
            div .section-header {
                h2 #snapshots-title { (lang.t("snapshots.title")) }
                @if g.plan_id.is_some() && may(Action::Create) {
                    (widgets::api_button(lang.t("snapshots.take"), ApiCall {
                        method: "POST", url: &url, confirm: None, success: "reload",
                        toast: Some(lang.t("snapshots.taken")),
                    }, ""))
                }
            }
            @if g.plan_id.is_none() {
                p .hint data-role="no-snapshots" { (lang.t("snapshots.no_plan")) }
            } @else {
                p .hint { (lang.t("snapshots.hint")) }
                @match listed {
                    Ok(Json(page)) => {
                        (table(lang, g, &page.items, may(Action::Delete)))
                        @if page.total > SHOWN {
                            p .hint { (lang.f("snapshots.more", &[("n", &SHOWN.to_string()), ("total", &page.total.to_string())])) }
                        }
                    }
                    Err(e) => div .alert.error role="alert" { p { (e.message) } },
                }
            }
        }
    }
}

fn table(lang: Lang, g: &ProtectionGroupView, items: &[SnapshotView], may_delete: bool) -> Markup {
    let mut columns = vec![
        lang.t("snapshots.taken_at"),
        lang.t("snapshots.name"),
        lang.t("snapshots.volumes"),
        lang.t("snapshots.plan_snapshot"),
    ];
    if may_delete {
        columns.push(lang.t("snapshots.actions"));
    }
    let rows = html! {
        @for sn in items {
            tr data-snapshot=(sn.id) {
                td { (widgets::time_text(&sn.taken_at)) }
                td { code { (sn.snapshot_name) } }
                td { (sn.volumes.len()) }
                td data-role="plan-snapshot" {
                    @match &sn.plan {
                        Some(p) => {
                            a href=(format!("/console/plans/{}", sn.plan_id)) { (p.plan_name) }
                            " · " (lang.f("snapshots.plan_summary", &[
                                ("retention", &p.retention.to_string()),
                                ("instances", &p.recovered_instances.to_string()),
                                ("volumes", &p.volumes.len().to_string()),
                            ]))
                        }
                        None => span .hint { (lang.t("snapshots.plan_unreadable")) },
                    }
                }
                @if may_delete {
                    td {
                        (widgets::api_button(lang.t("snapshots.delete"), ApiCall {
                            method: "DELETE",
                            url: &format!("/api/v1/protection-groups/{}/snapshots/{}", g.id, sn.id),
                            confirm: Some(&lang.f("snapshots.delete_confirm", &[("name", &sn.snapshot_name)])),
                            success: "reload",
                            toast: Some(lang.t("snapshots.deleted")),
                        }, "danger"))
                    }
                }
            }
        }
    };
    widgets::table(
        lang,
        "snapshots-table",
        lang.t("snapshots.title"),
        &columns,
        rows,
        items.is_empty(),
    )
}
