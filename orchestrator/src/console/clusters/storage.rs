//! The storage metadata of a cluster's forms (register, edit): one entry per Cinder
//! backend with the typed fields of `domain::cluster::BackendStorage` — Ceph: monitor
//! hosts, pool, user, keyring reference; file/LVM: node and path prefix — instead of a
//! JSON box. `console.js` sends the entries as the API's `storage` list
//! (`data-list="storage"`: each `[data-list-item]` one object of its enabled fields;
//! the fields of the other type are hidden and disabled, `data-for-type`), adds
//! entries from the `<template>` and removes them, and shows the API's validation
//! message (`storage.<field>: …`) under that field of the entry it concerns.

use maud::{Markup, html};

use super::super::i18n::Lang;
use crate::domain::cluster::BackendStorage;

/// The values of one entry's fields (empty for a new entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entry<'a> {
    kind: &'a str,
    backend: &'a str,
    monitors: String,
    pool: &'a str,
    client: &'a str,
    keyring_ref: &'a str,
    cinder_host: &'a str,
    agents: String,
    node: &'a str,
    path_prefix: &'a str,
}

impl<'a> Entry<'a> {
    fn of(s: &'a BackendStorage) -> Entry<'a> {
        match s {
            BackendStorage::Ceph {
                backend,
                monitors,
                pool,
                client,
                keyring_ref,
                cinder_host,
                agents,
            } => Entry {
                kind: "ceph",
                backend,
                monitors: monitors.join(", "),
                pool,
                client,
                keyring_ref,
                cinder_host: cinder_host.as_deref().unwrap_or_default(),
                agents: agents.join(", "),
                ..Entry::default()
            },
            BackendStorage::File {
                backend,
                node,
                path_prefix,
            } => Entry {
                kind: "file",
                backend,
                node,
                path_prefix,
                ..Entry::default()
            },
        }
    }
}

/// A text input of an entry: `field` is the API's field name (and `data-field`, where
/// the API's message for `storage.<field>` is shown); `kind` the type it belongs to
/// (`None`: both).
struct Input<'a> {
    field: &'a str,
    label: &'a str,
    value: &'a str,
    kind: Option<&'a str>,
    hint: Option<&'a str>,
    lines: bool,
    /// May stay empty: not required, and not sent when empty.
    optional: bool,
}

impl Input<'_> {
    /// The value's shape as the browser can check it (`pattern`): used only to find
    /// the entry an API message concerns, never to refuse.
    fn pattern(&self) -> Option<&'static str> {
        match self.field {
            "monitors" | "agents" => None,
            "path_prefix" => Some("/\\S*"),
            _ => Some("\\S+"),
        }
    }
}

