//! systemd integration: READY, WATCHDOG keep-alives, STOPPING (no-ops outside systemd).

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::warn;

pub(super) fn ready() {
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        warn!(error = %e, "sd_notify READY failed");
    }
}

pub(super) fn stopping() {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
}

/// Pings the watchdog at half its interval while the agent runs.
pub(super) fn spawn_watchdog(mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Some(interval) = sd_notify::watchdog_enabled() else {
            return;
        };
        let mut tick = tokio::time::interval(interval / 2);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
                }
                _ = stop.changed() => return,
            }
        }
    })
}
