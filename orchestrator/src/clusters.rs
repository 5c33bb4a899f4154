//! Clusters at run time: authenticated sessions, and the background work per cluster —
//! the notification listener, the status probe, the periodic full sync.
//!
//! One supervisor task ([`run`]) looks at the cluster table every tick (and at once
//! when woken after a registration or a deletion), starts or stops each cluster's
//! listener, probes due clusters and starts due syncs. Every replica runs it: a sync is
//! claimed by compare-and-set in the database, a status change is reported by the
//! replica whose compare-and-set won, and the listeners of several replicas share the
//! cluster's durable queue (each notification is handled once).

pub mod apply;
pub mod fetch;
pub mod listener;
pub mod metrics;
pub mod monitor;
pub mod plan_hooks;
pub mod rows;
pub mod sync;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use holdfast_openstack::{Credentials, Options, Password, Session};
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::db::{self, clusters::ClusterRecord};
use crate::domain::cluster::SyncStatus;
use crate::secrets::SecretBox;
use crate::state::{App, AppState, now_ms};

/// Associated data of a cluster's stored password.
pub fn password_aad(cluster_id: &str) -> String {
    format!("cluster:{cluster_id}:password")
}

/// Associated data of a cluster's stored broker URL.
pub fn broker_aad(cluster_id: &str) -> String {
    format!("cluster:{cluster_id}:broker_url")
}

/// The cluster runtime shared through [`App`].
#[derive(Debug)]
pub struct Clusters {
    /// The key for stored credentials, or why there is none.
    pub secrets: Result<SecretBox, String>,
    /// Counters.
    pub metrics: metrics::ClusterMetrics,
    /// Time between status probes.
    pub probe_interval: Duration,
    sessions: tokio::sync::Mutex<HashMap<String, Session>>,
    listening: Mutex<HashSet<String>>,
    wake: Notify,
}

impl Clusters {
    /// The runtime for `config`; loads (or, for the embedded default, creates) the key.
    pub fn new(config: &Config, registry: &crate::metrics::Metrics) -> Clusters {
        let secrets = crate::secrets::load(config, |k| std::env::var(k).ok()).map_err(|e| {
            tracing::warn!(error = %e, "cluster credentials cannot be stored or read until a secrets key is configured");
            e.to_string()
        });
        Clusters {
            secrets,
            metrics: metrics::ClusterMetrics::new(registry),
            probe_interval: Duration::from_millis(config.cluster_probe_interval_ms.max(50)),
            sessions: tokio::sync::Mutex::new(HashMap::new()),
            listening: Mutex::new(HashSet::new()),
            wake: Notify::new(),
        }
    }

    /// The key, or an error naming what to configure.
    pub fn secret_box(&self) -> Result<&SecretBox, String> {
        self.secrets.as_ref().map_err(Clone::clone)
    }

    /// Asks the supervisor to look at the cluster table now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Is the cluster's listener consuming notifications?
    pub fn is_listening(&self, cluster_id: &str) -> bool {
        self.listening
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(cluster_id)
    }

    pub(crate) fn set_listening(&self, cluster_id: &str, on: bool) {
        let mut l = self
            .listening
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if on {
            l.insert(cluster_id.to_owned());
        } else {
            l.remove(cluster_id);
        }
    }

    /// Forgets the cached session (password rotated, cluster deleted or unreachable).
    pub async fn forget_session(&self, cluster_id: &str) {
        self.sessions.lock().await.remove(cluster_id);
    }

    /// An authenticated session for the cluster (cached; made from the stored
    /// credential on first use).
    pub async fn session(&self, app: &App, cluster_id: &str) -> Result<Session, String> {
        if let Some(s) = self.sessions.lock().await.get(cluster_id) {
            return Ok(s.clone());
        }
        let record = {
            let mut conn = app.db.conn().await.map_err(|e| e.to_string())?;
            db::clusters::get(&mut conn, cluster_id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("cluster {cluster_id} does not exist"))?
        };
        let credentials = self.credentials(&record)?;
        let session = Session::connect(credentials, Options::default())
            .await
            .map_err(|e| e.to_string())?;
        self.sessions
            .lock()
            .await
            .insert(cluster_id.to_owned(), session.clone());
        Ok(session)
    }

