//! Pagination (pure): where the next page of a list is.
//!
//! Nova, Cinder and Neutron answer a full page with `"<collection>_links": [{"rel":
//! "next", "href": ...}]`; Keystone with `"links": {"next": ...}`. The session follows
//! the link's *query* (marker, limit, filters) on its own endpoint, not the link's host:
//! services behind a proxy often advertise an address the client cannot reach. A
//! service that ignores `limit` (Neutron without pagination, Keystone) returns
//! everything at once and no link.

use serde_json::Value;

/// The query of the next page, or `None` when this was the last page.
pub fn next_query(body: &Value, collection: &str) -> Option<Vec<(String, String)>> {
    let href = next_href(body, collection)?;
    let query = href.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    Some(
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect(),
    )
}

fn next_href<'a>(body: &'a Value, collection: &str) -> Option<&'a str> {
    if let Some(links) = body
        .get(format!("{collection}_links"))
        .and_then(Value::as_array)
    {
        return links
            .iter()
            .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
            .and_then(|l| l.get("href"))
            .and_then(Value::as_str);
    }
    body.get("links")
        .and_then(|l| l.get("next"))
        .and_then(Value::as_str)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nova_servers_links() {
        // Shape of Nova's "List Servers Detailed" with a full page (api-ref).
        let body = json!({
            "servers": [{"id": "a"}],
            "servers_links": [{
                "href": "http://openstack.example.com/v2.1/servers/detail?all_tenants=1&limit=1&marker=a",
                "rel": "next"
            }]
        });
        assert_eq!(
            next_query(&body, "servers").unwrap(),
            vec![
                ("all_tenants".to_owned(), "1".to_owned()),
                ("limit".to_owned(), "1".to_owned()),
                ("marker".to_owned(), "a".to_owned()),
            ]
        );
    }

    #[test]
    fn last_page_and_keystone_links() {
        assert_eq!(next_query(&json!({"volumes": []}), "volumes"), None);
        assert_eq!(
            next_query(
                &json!({"volumes": [], "volumes_links": [{"rel": "self", "href": "x"}]}),
                "volumes"
            ),
            None
        );
        let keystone = json!({"projects": [], "links": {"self": "http://k/v3/projects", "previous": null, "next": null}});
        assert_eq!(next_query(&keystone, "projects"), None);
        let keystone =
            json!({"projects": [], "links": {"next": "http://k/v3/projects?marker=p%201"}});
        assert_eq!(
            next_query(&keystone, "projects").unwrap(),
            vec![("marker".into(), "p 1".into())]
        );
    }

    #[test]
    fn neutron_security_group_links_and_bad_escapes() {
        let body = json!({"security_groups_links": [
            {"rel": "next", "href": "http://n/v2.0/security-groups?limit=2&marker=x%2Fy&name=a+b&bad=%zz&end=%4"}
        ]});
        assert_eq!(
            next_query(&body, "security_groups").unwrap(),
            vec![
                ("limit".into(), "2".into()),
                ("marker".into(), "x/y".into()),
                ("name".into(), "a b".into()),
                ("bad".into(), "%zz".into()),
                ("end".into(), "%4".into()),
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_link(href in ".*", collection in "[a-z_]{1,12}") {
            let body = json!({format!("{collection}_links"): [{"rel": "next", "href": href}]});
            let _ = next_query(&body, &collection);
            let _ = percent_decode(&href);
        }

        #[test]
        fn decodes_what_it_encodes(value in "[ -~]{0,40}") {
            let encoded: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
            proptest::prop_assert_eq!(percent_decode(&encoded), value);
        }
    }
}
