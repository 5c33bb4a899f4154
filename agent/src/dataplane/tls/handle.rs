//! The TLS material in use, shared by the data-plane listener and every source, and
//! replaced without a restart (`SIGHUP`, `systemctl reload holdfast-agent`): a reload
//! reads the configured files again and checks them exactly as at start
//! ([`DataPlaneTls::load`]). Every new connection takes the material current when it
//! starts; connections in flight keep theirs. A failed reload keeps the previous
//! material in use and is remembered (reported in `status` and the heartbeat) until a
//! reload succeeds.

use std::sync::{Arc, PoisonError, RwLock};

use super::{DataPlaneTls, TlsError, TlsFiles};

/// A shared, swappable handle on the data plane's TLS material. Clones share it.
#[derive(Debug, Clone)]
pub struct TlsHandle {
    inner: Arc<RwLock<State>>,
}

#[derive(Debug)]
struct State {
    current: Arc<DataPlaneTls>,
    reload_error: Option<TlsError>,
}

impl From<DataPlaneTls> for TlsHandle {
    fn from(tls: DataPlaneTls) -> TlsHandle {
        TlsHandle::new(Arc::new(tls))
    }
}

impl TlsHandle {
    pub fn new(tls: Arc<DataPlaneTls>) -> TlsHandle {
        TlsHandle {
            inner: Arc::new(RwLock::new(State {
                current: tls,
                reload_error: None,
            })),
        }
    }

    /// Loads the material of `files` for `node` ([`DataPlaneTls::load`]).
    pub fn load(files: &TlsFiles, node: &str) -> Result<TlsHandle, TlsError> {
        DataPlaneTls::load(files, node).map(TlsHandle::from)
    }

    /// The material for a new connection.
    pub fn current(&self) -> Arc<DataPlaneTls> {
        self.read(|s| s.current.clone())
    }

    /// Why the last reload failed, if it did (cleared by a successful one).
    pub fn reload_error(&self) -> Option<TlsError> {
        self.read(|s| s.reload_error.clone())
    }

    /// Reads the configured files again and, when they pass the start-up checks, makes
    /// them the material of every new connection. On failure the material in use
    /// stays, and the error is kept for [`reload_error`](Self::reload_error).
    pub fn reload(&self) -> Result<Arc<DataPlaneTls>, TlsError> {
        let old = self.current();
        let loaded = DataPlaneTls::load(&old.files, &old.node).map(Arc::new);
        let mut state = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        match loaded {
            Ok(new) => {
                state.current = new.clone();
                state.reload_error = None;
                Ok(new)
            }
            Err(e) => {
                state.reload_error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.inner.read().unwrap_or_else(PoisonError::into_inner))
    }
}