    /// The decrypted credential of a stored cluster.
    pub fn credentials(&self, c: &ClusterRecord) -> Result<Credentials, String> {
        let password = self
            .secret_box()?
            .decrypt(&c.password_enc, &password_aad(&c.id))
            .map_err(|e| e.to_string())?;
        Ok(Credentials {
            auth_url: c.auth_url.clone(),
            username: c.username.clone(),
            password: Password::new(password),
            user_domain: c.user_domain.clone(),
            project: c.project.clone(),
            project_domain: c.project_domain.clone(),
        })
    }
}

/// The owner group of a cluster (for events), if it exists.
pub async fn owner_group(app: &App, cluster_id: &str) -> Option<String> {
    let mut conn = app.db.conn().await.ok()?;
    db::clusters::get(&mut conn, cluster_id)
        .await
        .ok()
        .flatten()
        .map(|c| c.owner_group_id)
}

/// Claims and starts a sync in the background; `false` when one already runs.
pub async fn start_sync(app: &AppState, cluster_id: &str) -> Result<bool, db::DbError> {
    let (claimed, first) = {
        let mut tx = app.db.begin().await?;
        let first = db::clusters::get(&mut tx, cluster_id)
            .await?
            .is_some_and(|c| c.sync_finished_at.is_none());
        let now = now_ms();
        let claimed =
            db::clusters::claim_sync(&mut tx, cluster_id, now, now - sync::STALE_SYNC_MS).await?;
        tx.commit().await?;
        (claimed, first)
    };
    if claimed {
        let app = app.clone();
        let id = cluster_id.to_owned();
        tokio::spawn(async move {
            if let Err(e) = sync::run_claimed(&app, &id, first).await {
                tracing::debug!(cluster_id = %id, error = %e, "sync ended with an error");
            }
        });
    }
    Ok(claimed)
}

/// Re-encrypts stored credentials that an older key encrypted (key rotation).
pub async fn reencrypt(app: &App) -> Result<usize, String> {
    let Ok(sb) = app.clusters.secret_box() else {
        return Ok(0);
    };
    let mut tx = app.db.begin().await.map_err(|e| e.to_string())?;
    let all = db::clusters::all(&mut tx)
        .await
        .map_err(|e| e.to_string())?;
    let mut n = 0;
    for c in all {
        let broker_stale = c.broker_url_enc.as_deref().is_some_and(|b| sb.is_stale(b));
        if !sb.is_stale(&c.password_enc) && !broker_stale {
            continue;
        }
        let password = sb
            .decrypt(&c.password_enc, &password_aad(&c.id))
            .map_err(|e| format!("cluster {}: {e}", c.name))?;
        let broker = match &c.broker_url_enc {
            Some(b) => Some(
                sb.decrypt(b, &broker_aad(&c.id))
                    .map_err(|e| format!("cluster {}: {e}", c.name))?,
            ),
            None => None,
        };
        let p = sb.encrypt(&password, &password_aad(&c.id));
        let b = broker.map(|b| sb.encrypt(&b, &broker_aad(&c.id)));
        db::clusters::set_secrets(&mut tx, &c.id, &p, b.as_deref(), now_ms())
            .await
            .map_err(|e| e.to_string())?;
        n += 1;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    if n > 0 {
        tracing::info!(
            clusters = n,
            key_id = sb.current_key_id(),
            "re-encrypted stored cluster credentials under the current secrets key"
        );
    }
    Ok(n)
}

struct ListenerTask {
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
    fingerprint: String,
}

/// The supervisor: runs until the process stops.
pub async fn run(app: AppState) {
    if let Err(e) = reencrypt(&app).await {
        tracing::error!(error = %e, "stored cluster credentials could not be re-encrypted");
    }
    let mut listeners: HashMap<String, ListenerTask> = HashMap::new();
    let mut last_probe: HashMap<String, Instant> = HashMap::new();
    let probing: std::sync::Arc<Mutex<HashSet<String>>> = Default::default();
    let tick = app.clusters.probe_interval.min(Duration::from_secs(1));
    loop {
        if let Err(e) = supervise(&app, &mut listeners, &mut last_probe, &probing).await {
            tracing::warn!(error = %e, "cluster supervisor pass failed");
        }
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            () = app.clusters.wake.notified() => {}
        }
    }
}

