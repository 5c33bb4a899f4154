//! The leader lease: several orchestrator replicas share one database; exactly one at a
//! time holds a time-bounded lease (a row in `leader_lease`, see `db::lease`) and runs
//! the leader work: the scheduler, the agents' bus consumer, later the job engine.
//!
//! The holder renews every `ttl / 3`. It counts itself leader only until `ttl - margin`
//! after the start of its last successful renewal (`margin = ttl / 5` absorbs clock skew
//! between replicas and the database round trip), and steps down at once when a renewal
//! finds the row taken over. Followers try to take the lease every `ttl / 10`, which
//! succeeds once it has expired: a replica killed with `kill -9` is replaced within
//! about `ttl` plus one poll. A replica shutting down releases the lease, so its
//! successor takes over within one poll. Every change of holder increments a fencing
//! token; leader work checks it with `db::lease::holds` in the transaction it guards.
//!
//! Assumption: replica clocks agree within `margin` (NTP).

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::db::{self, Db};
use crate::state::now_ms;

/// Name of the orchestrator's one lease.
pub const LEADER_LEASE: &str = "orchestrator-leader";

/// The fencing token of the lease this replica holds, `None` while it is a follower.
#[derive(Debug, Clone)]
pub struct Leadership {
    rx: watch::Receiver<Option<i64>>,
}

impl Leadership {
    /// A leadership handle and the sender that [`run`] drives.
    pub fn channel() -> (watch::Sender<Option<i64>>, Leadership) {
        let (tx, rx) = watch::channel(None);
        (tx, Leadership { rx })
    }

    /// Does this replica hold the lease right now?
    pub fn is_leader(&self) -> bool {
        self.rx.borrow().is_some()
    }

    /// The fencing token while leader.
    pub fn token(&self) -> Option<i64> {
        *self.rx.borrow()
    }

    /// A receiver that changes whenever leadership is gained or lost.
    pub fn watch(&self) -> watch::Receiver<Option<i64>> {
        self.rx.clone()
    }

    /// Waits until this replica is leader; returns its token, or `None` if the lease
    /// task ended.
    pub async fn gained(&mut self) -> Option<i64> {
        match self.rx.wait_for(Option::is_some).await {
            Ok(t) => *t,
            Err(_) => None,
        }
    }

    /// Waits until this replica is no longer leader (or the lease task ended).
    pub async fn lost(&mut self) {
        let _ = self.rx.wait_for(Option::is_none).await;
    }
}

/// Timing of the lease.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTiming {
    /// How long a lease lasts without renewal.
    pub ttl: Duration,
}

impl LeaseTiming {
    fn renew_every(self) -> Duration {
        self.ttl / 3
    }

    fn poll_every(self) -> Duration {
        (self.ttl / 10).max(Duration::from_millis(50))
    }

    fn margin(self) -> Duration {
        self.ttl / 5
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Holds, renews or waits for the lease as `holder` until `shutdown` becomes true,
/// publishing the state on `tx`; on shutdown it releases a held lease.
#[tracing::instrument(skip_all, fields(holder = %holder))]
pub async fn run(
    db: Db,
    holder: String,
    timing: LeaseTiming,
    tx: watch::Sender<Option<i64>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut held: Option<(i64, Instant)> = None; // (token, valid until)
    loop {
        if *shutdown.borrow() {
            break;
        }
        let attempt_started = Instant::now();
        let now = now_ms();
        let expires = now + ms(timing.ttl);
        held = match held {
            None => match acquire(&db, &holder, now, expires).await {
                Ok(Some(token)) => {
                    tracing::info!(token, "acquired the leader lease");
                    Some((token, attempt_started + timing.ttl - timing.margin()))
                }
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot try the leader lease; retrying");
                    None
                }
            },
            Some((token, valid_until)) => {
                match tokio::time::timeout_at(valid_until, renew(&db, &holder, token, expires))
                    .await
                    .unwrap_or(Err(RenewTimedOut))
                {
                    Ok(true) => Some((token, attempt_started + timing.ttl - timing.margin())),
                    Ok(false) => {
                        tracing::warn!(token, "the leader lease was taken over; stepping down");
                        None
                    }
                    Err(e) if Instant::now() < valid_until => {
                        tracing::warn!(error = %e, "cannot renew the leader lease; still valid, retrying");
                        Some((token, valid_until))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot renew the leader lease before it lapses; stepping down");
                        None
                    }
                }
            }
        };
        let state = held.map(|(t, _)| t);
        tx.send_if_modified(|cur| {
            let changed = *cur != state;
            *cur = state;
            changed
        });
        let next = match held {
            Some((_, valid_until)) => (attempt_started + timing.renew_every()).min(valid_until),
            None => attempt_started + timing.poll_every(),
        };
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            _ = shutdown.changed() => {}
        }
        if let Some((_, valid_until)) = held
            && Instant::now() >= valid_until
        {
            // The renewal did not come back in time (e.g. the database hangs).
            tracing::error!("the leader lease lapsed before it could be renewed; stepping down");
            held = None;
            tx.send_replace(None);
        }
    }
    tx.send_replace(None);
    if let Some((token, _)) = held {
        match release(&db, &holder, token).await {
            Ok(true) => tracing::info!(token, "released the leader lease"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot release the leader lease; it expires on its own")
            }
        }
    }
}

async fn acquire(
    db: &Db,
    holder: &str,
    now: i64,
    expires: i64,
) -> Result<Option<i64>, db::DbError> {
    // Look before writing: while another holder's lease is valid, a follower's poll is
    // one read. (On SQLite every write statement takes the one writer lock, and a
    // follower polling with writes every `ttl / 10` delayed the leader's renewals on a
    // loaded machine until the lease lapsed.)
    {
        let mut c = db.conn().await?;
        if let Some(row) = db::lease::get(&mut c, LEADER_LEASE).await?
            && row.expires_at > now
        {
            return Ok(None);
        }
    }
    let mut tx = db.begin().await?;
    let got = db::lease::try_acquire(&mut tx, LEADER_LEASE, holder, now, expires).await;
    match got {
        Ok(t) => {
            tx.commit().await?;
            Ok(t)
        }
        // A serialization conflict means another replica won the race.
        Err(db::DbError::Query(sqlx::Error::Database(e)))
            if e.code().as_deref() == Some("40001") =>
        {
            let _ = tx.rollback().await;
            Ok(None)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// A renewal still running when the lease lapsed.
#[derive(Debug, thiserror::Error)]
enum RenewError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("the database did not answer before the lease lapsed")]
    TimedOut,
}

use RenewError::TimedOut as RenewTimedOut;

impl From<sqlx::Error> for RenewError {
    fn from(e: sqlx::Error) -> Self {
        RenewError::Db(e.into())
    }
}

async fn renew(db: &Db, holder: &str, token: i64, expires: i64) -> Result<bool, RenewError> {
    let mut tx = db.begin().await?;
    let ok = db::lease::renew(&mut tx, LEADER_LEASE, holder, token, expires).await?;
    tx.commit().await?;
    Ok(ok)
}

async fn release(db: &Db, holder: &str, token: i64) -> Result<bool, db::DbError> {
    let mut tx = db.begin().await?;
    let ok = db::lease::release(&mut tx, LEADER_LEASE, holder, token).await?;
    tx.commit().await?;
    Ok(ok)
}
