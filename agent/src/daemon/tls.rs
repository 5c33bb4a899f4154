//! The daemon's data-plane TLS: loaded at start, reloaded on SIGHUP
//! (`systemctl reload holdfast-agent`) through the shared [`TlsHandle`].

use std::sync::Arc;

use anyhow::Context;
use holdfast_protocol::{NodeId, UnixMillis};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use super::Agent;
use crate::dataplane::tls::{DataPlaneTls, TlsFiles, TlsHandle};
use crate::replication::target;

/// The worker the heartbeat reports as failed while the last reload failed.
pub(super) const RELOAD_WORKER: &str = "data-plane-tls-reload";

/// Loads `[data_plane.tls]` at start.
pub(super) fn load(files: &TlsFiles, node: &NodeId) -> anyhow::Result<TlsHandle> {
    let tls = DataPlaneTls::load(files, node.as_str())
        .context("loading the data plane's TLS material ([data_plane.tls])")?;
    log_validity(&tls);
    info!(cert = %files.cert.display(), expiry = %tls.validity.not_after, crl = files.crl.is_some(), "data plane uses mutual TLS");
    Ok(TlsHandle::from(tls))
}

/// A certificate that expired or expires within 30 days is logged (peers refuse an
/// expired one; `holdfast-agent status` shows it too).
fn log_validity(tls: &DataPlaneTls) {
    let now = UnixMillis::now().0 as i64 / 1000;
    let days = tls.validity.days_left(now);
    let expiry = tls.validity.not_after;
    let cert = tls.files.cert.display();
    if days < 0 {
        error!(%cert, %expiry, "the data plane's TLS certificate has expired: peers refuse it; renew it and reload the agent (systemctl reload holdfast-agent)");
    } else if days < crate::status::CERT_WARNING_DAYS {
        warn!(%cert, %expiry, days, "the data plane's TLS certificate expires soon: renew it and reload the agent (systemctl reload holdfast-agent)");
    }
}

/// Reloads the material on every message of `reloads` until `stop`, then reports at
/// once (status.json and the heartbeat show the outcome).
pub(super) fn spawn_reloader(
    agent: Arc<Agent>,
    mut reloads: mpsc::Receiver<()>,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stopped = target::shutdown_signalled(stop);
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                r = reloads.recv() => match r {
                    Some(()) => {}
                    None => return,
                },
                () = &mut stopped => return,
            }
            let Some(handle) = agent.tls.clone() else {
                info!(
                    "reload requested: no [data_plane.tls] to reload (other settings need a restart)"
                );
                continue;
            };
            match tokio::task::spawn_blocking(move || handle.reload()).await {
                Ok(Ok(tls)) => {
                    log_validity(&tls);
                    info!(cert = %tls.files.cert.display(), expiry = %tls.validity.not_after, crl = tls.files.crl.is_some(), "reloaded the data plane's TLS material: new connections use it");
                }
                Ok(Err(e)) => {
                    error!(error = %e, "reloading the data plane's TLS material failed: still using the previous material; fix the file and reload again");
                }
                Err(e) => error!(error = %e, "the TLS reload task failed"),
            }
            agent.report().await;
        }
    })
}

/// What status.json and the heartbeat say about the material in use.
pub(super) fn snapshot(tls: Option<&TlsHandle>) -> serde_json::Value {
    let Some(handle) = tls else {
        return serde_json::Value::Null;
    };
    let current = handle.current();
    serde_json::json!({
        "cert": current.files.cert.display().to_string(),
        "crl": current.files.crl.as_ref().map(|p| p.display().to_string()),
        "not_after": current.validity.not_after.to_string(),
        "not_after_unix": current.validity.not_after.unix_seconds(),
        "reload_error": handle.reload_error().map(|e| e.to_string()),
    })
}
