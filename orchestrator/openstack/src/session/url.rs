//! URL building.

use crate::Result;
use crate::error::Error;

/// Percent-encodes one path segment (an id or a name such as a keypair's).
pub(crate) fn enc(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `base` + `/` + `path`, with the query appended.
pub(crate) fn build(base: &str, path: &str, query: &[(String, String)]) -> Result<reqwest::Url> {
    let joined = if path.is_empty() {
        base.to_owned()
    } else {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    };
    let mut url = reqwest::Url::parse(&joined)
        .map_err(|e| Error::Config(format!("invalid URL {joined:?}: {e}")))?;
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_segments_and_builds_urls() {
        assert_eq!(enc("my key/1"), "my%20key%2F1");
        assert_eq!(enc("3f2a-b_c.d~"), "3f2a-b_c.d~");
        let url = build(
            "http://127.0.0.1:8774/compute/v2.1/",
            "/servers/detail",
            &[
                ("all_tenants".into(), "1".into()),
                ("name".into(), "a&b".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8774/compute/v2.1/servers/detail?all_tenants=1&name=a%26b"
        );
        assert!(build("not a url", "x", &[]).is_err());
    }
}
