//! The console's strings in Korean and English, from one catalogue
//! (`assets/console/i18n.toml`, compiled in), and the choice of language: the
//! `holdfast_lang` cookie the user sets, else `Accept-Language`, else English.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};

/// Cookie that keeps the user's choice of language.
pub const LANG_COOKIE: &str = "holdfast_lang";

const CATALOGUE_TOML: &str = include_str!("../../assets/console/i18n.toml");

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Korean.
    Ko,
}

/// One entry of the catalogue.
#[derive(Debug, Clone)]
struct Entry {
    en: String,
    ko: String,
}

/// Every string, by dotted key (`nav.users`).
#[derive(Debug)]
pub struct Catalogue {
    entries: BTreeMap<String, Entry>,
}

/// Why the catalogue text is not usable.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// Not TOML.
    #[error("the console catalogue is not valid TOML: {0}")]
    Toml(#[from] Box<toml::de::Error>),
    /// A leaf is not `{ en = "...", ko = "..." }`.
    #[error("catalogue entry {0:?} must be {{ en = \"...\", ko = \"...\" }}")]
    Shape(String),
}

impl Catalogue {
    /// Parses catalogue text: nested tables whose leaves are `{ en = "...", ko = "..." }`.
    pub fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
        let root: toml::Table = toml::from_str(text).map_err(Box::new)?;
        let mut entries = BTreeMap::new();
        flatten("", &root, &mut entries)?;
        Ok(Catalogue { entries })
    }

    /// The text of `key` in `lang`; the key itself when missing (a test keeps every
    /// key the console uses in the catalogue).
    pub fn get<'a>(&'a self, lang: Lang, key: &'a str) -> &'a str {
        match self.entries.get(key) {
            Some(e) => match lang {
                Lang::En => &e.en,
                Lang::Ko => &e.ko,
            },
            None => key,
        }
    }

    /// Does the catalogue have `key`?
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Every `(key, text)` whose key starts with one of `prefixes` (for the browser).
    pub fn subset(&self, lang: Lang, prefixes: &[&str]) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p)))
            .map(|(k, e)| {
                let text = match lang {
                    Lang::En => e.en.clone(),
                    Lang::Ko => e.ko.clone(),
                };
                (k.clone(), text)
            })
            .collect()
    }
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut BTreeMap<String, Entry>,
) -> Result<(), CatalogueError> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let toml::Value::Table(t) = v else {
            return Err(CatalogueError::Shape(key));
        };
        let is_leaf = t.values().all(|v| v.is_str());
        if is_leaf {
            match (
                t.get("en").and_then(|v| v.as_str()),
                t.get("ko").and_then(|v| v.as_str()),
            ) {
                (Some(en), Some(ko)) if t.len() == 2 => {
                    out.insert(
                        key,
                        Entry {
                            en: en.to_owned(),
                            ko: ko.to_owned(),
                        },
                    );
                }
                _ => return Err(CatalogueError::Shape(key)),
            }
        } else {
            flatten(&key, t, out)?;
        }
    }
    Ok(())
}

/// The compiled-in catalogue (checked by this module's tests).
pub static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    Catalogue::parse(CATALOGUE_TOML).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the console catalogue is invalid; showing keys");
        Catalogue {
            entries: BTreeMap::new(),
        }
    })
});

impl Lang {
    /// Every language, in the order of the language switch.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ko];

    /// The BCP 47 code (`en`, `ko`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }

