//! `holdfast`: the orchestrator daemon (`holdfast serve`) and its command-line client.

#![forbid(unsafe_code)]

use std::io::Read as _;

use anyhow::Context as _;
use clap::Parser;
use holdfast_orchestrator::cli::{self, Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match cli.command {
        Command::Serve {
            config,
            data_dir,
            bind,
        } => {
            let mut cfg =
                holdfast_orchestrator::Config::load(config.as_deref(), |k| std::env::var(k).ok())
                    .context("loading the configuration")?;
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            if let Some(b) = bind {
                cfg.bind = b;
            }
            holdfast_orchestrator::telemetry::init(&cfg.log);
            runtime
                .block_on(holdfast_orchestrator::serve(cfg, shutdown_signal()))
                .context("running the orchestrator")
        }
        command => {
            let result = runtime.block_on(cli::execute(
                &cli.global,
                command,
                |k| std::env::var(k).ok(),
                || {
                    let mut s = String::new();
                    let _ = std::io::stdin().read_to_string(&mut s);
                    s
                },
            ));
            let text = match result {
                Ok(text) => text,
                // `holdfast status` found problems: the report, then exit status 1.
                Err(cli::CliError::Unhealthy(report)) => {
                    print!("{report}");
                    drop(runtime);
                    std::process::exit(1);
                }
                Err(e) => return Err(e.into()),
            };
            print!("{text}");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
