//! Per-service middleware: request ids, counters, fault injection, error rendering and
//! microversion negotiation.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{Unrendered, render, render_status};
use super::{App, Svc};
use crate::faults::FaultAction;
use crate::model::CloudError;

/// Outermost layer of each service: counts the request, applies faults, adds the
/// request id, and renders errors in the service's format.
pub async fn edge(State((app, svc)): State<(App, Svc)>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| path.clone());
    app.faults
        .count_request(format!("{} {method} {route}", svc.name()));
    let mut response = if app.faults.outage.load(Ordering::Relaxed) {
        render_status(
            svc,
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is currently unavailable. Please try again at a later time.",
        )
    } else {
        match app.faults.check(svc.name(), &method, &path) {
            Some(FaultAction::Error { status, message }) => {
                let code =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                render_status(svc, code, message.as_deref().unwrap_or("Injected fault"))
            }
            Some(FaultAction::Timeout { ms }) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                render_status(svc, StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
            }
            Some(FaultAction::QuotaExceeded { resource }) => render(
                svc,
                &CloudError::QuotaExceeded(format!(
                    "Quota exceeded for {resource}: Requested 1, but already used 0 of 0 {resource}"
                )),
            ),
            Some(FaultAction::Latency { ms }) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                next.run(req).await
            }
            None => next.run(req).await,
        }
    };
    if let Some(Unrendered(e)) = response.extensions_mut().remove::<Unrendered>() {
        let headers = std::mem::take(response.headers_mut());
        response = render(svc, &e);
        for (k, v) in headers.iter() {
            if k.as_str().starts_with("openstack-api-version")
                || k.as_str().starts_with("x-openstack")
                || k == "vary"
            {
                response.headers_mut().insert(k.clone(), v.clone());
            }
        }
    }
    let rid = format!("req-{}", uuid::Uuid::new_v4());
    if let Ok(v) = HeaderValue::from_str(&rid) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-openstack-request-id"), v.clone());
        if svc == Svc::Compute {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-compute-request-id"), v);
        }
    }
    response
}

/// A request's microversion (minor number; the major is fixed per service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mv(pub u32);

/// Nova: 2.1 ..= 2.79 (below 2.88, which dropped hypervisor usage). Cinder: 3.0 ..= 3.64.
pub const NOVA_MAX: u32 = 79;
pub const CINDER_MAX: u32 = 64;

fn parse_version(s: &str, major: u32, min: u32, max: u32) -> Result<u32, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("latest") {
        return Ok(max);
    }
    let (a, b) = s
        .split_once('.')
        .ok_or_else(|| format!("Invalid API version request: {s}"))?;
    let (a, b): (u32, u32) = match (a.parse(), b.parse()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Err(format!("Version string {s} is not of valid format")),
    };
    if a != major || b < min || b > max {
        return Err(format!(
            "Version {s} is not supported by the API. Minimum is {major}.{min} and maximum is {major}.{max}."
        ));
    }
    Ok(b)
}

/// Reads `OpenStack-API-Version: <service> X.Y` (and Nova's legacy header), answers 406
/// for unsupported versions, and echoes the version used.
pub async fn microversion(State(svc): State<Svc>, mut req: Request, next: Next) -> Response {
    let (service, major, min, max, legacy) = match svc {
        Svc::Compute => (
            "compute",
            2,
            1,
            NOVA_MAX,
            Some("x-openstack-nova-api-version"),
        ),
        _ => ("volume", 3, 0, CINDER_MAX, None),
    };
    let h = req.headers();
    let requested = h
        .get_all("openstack-api-version")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|v| {
            let mut it = v.split_whitespace();
            match (it.next(), it.next()) {
                (Some(s), Some(ver)) if s.eq_ignore_ascii_case(service) => Some(ver.to_owned()),
                _ => None,
            }
        })
        .or_else(|| {
            legacy
                .and_then(|l| h.get(l))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
    let minor = match requested {
        None => min,
        Some(v) => match parse_version(&v, major, min, max) {
            Ok(m) => m,
            Err(msg) => {
                let mut r = render_status(svc, StatusCode::NOT_ACCEPTABLE, &msg).into_response();
                r.headers_mut()
                    .insert("vary", HeaderValue::from_static("OpenStack-API-Version"));
                return r;
            }
        },
    };
    req.extensions_mut().insert(Mv(minor));
    let mut r = next.run(req).await;
    let echo = format!("{service} {major}.{minor}");
    if let Ok(v) = HeaderValue::from_str(&echo) {
        r.headers_mut().insert("openstack-api-version", v);
    }
    if let Some(l) = legacy
        && let Ok(v) = HeaderValue::from_str(&format!("{major}.{minor}"))
    {
        r.headers_mut().insert(HeaderName::from_static(l), v);
        r.headers_mut().insert(
            "vary",
            HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
        );
    } else {
        r.headers_mut()
            .insert("vary", HeaderValue::from_static("OpenStack-API-Version"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("2.47", 2, 1, 60), Ok(47));
        assert_eq!(parse_version("latest", 2, 1, 60), Ok(60));
        assert!(parse_version("2.61", 2, 1, 60).is_err());
        assert!(parse_version("3.1", 2, 1, 60).is_err());
        assert!(parse_version("2.x", 2, 1, 60).is_err());
        assert_eq!(parse_version("3.0", 3, 0, 60), Ok(0));
    }
}
