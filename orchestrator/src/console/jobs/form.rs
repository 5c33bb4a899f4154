//! Creating a job (`/console/jobs/new`: the plan first, then type, run type and
//! recovery point — the browser offers only the combinations of
//! `dr::job_rules::ALLOWED_COMBINATIONS`, the API decides) and changing a waiting
//! job's time or schedule (`/console/jobs/{id}/edit`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::super::assets;
use super::super::i18n::Lang;
use super::super::layout::{self, Nav};
use super::super::plans::state_badge as plan_badge;
use super::super::protection_groups::{cluster_names, clusters};
use super::super::session::Session;
use super::super::widgets::{self, FieldAttrs, non_empty};
use super::{groups, plans, run_label, type_label};
use crate::api::error::ApiError;
use crate::api::extract::Params;
use crate::api::page::MAX_LIMIT;
use crate::api::snapshots::{SnapshotQuery, SnapshotView};
use crate::domain::rbac::{self, Action, Menu, Owner};
use crate::domain::schedule::{Recurrence, WeekOfMonth, Weekday};
use crate::dr::job_rules::ALLOWED_COMBINATIONS;
use crate::jobs::JobSchedule;
use crate::state::AppState;

/// `?plan=` of the new-job page.
#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    /// The chosen plan.
    pub plan: Option<String>,
}

/// The table of jobs.md as the browser's script reads it:
/// `{"drill": {"now": ["latest-snapshot", "snapshot"], ...}, "dr": {...}}`.
pub fn combinations_json() -> String {
    let mut m: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (t, r, points) in ALLOWED_COMBINATIONS {
        m.entry(t.to_string()).or_default().insert(
            r.to_string(),
            points.iter().map(ToString::to_string).collect(),
        );
    }
    serde_json::to_string(&m).unwrap_or_else(|_| "{}".to_owned())
}

fn radios(name: &str, legend: &str, choices: &[(&str, &str)], checked: &str) -> Markup {
    html! {
        fieldset .radios data-role=(name) {
            legend { (legend) }
            @for (value, label) in choices {
                label .check {
                    input type="radio" name=(name) value=(value) checked[*value == checked];
                    (label)
                }
            }
        }
    }
}

const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Monday, "monday"),
    (Weekday::Tuesday, "tuesday"),
    (Weekday::Wednesday, "wednesday"),
    (Weekday::Thursday, "thursday"),
    (Weekday::Friday, "friday"),
    (Weekday::Saturday, "saturday"),
    (Weekday::Sunday, "sunday"),
];

fn weekday_label(lang: Lang, w: &str) -> &'static str {
    match w {
        "monday" => lang.t("jobs.monday"),
        "tuesday" => lang.t("jobs.tuesday"),
        "wednesday" => lang.t("jobs.wednesday"),
        "thursday" => lang.t("jobs.thursday"),
        "friday" => lang.t("jobs.friday"),
        "saturday" => lang.t("jobs.saturday"),
        _ => lang.t("jobs.sunday"),
    }
}

fn week_label(lang: Lang, w: &str) -> &'static str {
    match w {
        "first" => lang.t("jobs.week_first"),
        "second" => lang.t("jobs.week_second"),
        "third" => lang.t("jobs.week_third"),
        "fourth" => lang.t("jobs.week_fourth"),
        _ => lang.t("jobs.week_last"),
    }
}

fn number(id: &str, label: &str, name: &str, value: u32, min: u32, max: u32) -> Markup {
    html! {
        div .field {
            label for=(id) { (label) }
            input #(id) type="number" name=(name) value=(value) min=(min) max=(max) required data-type="number";
        }
    }
}

