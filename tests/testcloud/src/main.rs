//! `holdfast-testcloud`: serve an OpenStack test cloud, or generate a large fixture.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use holdfast_testcloud::{Config, TestCloud};

/// OpenStack test cloud (Keystone v3, Nova v2.1, Cinder v3, Neutron v2.0) on loopback.
#[derive(Debug, Parser)]
#[command(name = "holdfast-testcloud", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// TOML config file (see `Config`); flags override it.
    #[arg(long, env = "TESTCLOUD_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address (loopback only).
    #[arg(long, env = "TESTCLOUD_LISTEN")]
    listen: Option<SocketAddr>,
    /// Volume storage directory (one subdirectory per backend/pool).
    #[arg(long, env = "TESTCLOUD_STORAGE_DIR")]
    storage_dir: Option<PathBuf>,
    /// Fixture file (.json or .toml).
    #[arg(long, env = "TESTCLOUD_FIXTURE")]
    fixture: Option<PathBuf>,
    /// Region name.
    #[arg(long)]
    region: Option<String>,
    /// AMQP URL for notifications, e.g. amqp://guest:guest@127.0.0.1:5672/%2f
    #[arg(long, env = "TESTCLOUD_AMQP_URL")]
    amqp_url: Option<String>,
    /// Exchange prefix: exchanges become <prefix>nova, <prefix>openstack, <prefix>neutron.
    #[arg(long)]
    exchange_prefix: Option<String>,
    /// Bootstrap admin password.
    #[arg(long)]
    admin_password: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Write a generated fixture (JSON) to stdout or a file.
    GenerateFixture {
        #[arg(long, default_value_t = 10_000)]
        servers: usize,
        #[arg(long, default_value_t = 20_000)]
        volumes: usize,
        #[arg(long, default_value_t = 20)]
        projects: usize,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn config(a: ServeArgs) -> anyhow::Result<Config> {
    let mut c = match &a.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    if let Some(v) = a.listen {
        c.listen = v;
    } else if a.config.is_none() {
        c.listen = SocketAddr::from(([127, 0, 0, 1], 5000));
    }
    if a.storage_dir.is_some() {
        c.storage_dir = a.storage_dir;
    }
    if a.fixture.is_some() {
        c.fixture = a.fixture;
    }
    if let Some(r) = a.region {
        c.region = r;
    }
    if a.amqp_url.is_some() {
        c.notifications.url = a.amqp_url;
    }
    if let Some(p) = a.exchange_prefix {
        let n = &mut c.notifications;
        n.compute_exchange = format!("{p}{}", n.compute_exchange);
        n.volume_exchange = format!("{p}{}", n.volume_exchange);
        n.identity_exchange = format!("{p}{}", n.identity_exchange);
        n.network_exchange = format!("{p}{}", n.network_exchange);
    }
    if let Some(p) = a.admin_password {
        c.admin_password = p;
    }
    c.validate()?;
    Ok(c)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::GenerateFixture {
            servers,
            volumes,
            projects,
            out,
        }) => {
            let fx = holdfast_testcloud::fixture::generate::generate(servers, volumes, projects);
            let json = serde_json::to_string(&fx).context("serialising the fixture")?;
            match out {
                Some(p) => {
                    std::fs::write(&p, json).with_context(|| format!("writing {}", p.display()))?
                }
                None => println!("{json}"),
            }
            Ok(())
        }
        Some(Command::Serve) | None => {
            let c = config(cli.serve)?;
            TestCloud::run(c, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("running the test cloud")?;
            Ok(())
        }
    }
}
