//! Authentication: token issue, token use, re-auth on 401 and before expiry, which part
//! of the credential failed, the admin role check.

use holdfast_openstack::{AuthError, AuthPart, Error, Filters, Session};
use serde_json::json;

use crate::double::{Canned, Double, PROJECT};

fn servers_page() -> Canned {
    Canned::json(200, json!({"servers": []}))
}

#[tokio::test]
async fn issues_a_scoped_token_and_sends_it() {
    let cloud = Double::start();
    cloud.on("GET", "/compute/v2.1/servers/detail", vec![servers_page()]);
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    session
        .nova()
        .servers(&Filters::all_tenants())
        .await
        .unwrap();

    let auth = cloud.requests("POST", "/identity/v3/auth/tokens");
    assert_eq!(auth.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&auth[0].body).unwrap();
    assert_eq!(
        body["auth"]["identity"]["password"]["user"]["name"],
        "admin"
    );
    assert_eq!(
        body["auth"]["identity"]["password"]["user"]["domain"]["name"],
        "Default"
    );
    assert_eq!(body["auth"]["scope"]["project"]["name"], "admin");
    assert_eq!(
        body["auth"]["scope"]["project"]["domain"]["name"],
        "Default"
    );

    let list = cloud.requests("GET", "/compute/v2.1/servers/detail");
    assert_eq!(list[0].header("x-auth-token"), Some("tok-1"));
    assert!(list[0].query.contains("all_tenants=1"), "{}", list[0].query);
    // The token is cached: a second call does not authenticate again.
    session.nova().servers(&Filters::none()).await.unwrap();
    assert_eq!(cloud.requests("POST", "/identity/v3/auth/tokens").len(), 1);
    assert_eq!(
        session.token().await.unwrap().project.as_ref().unwrap().id,
        PROJECT
    );
}

#[tokio::test]
async fn reauthenticates_once_on_401_and_repeats_the_call() {
    let cloud = Double::start();
    let unauthorized = Canned::json(
        401,
        json!({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}),
    );
    cloud.on(
        "GET",
        "/compute/v2.1/servers/detail",
        vec![unauthorized.clone(), servers_page()],
    );
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    session.nova().servers(&Filters::none()).await.unwrap();
    let calls = cloud.requests("GET", "/compute/v2.1/servers/detail");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].header("x-auth-token"), Some("tok-1"));
    assert_eq!(calls[1].header("x-auth-token"), Some("tok-2"));

    // A 401 that persists after re-authentication is an auth error, not a loop.
    cloud.on("GET", "/compute/v2.1/servers/detail", vec![unauthorized]);
    let err = session.nova().servers(&Filters::none()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Auth(AuthError::Refused {
                part: AuthPart::Credentials,
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(
        cloud.requests("GET", "/compute/v2.1/servers/detail").len(),
        4
    );
}

#[tokio::test]
async fn reauthenticates_before_the_token_expires() {
    let cloud = Double::start();
    // Tokens that live 60 s are inside the default 300 s margin: renewed before use.
    cloud.set_token_lifetime(jiff::SignedDuration::from_secs(60));
    cloud.on("GET", "/compute/v2.1/servers/detail", vec![servers_page()]);
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    session.nova().servers(&Filters::none()).await.unwrap();
    assert!(cloud.requests("POST", "/identity/v3/auth/tokens").len() >= 2);
    let calls = cloud.requests("GET", "/compute/v2.1/servers/detail");
    assert_ne!(calls[0].header("x-auth-token"), Some("tok-1"));
}

#[tokio::test]
async fn tells_a_wrong_password_from_a_wrong_project() {
    let unauthorized = Canned::json(
        401,
        json!({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}),
    )
    .header("x-openstack-request-id", "req-401");

    // Scoped and unscoped refused: the user, password or user domain is wrong.
    let cloud = Double::start();
    cloud.on(
        "POST",
        "/identity/v3/auth/tokens",
        vec![unauthorized.clone()],
    );
    let err = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Auth(AuthError::Refused {
                part: AuthPart::Credentials,
                ..
            })
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("user name, password or user domain"),
        "{err}"
    );
    assert_eq!(err.request_id(), Some("req-401"));

    // Scoped refused, unscoped accepted: the project scope is wrong.
    let cloud = Double::start();
    let ok = Canned::json(
        201,
        crate::double::token_body(&cloud.base, &[], jiff::Timestamp::MAX),
    )
    .header("x-subject-token", "unscoped");
    cloud.on("POST", "/identity/v3/auth/tokens", vec![unauthorized, ok]);
    let err = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Auth(AuthError::Refused {
                part: AuthPart::ProjectScope,
                ..
            })
        ),
        "{err}"
    );
    let bodies: Vec<serde_json::Value> = cloud
        .requests("POST", "/identity/v3/auth/tokens")
        .iter()
        .map(|s| serde_json::from_str(&s.body).unwrap())
        .collect();
    assert!(bodies[0]["auth"].get("scope").is_some());
    assert!(bodies[1]["auth"].get("scope").is_none());
}

#[tokio::test]
async fn checks_the_admin_role() {
    let cloud = Double::start();
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    session.keystone().require_admin().await.unwrap();

    let cloud = Double::start();
    cloud.set_roles(vec!["member", "reader"]);
    let session = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap();
    let err = session.keystone().require_admin().await.unwrap_err();
    match &err {
        Error::Auth(AuthError::NotAdmin {
            roles,
            user,
            project,
        }) => {
            assert_eq!(roles, &["member", "reader"]);
            assert_eq!((user.as_str(), project.as_str()), ("admin", "admin"));
        }
        other => panic!("expected NotAdmin, got {other}"),
    }
    assert!(err.to_string().contains("openstack role add"), "{err}");
}

#[tokio::test]
async fn keystone_unreachable_and_bad_token_bodies() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut creds = Double::start().credentials();
    creds.auth_url = format!("http://127.0.0.1:{port}/v3");
    let mut options = Double::options();
    options.retry.max_attempts = 2;
    options.retry.base_delay = std::time::Duration::from_millis(1);
    let err = Session::connect(creds, options).await.unwrap_err();
    assert!(
        matches!(err, Error::Unreachable { attempts: 2, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );

    // A 201 without the token header, or with garbage, is an error, not a panic.
    let cloud = Double::start();
    cloud.on(
        "POST",
        "/identity/v3/auth/tokens",
        vec![Canned::raw(201, "{\"token\": {")],
    );
    let err = Session::connect(cloud.credentials(), Double::options())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth(AuthError::BadToken(_))), "{err}");
}