/// The recurrence fields of a `schedule` job (jobs.md: daily, weekly, monthly by day,
/// monthly by weekday, at h:mm in a time zone); each kind's fields are sent only when
/// that kind is chosen (`data-when`).
pub fn schedule_fields(lang: Lang, current: Option<&JobSchedule>) -> Markup {
    let r = current.map(|s| s.recurrence);
    let (kind, every, weekday, day, week, at) = match r {
        Some(Recurrence::Daily { every_days, at }) => {
            ("daily", every_days, None, 1, None, Some(at))
        }
        Some(Recurrence::Weekly {
            every_weeks,
            weekday,
            at,
        }) => ("weekly", every_weeks, Some(weekday), 1, None, Some(at)),
        Some(Recurrence::MonthlyByDay {
            every_months,
            day,
            at,
        }) => ("monthly_by_day", every_months, None, day, None, Some(at)),
        Some(Recurrence::MonthlyByWeekday {
            every_months,
            week,
            weekday,
            at,
        }) => (
            "monthly_by_weekday",
            every_months,
            Some(weekday),
            1,
            Some(week),
            Some(at),
        ),
        _ => ("daily", 1, None, 1, None, None),
    };
    let (hour, minute) = at.map_or((2, 0), |a| (u32::from(a.hour), u32::from(a.minute)));
    let weekday = weekday.unwrap_or(Weekday::Sunday);
    let week = week.unwrap_or(WeekOfMonth::First);
    let week_value = serde_json::to_value(week)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let tz = current.map_or("UTC", |s| s.time_zone.as_str());
    let k = "schedule.recurrence.kind";
    html! {
        fieldset .schedule #job-schedule data-when="run_type=schedule" {
            legend { (lang.t("jobs.schedule")) }
            div .columns {
                div .field {
                    label for="j-kind" { (lang.t("jobs.recurrence")) }
                    select #j-kind name=(k) {
                        @for (v, key) in [("daily", "jobs.daily"), ("weekly", "jobs.weekly"), ("monthly_by_day", "jobs.monthly_by_day"), ("monthly_by_weekday", "jobs.monthly_by_weekday")] {
                            option value=(v) selected[v == kind] { (lang.t(key)) }
                        }
                    }
                }
                div data-when=(format!("{k}=daily")) {
                    (number("j-every-days", lang.t("jobs.every_days"), "schedule.recurrence.every_days", every, 1, 365))
                }
                div data-when=(format!("{k}=weekly")) {
                    (number("j-every-weeks", lang.t("jobs.every_weeks"), "schedule.recurrence.every_weeks", every, 1, 52))
                }
                div data-when=(format!("{k}=monthly_by_day monthly_by_weekday")) {
                    (number("j-every-months", lang.t("jobs.every_months"), "schedule.recurrence.every_months", every, 1, 12))
                }
                div .field data-when=(format!("{k}=monthly_by_weekday")) {
                    label for="j-week" { (lang.t("jobs.week")) }
                    select #j-week name="schedule.recurrence.week" {
                        @for w in ["first", "second", "third", "fourth", "last"] {
                            option value=(w) selected[w == week_value] { (week_label(lang, w)) }
                        }
                    }
                }
                div .field data-when=(format!("{k}=weekly monthly_by_weekday")) {
                    label for="j-weekday" { (lang.t("jobs.weekday")) }
                    select #j-weekday name="schedule.recurrence.weekday" {
                        @for (w, v) in WEEKDAYS {
                            option value=(v) selected[w == weekday] { (weekday_label(lang, v)) }
                        }
                    }
                }
                div data-when=(format!("{k}=monthly_by_day")) {
                    (number("j-day", lang.t("jobs.day"), "schedule.recurrence.day", u32::from(day), 1, 31))
                }
                (number("j-hour", lang.t("jobs.hour"), "schedule.recurrence.at.hour", hour, 0, 23))
                (number("j-minute", lang.t("jobs.minute"), "schedule.recurrence.at.minute", minute, 0, 59))
                (widgets::text_field("j-tz", lang.t("jobs.time_zone"), "schedule.time_zone", tz, FieldAttrs {
                    required: true, hint: Some(lang.t("jobs.time_zone_hint")), ..FieldAttrs::default()
                }))
            }
        }
    }
}

fn at_field(lang: Lang, current: Option<&str>) -> Markup {
    html! {
        div .field data-when="run_type=at" {
            label for="j-at" { (lang.t("jobs.at")) }
            input #j-at type="datetime-local" name="at" required data-type="local-time" data-empty="omit" data-utc=[current];
            p .hint { (lang.t("jobs.at_hint")) }
        }
    }
}

/// The protection group's snapshots (newest first) the user may see.
pub async fn snapshots(state: &AppState, s: &Session, group: &str) -> Vec<SnapshotView> {
    crate::api::snapshots::list(
        State(state.clone()),
        s.auth.clone(),
        Path(group.to_owned()),
        Params(SnapshotQuery {
            since: None,
            limit: Some(MAX_LIMIT),
            offset: None,
        }),
    )
    .await
    .map(|Json(p)| p.items)
    .unwrap_or_default()
}

