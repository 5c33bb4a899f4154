//! Login, sessions, lockout, password policy, user and group rules, audit trail.

use serde_json::json;

use crate::helpers::{ADMIN_PASSWORD, TestApp, error_code};
use crate::on_both_backends;

async fn a_new_login_ends_the_previous_session(app: &TestApp) {
    let first = app.admin().await;
    let (s, _) = app.call("GET", "/api/v1/account", Some(&first), None).await;
    assert_eq!(s, 200);
    let second = app.admin().await;
    let (s, b) = app.call("GET", "/api/v1/account", Some(&first), None).await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(error_code(&b), "unauthenticated");
    let (s, b) = app
        .call("GET", "/api/v1/account", Some(&second), None)
        .await;
    assert_eq!((s, b["id"].as_str()), (200, Some("admin")));
    let (s, _) = app
        .call("DELETE", "/api/v1/sessions/current", Some(&second), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .call("GET", "/api/v1/account", Some(&second), None)
        .await;
    assert_eq!(s, 401);
}

async fn lockout_after_five_failures_with_an_event(app: &TestApp) {
    let admin = app.admin().await;
    let (id, pw) = app.create_user(&admin, "victim", "viewer", &[]).await;
    for i in 1..=4 {
        let (s, b) = app
            .call(
                "POST",
                "/api/v1/sessions",
                None,
                Some(json!({"id": id, "password": "wrong"})),
            )
            .await;
        assert_eq!(
            (s, error_code(&b).as_str()),
            (401, "invalid_credentials"),
            "attempt {i}"
        );
    }
    let (s, b) = app
        .call(
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"id": id, "password": "wrong"})),
        )
        .await;
    assert_eq!((s, error_code(&b).as_str()), (423, "account_locked"), "{b}");
    // Even the right password is refused while locked.
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"id": id, "password": pw})),
        )
        .await;
    assert_eq!(s, 423);
    let (s, events) = app
        .call(
            "GET",
            "/api/v1/events?code=login.lockout",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(events["total"], 1, "{events}");
    assert_eq!(events["items"][0]["objects"][0]["id"], "victim");
    // A password reset by the Admin clears the lock.
    let (s, b) = app
        .call(
            "POST",
            "/api/v1/users/victim/password-reset",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200);
    app.login("victim", b["password"].as_str().unwrap()).await;
}

async fn failures_are_counted_per_account_and_reset_by_success(app: &TestApp) {
    let admin = app.admin().await;
    let (_, pw) = app.create_user(&admin, "carol", "viewer", &[]).await;
    for _ in 0..4 {
        app.call(
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"id": "carol", "password": "x"})),
        )
        .await;
    }
    app.login("carol", &pw).await;
    for _ in 0..4 {
        app.call(
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"id": "carol", "password": "x"})),
        )
        .await;
    }
    // Four more failures after a success: still open.
    app.login("carol", &pw).await;
    // Another account's failures do not count against admin.
    app.admin().await;
}

async fn password_change_enforces_the_policy(app: &TestApp) {
    let admin = app.admin().await;
    let (_, pw) = app.create_user(&admin, "dave", "operator", &[]).await;
    let token = app.login("dave", &pw).await;
    let cases = [
        ("abc", "6 to 16 characters"),
        ("abcdefgh", "an upper-case letter"),
        ("ABCDEFG1!", "a lower-case letter"),
        ("Abcdefgh!", "a digit"),
        ("Abcdefgh1", "a special character"),
        ("Abcdefgh1!xxxxxxx", "6 to 16 characters"),
    ];
    for (new, missing) in cases {
        let (s, b) = app
            .call(
                "POST",
                "/api/v1/account/password",
                Some(&token),
                Some(json!({"current_password": pw, "new_password": new})),
            )
            .await;
        assert_eq!(
            (s, error_code(&b).as_str()),
            (422, "weak_password"),
            "{new}"
        );
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.contains(missing), "{new}: {msg}");
    }
    let (s, b) = app
        .call(
            "POST",
            "/api/v1/account/password",
            Some(&token),
            Some(json!({"current_password": "wrong", "new_password": "Good1!pass"})),
        )
        .await;
    assert_eq!((s, error_code(&b).as_str()), (422, "wrong_password"));
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/account/password",
            Some(&token),
            Some(json!({"current_password": pw, "new_password": "Good1!pass"})),
        )
        .await;
    assert_eq!(s, 204);
    app.login("dave", "Good1!pass").await;
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"id": "dave", "password": pw})),
        )
        .await;
    assert_eq!(s, 401);
}

