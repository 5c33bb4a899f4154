//! Structured logging with `tracing`, plain or JSON; the level can change at run time.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::config::{LogConfig, LogFormat};

static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Installs the global subscriber. A second call (tests) leaves the first in place.
pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match log.format {
        LogFormat::Plain => registry.with(tracing_subscriber::fmt::layer()).try_init(),
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true))
            .try_init(),
    };
    if installed.is_ok() {
        let _ = FILTER.set(handle);
    }
}

/// Changes the log filter (from the `log_level` setting); ignored before `init`.
pub fn set_level(level: &str) {
    if let (Some(handle), Ok(filter)) = (FILTER.get(), EnvFilter::try_new(level))
        && let Err(e) = handle.reload(filter)
    {
        tracing::warn!(error = %e, "cannot change the log level");
    }
}
