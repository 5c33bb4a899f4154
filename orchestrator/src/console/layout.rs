//! The page shell: head, header (live event indicator, account, language, logout), the
//! product's menu, dialogs and toasts; and the error pages.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::assets;
use super::i18n::{CATALOGUE, Lang};
use super::session::Session;
use super::widgets::encode_query_value;
use crate::api::error::ApiError;
use crate::domain::rbac::{Action, Menu, Role};

/// An entry of the product's menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// Clusters.
    Clusters,
    /// Protection groups.
    ProtectionGroups,
    /// Recovery plans.
    RecoveryPlans,
    /// Recovery jobs.
    RecoveryJobs,
    /// Recovery results.
    RecoveryResults,
    /// Event centre.
    Events,
    /// Licence.
    Licence,
    /// Users.
    Users,
    /// User groups.
    Groups,
    /// System settings.
    Settings,
    /// The user's own account.
    Account,
    /// Node agents.
    Agents,
}

struct NavItem {
    nav: Nav,
    label: &'static str,
    /// `None`: the feature does not exist yet; the entry is shown disabled.
    href: Option<&'static str>,
    visible: fn(&Session) -> bool,
}

fn reads(menu: Menu) -> impl Fn(&Session) -> bool {
    move |s| s.may(menu, Action::Read)
}

/// The menu in the manual's order, in sections. A later feature gives its entry an
/// `href` when its screens exist.
fn sections() -> [(&'static str, Vec<NavItem>); 3] {
    [
        (
            "nav.section_dr",
            vec![
                NavItem {
                    nav: Nav::Clusters,
                    label: "nav.clusters",
                    href: Some("/console/clusters"),
                    visible: |s| reads(Menu::Clusters)(s),
                },
                NavItem {
                    nav: Nav::ProtectionGroups,
                    label: "nav.protection_groups",
                    href: Some("/console/protection-groups"),
                    visible: |s| reads(Menu::ProtectionGroups)(s),
                },
                NavItem {
                    nav: Nav::RecoveryPlans,
                    label: "nav.recovery_plans",
                    href: Some("/console/plans"),
                    visible: |s| reads(Menu::RecoveryPlans)(s),
                },
                NavItem {
                    nav: Nav::RecoveryJobs,
                    label: "nav.recovery_jobs",
                    href: Some("/console/jobs"),
                    visible: |s| reads(Menu::RecoveryJobs)(s),
                },
                NavItem {
                    nav: Nav::RecoveryResults,
                    label: "nav.recovery_results",
                    href: Some("/console/reports"),
                    visible: |s| reads(Menu::RecoveryResults)(s),
                },
            ],
        ),
        (
            "nav.section_monitoring",
            vec![
                NavItem {
                    nav: Nav::Events,
                    label: "nav.events",
                    href: Some("/console/events"),
                    visible: |_| true,
                },
                NavItem {
                    nav: Nav::Agents,
                    label: "nav.agents",
                    href: Some("/console/agents"),
                    visible: |s| reads(Menu::Clusters)(s),
                },
            ],
        ),
        (
            "nav.section_admin",
            vec![
                NavItem {
                    nav: Nav::Licence,
                    label: "nav.licence",
                    href: Some("/console/licence"),
                    visible: |s| reads(Menu::Licence)(s),
                },
                NavItem {
                    nav: Nav::Users,
                    label: "nav.users",
                    href: Some("/console/users"),
                    visible: |s| reads(Menu::Users)(s),
                },
                NavItem {
                    nav: Nav::Groups,
                    label: "nav.groups",
                    href: Some("/console/groups"),
                    visible: |s| reads(Menu::Users)(s),
                },
                NavItem {
                    nav: Nav::Settings,
                    label: "nav.settings",
                    href: Some("/console/settings"),
                    visible: |s| s.role() == Role::Admin,
                },
            ],
        ),
    ]
}

/// Security and caching headers of every console page.
fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut r = (status, markup.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

fn head(lang: Lang, title: &str, csrf: Option<&str>) -> Markup {
    let strings = CATALOGUE.subset(lang, &["js.", "error.", "severity.", "role."]);
    let json = serde_json::to_string(&strings)
        .unwrap_or_else(|_| "{}".to_owned())
        .replace('<', "\\u003c");
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            link rel="icon" href="data:,";
            title { (title) " · Holdfast" }
            @if let Some(c) = csrf { meta name="csrf-token" content=(c); }
            link rel="stylesheet" href=(assets::css_url());
            script src=(assets::js_url()) defer {}
            script type="application/json" #i18n { (PreEscaped(json)) }
        }
    }
}

