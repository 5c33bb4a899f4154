//! Query-string helpers: limit/marker, filters, `next` links.

use std::collections::HashMap;

use axum::http::Uri;
use serde_json::{Value, json};

use super::ApiError;
use crate::model::CloudError;

pub type Params = HashMap<String, String>;

/// `limit` and `marker` from the query.
pub fn paging(q: &Params) -> Result<(Option<usize>, Option<String>), ApiError> {
    let limit = match q.get("limit") {
        None => None,
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            CloudError::bad(format!("Invalid input for query parameters limit. Value: {l}. '{l}' does not match '^[0-9]*$'"))
        })?),
    };
    Ok((limit, q.get("marker").cloned()))
}

/// The `<x>_links` list: a `next` link with the last id as marker when the page is full.
pub fn next_links(
    base: &str,
    uri: &Uri,
    full: bool,
    last_id: Option<&str>,
    limit: Option<usize>,
) -> Value {
    match (full, last_id) {
        (true, Some(last)) => {
            let mut parts: Vec<String> = uri
                .query()
                .unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty() && !p.starts_with("marker=") && !p.starts_with("limit="))
                .map(str::to_owned)
                .collect();
            if let Some(l) = limit {
                parts.push(format!("limit={l}"));
            }
            parts.push(format!("marker={last}"));
            json!([{"rel": "next", "href": format!("{base}{}?{}", uri.path(), parts.join("&"))}])
        }
        _ => json!([]),
    }
}

/// True when the query asks for everyone's resources and the caller is admin.
pub fn all_tenants(q: &Params, is_admin: bool) -> bool {
    is_admin
        && q.get("all_tenants")
            .or_else(|| q.get("all_projects"))
            .is_some_and(|v| v.is_empty() || v == "1" || v.eq_ignore_ascii_case("true"))
}
