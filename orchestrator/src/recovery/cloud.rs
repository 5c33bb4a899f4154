//! The target cloud as the executor sees it: the admin session (from the target
//! cluster's registration), a session scoped to the project the job creates (Nova
//! and Cinder create in the token's project), the volume materialiser, and waiting
//! for the cloud's asynchronous transitions.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use holdfast_openstack::{Credentials, Options, Session};
use tokio::sync::Mutex;

use super::materialiser::VolumeMaterialiser;
use super::{ExecutorOptions, RecoveryError};

/// The target cloud.
#[derive(Debug, Clone)]
pub struct TargetCloud {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    admin: Session,
    credentials: Credentials,
    session_options: Options,
    project: Mutex<Option<(String, String, Session)>>,
    materialiser: Arc<dyn VolumeMaterialiser>,
    options: ExecutorOptions,
}

impl TargetCloud {
    /// Connects to the target with its registered admin credentials.
    pub async fn connect(
        credentials: Credentials,
        session_options: Options,
        materialiser: Arc<dyn VolumeMaterialiser>,
        options: ExecutorOptions,
    ) -> Result<TargetCloud, RecoveryError> {
        let admin = Session::connect(credentials.clone(), session_options.clone()).await?;
        Ok(TargetCloud {
            inner: Arc::new(Inner {
                admin,
                credentials,
                session_options,
                project: Mutex::new(None),
                materialiser,
                options,
            }),
        })
    }

    /// The admin session.
    pub fn admin(&self) -> &Session {
        &self.inner.admin
    }

    /// A session scoped to the project `project` whose id is `project_id` (Nova and
    /// Cinder create in the token's project), cached per project: a project deleted
    /// by a rollback and created again under the same name gets a new session.
    pub async fn project(&self, project: &str, project_id: &str) -> Result<Session, RecoveryError> {
        let mut slot = self.inner.project.lock().await;
        if let Some((name, id, s)) = slot.as_ref()
            && name == project
            && id == project_id
        {
            return Ok(s.clone());
        }
        let mut c = self.inner.credentials.clone();
        c.project = project.to_owned();
        let s = Session::connect(c, self.inner.session_options.clone()).await?;
        *slot = Some((project.to_owned(), project_id.to_owned(), s.clone()));
        Ok(s)
    }

    /// The volume materialiser.
    pub fn materialiser(&self) -> &dyn VolumeMaterialiser {
        self.inner.materialiser.as_ref()
    }

    /// The executor's options.
    pub fn options(&self) -> &ExecutorOptions {
        &self.inner.options
    }
}

/// Polls `check` every `poll` until it yields `Some`, failing with a timeout naming
/// `what` after `timeout`.
pub(super) async fn wait_until<T, F, Fut>(
    poll: Duration,
    timeout: Duration,
    what: &str,
    mut check: F,
) -> Result<T, RecoveryError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, RecoveryError>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(RecoveryError::Timeout {
                what: what.to_owned(),
                after: timeout,
            });
        }
        tokio::time::sleep(poll).await;
    }
}