async fn supervise(
    app: &AppState,
    listeners: &mut HashMap<String, ListenerTask>,
    last_probe: &mut HashMap<String, Instant>,
    probing: &std::sync::Arc<Mutex<HashSet<String>>>,
) -> Result<(), db::DbError> {
    let all = {
        let mut conn = app.db.conn().await?;
        db::clusters::all(&mut conn).await?
    };
    let ids: HashSet<&str> = all.iter().map(|c| c.id.as_str()).collect();
    listeners.retain(|id, t| {
        let keep = ids.contains(id.as_str());
        if !keep {
            let _ = t.stop.send(true);
        }
        keep
    });
    last_probe.retain(|id, _| ids.contains(id.as_str()));
    let settings = crate::settings::load_from(&app.db).await?;
    let sync_every = i64::from(settings.sync_interval_minutes) * 60_000;
    // Probes and periodic syncs are schedules: only the lease holder runs them (every
    // replica keeps a listener; each notification is delivered to one of them).
    let leader = app.leader.is_leader();
    for c in &all {
        ensure_listener(app, c, listeners);
        if !leader {
            continue;
        }
        let due = last_probe
            .get(&c.id)
            .is_none_or(|t| t.elapsed() >= app.clusters.probe_interval);
        let busy = probing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&c.id);
        if due && !busy {
            last_probe.insert(c.id.clone(), Instant::now());
            probing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(c.id.clone());
            let (app, id, probing) = (app.clone(), c.id.clone(), probing.clone());
            tokio::spawn(async move {
                monitor::probe_and_record(&app, &id).await;
                probing
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&id);
            });
        }
        let running = SyncStatus::parse(&c.sync_status) == Some(SyncStatus::Running);
        let sync_due = c
            .sync_finished_at
            .is_some_and(|t| now_ms() - t >= sync_every);
        // A sync whose process died long ago is taken over (the claim checks the age).
        let abandoned = running
            && c.sync_started_at
                .is_some_and(|t| now_ms() - t >= sync::STALE_SYNC_MS);
        if (!running && sync_due) || abandoned {
            start_sync(app, &c.id).await?;
        }
    }
    Ok(())
}

fn ensure_listener(
    app: &AppState,
    c: &ClusterRecord,
    listeners: &mut HashMap<String, ListenerTask>,
) {
    let Some(enc) = &c.broker_url_enc else {
        return;
    };
    let fingerprint = format!("{enc}|{}", c.exchanges_json);
    if let Some(t) = listeners.get(&c.id) {
        if t.fingerprint == fingerprint && !t.handle.is_finished() {
            return;
        }
        let _ = t.stop.send(true);
    }
    let url = match app.clusters.secret_box().and_then(|sb| {
        sb.decrypt(enc, &broker_aad(&c.id))
            .map_err(|e| e.to_string())
    }) {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(cluster_id = %c.id, error = %e, "cannot read the notification broker URL");
            return;
        }
    };
    let exchanges: Vec<String> = serde_json::from_str(&c.exchanges_json).unwrap_or_default();
    let (stop, stopped) = watch::channel(false);
    let handle = tokio::spawn(listener::run(
        app.clone(),
        c.id.clone(),
        url,
        exchanges,
        stopped,
    ));
    listeners.insert(
        c.id.clone(),
        ListenerTask {
            stop,
            handle,
            fingerprint,
        },
    );
}