/// `GET /console/jobs/new[?plan=..]`.
pub async fn new(State(state): State<AppState>, s: Session, Query(q): Query<NewQuery>) -> Response {
    let lang = s.lang;
    if let Err(e) = rbac::decide(s.actor(), Menu::RecoveryJobs, Action::Create, Owner::System) {
        return layout::error(&s, Nav::RecoveryJobs, e.into());
    }
    let all_plans = plans(&state, &s).await;
    let all_groups = groups(&state, &s).await;
    let chosen = non_empty(q.plan).and_then(|id| all_plans.iter().find(|p| p.id == id));
    let group_of = |id: &str| all_groups.iter().find(|g| g.id == id);
    let choose = html! {
        form .card #plan-choice method="get" action="/console/jobs/new" {
            h2 { (lang.t("jobs.step_plan")) }
            div .field {
                label for="j-plan" { (lang.t("jobs.plan")) }
                select #j-plan name="plan" required {
                    option value="" { (lang.t("pgroups.choose")) }
                    @for p in &all_plans {
                        option value=(p.id) selected[chosen.is_some_and(|c| c.id == p.id)] {
                            (p.name) " — " (group_of(&p.group_id).map_or(p.group_id.as_str(), |g| g.name.as_str()))
                        }
                    }
                }
            }
            @if all_plans.is_empty() { p .hint { (lang.t("jobs.no_plans")) } }
            div .form-buttons { button type="submit" .secondary { (lang.t("jobs.use_plan")) } }
        }
    };
    let form = match chosen {
        None => html! {},
        Some(p) => {
            let g = group_of(&p.group_id);
            let cnames = cluster_names(&clusters(&state, &s).await.unwrap_or_default());
            let snaps = snapshots(&state, &s, &p.group_id).await;
            let name_of = |id: &str| cnames.get(id).cloned().unwrap_or_else(|| id.to_owned());
            html! {
                dl .facts #job-plan-facts {
                    dt { (lang.t("jobs.group")) } dd { (g.map_or(p.group_id.as_str(), |g| g.name.as_str())) }
                    @if let Some(g) = g {
                        dt { (lang.t("plans.source_cluster")) } dd { (name_of(&g.source_cluster_id)) }
                    }
                    dt { (lang.t("jobs.plan")) } dd { (p.name) " " (plan_badge(lang, &p.state)) }
                    dt { (lang.t("plans.target_cluster")) } dd { (name_of(&p.target_cluster_id)) }
                }
                form .card #job-form data-api="POST /api/v1/jobs" data-combos=(combinations_json())
                    data-success="redirect:/console/jobs/{id}" data-toast=(lang.t("jobs.created"))
                    data-confirm=(lang.t("jobs.create_confirm")) novalidate {
                    h2 { (lang.t("jobs.step_details")) }
                    input type="hidden" name="plan_id" value=(p.id);
                    (widgets::text_field("j-name", lang.t("jobs.name"), "name", "", FieldAttrs {
                        maxlength: Some(128), autocomplete: Some("off"), data_empty: Some("omit"),
                        hint: Some(lang.t("jobs.name_hint")), ..FieldAttrs::default()
                    }))
                    (radios("type", lang.t("jobs.type"), &[("drill", type_label(lang, "drill")), ("dr", type_label(lang, "dr"))], "drill"))
                    (radios("run_type", lang.t("jobs.run_type"), &[("now", run_label(lang, "now")), ("at", run_label(lang, "at")), ("schedule", run_label(lang, "schedule"))], "now"))
                    (at_field(lang, None))
                    (schedule_fields(lang, None))
                    (radios("recovery_point", lang.t("jobs.point"), &[
                        ("latest-data", lang.t("jobs.point_latest_data")),
                        ("latest-snapshot", lang.t("jobs.point_latest_snapshot")),
                        ("snapshot", lang.t("jobs.point_snapshot")),
                    ], "latest-snapshot"))
                    div .field data-when="recovery_point=snapshot" {
                        label for="j-snapshot" { (lang.t("jobs.snapshot")) }
                        select #j-snapshot name="snapshot_id" required {
                            @for sn in &snaps {
                                option value=(sn.id) { (sn.taken_at) " · " (sn.snapshot_name) }
                            }
                        }
                        @if snaps.is_empty() { p .hint { (lang.t("jobs.no_snapshots")) } }
                    }
                    (widgets::form_error())
                    div .form-buttons {
                        button type="submit" { (lang.t("jobs.create")) }
                        a .button.secondary href="/console/jobs" { (lang.t("form.cancel")) }
                    }
                }
            }
        }
    };
    let body = html! {
        (widgets::page_header(lang.t("jobs.new"), html! {}))
        (choose)
        (form)
        script src=(assets::jobs_js_url()) defer {}
    };
    layout::page(&s, lang.t("jobs.new"), Nav::RecoveryJobs, body)
}

