//! Process signals.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::warn;

/// Resolves on SIGTERM or SIGINT.
pub async fn terminated() {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers, only an external kill stops the process.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// One message per SIGHUP (`systemctl reload holdfast-agent`): the daemon reloads its
/// data-plane TLS material. Signals arriving while a reload is pending are folded into
/// it. From the call on, SIGHUP no longer terminates the process. Call inside a Tokio
/// runtime.
pub fn hangups() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(1);
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    if let Err(mpsc::error::TrySendError::Closed(())) = tx.try_send(()) {
                        return;
                    }
                }
            });
        }
        Err(e) => warn!(error = %e, "cannot handle SIGHUP: reloading needs a restart"),
    }
    rx
}
