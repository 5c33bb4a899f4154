//! Microversion negotiation (pure): read a service's version document, pick the highest
//! version both sides support up to what Holdfast wants, refuse clouds that are too old.

use std::fmt;

use serde_json::Value;

/// A microversion such as `2.79`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Microversion {
    /// Major version (2 for Nova, 3 for Cinder).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl Microversion {
    /// `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Parses `"2.79"`; `None` for anything else (`""`, `"latest"`, `"2"`).
    pub fn parse(s: &str) -> Option<Self> {
        let (major, minor) = s.trim().split_once('.')?;
        Some(Self {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The microversions a service endpoint supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    /// Lowest supported (`min_version`).
    pub min: Microversion,
    /// Highest supported (`version`).
    pub max: Microversion,
}

/// What Holdfast needs from a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// Below this, Holdfast's calls do not work.
    pub minimum: Microversion,
    /// The version Holdfast's calls are written against; never exceeded.
    pub wanted: Microversion,
}

/// Why no microversion could be agreed on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MicroversionError {
    /// The service is older than Holdfast needs.
    #[error(
        "{service} supports microversions up to {max}, Holdfast needs at least {minimum}: upgrade the cloud's {service} service"
    )]
    TooOld {
        /// Service name.
        service: &'static str,
        /// The service's highest version.
        max: Microversion,
        /// Holdfast's minimum.
        minimum: Microversion,
    },
    /// The service dropped the versions Holdfast speaks.
    #[error(
        "{service} only supports microversions from {min}, Holdfast speaks at most {wanted}: this client is too old for the cloud"
    )]
    TooNew {
        /// Service name.
        service: &'static str,
        /// The service's lowest version.
        min: Microversion,
        /// Holdfast's highest.
        wanted: Microversion,
    },
    /// The version document could not be read.
    #[error("{service} version document is not understood: {reason}")]
    BadDocument {
        /// Service name.
        service: &'static str,
        /// What was wrong.
        reason: String,
    },
}

/// Reads the range from a version document: either `{"version": {...}}` (Nova at
/// `/v2.1`) or `{"versions": [{...}]}` (Cinder at `/v3`, and version listings), picking
/// the entry whose `id` starts with `v{major}`. A version without microversions (empty
/// `version`) yields `None`.
pub fn parse_range(doc: &Value, major: u32) -> Result<Option<VersionRange>, String> {
    let entry = if let Some(v) = doc.get("version") {
        v
    } else if let Some(list) = doc.get("versions").and_then(Value::as_array) {
        let prefix = format!("v{major}");
        list.iter()
            .find(|v| {
                v.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| id.starts_with(&prefix))
            })
            .ok_or_else(|| format!("no entry for v{major} in the version list"))?
    } else {
        return Err("neither `version` nor `versions` in the document".into());
    };
    let max = entry.get("version").and_then(Value::as_str).unwrap_or("");
    let min = entry
        .get("min_version")
        .and_then(Value::as_str)
        .unwrap_or("");
    if max.is_empty() {
        return Ok(None);
    }
    let max = Microversion::parse(max).ok_or_else(|| format!("bad version {max:?}"))?;
    let min = if min.is_empty() {
        Microversion::new(major, 0)
    } else {
        Microversion::parse(min).ok_or_else(|| format!("bad min_version {min:?}"))?
    };
    Ok(Some(VersionRange { min, max }))
}

/// The highest version ≤ `need.wanted` the service supports, if it is ≥ `need.minimum`.
/// A service without microversions (`None`) is treated as speaking only the base
/// version `major.0`.
pub fn negotiate(
    service: &'static str,
    range: Option<VersionRange>,
    need: Requirement,
) -> Result<Microversion, MicroversionError> {
    let range = range.unwrap_or(VersionRange {
        min: Microversion::new(need.minimum.major, 0),
        max: Microversion::new(need.minimum.major, 0),
    });
    let chosen = range.max.min(need.wanted);
    if chosen < need.minimum {
        return Err(MicroversionError::TooOld {
            service,
            max: range.max,
            minimum: need.minimum,
        });
    }
    if chosen < range.min {
        return Err(MicroversionError::TooNew {
            service,
            min: range.min,
            wanted: need.wanted,
        });
    }
    Ok(chosen)
}