async fn user_rules(app: &TestApp) {
    let admin = app.admin().await;
    let g1 = app.create_group(&admin, "g1").await;
    let g2 = app.create_group(&admin, "g2").await;
    let (_, mpw) = app.create_user(&admin, "mgr", "manager", &[&g1]).await;
    app.create_user(&admin, "u1", "viewer", &[&g1]).await;
    app.create_user(&admin, "u2", "viewer", &[&g2]).await;
    let mgr = app.login("mgr", &mpw).await;

    // Unique id and e-mail.
    let dup = json!({"id": "u1", "name": "x", "email": "new@example.com", "role": "viewer"});
    let (s, b) = app
        .call("POST", "/api/v1/users", Some(&admin), Some(dup))
        .await;
    assert_eq!((s, error_code(&b).as_str()), (409, "conflict"));
    let dup = json!({"id": "u9", "name": "x", "email": "U1@example.com", "role": "viewer"});
    let (s, _) = app
        .call("POST", "/api/v1/users", Some(&admin), Some(dup))
        .await;
    assert_eq!(s, 409);

    // A Manager lists only their groups' users.
    let (s, b) = app.call("GET", "/api/v1/users", Some(&mgr), None).await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["mgr", "u1"]);
    // Admin sees all, with filters and pagination.
    let (_, b) = app
        .call("GET", "/api/v1/users?limit=2&offset=1", Some(&admin), None)
        .await;
    assert_eq!(b["total"], 4);
    assert_eq!(b["items"].as_array().unwrap().len(), 2);
    let (_, b) = app
        .call("GET", "/api/v1/users?role=manager", Some(&admin), None)
        .await;
    assert_eq!(b["items"][0]["id"], "mgr");
    let (_, b) = app
        .call(
            "GET",
            &format!("/api/v1/users?group={g2}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(b["items"][0]["id"], "u2");
    let (_, b) = app
        .call("GET", "/api/v1/users?q=U2", Some(&admin), None)
        .await;
    assert_eq!(b["total"], 1);
    let (s, b) = app
        .call("GET", "/api/v1/users?limit=0", Some(&admin), None)
        .await;
    assert_eq!((s, error_code(&b).as_str()), (400, "invalid_query"));

    // Nobody grants Admin; an Admin account is never deleted.
    let (s, _) = app
        .call(
            "PATCH",
            "/api/v1/users/u1",
            Some(&admin),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .call("DELETE", "/api/v1/users/admin", Some(&admin), None)
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .call("DELETE", "/api/v1/users/admin", Some(&mgr), None)
        .await;
    assert_eq!(s, 403);
    // A Manager's new user must be in the Manager's groups.
    let body = json!({"id": "u3", "name": "x", "email": "u3@example.com", "role": "viewer", "groups": [g2]});
    let (s, _) = app
        .call("POST", "/api/v1/users", Some(&mgr), Some(body))
        .await;
    assert_eq!(s, 403);
    let body = json!({"id": "u3", "name": "x", "email": "u3@example.com", "role": "viewer", "groups": [g1]});
    let (s, b) = app
        .call("POST", "/api/v1/users", Some(&mgr), Some(body))
        .await;
    assert_eq!(s, 201, "{b}");
    let u3_pw = b["password"].as_str().unwrap().to_owned();
    // Viewers update themselves but not their role or groups.
    let u3 = app.login("u3", &u3_pw).await;
    let (s, _) = app
        .call(
            "PATCH",
            "/api/v1/users/u3",
            Some(&u3),
            Some(json!({"name": "Me Myself"})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .call(
            "PATCH",
            "/api/v1/users/u3",
            Some(&u3),
            Some(json!({"role": "manager"})),
        )
        .await;
    assert_eq!(s, 403);
    // Manager logs out a user of their group.
    let (s, _) = app
        .call("DELETE", "/api/v1/users/u3/sessions", Some(&mgr), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = app.call("GET", "/api/v1/account", Some(&u3), None).await;
    assert_eq!(s, 401);
    // Deleting a group leaves its members with "no group".
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/groups/{g2}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (_, b) = app
        .call("GET", "/api/v1/users/u2", Some(&admin), None)
        .await;
    assert_eq!(b["groups"], json!([]));
    // Group names are unique.
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/groups",
            Some(&admin),
            Some(json!({"name": "g1"})),
        )
        .await;
    assert_eq!(s, 409);
}

async fn cookie_sessions_need_the_csrf_token(app: &TestApp) {
    let resp = app
        .client
        .post(app.url("/api/v1/sessions"))
        .json(&json!({"id": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let r = app
        .client
        .get(app.url("/api/v1/account"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .post(app.url("/api/v1/groups"))
        .header("cookie", &pair)
        .json(&json!({"name": "via-cookie"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(error_code(&b), "csrf");
    let r = app
        .client
        .post(app.url("/api/v1/groups"))
        .header("cookie", &pair)
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "via-cookie"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

async fn audit_trail_records_writes_without_secrets(app: &TestApp) {
    let admin = app.admin().await;
    app.create_user(&admin, "eve", "viewer", &[]).await;
    app.call(
        "POST",
        "/api/v1/sessions",
        None,
        Some(json!({"id": "eve", "password": "S3cret!guess"})),
    )
    .await;
    let (s, b) = app
        .call("GET", "/api/v1/audit?object_type=users", Some(&admin), None)
        .await;
    assert_eq!(s, 200);
    let rec = &b["items"][0];
    assert_eq!(rec["actor"], "admin");
    assert_eq!(rec["method"], "POST");
    assert_eq!(rec["status"], 201);
    assert_eq!(rec["change"]["id"], "eve");
    let (_, b) = app
        .call("GET", "/api/v1/audit?actor=eve", Some(&admin), None)
        .await;
    let rec = &b["items"][0];
    assert_eq!(rec["object_type"], "sessions");
    assert_eq!(rec["status"], 401);
    assert_eq!(rec["change"]["password"], "[redacted]");
    assert!(!b.to_string().contains("S3cret!guess"));
    let (_, all) = app
        .call("GET", "/api/v1/audit?limit=500", Some(&admin), None)
        .await;
    assert!(!all.to_string().contains(ADMIN_PASSWORD));
    let (s, _) = app
        .call("GET", "/api/v1/audit?since=yesterday", Some(&admin), None)
        .await;
    assert_eq!(s, 400);
}

async fn settings_are_typed_and_validated(app: &TestApp) {
    let admin = app.admin().await;
    let (s, b) = app
        .call("GET", "/api/v1/settings", Some(&admin), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["lockout_max_failures"], 5);
    assert_eq!(b["event_retention_days"], 365);
    let (s, b) = app
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(&admin),
            Some(json!({"lockout_max_failures": 0})),
        )
        .await;
    assert_eq!(s, 422);
    assert!(error_code(&b) == "invalid_field");
    let (s, b) = app
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(&admin),
            Some(json!({"lockout_max_failures": 2})),
        )
        .await;
    assert_eq!((s, &b["lockout_max_failures"]), (200, &json!(2)));
    // The new lockout count applies at once.
    app.create_user(&admin, "frank", "viewer", &[]).await;
    app.call(
        "POST",
        "/api/v1/sessions",
        None,
        Some(json!({"id": "frank", "password": "x"})),
    )
    .await;
    let (s, _) = app
        .call(
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"id": "frank", "password": "x"})),
        )
        .await;
    assert_eq!(s, 423);
}

on_both_backends!(
    a_new_login_ends_the_previous_session,
    lockout_after_five_failures_with_an_event,
    failures_are_counted_per_account_and_reset_by_success,
    password_change_enforces_the_policy,
    user_rules,
    cookie_sessions_need_the_csrf_token,
    audit_trail_records_writes_without_secrets,
    settings_are_typed_and_validated,
);