fn lang_switch(lang: Lang, here: &str) -> Markup {
    let next = encode_query_value(here);
    html! {
        nav .lang-switch aria-label=(lang.t("layout.language")) {
            @for l in Lang::ALL {
                @if l == lang {
                    span aria-current="true" lang=(l.code()) { (l.native_name()) }
                } @else {
                    a href=(format!("/console/lang/{}?next={next}", l.code())) lang=(l.code()) hreflang=(l.code()) { (l.native_name()) }
                }
            }
        }
    }
}

fn dialogs(lang: Lang) -> Markup {
    html! {
        dialog #confirm-dialog aria-labelledby="confirm-title" aria-describedby="confirm-text" {
            h2 #confirm-title { (lang.t("dialog.confirm_title")) }
            p #confirm-text {}
            div .dialog-buttons {
                button type="button" .secondary value="cancel" data-role="cancel" { (lang.t("dialog.cancel")) }
                button type="button" .danger value="ok" data-role="ok" { (lang.t("dialog.confirm")) }
            }
        }
        dialog #secret-dialog aria-labelledby="secret-title" {
            h2 #secret-title { (lang.t("dialog.secret_title")) }
            p { (lang.t("dialog.secret_once")) }
            p .secret { code #secret-value {} }
            div .dialog-buttons {
                button type="button" .secondary data-role="copy" { (lang.t("dialog.copy")) }
                button type="button" data-role="close" { (lang.t("dialog.secret_done")) }
            }
        }
        div #toasts .toasts role="status" aria-live="polite" {}
    }
}

/// A full console page for a logged-in user.
pub fn page(s: &Session, title: &str, active: Nav, body: Markup) -> Response {
    page_with_status(s, StatusCode::OK, title, active, body)
}

fn page_with_status(
    s: &Session,
    status: StatusCode,
    title: &str,
    active: Nav,
    body: Markup,
) -> Response {
    let lang = s.lang;
    let role = super::widgets::role_label(lang, s.user.role);
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, title, Some(&s.csrf)))
            body data-live-events="/api/v1/events/stream" {
                a .skip-link href="#content" { (lang.t("layout.skip")) }
                header .topbar {
                    button type="button" .nav-toggle aria-controls="sidebar" aria-expanded="false" {
                        span aria-hidden="true" { "☰ " } (lang.t("layout.menu"))
                    }
                    a .brand href="/console/" { "Holdfast" }
                    a .live-indicator href="/console/events" data-role="live-indicator"
                        aria-label=(lang.t("layout.live_events")) title=(lang.t("layout.live_events")) {
                        span .dot aria-hidden="true" {}
                        span data-role="live-count" .count { "0" }
                    }
                    div .account {
                        a href="/console/account" aria-current=[(active == Nav::Account).then_some("page")] {
                            span .who data-role="who" { (s.user.name) } " "
                            span .role-chip { (role) }
                        }
                        (lang_switch(lang, &s.here))
                        button type="button" .secondary data-role="logout" { (lang.t("layout.logout")) }
                    }
                }
                div .shell {
                    nav #sidebar .sidebar aria-label=(lang.t("layout.main_menu")) {
                        @for (section, items) in sections() {
                            @let shown: Vec<&NavItem> = items.iter().filter(|i| (i.visible)(s)).collect();
                            @if !shown.is_empty() {
                                h2 .nav-section { (lang.t(section)) }
                                ul {
                                    @for item in shown {
                                        li {
                                            @match item.href {
                                                Some(href) => {
                                                    a href=(href) aria-current=[(item.nav == active).then_some("page")] { (lang.t(item.label)) }
                                                }
                                                None => {
                                                    span .unavailable aria-disabled="true" {
                                                        (lang.t(item.label))
                                                        span .soon { (lang.t("nav.not_yet")) }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    main #content tabindex="-1" {
                        noscript { p .notice { (lang.t("layout.noscript")) } }
                        (body)
                    }
                }
                (dialogs(lang))
            }
        }
    };
    html_response(status, markup)
}

/// A page without the menu (login, errors before a session exists).
pub fn bare_page(
    lang: Lang,
    status: StatusCode,
    title: &str,
    here: &str,
    body: Markup,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, title, None))
            body .bare {
                main #content .bare-main {
                    div .bare-top {
                        span .brand { "Holdfast" }
                        (lang_switch(lang, here))
                    }
                    (body)
                }
                div #toasts .toasts role="status" aria-live="polite" {}
            }
        }
    };
    html_response(status, markup)
}

