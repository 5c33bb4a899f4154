//! Reading OpenStack error bodies (pure).
//!
//! Nova and Cinder: `{"itemNotFound": {"code": 404, "message": "..."}}` (the key names the
//! fault: `badRequest`, `forbidden`, `conflictingRequest`, `overLimit`, ...). Neutron:
//! `{"NeutronError": {"type": "OverQuota", "message": "...", "detail": ""}}`. Keystone:
//! `{"error": {"code": 401, "message": "...", "title": "Unauthorized"}}`. Anything else
//! (an HTML page from a proxy) is shortened to its first line.

use serde_json::Value;

use super::{ApiFailure, Error};

const MAX_MESSAGE: usize = 300;

/// The service's message and fault type (`itemNotFound`, `OverQuota`, ...).
pub(crate) fn service_message(body: &[u8]) -> (String, Option<String>) {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        for (key, inner) in &map {
            if let Some(msg) = inner.get("message").and_then(Value::as_str) {
                let kind = match key.as_str() {
                    "NeutronError" | "error" => inner
                        .get("type")
                        .or_else(|| inner.get("title"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    _ => Some(key.clone()),
                };
                return (shorten(msg), kind);
            }
        }
        if let Some(msg) = map.get("message").and_then(Value::as_str) {
            return (shorten(msg), None);
        }
        // Old Neutron: `{"NeutronError": "text"}`.
        if let Some(msg) = map.get("NeutronError").and_then(Value::as_str) {
            return (shorten(msg), None);
        }
    }
    let text = String::from_utf8_lossy(body);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.is_empty() {
        ("(empty body)".to_owned(), None)
    } else {
        (shorten(line), None)
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_MESSAGE {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX_MESSAGE).collect();
        out.push('…');
        out
    }
}

fn mentions_quota(failure: &ApiFailure, kind: Option<&str>) -> bool {
    let m = failure.message.to_ascii_lowercase();
    kind.is_some_and(|k| k == "OverQuota" || k == "overLimit")
        || m.contains("quota exceeded")
        || m.contains("exceeds allowed")
        || m.contains("exceeded quota")
}

/// The typed error for a non-2xx answer (401 is handled by the session before this).
pub(crate) fn classify(failure: ApiFailure, kind: Option<&str>, attempts: u32) -> Error {
    match failure.status {
        413 => Error::QuotaExceeded(failure),
        403 | 409 if mentions_quota(&failure, kind) => Error::QuotaExceeded(failure),
        400 => Error::BadRequest(failure),
        403 => Error::Forbidden(failure),
        404 => Error::NotFound(failure),
        409 => Error::Conflict(failure),
        500..=599 => Error::ServerError { failure, attempts },
        _ => Error::UnexpectedStatus(failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ServiceType;

    fn failure(service: ServiceType, status: u16, body: &str) -> (ApiFailure, Option<String>) {
        let (message, kind) = service_message(body.as_bytes());
        (
            ApiFailure {
                service,
                method: "POST".into(),
                path: "/x".into(),
                status,
                message,
                request_id: Some("req-1".into()),
            },
            kind,
        )
    }

    fn check(service: ServiceType, status: u16, body: &str) -> Error {
        let (f, kind) = failure(service, status, body);
        classify(f, kind.as_deref(), 1)
    }

    #[test]
    fn nova_faults() {
        // Bodies as in the Nova api-ref.
        let e = check(
            ServiceType::Compute,
            404,
            r#"{"itemNotFound": {"code": 404, "message": "Instance 9a2d could not be found."}}"#,
        );
        assert!(
            matches!(&e, Error::NotFound(f) if f.message == "Instance 9a2d could not be found."),
            "{e}"
        );
        let e = check(
            ServiceType::Compute,
            403,
            r#"{"forbidden": {"code": 403, "message": "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances"}}"#,
        );
        assert!(matches!(e, Error::QuotaExceeded(_)), "{e}");
        let e = check(
            ServiceType::Compute,
            403,
            r#"{"forbidden": {"code": 403, "message": "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed."}}"#,
        );
        assert!(matches!(e, Error::Forbidden(_)), "{e}");
        let e = check(
            ServiceType::Compute,
            409,
            r#"{"conflictingRequest": {"code": 409, "message": "Cannot 'stop' instance 9a2d while it is in vm_state stopped"}}"#,
        );
        assert!(matches!(e, Error::Conflict(_)), "{e}");
        let e = check(
            ServiceType::Compute,
            400,
            r#"{"badRequest": {"code": 400, "message": "Invalid input for field/attribute flavorRef."}}"#,
        );
        assert!(
            e.to_string()
                .contains("Invalid input for field/attribute flavorRef."),
            "{e}"
        );
        assert!(e.to_string().contains("request id req-1"), "{e}");
    }

    #[test]
    fn cinder_faults() {
        let e = check(
            ServiceType::BlockStorage,
            413,
            r#"{"overLimit": {"code": 413, "message": "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested 10G, quota is 1000G and 995G has been consumed.", "retryAfter": "0"}}"#,
        );
        assert!(matches!(e, Error::QuotaExceeded(_)), "{e}");
        let e = check(
            ServiceType::BlockStorage,
            400,
            r#"{"badRequest": {"code": 400, "message": "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer."}}"#,
        );
        assert!(
            matches!(&e, Error::BadRequest(f) if f.message.starts_with("Invalid volume: Volume status")),
            "{e}"
        );
        let long = format!(
            r#"{{"badRequest": {{"code": 400, "message": "{}"}}}}"#,
            "x".repeat(1000)
        );
        let e = check(ServiceType::BlockStorage, 400, &long);
        assert!(
            matches!(&e, Error::BadRequest(f) if f.message.ends_with('…') && f.message.chars().count() == 301),
            "{e}"
        );
    }

    #[test]
    fn neutron_faults() {
        let e = check(
            ServiceType::Network,
            409,
            r#"{"NeutronError": {"type": "OverQuota", "message": "Quota exceeded for resources: ['floatingip'].", "detail": ""}}"#,
        );
        assert!(matches!(e, Error::QuotaExceeded(_)), "{e}");
        let e = check(
            ServiceType::Network,
            409,
            r#"{"NeutronError": {"type": "NetworkInUse", "message": "Unable to complete operation on network 3c1. There are one or more ports still in use on the network.", "detail": ""}}"#,
        );
        assert!(matches!(e, Error::Conflict(_)), "{e}");
        let e = check(
            ServiceType::Network,
            404,
            r#"{"NeutronError": {"type": "FloatingIPNotFound", "message": "Floating IP 7e3 could not be found", "detail": ""}}"#,
        );
        assert!(e.is_not_found());
    }

    #[test]
    fn keystone_and_non_json_bodies() {
        let (msg, kind) = service_message(br#"{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}"#);
        assert_eq!(msg, "The request you have made requires authentication.");
        assert_eq!(kind.as_deref(), Some("Unauthorized"));
        let e = check(
            ServiceType::Compute,
            502,
            "<html>\n<head><title>502 Bad Gateway</title></head></html>",
        );
        assert!(
            matches!(&e, Error::ServerError { failure, .. } if failure.message == "<html>"),
            "{e}"
        );
        let e = check(ServiceType::Compute, 503, "");
        assert!(e.to_string().contains("(empty body)"), "{e}");
        let e = check(ServiceType::Compute, 418, "{\"not\": [1, 2");
        assert!(matches!(e, Error::UnexpectedStatus(_)), "{e}");
        let (msg, _) = service_message(&[0xff, 0xfe, b'x']);
        assert!(!msg.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn any_body_yields_a_message(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let (message, _) = service_message(&body);
            proptest::prop_assert!(!message.is_empty());
            proptest::prop_assert!(message.chars().count() <= MAX_MESSAGE + 1);
        }
    }
}