/// The version root of an endpoint URL: everything up to and including the first path
/// segment that looks like `v2.1` / `v3` (`http://h/volume/v3/<project>` →
/// `http://h/volume/v3`). `None` if there is no such segment.
pub fn version_root(endpoint: &str) -> Option<String> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let mut parts = rest.split('/');
    let host = parts.next()?;
    let mut root = format!("{scheme}://{host}");
    for seg in parts {
        root.push('/');
        root.push_str(seg);
        let is_version = seg.strip_prefix('v').is_some_and(|v| {
            !v.is_empty()
                && v.split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        });
        if is_version {
            return Some(root);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOVA: Requirement = Requirement {
        minimum: Microversion::new(2, 53),
        wanted: Microversion::new(2, 79),
    };

    #[test]
    fn parses_nova_and_cinder_documents() {
        // Nova `GET /v2.1` (api-ref "Show Details of Specific API Version").
        let nova = json!({"version": {"id": "v2.1", "status": "CURRENT", "version": "2.96",
            "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
            "links": [{"href": "http://127.0.0.1/compute/v2.1/", "rel": "self"}]}});
        assert_eq!(
            parse_range(&nova, 2).unwrap(),
            Some(VersionRange {
                min: Microversion::new(2, 1),
                max: Microversion::new(2, 96)
            })
        );
        // Cinder `GET /v3/` answers with a list.
        let cinder = json!({"versions": [{"id": "v3.0", "status": "CURRENT", "version": "3.71",
            "min_version": "3.0", "updated": "2023-08-31T00:00:00Z"}]});
        assert_eq!(
            parse_range(&cinder, 3).unwrap(),
            Some(VersionRange {
                min: Microversion::new(3, 0),
                max: Microversion::new(3, 71)
            })
        );
        // Nova's legacy v2.0 has no microversions.
        let legacy = json!({"version": {"id": "v2.0", "version": "", "min_version": ""}});
        assert_eq!(parse_range(&legacy, 2).unwrap(), None);
        assert!(parse_range(&json!({"x": 1}), 2).is_err());
        assert!(parse_range(&json!({"versions": [{"id": "v2.0"}]}), 3).is_err());
        assert!(parse_range(&json!({"version": {"version": "latest"}}), 2).is_err());
    }

    #[test]
    fn negotiates_highest_common_version() {
        let range = |min, max| {
            Some(VersionRange {
                min: Microversion::new(2, min),
                max: Microversion::new(2, max),
            })
        };
        assert_eq!(
            negotiate("nova", range(1, 96), NOVA),
            Ok(Microversion::new(2, 79))
        );
        assert_eq!(
            negotiate("nova", range(1, 60), NOVA),
            Ok(Microversion::new(2, 60))
        );
        assert_eq!(
            negotiate("nova", range(1, 53), NOVA),
            Ok(Microversion::new(2, 53))
        );
        let err = negotiate("nova", range(1, 52), NOVA).unwrap_err();
        assert!(matches!(err, MicroversionError::TooOld { .. }));
        assert!(err.to_string().contains("at least 2.53"), "{err}");
        assert!(matches!(
            negotiate("nova", range(80, 96), NOVA),
            Err(MicroversionError::TooNew { .. })
        ));
        assert!(matches!(
            negotiate("nova", None, NOVA),
            Err(MicroversionError::TooOld { .. })
        ));
    }

    #[test]
    fn parses_and_orders_versions() {
        assert_eq!(Microversion::parse("2.79"), Some(Microversion::new(2, 79)));
        assert!(Microversion::new(2, 9) < Microversion::new(2, 10));
        assert_eq!(Microversion::parse("latest"), None);
        assert_eq!(Microversion::parse("2"), None);
        assert_eq!(Microversion::new(3, 64).to_string(), "3.64");
    }

    #[test]
    fn finds_the_version_root() {
        assert_eq!(
            version_root("http://127.0.0.1:8776/volume/v3/abc").as_deref(),
            Some("http://127.0.0.1:8776/volume/v3")
        );
        assert_eq!(
            version_root("http://127.0.0.1/compute/v2.1").as_deref(),
            Some("http://127.0.0.1/compute/v2.1")
        );
        assert_eq!(
            version_root("http://127.0.0.1:8774/v2.1/").as_deref(),
            Some("http://127.0.0.1:8774/v2.1")
        );
        assert_eq!(version_root("http://127.0.0.1:9696/volume/vx"), None);
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in ".*", doc in ".*") {
            let _ = Microversion::parse(&s);
            let _ = version_root(&s);
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&doc) {
                let _ = parse_range(&v, 2);
            }
        }
    }
}