    /// The language's own name.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ko => "한국어",
        }
    }

    /// Parses a code; region subtags are ignored (`ko-KR` is Korean).
    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "ko" => Some(Lang::Ko),
            _ => None,
        }
    }

    /// The user's language: the cookie, else the best `Accept-Language` match, else English.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        cookie(headers, LANG_COOKIE)
            .and_then(|v| Lang::parse(&v))
            .or_else(|| {
                headers
                    .get(ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(negotiate)
            })
            .unwrap_or(Lang::En)
    }

    /// The text of `key`.
    pub fn t(self, key: &'static str) -> &'static str {
        CATALOGUE.get(self, key)
    }

    /// The text of `key` with `{name}` placeholders replaced.
    pub fn f(self, key: &'static str, args: &[(&str, &str)]) -> String {
        let mut text = self.t(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

/// The supported language with the highest `q` in an `Accept-Language` value.
pub fn negotiate(accept: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(Lang::parse) else {
            continue;
        };
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_parses_and_every_entry_has_both_languages() {
        let c = Catalogue::parse(CATALOGUE_TOML).expect("catalogue");
        assert!(c.entries.len() > 100);
        for (k, e) in &c.entries {
            assert!(!e.en.trim().is_empty(), "{k}: empty English text");
            assert!(!e.ko.trim().is_empty(), "{k}: empty Korean text");
            let holes = |s: &str| {
                let mut v: Vec<String> = s
                    .split('{')
                    .skip(1)
                    .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned()))
                    .collect();
                v.sort();
                v
            };
            assert_eq!(holes(&e.en), holes(&e.ko), "{k}: placeholders differ");
        }
    }

    /// Every `.t("...")` and `.f("...")` key in the console's code is in the catalogue.
    #[test]
    fn every_key_the_console_uses_exists() {
        let c = Catalogue::parse(CATALOGUE_TOML).expect("catalogue");
        let sources = [
            include_str!("../console.rs"),
            include_str!("layout.rs"),
            include_str!("widgets.rs"),
            include_str!("login.rs"),
            include_str!("users.rs"),
            include_str!("groups.rs"),
            include_str!("account.rs"),
            include_str!("licence.rs"),
            include_str!("events.rs"),
            include_str!("settings.rs"),
            include_str!("session.rs"),
            include_str!("clusters.rs"),
            include_str!("clusters/detail.rs"),
            include_str!("clusters/resources.rs"),
            include_str!("agents.rs"),
            include_str!("protection_groups.rs"),
            include_str!("protection_groups/detail.rs"),
            include_str!("plans.rs"),
            include_str!("plans/form.rs"),
            include_str!("plans/detail.rs"),
            include_str!("reports.rs"),
            include_str!("reports/detail.rs"),
            include_str!("protection_groups/snapshots.rs"),
            include_str!("protection_groups/history.rs"),
            include_str!("jobs.rs"),
            include_str!("jobs/form.rs"),
            include_str!("jobs/monitor.rs"),
        ];
        let sections: Vec<&str> = c
            .entries
            .keys()
            .filter_map(|k| k.split('.').next())
            .collect();
        let mut missing = Vec::new();
        let mut seen = 0;
        for src in sources {
            for pat in [".t(\"", ".f(\""] {
                for piece in src.split(pat).skip(1) {
                    let key = piece.split('"').next().unwrap_or_default();
                    seen += 1;
                    if !c.contains(key) {
                        missing.push(key.to_owned());
                    }
                }
            }
            // Keys passed around as values (menu labels, settings fields).
            for literal in src.split('"').skip(1).step_by(2) {
                let looks_like_key = literal.split_once('.').is_some_and(|(section, name)| {
                    sections.contains(&section)
                        && !name.is_empty()
                        && name.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')
                });
                if looks_like_key && literal != "login.lockout" && !c.contains(literal) {
                    missing.push(literal.to_owned());
                }
            }
        }
        assert!(seen > 100, "the scan found only {seen} keys");
        assert!(
            missing.is_empty(),
            "keys missing from i18n.toml: {missing:?}"
        );
    }

    /// The browser's keys (`js.`, `error.`) exist in both languages.
    #[test]
    fn the_browser_keys_exist() {
        let c = Catalogue::parse(CATALOGUE_TOML).expect("catalogue");
        let js = include_str!("../../assets/console/console.js");
        let mut missing = Vec::new();
        for piece in js.split("tr('").skip(1) {
            let key = piece.split('\'').next().unwrap_or_default();
            if !key.ends_with('.') && !c.contains(key) {
                missing.push(key.to_owned());
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from i18n.toml: {missing:?}"
        );
    }

    #[test]
    fn language_comes_from_the_cookie_then_accept_language() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert(
            ACCEPT_LANGUAGE,
            "ko-KR,ko;q=0.9,en-US;q=0.8".parse().unwrap(),
        );
        assert_eq!(Lang::from_headers(&h), Lang::Ko);
        h.insert(ACCEPT_LANGUAGE, "fr, en;q=0.5, ko;q=0.4".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert(ACCEPT_LANGUAGE, "fr, de".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert(
            COOKIE,
            "holdfast_session=x; holdfast_lang=ko".parse().unwrap(),
        );
        assert_eq!(Lang::from_headers(&h), Lang::Ko);
        assert_eq!(negotiate("ko;q=0, en;q=0.1"), Some(Lang::En));
    }

    #[test]
    fn placeholders_are_filled() {
        let c = Catalogue::parse("[a]\nb = { en = \"hi {who}\", ko = \"안녕 {who}\" }\n")
            .expect("parse");
        assert_eq!(c.get(Lang::Ko, "a.b"), "안녕 {who}");
        assert_eq!(c.get(Lang::En, "a.missing"), "a.missing");
        assert!(Catalogue::parse("[a]\nb = { en = \"x\" }\n").is_err());
    }
}
