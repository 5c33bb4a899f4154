//! `holdfast job ...` and `holdfast report ...` against the real server.

use clap::Parser;
use holdfast_orchestrator::cli::{self, Cli, CliError};
use serde_json::Value;

use crate::harness::*;
use crate::helpers::{ADMIN_PASSWORD, Backend};

async fn sh(profile: &std::path::Path, args: &[&str], stdin: &str) -> Result<String, CliError> {
    let pf = profile.display().to_string();
    let mut argv = vec!["holdfast", "--profile-file", pf.as_str()];
    argv.extend_from_slice(args);
    let parsed = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let input = stdin.to_owned();
    cli::execute(&parsed.global, parsed.command, |_| None, move || input).await
}

async fn json(profile: &std::path::Path, args: &[&str]) -> Value {
    let mut with = vec!["-f", "json"];
    with.extend_from_slice(args);
    let out = sh(profile, &with, "")
        .await
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    serde_json::from_str(&out).unwrap_or_else(|_| panic!("{args:?}: not JSON: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn job_and_report_commands() {
    let w = world(1, 1, crate::support::timing()).await;
    let ctx = start(Backend::Sqlite, &w, engine_options()).await;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("profiles.toml");
    sh(
        &p,
        &[
            "login",
            "--url",
            &ctx.app.base,
            "--user",
            "admin",
            "--password-stdin",
        ],
        &format!("{ADMIN_PASSWORD}\n"),
    )
    .await
    .unwrap();
    let job = json(
        &p,
        &["job", "create", "--plan", "plan-a", "--type", "drill"],
    )
    .await;
    let id = job["id"].as_str().unwrap().to_owned();
    let watched = sh(
        &p,
        &[
            "job",
            "watch",
            &id,
            "--until",
            "completed",
            "--interval-ms",
            "100",
        ],
        "",
    )
    .await
    .unwrap();
    assert!(
        watched.lines().last().unwrap().starts_with("completed"),
        "{watched}"
    );
    let listed = json(&p, &["job", "list", "--state", "completed"]).await;
    assert_eq!(listed["total"], 1);
    let e = sh(&p, &["job", "pause", &id], "").await.unwrap_err();
    assert!(
        matches!(&e, CliError::Api { status: 409, code, .. } if code == "invalid_transition"),
        "{e}"
    );
    let extended = json(&p, &["job", "extend", &id, "--minutes", "15"]).await;
    assert!(extended["job"]["cleanup_at"].is_string());
    json(&p, &["job", "rollback", &id]).await;
    let done = sh(&p, &["job", "watch", &id, "--interval-ms", "100"], "")
        .await
        .unwrap();
    assert!(done.contains("finished"), "{done}");
    let reports = json(&p, &["report", "list", "--type", "drill"]).await;
    assert_eq!(reports["total"], 1);
    let rid = reports["items"][0]["id"].as_str().unwrap().to_owned();
    let file = dir.path().join("report.html");
    sh(
        &p,
        &[
            "report",
            "export",
            &rid,
            "--as",
            "html",
            "-o",
            file.to_str().unwrap(),
        ],
        "",
    )
    .await
    .unwrap();
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("Recovery report")
    );
    sh(&p, &["report", "delete", &rid], "").await.unwrap();
    ctx.app.stop().await;
}