fn input(prefix: &str, shown_kind: &str, i: &Input<'_>) -> Markup {
    let id = format!("{prefix}-{}", i.field.replace('_', "-"));
    let hint_id = format!("{id}-hint");
    let hidden = i.kind.is_some_and(|k| k != shown_kind);
    html! {
        div .field data-field=(i.field) data-for-type=[i.kind] hidden[hidden] {
            label for=(id) { (i.label) }
            input #(id) type="text" name=(i.field) value=(i.value) autocomplete="off" spellcheck="false"
                required[!i.optional] data-optional[i.optional] pattern=[i.pattern()] data-unique[i.field == "backend"]
                data-type=[i.lines.then_some("lines")] disabled[hidden]
                aria-describedby=[i.hint.map(|_| hint_id.as_str())];
            @if let Some(h) = i.hint { p .hint #(hint_id) { (h) } }
        }
    }
}

/// One entry; `n` makes its ids unique (`__N__` in the template).
fn entry(lang: Lang, form: &str, n: &str, e: &Entry<'_>) -> Markup {
    let prefix = format!("{form}-storage-{n}");
    let kind = if e.kind.is_empty() { "ceph" } else { e.kind };
    let type_id = format!("{prefix}-type");
    let inputs = [
        Input {
            field: "backend",
            label: lang.t("clusters.storage_backend"),
            value: e.backend,
            kind: None,
            hint: Some(lang.t("clusters.storage_backend_hint")),
            lines: false,
            optional: false,
        },
        Input {
            field: "monitors",
            label: lang.t("clusters.storage_monitors"),
            value: &e.monitors,
            kind: Some("ceph"),
            hint: Some(lang.t("clusters.storage_monitors_hint")),
            lines: true,
            optional: false,
        },
        Input {
            field: "pool",
            label: lang.t("clusters.storage_pool"),
            value: e.pool,
            kind: Some("ceph"),
            hint: None,
            lines: false,
            optional: false,
        },
        Input {
            field: "client",
            label: lang.t("clusters.storage_client"),
            value: e.client,
            kind: Some("ceph"),
            hint: Some(lang.t("clusters.storage_client_hint")),
            lines: false,
            optional: false,
        },
        Input {
            field: "keyring_ref",
            label: lang.t("clusters.storage_keyring"),
            value: e.keyring_ref,
            kind: Some("ceph"),
            hint: Some(lang.t("clusters.storage_keyring_hint")),
            lines: false,
            optional: false,
        },
        Input {
            field: "cinder_host",
            label: lang.t("clusters.storage_cinder_host"),
            value: e.cinder_host,
            kind: Some("ceph"),
            hint: Some(lang.t("clusters.storage_cinder_host_hint")),
            lines: false,
            optional: true,
        },
        Input {
            field: "agents",
            label: lang.t("clusters.storage_agents"),
            value: &e.agents,
            kind: Some("ceph"),
            hint: Some(lang.t("clusters.storage_agents_hint")),
            lines: true,
            optional: true,
        },
        Input {
            field: "node",
            label: lang.t("clusters.storage_node"),
            value: e.node,
            kind: Some("file"),
            hint: Some(lang.t("clusters.storage_node_hint")),
            lines: false,
            optional: false,
        },
        Input {
            field: "path_prefix",
            label: lang.t("clusters.storage_path"),
            value: e.path_prefix,
            kind: Some("file"),
            hint: Some(lang.t("clusters.storage_path_hint")),
            lines: false,
            optional: false,
        },
    ];
    html! {
        fieldset .storage-entry data-list-item {
            legend { (lang.t("clusters.storage_entry")) }
            div .field data-field="type" {
                label for=(type_id) { (lang.t("clusters.storage_type")) }
                select #(type_id) name="type" data-role="storage-type" {
                    option value="ceph" selected[kind == "ceph"] { (lang.t("clusters.storage_ceph")) }
                    option value="file" selected[kind == "file"] { (lang.t("clusters.storage_file")) }
                }
            }
            @for i in &inputs { (input(&prefix, kind, i)) }
            div .form-buttons {
                button type="button" .secondary data-role="storage-remove" { (lang.t("clusters.storage_remove")) }
            }
        }
    }
}

/// The storage metadata of the form `form` (an id prefix), with `entries` filled in.
/// Always sent (an empty list when there is no entry), so that removing every entry is
/// a change the API sees.
pub fn storage_fields(lang: Lang, form: &str, entries: &[BackendStorage]) -> Markup {
    html! {
        fieldset .storage id=(format!("{form}-storage")) data-list="storage" {
            legend { (lang.t("clusters.storage")) }
            p .hint { (lang.t("clusters.storage_fields_hint")) }
            div data-role="storage-entries" {
                @for (n, e) in entries.iter().enumerate() {
                    (entry(lang, form, &n.to_string(), &Entry::of(e)))
                }
            }
            template data-role="storage-template" {
                (entry(lang, form, "__N__", &Entry::default()))
            }
            button type="button" .secondary data-role="storage-add" { (lang.t("clusters.storage_add")) }
        }
    }
}

