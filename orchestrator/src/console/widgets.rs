//! Reusable pieces of console pages: list tables with pagination, filters, form fields,
//! times, badges and action buttons. Later screens (clusters, plans, jobs, reports)
//! build from these.

use maud::{Markup, html};

use super::i18n::Lang;
use crate::api::users::RoleDto;
use crate::events::Severity;

/// Page size of console lists unless the query says otherwise.
pub const PAGE_SIZE: i64 = 20;

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `path?k=v&...` from the non-empty pairs.
pub fn url_with(path: &str, pairs: &[(&str, String)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// An empty form value means "not given".
pub fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The heading row of a page, with its actions on the right.
pub fn page_header(title: &str, actions: Markup) -> Markup {
    html! {
        div .page-header {
            h1 #page-title { (title) }
            div .page-actions { (actions) }
        }
    }
}

/// A list table: caption (for screen readers), column headings, rows, and the text
/// shown when there are none.
pub fn table(
    lang: Lang,
    id: &str,
    caption: &str,
    columns: &[&str],
    rows: Markup,
    is_empty: bool,
) -> Markup {
    html! {
        div .table-wrap {
            table #(id) .list {
                caption .visually-hidden { (caption) }
                thead { tr { @for c in columns { th scope="col" { (c) } } } }
                tbody {
                    (rows)
                    @if is_empty {
                        tr .empty-row { td colspan=(columns.len()) { (lang.t("list.empty")) } }
                    }
                }
            }
        }
    }
}

/// "1–20 of 45" and previous/next links; `pairs` are the filters to keep.
pub fn pagination(
    lang: Lang,
    path: &str,
    pairs: &[(&str, String)],
    total: i64,
    limit: i64,
    offset: i64,
) -> Markup {
    let first = if total == 0 { 0 } else { offset + 1 };
    let last = (offset + limit).min(total);
    let link = |off: i64| {
        let mut p: Vec<(&str, String)> = pairs.to_vec();
        if off > 0 {
            p.push(("offset", off.to_string()));
        }
        if limit != PAGE_SIZE {
            p.push(("limit", limit.to_string()));
        }
        url_with(path, &p)
    };
    let range = lang.f(
        "list.range",
        &[
            ("first", &first.to_string()),
            ("last", &last.to_string()),
            ("total", &total.to_string()),
        ],
    );
    html! {
        nav .pagination aria-label=(lang.t("list.pagination")) {
            span .range data-role="range" data-total=(total) { (range) }
            @if offset > 0 {
                a .button.secondary rel="prev" href=(link((offset - limit).max(0))) { (lang.t("list.previous")) }
            }
            @if offset + limit < total {
                a .button.secondary rel="next" href=(link(offset + limit)) { (lang.t("list.next")) }
            }
        }
    }
}

/// A list page: the heading with its actions, an introduction, the filter form (GET,
/// to `path`), the table (with whatever the page puts around it) and the pagination.
/// Every console list is one (users, groups, events, clusters and their resources,
/// agents, protection groups, plans, jobs, results).
#[derive(Debug, Default)]
pub struct ListPage<'a> {
    /// The list's URL path (the filters' action, the pagination's links).
    pub path: &'a str,
    /// The heading.
    pub title: &'a str,
    /// Buttons and links beside the heading.
    pub actions: Markup,
    /// Between the heading and the filters (a hint, a navigation).
    pub intro: Markup,
    /// The filter fields; `None`: no filter form.
    pub filters: Option<Markup>,
    /// The table ([`table`]), or what holds it.
    pub table: Markup,
    /// `None`: no pagination.
    pub paging: Option<Paging<'a>>,
}

/// Where a list page is: the filters its links keep, the total and the page.
#[derive(Debug, Clone, Copy)]
pub struct Paging<'a> {
    /// Filters to keep in the links.
    pub pairs: &'a [(&'a str, String)],
    /// Items in the whole list.
    pub total: i64,
    /// Page size.
    pub limit: i64,
    /// Items skipped.
    pub offset: i64,
}

/// Renders a [`ListPage`].
pub fn list_page(lang: Lang, p: ListPage<'_>) -> Markup {
    html! {
        (page_header(p.title, p.actions))
        (p.intro)
        @if let Some(fields) = p.filters { (filters(lang, p.path, fields)) }
        (p.table)
        @if let Some(g) = p.paging { (pagination(lang, p.path, g.pairs, g.total, g.limit, g.offset)) }
    }
}

/// A search/filter form (GET; works without scripts).
pub fn filters(lang: Lang, path: &str, fields: Markup) -> Markup {
    html! {
        form .filters method="get" action=(path) role="search" aria-label=(lang.t("list.filters")) {
            (fields)
            div .filter-buttons {
                button type="submit" { (lang.t("list.apply")) }
                a .button.secondary href=(path) { (lang.t("list.reset")) }
            }
        }
    }
}

/// A labelled text input.
pub fn text_field(id: &str, label: &str, name: &str, value: &str, attrs: FieldAttrs<'_>) -> Markup {
    let hint_id = format!("{id}-hint");
    html! {
        div .field {
            label for=(id) { (label) }
            input #(id) name=(name) type=(attrs.kind) value=(value)
                required[attrs.required] autocomplete=[attrs.autocomplete]
                maxlength=[attrs.maxlength] pattern=[attrs.pattern]
                data-type=[attrs.data_type] data-empty=[attrs.data_empty]
                readonly[attrs.readonly]
                aria-describedby=[attrs.hint.map(|_| hint_id.as_str())];
            @if let Some(h) = attrs.hint { p .hint #(hint_id) { (h) } }
        }
    }
}

/// Options of [`text_field`].
#[derive(Debug, Clone, Copy)]
pub struct FieldAttrs<'a> {
    /// `type` of the input.
    pub kind: &'a str,
    /// Required.
    pub required: bool,
    /// `autocomplete`.
    pub autocomplete: Option<&'a str>,
    /// `maxlength`.
    pub maxlength: Option<usize>,
    /// `pattern`.
    pub pattern: Option<&'a str>,
    /// How the script sends it (`number`).
    pub data_type: Option<&'a str>,
    /// What an empty value sends (`null`, `omit`).
    pub data_empty: Option<&'a str>,
    /// Read-only.
    pub readonly: bool,
    /// Help text under the field.
    pub hint: Option<&'a str>,
}

