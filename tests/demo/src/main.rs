//! `holdfast-demo`: the README's run command. Starts two OpenStack test clouds, a node
//! agent for each, and the orchestrator (embedded SQLite, RabbitMQ on loopback) in one
//! process, then plays an operator's day through the REST API — protect a shop, let it
//! replicate, write new data, run a drill that rebuilds the shop on the target, check
//! the recovered data, roll the drill back and read its report — and keeps serving the
//! console until Ctrl-C (or exits with `--exit`).

#![forbid(unsafe_code)]

mod client;
mod scenario;
mod stack;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Holdfast end to end on this machine: two test clouds, two agents, the orchestrator.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address of the orchestrator's API and console.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Directory for everything the demo writes; recreated at each run.
    #[arg(long, default_value = "holdfast-demo-data")]
    data_dir: PathBuf,
    /// RabbitMQ on loopback.
    #[arg(
        long,
        env = "HOLDFAST_DEMO_BUS_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    bus_url: String,
    /// Exit after the story instead of serving the console.
    #[arg(long)]
    exit: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    stack::fresh_dir(&args.data_dir)?;
    let log_path = args.data_dir.join("demo.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(log))
        .init();
    println!(
        "Holdfast demo: data and logs in {} (log: {})",
        args.data_dir.display(),
        log_path.display()
    );
    let n = scenario::Narrator::new();
    let opts = stack::Options {
        bind: args.bind,
        data_dir: args.data_dir.clone(),
        bus_url: args.bus_url.clone(),
    };
    let stack = stack::Stack::start(&opts)
        .await
        .context("starting the demo (is RabbitMQ running? `.ci/setup` starts it)")?;
    n.say(format!(
        "started: source and target test clouds, agents demo-source-node and testcloud, orchestrator at {}",
        stack.base
    ));
    let mut api = client::Api::new(&stack.base)?;
    api.login("admin", &stack.admin_password).await?;
    let story = scenario::run(&api, &stack, &args.bus_url, &n).await;
    if let Err(e) = &story {
        n.say(format!("the demo stopped: {e:#}"));
    }
    if !args.exit {
        println!();
        if let Ok(plan) = &story {
            println!(
                "next, with the CLI (cargo run -p holdfast-orchestrator -- …, or target/*/holdfast):"
            );
            println!(
                "  holdfast login --url {} --user admin --password-stdin",
                stack.base
            );
            println!("  holdfast plan show {plan}");
            println!(
                "  holdfast job create --plan {plan} --type drill --run now --point latest-snapshot"
            );
            println!("  holdfast job watch <job id>      # then: holdfast job rollback <job id>");
            println!("  holdfast report list");
            println!();
        }
        println!(
            "console: {}/console/  (user admin, password {})",
            stack.base, stack.admin_password
        );
        println!("API:     {}/api/v1/openapi.json", stack.base);
        println!("Ctrl-C stops the demo.");
        tokio::signal::ctrl_c().await?;
    }
    stack.stop().await?;
    story.map(drop)
}
