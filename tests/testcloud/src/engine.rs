//! Performs the model's effects: sends notifications and runs delayed jobs (file work in
//! `spawn_blocking`, then the outcome goes back into the model).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::config::Timing;
use crate::model::effect::PowerAction;
use crate::model::{Cloud, CloudResult, Effect, Job};
use crate::notifier::Notifier;
use crate::storage;

/// The cloud plus the machinery that carries out its effects.
#[derive(Debug)]
pub struct Engine {
    cloud: Mutex<Cloud>,
    timing: Timing,
    notifier: Notifier,
}

impl Engine {
    pub fn new(cloud: Cloud, timing: Timing, notifier: Notifier) -> Arc<Self> {
        Arc::new(Self {
            cloud: Mutex::new(cloud),
            timing,
            notifier,
        })
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    fn lock(&self) -> MutexGuard<'_, Cloud> {
        // A panic while holding the lock would be a bug; keep serving the state.
        self.cloud.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the state.
    pub fn read<T>(&self, f: impl FnOnce(&Cloud) -> T) -> T {
        f(&self.lock())
    }

    /// Runs an operation and then performs the effects it recorded.
    pub fn apply<T>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Cloud) -> CloudResult<T>,
    ) -> CloudResult<T> {
        let (result, effects) = {
            let mut c = self.lock();
            let r = f(&mut c);
            (r, c.take_effects())
        };
        self.perform(effects);
        result
    }

    fn perform(self: &Arc<Self>, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Notify(n) => self.notifier.send(n),
                Effect::Job(j) => {
                    let me = self.clone();
                    tokio::spawn(async move { me.run(j).await });
                }
            }
        }
    }

    fn delay(&self, job: &Job) -> Duration {
        let t = &self.timing;
        Timing::ms(match job {
            Job::CreateVolume { .. } | Job::AdoptVolume { .. } | Job::ExtendVolume { .. } => {
                t.volume_create_ms
            }
            Job::DeleteVolume { .. } => t.volume_delete_ms,
            Job::CreateSnapshot { .. } | Job::DeleteSnapshot { .. } => t.snapshot_ms,
            Job::AttachVolume { .. } | Job::DetachVolume { .. } => t.volume_attach_ms,
            Job::BuildServer { .. } => t.server_build_ms,
            Job::DeleteServer { .. } => t.server_delete_ms,
            Job::PowerServer {
                action: PowerAction::Reboot | PowerAction::Start | PowerAction::Stop,
                ..
            } => t.server_power_ms,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn run(self: Arc<Self>, job: Job) {
        let delay = self.delay(&job);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        } else {
            tokio::task::yield_now().await;
        }
        let work = job.clone();
        let outcome = tokio::task::spawn_blocking(move || file_work(&work))
            .await
            .map_err(|e| format!("file work panicked: {e}"))
            .and_then(|r| r.map_err(|e| e.to_string()));
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, ?job, "job failed");
        }
        let _ = self.apply(|c| {
            c.finish(&job, outcome);
            Ok(())
        });
    }
}

/// The file part of a job, if any.
pub fn file_work(job: &Job) -> Result<(), storage::StorageError> {
    match job {
        Job::CreateVolume {
            path,
            size_gb,
            source: None,
            content,
            ..
        } => storage::create_sparse(path, *size_gb, content.as_deref()),
        Job::CreateVolume {
            path,
            size_gb,
            source: Some(src),
            ..
        } => storage::copy_point_in_time(src, path, Some(*size_gb)),
        Job::DeleteVolume { path, .. } | Job::DeleteSnapshot { path, .. } => storage::remove(path),
        Job::ExtendVolume { path, size_gb, .. } => storage::extend(path, *size_gb),
        Job::AdoptVolume { from, to, .. } => storage::adopt(from, to),
        Job::CreateSnapshot { source, path, .. } => storage::copy_point_in_time(source, path, None),
        Job::AttachVolume { .. }
        | Job::DetachVolume { .. }
        | Job::BuildServer { .. }
        | Job::DeleteServer { .. }
        | Job::PowerServer { .. } => Ok(()),
    }
}

impl Engine {
    /// Loads a fixture into the running cloud, settling all its transitions at once.
    pub fn load_fixture(
        &self,
        fx: &crate::fixture::Fixture,
    ) -> Result<crate::fixture::FixtureStats, crate::fixture::FixtureError> {
        crate::fixture::apply(&mut self.lock(), fx)
    }
}
