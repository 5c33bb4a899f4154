//! The database: one pool over SQLite (embedded default) or PostgreSQL, migrations
//! embedded in the binary. All SQL of the orchestrator lives in the `db/` modules, one
//! per aggregate, as small functions taking a connection (`&mut AnyConnection`; a
//! transaction or a pooled connection derefs to one) that the caller owns.
//!
//! Portability rules (SQLite, PostgreSQL, CockroachDB): `$n` placeholders, TEXT keys,
//! BIGINT millisecond timestamps, no serial columns, no backend-only functions.

pub mod audit;
pub mod events;
pub mod groups;
pub mod installation;
pub mod job_engine;
pub mod job_reports;
pub mod jobs;
pub mod licence;
pub mod plan_sync_warnings;
pub mod plans;
pub mod protection_groups;

pub mod clusters;
pub mod recovery_resources;
pub mod resources;
pub mod schedules;
pub mod sessions;
pub mod settings;
pub mod users;

pub mod agents;
pub mod lease;
pub mod replication;
pub mod summary;

pub mod schedule_list;
pub mod smtp;

mod sqlite_readers;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Transaction};

/// A connection or transaction that the `db/` functions run on.
pub type Tx<'c> = Transaction<'c, Any>;

/// The migrations, embedded in the binary, in order. Append; never edit a released one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "platform",
        include_str!("../migrations/0001_platform.sql"),
    ),
    (
        2,
        "clusters",
        include_str!("../migrations/0002_clusters.sql"),
    ),
    (3, "agents", include_str!("../migrations/0003_agents.sql")),
    (4, "jobs", include_str!("../migrations/0004_jobs.sql")),
    (
        5,
        "protection",
        include_str!("../migrations/0005_protection.sql"),
    ),
    (
        6,
        "replication",
        include_str!("../migrations/0006_replication.sql"),
    ),
    (
        7,
        "job_engine",
        include_str!("../migrations/0007_job_engine.sql"),
    ),
    (
        8,
        "platform_gaps",
        include_str!("../migrations/0008_platform_gaps.sql"),
    ),
    (
        9,
        "plan_facts",
        include_str!("../migrations/0009_plan_facts.sql"),
    ),
    (
        10,
        "recovery_run_epoch",
        include_str!("../migrations/0010_recovery_run_epoch.sql"),
    ),
    (
        11,
        "resource_list_index",
        include_str!("../migrations/0011_resource_list_index.sql"),
    ),
];

fn migrator() -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                (*description).into(),
                MigrationType::Simple,
                (*sql).into(),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: migrations.into(),
        ..Migrator::DEFAULT
    }
}

/// Which database engine the pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL (or a compatible server such as CockroachDB).
    Postgres,
}

/// Errors from the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no supported database.
    #[error("unsupported database URL (use postgres://... or sqlite://...)")]
    UnsupportedUrl,
    /// The data directory for SQLite could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Connecting failed.
    #[error("cannot connect to the {backend:?} database: {source}")]
    Connect {
        /// The engine.
        backend: Backend,
        /// The driver error.
        source: sqlx::Error,
    },
    /// Applying migrations failed.
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored value is not what the schema promises.
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl DbError {
    /// True when the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Query(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

/// Has PostgreSQL plan every statement of the API's read connections for its
/// parameters. Otherwise, after five runs
/// of a prepared statement it may switch to one generic plan for all values, and the
/// resource table is skewed: one kind of one cluster is 1 row or 20,000, and a plan
/// fitted to none of them (or cached before the first sync's statistics) made a
/// 10,000-row page count walk the table instead of an index (list p99 190–280 ms
/// during a sync instead of 56–69 ms, `cluster_sync_bench`). Only the read pool: the
/// recovery executor's and the sync's statements are not skewed that way, and planning
/// each of them cost the executor 10–15 % (recovery bench, same run). A server without
/// the setting (CockroachDB) keeps its default.
async fn custom_plans(conn: &mut sqlx::AnyConnection) {
    if let Err(e) =
        sqlx::Executor::execute(&mut *conn, "SET plan_cache_mode = force_custom_plan").await
    {
        tracing::debug!(error = %e, "the database does not take plan_cache_mode; keeping its default");
    }
}

/// The database handle shared by the whole orchestrator.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    /// Connections for reads that need no transaction. SQLite (a file in WAL mode): a
    /// pool of its own, so that API reads run beside the one writer instead of queueing
    /// behind its transactions. PostgreSQL: a pool whose connections plan each statement
    /// for its values ([`custom_plans`]).
    read: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects to `url`, creating the SQLite file (and its directory) when needed.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(DbError::UnsupportedUrl);
        };
        if backend == Backend::Sqlite
            && let Some(dir) = sqlite_dir(url)
        {
            std::fs::create_dir_all(&dir).map_err(|source| DbError::DataDir {
                path: dir.clone(),
                source,
            })?;
        }
        let options = AnyConnectOptions::from_str(url)
            .map_err(|source| DbError::Connect { backend, source })?;
        // SQLite allows one writer at a time; one connection avoids SQLITE_BUSY on
        // read-to-write upgrades inside transactions. PostgreSQL gets a real pool.
        let max = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 16,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(|source| DbError::Connect { backend, source })?;
        let mut read = pool.clone();
        if backend == Backend::Postgres {
            read = AnyPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        custom_plans(conn).await;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await
                .map_err(|source| DbError::Connect { backend, source })?;
        }
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(|source| DbError::Connect { backend, source })?;
            if sqlite_readers::on_disk(url) {
                read = sqlite_readers::pool(url).await?;
            }
        }
        Ok(Db {
            pool,
            read,
            backend,
        })
    }

    /// Applies every embedded migration not yet applied.
    pub async fn migrate(&self) -> Result<(), DbError> {
        migrator().run(&self.pool).await?;
        Ok(())
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for callers that run a single `db/` function outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> Result<Tx<'static>, DbError> {
        Ok(self.pool.begin().await?)
    }

    /// A pooled connection, for reads that need no transaction.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Any>, DbError> {
        Ok(self.pool.acquire().await?)
    }

    /// A connection that only reads (`PRAGMA query_only` on SQLite), for the API's hot
    /// reads: on an SQLite file it does not wait for the writer's connection, so lists
    /// stay responsive during a cluster sync. Each statement sees what was committed
    /// before it started.
    pub async fn read_conn(&self) -> Result<sqlx::pool::PoolConnection<Any>, DbError> {
        Ok(self.read.acquire().await?)
    }

    /// A trivial round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.read.close().await;
        self.pool.close().await;
    }
}

fn sqlite_dir(url: &str) -> Option<String> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    let parent = std::path::Path::new(path).parent()?;
    let parent = parent.to_str()?;
    (!parent.is_empty()).then(|| parent.to_owned())
}

/// Milliseconds since the Unix epoch for `t`.
pub fn millis(t: jiff::Timestamp) -> i64 {
    t.as_millisecond()
}

/// The timestamp for stored milliseconds.
pub fn from_millis(table: &'static str, ms: i64) -> Result<jiff::Timestamp, DbError> {
    jiff::Timestamp::from_millisecond(ms).map_err(|e| DbError::Corrupt {
        table,
        reason: e.to_string(),
    })
}
