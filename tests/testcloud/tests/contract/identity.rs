use reqwest::StatusCode;
use serde_json::json;

use super::target;
use crate::support::{Session, password_auth, unique};

#[tokio::test]
async fn tokens_catalog_and_unauthorized_bodies() {
    let (creds, _cloud) = target().await;
    let http = reqwest::Client::new();
    let url = format!("{}/auth/tokens", creds.auth_url.trim_end_matches('/'));
    let bad = http
        .post(&url)
        .json(&password_auth(
            &creds.user,
            "wrong-password",
            &creds.project,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], 401);
    assert_eq!(body["error"]["title"], "Unauthorized");

    let s = Session::login(&creds).await;
    assert!(
        s.compute.contains("/v2.1"),
        "compute endpoint {}",
        s.compute
    );
    // Validation of our own token.
    let r = s
        .call(
            reqwest::Method::GET,
            &url,
            None,
            &[("x-subject-token", &s.token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["token"]["project"]["id"], s.project_id.as_str());
    assert!(
        r.body["token"]["expires_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(
        r.body["token"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "admin")
    );

    // Every service rejects a missing or bogus token with 401.
    for u in [
        format!("{}/servers", s.compute),
        format!("{}/networks", s.network),
        format!("{}/volumes", s.volume),
    ] {
        let r = http.get(&u).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{u}");
        let r = http
            .get(&u)
            .header("x-auth-token", "bogus")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{u}");
    }
}

#[tokio::test]
async fn projects_users_and_role_assignments() {
    let (creds, _cloud) = target().await;
    let s = Session::login(&creds).await;
    let name = unique("contract-project");
    let r = s
        .post(
            &format!("{}/projects", s.identity),
            json!({"project": {"name": name, "domain_id": "default", "description": "contract"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let pid = r.body["project"]["id"].as_str().unwrap().to_owned();
    let dup = s
        .post(
            &format!("{}/projects", s.identity),
            json!({"project": {"name": name, "domain_id": "default"}}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);

    let uname = unique("contract-user");
    let r = s
        .post(
            &format!("{}/users", s.identity),
            json!({"user": {"name": uname, "domain_id": "default", "password": "pw-123456"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let uid = r.body["user"]["id"].as_str().unwrap().to_owned();
    let roles = s.get(&format!("{}/roles?name=member", s.identity)).await;
    let rid = roles.body["roles"][0]["id"]
        .as_str()
        .expect("member role")
        .to_owned();

    let grant = format!("{}/projects/{pid}/users/{uid}/roles/{rid}", s.identity);
    assert_eq!(
        s.call(reqwest::Method::HEAD, &grant, None, &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Keystone refuses a body that is not a JSON object; clients send none.
    assert_eq!(
        s.put(&grant, json!(null)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.call(reqwest::Method::PUT, &grant, None, &[]).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.call(reqwest::Method::HEAD, &grant, None, &[])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let list = s
        .get(&format!(
            "{}/role_assignments?user.id={uid}&scope.project.id={pid}",
            s.identity
        ))
        .await;
    assert_eq!(list.body["role_assignments"].as_array().unwrap().len(), 1);

    // The new user can log in to the project, and is not an admin.
    let member = Session::login(&crate::support::Creds {
        user: uname,
        password: "pw-123456".into(),
        project: name,
        ..creds.clone()
    })
    .await;
    assert_eq!(member.project_id, pid);
    let denied = member
        .post(
            &format!("{}/projects", member.identity),
            json!({"project": {"name": unique("x")}}),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    assert_eq!(
        s.delete(&format!("{}/users/{uid}", s.identity))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.delete(&format!("{}/projects/{pid}", s.identity))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let gone = s.get(&format!("{}/projects/{pid}", s.identity)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["error"]["code"], 404);
}