fn error_body(lang: Lang, e: &ApiError) -> Markup {
    let title = error_title(lang, e.status);
    // The localized meaning of the API's error code, before the API's own words.
    let key = format!("error.{}", e.code);
    let meaning = CATALOGUE
        .contains(&key)
        .then(|| CATALOGUE.get(lang, &key).to_owned());
    html! {
        h1 #page-title { (title) }
        div .alert.error role="alert" {
            @if let Some(meaning) = meaning {
                p { strong { (meaning) } }
            }
            p { (e.message) }
        }
        p { a href="/console/" { (lang.t("error_page.home")) } }
    }
}

fn error_title(lang: Lang, status: StatusCode) -> &'static str {
    match status {
        StatusCode::FORBIDDEN => lang.t("error_page.forbidden"),
        StatusCode::NOT_FOUND => lang.t("error_page.not_found"),
        s if s.is_client_error() => lang.t("error_page.bad_request"),
        _ => lang.t("error_page.internal"),
    }
}

/// An API refusal shown as a page inside the layout (same status code).
pub fn error(s: &Session, active: Nav, e: ApiError) -> Response {
    let title = error_title(s.lang, e.status);
    page_with_status(s, e.status, title, active, error_body(s.lang, &e))
}

/// An error page without a session.
pub fn bare_error(lang: Lang, e: ApiError) -> Response {
    let title = error_title(lang, e.status);
    bare_page(lang, e.status, title, "/console/", error_body(lang, &e))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::api::auth::Auth;
    use crate::api::users::{RoleDto, UserView};
    use crate::domain::rbac::Actor;

    fn session(role: Role, lang: Lang) -> Session {
        Session {
            auth: Auth {
                actor: Actor {
                    user_id: "u".to_owned(),
                    role,
                    groups: BTreeSet::new(),
                },
                token_hash: String::new(),
            },
            user: UserView {
                id: "u".to_owned(),
                name: "U <b>".to_owned(),
                email: "u@example.com".to_owned(),
                role: RoleDto::from(role),
                groups: Vec::new(),
                locked_until: None,
                created_at: String::new(),
                updated_at: String::new(),
            },
            csrf: "tok\"en".to_owned(),
            lang,
            here: "/console/events".to_owned(),
        }
    }

    async fn render(role: Role, lang: Lang) -> String {
        let r = page(
            &session(role, lang),
            "T",
            Nav::Events,
            html! { p { "body" } },
        );
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn the_menu_follows_the_permission_table() {
        let links = |html: &str| {
            [
                "/console/users",
                "/console/groups",
                "/console/licence",
                "/console/settings",
            ]
            .map(|l| html.contains(&format!("href=\"{l}\"")))
        };
        assert_eq!(links(&render(Role::Admin, Lang::En).await), [true; 4]);
        assert_eq!(
            links(&render(Role::Manager, Lang::En).await),
            [true, true, true, false]
        );
        assert_eq!(links(&render(Role::Operator, Lang::En).await), [false; 4]);
        assert_eq!(links(&render(Role::Viewer, Lang::En).await), [false; 4]);
        // Features that do not exist yet are shown as such, never as links.
        let viewer = render(Role::Viewer, Lang::Ko).await;
        let viewer_session = session(Role::Viewer, Lang::Ko);
        let not_yet = sections()
            .iter()
            .flat_map(|(_, items)| items.iter())
            .filter(|i| i.href.is_none() && (i.visible)(&viewer_session))
            .count();
        assert_eq!(
            viewer.matches("아직 제공되지 않음").count(),
            not_yet,
            "{viewer}"
        );
        assert!(viewer.contains("href=\"/console/reports\""), "{viewer}");
        assert!(viewer.contains("href=\"/console/jobs\""), "{viewer}");
        assert!(viewer.contains("<html lang=\"ko\">"));
        assert!(viewer.contains("aria-current=\"page\">이벤트"));
    }

    #[tokio::test]
    async fn text_is_escaped_and_the_csrf_token_is_in_the_page() {
        let html = render(Role::Admin, Lang::En).await;
        assert!(html.contains("U &lt;b&gt;"));
        assert!(html.contains(r#"<meta name="csrf-token" content="tok&quot;en">"#));
    }
}
