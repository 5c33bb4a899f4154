//! `holdfast-demo`: the README's run command. Starts two OpenStack test clouds, a node
//! agent for each, and the orchestrator (embedded SQLite, RabbitMQ on loopback) in one
//! process, then plays an operator's day through the REST API — protect a shop, let it
//! replicate, write new data, run a drill that rebuilds the shop on the target, check
//! the recovered data, roll the drill back and read its report — and keeps serving the
//! console until Ctrl-C (or exits with `--exit`). With `--realstack` it plays a drill
//! on the two real clouds of `shared/realstack` instead (see `realstack.rs`).

#![forbid(unsafe_code)]

mod client;
mod realstack;
mod scenario;
mod stack;
mod story;

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
    /// Play the drill on the real stack of shared/realstack (two real OpenStack clouds,
    /// Cinder on two real Ceph clusters; start it with up-all.sh) instead of the test
    /// clouds, and exit.
    #[arg(long)]
    realstack: bool,
    /// The real stack's state directory.
    #[arg(
        long,
        env = "HOLDFAST_REALSTACK_DIR",
        default_value = "/tmp/holdfast-realstack"
    )]
    realstack_dir: PathBuf,
    /// The real source cloud's notification broker (from the real stack's stack.env).
    #[arg(
        long,
        env = "HOLDFAST_RABBIT_URL_SOURCE",
        default_value = "amqp://holdfast:secret@127.0.0.1:5672/source"
    )]
    source_notifications: String,
    /// The real target cloud's notification broker (from the real stack's stack.env).
    #[arg(
        long,
        env = "HOLDFAST_RABBIT_URL_TARGET",
        default_value = "amqp://holdfast:secret@127.0.0.1:5672/target"
    )]
    target_notifications: String,
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
    let n = story::Narrator::new();
    let opts = stack::Options {
        bind: args.bind,
        data_dir: args.data_dir.clone(),
        bus_url: args.bus_url.clone(),
    };
    if args.realstack {
        let real = realstack::RealStack {
            dir: args.realstack_dir.clone(),
            source_broker: args.source_notifications.clone(),
            target_broker: args.target_notifications.clone(),
        };
        return realstack::run(&opts, &real, &n).await;
    }
    let stack = stack::Stack::start(&opts)
        .await
        .context("starting the demo (is RabbitMQ running? `.ci/setup` starts it)")?;
    n.say(format!(
        "started: source and target test clouds, agents demo-source-node and testcloud, orchestrator at {}",
        stack.svc.base
    ));
    let mut api = client::Api::new(&stack.svc.base)?;
    api.login("admin", &stack.svc.admin_password).await?;
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
                stack.svc.base
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
            stack.svc.base, stack.svc.admin_password
        );
        println!("API:     {}/api/v1/openapi.json", stack.svc.base);
        println!("Ctrl-C stops the demo.");
        tokio::signal::ctrl_c().await?;
    }
    stack.stop().await?;
    story.map(drop)
}
