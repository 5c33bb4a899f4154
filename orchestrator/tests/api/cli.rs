//! The CLI against a real server: every client command, JSON and table output, the
//! profile file.

use clap::Parser;
use holdfast_orchestrator::cli::{self, Cli, CliError};
use serde_json::Value;

use crate::helpers::{ADMIN_PASSWORD, TestApp};
use crate::on_both_backends;

struct Shell<'a> {
    app: &'a TestApp,
    profile_file: std::path::PathBuf,
}

impl Shell<'_> {
    async fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Result<String, CliError> {
        let pf = self.profile_file.display().to_string();
        let mut argv = vec!["holdfast", "--profile-file", pf.as_str()];
        argv.extend_from_slice(args);
        let parsed = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let input = stdin.to_owned();
        cli::execute(&parsed.global, parsed.command, |_| None, move || input).await
    }

    async fn ok(&self, args: &[&str]) -> String {
        self.run_with_stdin(args, "")
            .await
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut with = vec!["-f", "json"];
        with.extend_from_slice(args);
        serde_json::from_str(&self.ok(&with).await).expect("JSON output")
    }
}

async fn cli_drives_the_api(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let sh = Shell {
        app,
        profile_file: dir.path().join("profiles.toml"),
    };
    // Not logged in yet.
    let e = sh.run_with_stdin(&["user", "list"], "").await.unwrap_err();
    assert!(matches!(e, CliError::NotLoggedIn(_)), "{e}");
    let out = sh
        .run_with_stdin(
            &[
                "login",
                "--url",
                &sh.app.base,
                "--user",
                "admin",
                "--password-stdin",
            ],
            &format!("{ADMIN_PASSWORD}\n"),
        )
        .await
        .unwrap();
    assert!(out.contains("logged in as admin"), "{out}");
    let profile = std::fs::read_to_string(&sh.profile_file).unwrap();
    assert!(
        profile.contains("[profiles.default]") && profile.contains("token"),
        "{profile}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sh.profile_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let g = sh
        .json(&["group", "create", "ops", "--description", "Operations"])
        .await;
    let gid = g["id"].as_str().unwrap().to_owned();
    let created = sh
        .json(&[
            "user",
            "create",
            "olga",
            "--name",
            "Olga",
            "--email",
            "olga@example.com",
            "--role",
            "operator",
            "--group",
            &gid,
        ])
        .await;
    assert_eq!(created["user"]["groups"][0], gid.as_str());
    assert!(created["password"].as_str().unwrap().len() >= 6);
    let table = sh.ok(&["user", "list"]).await;
    assert!(table.lines().next().unwrap().starts_with("id"), "{table}");
    assert!(
        table.contains("olga") && table.contains("(2 of 2 shown, offset 0)"),
        "{table}"
    );
    let list = sh
        .json(&["user", "list", "--role", "operator", "--limit", "10"])
        .await;
    assert_eq!(list["total"], 1);
    assert_eq!(sh.json(&["user", "show", "olga"]).await["role"], "operator");
    assert_eq!(
        sh.json(&["user", "update", "olga", "--name", "Olga K"])
            .await["name"],
        "Olga K"
    );
    let reset = sh.json(&["user", "reset-password", "olga"]).await;
    assert!(reset["password"].is_string());
    assert!(
        sh.ok(&["user", "logout", "olga"])
            .await
            .contains("logged out olga")
    );
    assert_eq!(
        sh.json(&["group", "show", &gid]).await["members"][0],
        "olga"
    );
    assert_eq!(
        sh.json(&["group", "update", &gid, "--name", "operations"])
            .await["name"],
        "operations"
    );
    assert_eq!(
        sh.json(&["group", "members", &gid]).await["members"],
        serde_json::json!([])
    );
    assert_eq!(
        sh.json(&["group", "list", "--search", "oper"]).await["total"],
        1
    );

    // Licence: developer keygen + issue, then register (the app trusts the test key, so
    // the freshly generated vendor key is refused, and the test vendor key is accepted).
    let product = sh.json(&["license", "show"]).await["product_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_file = dir.path().join("vendor.key");
    let kg = sh
        .ok(&[
            "license",
            "keygen",
            "--private-key",
            key_file.to_str().unwrap(),
        ])
        .await;
    assert!(kg.contains("public key"), "{kg}");
    let issued = sh
        .ok(&[
            "license",
            "issue",
            "--private-key",
            key_file.to_str().unwrap(),
            "--product-uuid",
            &product,
            "--expires",
            "2099-01-01",
            "--instances",
            "5",
        ])
        .await;
    let e = sh
        .run_with_stdin(&["license", "register", issued.trim()], "")
        .await
        .unwrap_err();
    assert!(matches!(e, CliError::Api { status: 422, .. }), "{e}");
    let admin_token = sh.app.admin().await;
    let good = sh.app.licence_key(&admin_token, "2099-01-01", 7).await;
    // The CLI session was replaced by that login: log in again.
    sh.run_with_stdin(
        &[
            "login",
            "--url",
            &sh.app.base,
            "--user",
            "admin",
            "--password-stdin",
        ],
        ADMIN_PASSWORD,
    )
    .await
    .unwrap();
    let registered = sh
        .run_with_stdin(&["-f", "json", "license", "register", "-"], &good)
        .await
        .unwrap();
    let registered: Value = serde_json::from_str(&registered).unwrap();
    assert_eq!(registered["terms"]["instance_limit"], 7);

    let ev = sh
        .json(&["event", "list", "--code", "licence.registered"])
        .await;
    assert_eq!(ev["total"], 1);
    let ev_id = ev["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        sh.json(&["event", "show", &ev_id]).await["code"],
        "licence.registered"
    );

    let s = sh
        .json(&["settings", "set", "lockout_minutes=7", "webhook_url=null"])
        .await;
    assert_eq!(s["lockout_minutes"], 7);
    assert_eq!(sh.json(&["settings", "show"]).await["lockout_minutes"], 7);
    let e = sh
        .run_with_stdin(&["settings", "set", "lockout_minutes=0"], "")
        .await
        .unwrap_err();
    assert!(matches!(e, CliError::Api { status: 422, .. }), "{e}");
    // The SMTP password is read from stdin and never shown.
    let s: Value = serde_json::from_str(
        &sh.run_with_stdin(
            &[
                "-f",
                "json",
                "settings",
                "set",
                "smtp_tls=starttls",
                "smtp_username=mailer",
                "smtp_password=-",
            ],
            "Stdin-Pass-9!\n",
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(s["smtp_password_set"], true);
    assert!(!s.to_string().contains("Stdin-Pass-9!"));

    // Licence usage and schedules.
    let lic = sh.json(&["license", "show"]).await;
    assert_eq!(lic["protected_instances"], 0);
    assert!(lic["days_to_expiry"].is_i64(), "{lic}");
    let table = sh.ok(&["schedule", "list"]).await;
    assert!(table.contains("builtin:event-retention"), "{table}");
    assert!(table.contains("last_result"), "{table}");
    let one = sh
        .json(&["schedule", "show", "builtin:licence-check"])
        .await;
    assert_eq!(one["kind"], "licence-check");

    let audit = sh.json(&["audit", "list", "--object-type", "groups"]).await;
    assert!(audit["total"].as_i64().unwrap() >= 3);
    assert_eq!(sh.json(&["account", "show"]).await["id"], "admin");

    assert!(
        sh.ok(&["user", "delete", "olga"])
            .await
            .contains("deleted user olga")
    );
    assert!(
        sh.ok(&["group", "delete", &gid])
            .await
            .contains("deleted group")
    );
    assert!(sh.ok(&["logout"]).await.contains("logged out"));
    let e = sh.run_with_stdin(&["user", "list"], "").await.unwrap_err();
    assert!(matches!(e, CliError::NotLoggedIn(_)), "{e}");
}

async fn cli_changes_the_own_password(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let sh = Shell {
        app,
        profile_file: dir.path().join("p.toml"),
    };
    let admin = app.admin().await;
    let (_, pw) = app.create_user(&admin, "pat", "viewer", &[]).await;
    sh.run_with_stdin(
        &[
            "login",
            "--url",
            &app.base,
            "--user",
            "pat",
            "--password-stdin",
        ],
        &pw,
    )
    .await
    .unwrap();
    let e = sh
        .run_with_stdin(&["account", "password"], &format!("{pw}\nweak\n"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("weak_password"), "{e}");
    sh.run_with_stdin(&["account", "password"], &format!("{pw}\nN3w!pass\n"))
        .await
        .unwrap();
    app.login("pat", "N3w!pass").await;
}

on_both_backends!(cli_drives_the_api, cli_changes_the_own_password);
