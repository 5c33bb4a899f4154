//! `holdfast cluster ...` against a real server and a test cloud.

use std::time::Duration;

use clap::Parser;
use holdfast_orchestrator::cli::{self, Cli, CliError};
use serde_json::Value;

use super::cloud::{self, license};
use crate::helpers::{ADMIN_PASSWORD, TestApp};
use crate::on_both_backends;

struct Shell {
    profile_file: std::path::PathBuf,
}

impl Shell {
    async fn run(&self, args: &[&str], stdin: &str) -> Result<String, CliError> {
        let pf = self.profile_file.display().to_string();
        let mut argv = vec!["holdfast", "--profile-file", pf.as_str()];
        argv.extend_from_slice(args);
        let parsed = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let input = stdin.to_owned();
        cli::execute(&parsed.global, parsed.command, |_| None, move || input).await
    }

    async fn json(&self, args: &[&str], stdin: &str) -> Value {
        let mut with = vec!["-f", "json"];
        with.extend_from_slice(args);
        let out = self
            .run(&with, stdin)
            .await
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        serde_json::from_str(&out).expect("JSON output")
    }
}

async fn cluster_commands(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let sh = Shell {
        profile_file: dir.path().join("profiles.toml"),
    };
    let admin = app.admin().await;
    let group = app.create_group(&admin, "ops").await;
    license(app, &admin).await;
    let cloud = cloud::start(&cloud::small_fixture()).await;
    // The CLI's login ends the session above (one session per user): the test reads
    // through the CLI from here on.
    sh.run(
        &[
            "login",
            "--url",
            &app.base,
            "--user",
            "admin",
            "--password-stdin",
        ],
        &format!("{ADMIN_PASSWORD}\n"),
    )
    .await
    .unwrap();
    let storage = dir.path().join("storage.json");
    std::fs::write(
        &storage,
        r#"[{"type": "file", "backend": "file", "node": "n1", "path_prefix": "/srv/volumes"}]"#,
    )
    .unwrap();
    let auth_url = cloud.tc.auth_url();
    let pw = format!("{}\n", cloud.tc.admin_password());
    let storage_arg = storage.display().to_string();
    let registered = sh
        .json(
            &[
                "cluster",
                "register",
                "cli-1",
                "--group",
                &group,
                "--auth-url",
                &auth_url,
                "--username",
                "admin",
                "--project",
                "admin",
                "--storage-file",
                &storage_arg,
            ],
            &pw,
        )
        .await;
    let id = registered["id"].as_str().unwrap().to_owned();
    assert_eq!(registered["storage"][0]["node"], "n1");
    let synced = |v: &Value| v["sync_status"] == "Done";
    let mut done = false;
    for _ in 0..300 {
        if synced(&sh.json(&["cluster", "show", &id], "").await) {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(done, "sync did not finish");
    let table = sh.run(&["cluster", "list"], "").await.unwrap();
    assert!(
        table.contains("cli-1") && table.contains("(1 of 1 shown"),
        "{table}"
    );
    let shown = sh.json(&["cluster", "show", &id], "").await;
    assert_eq!(shown["resource_counts"]["instances"], 6);
    let vols = sh
        .json(
            &["cluster", "resources", &id, "volumes", "--limit", "5"],
            "",
        )
        .await;
    assert_eq!(vols["items"].as_array().unwrap().len(), 5);
    assert_eq!(vols["total"], 12);
    let vid = vols["items"][0]["id"].as_str().unwrap().to_owned();
    let one = sh
        .json(&["cluster", "resource", &id, "volumes", &vid], "")
        .await;
    assert_eq!(one["document"]["id"], vid.as_str());
    let un = sh.json(&["cluster", "unprotected", &id], "").await;
    assert_eq!(un["total"], 6);
    let renamed = sh
        .json(&["cluster", "update", &id, "--name", "cli-2"], "")
        .await;
    assert_eq!(renamed["name"], "cli-2");
    let rotated = sh
        .run(
            &["cluster", "update", &id, "--rotate-password"],
            &format!("wrong\n{}\n", cloud.tc.admin_password()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&rotated, CliError::Api { status: 422, .. }),
        "{rotated}"
    );
    let synced = sh.json(&["cluster", "sync", &id], "").await;
    assert_eq!(synced["sync_status"], "Running");
    let out = sh.run(&["cluster", "delete", &id], "").await.unwrap();
    assert!(out.contains("deleted cluster"), "{out}");
    cloud.tc.shutdown().await;
}

on_both_backends!(cluster_commands);