/// The storage metadata as a table (the cluster's detail).
pub fn storage_table(lang: Lang, entries: &[BackendStorage]) -> Markup {
    html! {
        div .table-wrap {
            table .list #storage-table {
                caption .visually-hidden { (lang.t("clusters.storage")) }
                thead { tr {
                    th scope="col" { (lang.t("clusters.storage_backend")) }
                    th scope="col" { (lang.t("clusters.storage_type")) }
                    th scope="col" { (lang.t("clusters.storage_details")) }
                } }
                tbody {
                    @for e in entries {
                        tr data-backend=(e.backend()) {
                            td { code { (e.backend()) } }
                            @match e {
                                BackendStorage::Ceph { monitors, pool, client, keyring_ref, cinder_host, agents, .. } => {
                                    td { (lang.t("clusters.storage_ceph")) }
                                    td { dl .inline-facts {
                                        dt { (lang.t("clusters.storage_monitors")) } dd { (monitors.join(", ")) }
                                        dt { (lang.t("clusters.storage_pool")) } dd { (pool) }
                                        dt { (lang.t("clusters.storage_client")) } dd { (client) }
                                        dt { (lang.t("clusters.storage_keyring")) } dd { code { (keyring_ref) } }
                                        @if let Some(h) = cinder_host {
                                            dt { (lang.t("clusters.storage_cinder_host")) } dd { code { (h) } }
                                        }
                                        @if !agents.is_empty() {
                                            dt { (lang.t("clusters.storage_agents")) } dd { (agents.join(", ")) }
                                        }
                                    } }
                                }
                                BackendStorage::File { node, path_prefix, .. } => {
                                    td { (lang.t("clusters.storage_file")) }
                                    td { dl .inline-facts {
                                        dt { (lang.t("clusters.storage_node")) } dd { (node) }
                                        dt { (lang.t("clusters.storage_path")) } dd { code { (path_prefix) } }
                                    } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_shows_the_fields_of_its_type_and_disables_the_others() {
        let entries = [
            BackendStorage::Ceph {
                backend: "ceph".into(),
                monitors: vec!["10.0.0.1:6789".into(), "10.0.0.2".into()],
                pool: "volumes".into(),
                client: "cinder".into(),
                keyring_ref: "/etc/ceph/k".into(),
                cinder_host: Some("hf-target@ceph#ceph".into()),
                agents: vec!["node-b".into()],
            },
            BackendStorage::File {
                backend: "lvm".into(),
                node: "storage-1".into(),
                path_prefix: "/dev/cinder-volumes".into(),
            },
        ];
        let m = storage_fields(Lang::En, "edit", &entries).into_string();
        assert!(m.contains(r#"data-list="storage""#), "{m}");
        assert_eq!(
            m.matches("data-list-item").count(),
            3,
            "two entries and the template"
        );
        // the Ceph entry: its fields filled, the file fields hidden and not sent
        assert!(
            m.contains(r#"id="edit-storage-0-monitors" type="text" name="monitors" value="10.0.0.1:6789, 10.0.0.2""#),
            "{m}"
        );
        // the target's Cinder pool and the agents: filled, optional (not sent when empty)
        assert!(
            m.contains(r#"id="edit-storage-0-cinder-host" type="text" name="cinder_host" value="hf-target@ceph#ceph" autocomplete="off" spellcheck="false" data-optional pattern="\S+""#),
            "{m}"
        );
        assert!(
            m.contains(r#"id="edit-storage-0-agents" type="text" name="agents" value="node-b" autocomplete="off" spellcheck="false" data-optional data-type="lines""#),
            "{m}"
        );
        assert!(
            m.contains(r#"<div class="field" data-field="node" data-for-type="file" hidden><label for="edit-storage-0-node">"#),
            "{m}"
        );
        assert!(
            m.contains(r#"id="edit-storage-0-node" type="text" name="node" value="" autocomplete="off" spellcheck="false" required pattern="\S+" disabled"#),
            "{m}"
        );
        // the file entry: type chosen, path filled
        assert!(
            m.contains(r#"<option value="file" selected>File / LVM</option>"#),
            "{m}"
        );
        assert!(
            m.contains(r#"id="edit-storage-1-path-prefix" type="text" name="path_prefix" value="/dev/cinder-volumes""#),
            "{m}"
        );
        assert!(m.contains("edit-storage-__N__-pool"), "the template: {m}");
    }

    #[test]
    fn every_storage_label_exists_in_both_languages() {
        let file = [BackendStorage::File {
            backend: "lvm".into(),
            node: "n".into(),
            path_prefix: "/p".into(),
        }];
        for lang in Lang::ALL {
            let m = storage_fields(lang, "f", &[]).into_string()
                + &storage_table(lang, &file).into_string();
            assert!(!m.contains("clusters.storage"), "{lang:?}: {m}");
        }
        let t = storage_table(Lang::En, &file).into_string();
        assert!(
            t.contains(r#"<tr data-backend="lvm"><td><code>lvm</code></td><td>File / LVM</td>"#),
            "{t}"
        );
    }
}