/// `GET /console/jobs/{id}/edit`: the time of a waiting `at` job or the schedule of a
/// `schedule` job (the API refuses anything else, in words shown in the form).
pub async fn edit(State(state): State<AppState>, s: Session, Path(id): Path<String>) -> Response {
    let lang = s.lang;
    let j = match crate::api::jobs::get(State(state.clone()), s.auth.clone(), Path(id)).await {
        Ok(Json(j)) => j,
        Err(e) => return layout::error(&s, Nav::RecoveryJobs, e),
    };
    let owner = [j.owner_group_id.clone()];
    if let Err(e) = rbac::decide(
        s.actor(),
        Menu::RecoveryJobs,
        Action::Update,
        Owner::Groups(&owner),
    ) {
        return layout::error(&s, Nav::RecoveryJobs, e.into());
    }
    if j.run_type == "now" {
        return layout::error(
            &s,
            Nav::RecoveryJobs,
            ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "job_not_updatable",
                lang.t("jobs.now_not_editable"),
            ),
        );
    }
    let schedule: Option<JobSchedule> = j
        .schedule
        .clone()
        .and_then(|v| serde_json::from_value(v).ok());
    let title = lang.f("jobs.edit_title", &[("name", &j.name)]);
    let body = html! {
        (widgets::page_header(&title, html! {}))
        dl .facts {
            dt { (lang.t("jobs.type")) } dd { (type_label(lang, &j.job_type)) }
            dt { (lang.t("jobs.run_type")) } dd { (run_label(lang, &j.run_type)) }
            dt { (lang.t("jobs.state")) } dd { (super::state_badge(lang, &j.state)) }
        }
        form .card #job-form data-api=(format!("PATCH /api/v1/jobs/{}", j.id))
            data-success=(format!("redirect:/console/jobs/{}", j.id)) data-toast=(lang.t("jobs.saved"))
            data-confirm=(lang.t("jobs.save_confirm")) novalidate {
            input type="hidden" name="run_type" value=(j.run_type) data-send="no";
            @if j.run_type == "at" { (at_field(lang, j.at.as_deref())) }
            @else { (schedule_fields(lang, schedule.as_ref())) }
            (widgets::form_error())
            div .form-buttons {
                button type="submit" { (lang.t("form.save")) }
                a .button.secondary href=(format!("/console/jobs/{}", j.id)) { (lang.t("form.cancel")) }
            }
        }
        script src=(assets::jobs_js_url()) defer {}
    };
    layout::page(&s, &title, Nav::RecoveryJobs, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schedule::TimeOfDay;

    #[test]
    fn the_browser_gets_the_spec_table() {
        let v: serde_json::Value = serde_json::from_str(&combinations_json()).unwrap();
        assert_eq!(
            v["drill"]["now"],
            serde_json::json!(["latest-snapshot", "snapshot"])
        );
        assert_eq!(
            v["drill"]["schedule"],
            serde_json::json!(["latest-snapshot"])
        );
        assert!(
            v["dr"].get("schedule").is_none(),
            "schedules are for drills only"
        );
        assert_eq!(
            v["dr"]["now"],
            serde_json::json!(["latest-data", "latest-snapshot", "snapshot"])
        );
    }

    #[test]
    fn a_schedule_fills_its_fields() {
        let s = JobSchedule {
            recurrence: Recurrence::MonthlyByWeekday {
                every_months: 3,
                week: WeekOfMonth::Last,
                weekday: Weekday::Friday,
                at: TimeOfDay {
                    hour: 23,
                    minute: 5,
                },
            },
            time_zone: "Asia/Seoul".into(),
            start: None,
        };
        let m = schedule_fields(Lang::En, Some(&s)).into_string();
        assert!(m.contains(r#"value="monthly_by_weekday" selected"#), "{m}");
        assert!(m.contains(r#"value="last" selected"#), "{m}");
        assert!(m.contains(r#"value="friday" selected"#), "{m}");
        assert!(
            m.contains(r#"name="schedule.recurrence.every_months" value="3""#),
            "{m}"
        );
        assert!(
            m.contains(r#"name="schedule.recurrence.at.hour" value="23""#),
            "{m}"
        );
        assert!(m.contains(r#"value="Asia/Seoul""#), "{m}");
    }
}
