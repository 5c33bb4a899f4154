//! `holdfast-demo --realstack`: the drill on the real stack of `shared/realstack` —
//! two real OpenStack clouds with Cinder on two real Ceph clusters. An application is
//! made on the SOURCE cloud (instances booted from `ceph` volumes), two node agents
//! replicate its RBD images (source: Ceph `a`, target: Ceph `b`), the orchestrator
//! (embedded SQLite, RabbitMQ on loopback) recovers it on the TARGET in a drill through
//! Cinder manage-existing, checks it, rolls it back to the target's listing from before
//! the drill, and everything made on the source is removed at the end, also after a
//! failure. Prints the timings of the initial copy, the drill and the rollback.

mod app;
mod clouds;
mod drill;
mod image_bytes;
mod listing;

use std::path::PathBuf;

use anyhow::{Context, bail};
use holdfast_agent::rbd::Image;

use crate::client::Api;
use crate::stack::{Options, Pace, Services, write_agent_config};
use crate::story::Narrator;
use app::Made;
use clouds::RealCloud;
use drill::{Clouds, Progress, Timings};

/// The bus namespace of the orchestrator and the agents of a real-stack drill.
const NAMESPACE: &str = "holdfast-realstack";
/// The agents: one per Ceph cluster.
const SOURCE_AGENT: &str = "realstack-source";
const TARGET_AGENT: &str = "realstack-target";
/// The real stack keeps a 2-core machine busy: heartbeats and the leader lease get
/// the slack a loaded production node would get.
const PACE: Pace = Pace {
    heartbeat_ms: 5000,
    lease_ttl_ms: 15000,
};

/// Where the real stack is.
#[derive(Debug, Clone)]
pub(crate) struct RealStack {
    /// `$HOLDFAST_REALSTACK_DIR` (Ceph confs and keyrings under `ceph/`).
    pub(crate) dir: PathBuf,
    /// The source cloud's notification broker (`HOLDFAST_RABBIT_URL_SOURCE`).
    pub(crate) source_broker: String,
    /// The target cloud's notification broker (`HOLDFAST_RABBIT_URL_TARGET`).
    pub(crate) target_broker: String,
}

/// A short id of this run, in every name it makes.
fn run_id() -> String {
    let now = jiff::Zoned::now();
    format!("{}{:04x}", now.strftime("%H%M%S"), rand::random::<u16>())
}

/// Runs the drill; the source is cleaned up whatever happens.
pub(crate) async fn run(opts: &Options, real: &RealStack, n: &Narrator) -> anyhow::Result<()> {
    let source = RealCloud::new(
        &real.dir,
        "source",
        15000,
        "a",
        SOURCE_AGENT,
        &real.source_broker,
    )?;
    let target = RealCloud::new(
        &real.dir,
        "target",
        16000,
        "b",
        TARGET_AGENT,
        &real.target_broker,
    )?;
    let source_admin = source.session("admin").await?;
    let target_admin = target.session("admin").await?;
    let run = run_id();
    n.say(format!(
        "real-stack drill {run}: source {}, target {}",
        source.auth_url, target.auth_url
    ));

    let mut made = Made::default();
    let mut p = Progress::default();
    let clouds = Clouds {
        source,
        target,
        target_admin,
    };
    let outcome = async {
        let mut app = made.app(&clouds.source, &source_admin, &run, n).await?;
        let mut svc = Services::start(opts, NAMESPACE, PACE).await?;
        for (cloud, node) in [(&clouds.source, SOURCE_AGENT), (&clouds.target, TARGET_AGENT)] {
            svc.spawn_agent(write_agent_config(opts, NAMESPACE, node, &cloud.agent_backend())?)
                .await?;
        }
        n.say(format!(
            "started: orchestrator at {}, agents {SOURCE_AGENT} (RBD on Ceph a) and {TARGET_AGENT} (RBD on Ceph b)",
            svc.base
        ));
        let played = async {
            let mut api = Api::new(&svc.base)?;
            api.login("admin", &svc.admin_password).await?;
            let story = drill::play(&api, &svc, &clouds, &mut app, &run, &mut p, n).await;
            let teardown = tear_down(&api, &p, n).await;
            story.and(teardown)
        }
        .await;
        let stopped = svc.stop().await;
        played.and(stopped).map(|()| app)
    }
    .await;
    if let Err(e) = &outcome {
        n.say(format!("the drill failed: {e:#}"));
    }

    n.say("cleaning up the source");
    let volumes = made.volumes();
    let mut problems = made.clean_up(&source_admin, &clouds.source.ceph()).await;
    problems.extend(left_on_target(&clouds, &volumes).await);
    print_timings(&p.timings);
    for p in &problems {
        n.say(format!("clean-up: {p}"));
    }
    outcome?;
    if !problems.is_empty() {
        bail!(
            "the clean-up found {} problem(s), listed above",
            problems.len()
        );
    }
    n.say("real-stack drill passed; the source is as before the run");
    Ok(())
}

/// Deletes the plan (which stops replication: the agents remove their source
/// snapshots and the target mirrors) and the group.
async fn tear_down(api: &Api, p: &Progress, n: &Narrator) -> anyhow::Result<()> {
    if let Some(plan) = &p.plan {
        api.delete(&format!("/api/v1/plans/{plan}"))
            .await
            .context("deleting the plan (stops replication)")?;
    }
    if let Some(group) = &p.group {
        api.delete(&format!("/api/v1/protection-groups/{group}"))
            .await
            .context("deleting the protection group")?;
    }
    n.say("plan and group deleted: replication stopped");
    Ok(())
}

/// Mirrors of the application's volumes still on Ceph `b` after replication stopped:
/// each one is reported and removed.
async fn left_on_target(clouds: &Clouds, volumes: &[String]) -> Vec<String> {
    let ceph = clouds.target.ceph();
    let mut problems = Vec::new();
    for id in volumes {
        let mirror = Image::new(ceph.clone(), format!("holdfast-mirror-{id}"));
        let removed = async {
            if mirror.size().await?.is_none() {
                return Ok(false);
            }
            for s in mirror.snapshots().await? {
                mirror.snap_remove(&s.name).await?;
            }
            mirror.remove().await?;
            Ok::<_, holdfast_agent::rbd::RbdError>(true)
        }
        .await;
        match removed {
            Ok(false) => {}
            Ok(true) => problems.push(format!(
                "{} was still on Ceph b after replication stopped (removed now)",
                mirror.spec()
            )),
            Err(e) => problems.push(format!("removing {}: {e}", mirror.spec())),
        }
    }
    problems
}

fn print_timings(t: &Timings) {
    let show = |d: Option<std::time::Duration>| {
        d.map_or_else(|| "-".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()))
    };
    println!();
    println!("timings:");
    println!(
        "  replication: plan created -> Normal (initial copy + first snapshot)  {}",
        show(t.initial_copy)
    );
    println!(
        "  group snapshot                                                    {}",
        show(t.snapshot)
    );
    println!(
        "  drill: created -> completed                                       {}",
        show(t.drill)
    );
    println!(
        "  rollback: asked -> target listing as before                       {}",
        show(t.rollback)
    );
}