impl Default for FieldAttrs<'_> {
    fn default() -> Self {
        FieldAttrs {
            kind: "text",
            required: false,
            autocomplete: None,
            maxlength: None,
            pattern: None,
            data_type: None,
            data_empty: None,
            readonly: false,
            hint: None,
        }
    }
}

/// Where a form's error (the API's message) appears.
pub fn form_error() -> Markup {
    html! { div .form-error data-role="form-error" role="alert" hidden {} }
}

/// A time: UTC in the markup, shown in the browser's time zone by the script.
pub fn time(ms: i64) -> Markup {
    let text = crate::api::time_text(ms);
    time_text(&text)
}

/// A time given as RFC 3339 text.
pub fn time_text(rfc3339: &str) -> Markup {
    html! { time datetime=(rfc3339) title=(rfc3339) { (rfc3339) } }
}

/// A role's label.
pub fn role_label(lang: Lang, role: RoleDto) -> &'static str {
    match role {
        RoleDto::Admin => lang.t("role.admin"),
        RoleDto::Manager => lang.t("role.manager"),
        RoleDto::Operator => lang.t("role.operator"),
        RoleDto::Viewer => lang.t("role.viewer"),
    }
}

/// A severity's label.
pub fn severity_label(lang: Lang, s: Severity) -> &'static str {
    match s {
        Severity::Info => lang.t("severity.info"),
        Severity::Warning => lang.t("severity.warning"),
        Severity::Error => lang.t("severity.error"),
        Severity::Critical => lang.t("severity.critical"),
    }
}

/// A severity badge.
pub fn severity_badge(lang: Lang, s: Severity) -> Markup {
    html! { span class=(format!("badge sev-{}", s.as_str())) { (severity_label(lang, s)) } }
}

/// A button that calls the API (after a confirmation when `confirm` is given).
pub fn api_button(label: &str, call: ApiCall<'_>, class: &str) -> Markup {
    html! {
        button type="button" class=(class) data-api=(format!("{} {}", call.method, call.url))
            data-confirm=[call.confirm] data-success=(call.success) data-toast=[call.toast] { (label) }
    }
}

/// What an [`api_button`] does.
#[derive(Debug, Clone, Copy)]
pub struct ApiCall<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// API path.
    pub url: &'a str,
    /// Question asked first.
    pub confirm: Option<&'a str>,
    /// After success: `reload`, `redirect:<url>`, `secret:<url>` (show the returned
    /// password once, then go to url).
    pub success: &'a str,
    /// Toast shown after success.
    pub toast: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            url_with("/x", &[("q", "a b".into()), ("role", String::new())]),
            "/x?q=a%20b"
        );
        assert_eq!(url_with("/x", &[]), "/x");
    }

    #[test]
    fn a_list_page_is_heading_intro_filters_table_and_pagination_in_that_order() {
        let pairs = [("q", "bo".to_owned())];
        let m = list_page(
            Lang::En,
            ListPage {
                path: "/console/users",
                title: "Users",
                actions: html! { a #add href="/console/users/new" { "Add" } },
                intro: html! { p #intro { "hi" } },
                filters: Some(html! { input #f-q name="q"; }),
                table: table(Lang::En, "users-table", "Users", &["Name"], html! {}, true),
                paging: Some(Paging {
                    pairs: &pairs,
                    total: 45,
                    limit: 20,
                    offset: 0,
                }),
            },
        )
        .into_string();
        let at = |needle: &str| m.find(needle).unwrap_or_else(|| panic!("{needle}: {m}"));
        let order = [
            at(r#"<h1 id="page-title">Users</h1>"#),
            at(r#"id="add""#),
            at(r#"id="intro""#),
            at(r#"<form class="filters" method="get" action="/console/users""#),
            at(r#"id="f-q""#),
            at(r#"id="users-table""#),
            at(r#"href="/console/users?q=bo&amp;offset=20""#),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{m}");
        let bare = list_page(
            Lang::En,
            ListPage {
                path: "/console/agents",
                title: "Agents",
                table: html! { table {} },
                ..ListPage::default()
            },
        )
        .into_string();
        assert!(
            !bare.contains("filters") && !bare.contains("pagination"),
            "{bare}"
        );
    }

    #[test]
    fn pagination_links_keep_filters() {
        let m = pagination(
            Lang::En,
            "/console/users",
            &[("q", "bo".into())],
            45,
            20,
            20,
        )
        .into_string();
        assert!(m.contains("21–40 of 45"), "{m}");
        assert!(m.contains(r#"href="/console/users?q=bo""#), "{m}");
        assert!(
            m.contains(r#"href="/console/users?q=bo&amp;offset=40""#),
            "{m}"
        );
        let m = pagination(Lang::En, "/p", &[], 0, 20, 0).into_string();
        assert!(
            !m.contains("rel=\"next\"") && !m.contains("rel=\"prev\""),
            "{m}"
        );
    }
}
