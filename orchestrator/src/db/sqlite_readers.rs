//! The reader pool of an SQLite file. SQLite has one writer at a time, and the main
//! pool keeps a single connection for it (no `SQLITE_BUSY` on read-to-write upgrades);
//! in WAL mode other connections read beside that writer without waiting, each
//! statement seeing what was committed before it started. The API's hot reads (the
//! session, the cluster, resource lists) use these, so a cluster sync's write
//! transactions do not queue them.

use std::str::FromStr;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

use super::{Backend, DbError};

/// Reader connections: API requests read in parallel up to this many.
const READERS: u32 = 4;

/// True when an SQLite URL names a file (an in-memory database exists once per
/// connection, so it cannot have readers of its own).
pub(super) fn on_disk(url: &str) -> bool {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .and_then(|p| p.split('?').next())
        .unwrap_or("");
    !path.is_empty() && !path.contains(":memory:") && !url.contains("mode=memory")
}

/// Opens the readers of the SQLite file at `url`, whose writer has set WAL mode.
/// `PRAGMA query_only` makes a write through them an error instead of a second writer.
pub(super) async fn pool(url: &str) -> Result<AnyPool, DbError> {
    let backend = Backend::Sqlite;
    let options =
        AnyConnectOptions::from_str(url).map_err(|source| DbError::Connect { backend, source })?;
    AnyPoolOptions::new()
        .max_connections(READERS)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("PRAGMA query_only = ON")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|source| DbError::Connect { backend, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    #[test]
    fn only_files_get_readers() {
        assert!(on_disk("sqlite://data/holdfast.db?mode=rwc"));
        assert!(on_disk("sqlite:holdfast.db"));
        assert!(!on_disk("sqlite::memory:"));
        assert!(!on_disk("sqlite://:memory:"));
        assert!(!on_disk("sqlite://file.db?mode=memory"));
        assert!(!on_disk("sqlite://"));
    }

    async fn count(db: &Db) -> i64 {
        let mut conn = db.read_conn().await.unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM scratch")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        n
    }

    #[tokio::test]
    async fn readers_read_beside_an_open_write_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
        let db = Db::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE scratch (x BIGINT NOT NULL)")
            .execute(db.pool())
            .await
            .unwrap();
        let mut tx = db.begin().await.unwrap();
        sqlx::query("INSERT INTO scratch (x) VALUES (1)")
            .execute(&mut *tx)
            .await
            .unwrap();
        // The writer's only connection is held by `tx`: a read through the writer's
        // pool would wait for it (until the 10 s acquire timeout); the readers do not.
        let during = tokio::time::timeout(Duration::from_secs(5), count(&db))
            .await
            .expect("a read waited for the open write transaction");
        assert_eq!(during, 0, "readers see only committed rows");
        tx.commit().await.unwrap();
        assert_eq!(count(&db).await, 1, "readers see the commit");
        let mut conn = db.read_conn().await.unwrap();
        let write = sqlx::query("INSERT INTO scratch (x) VALUES (2)")
            .execute(&mut *conn)
            .await;
        assert!(write.is_err(), "a reader refuses to write");
        drop(conn);
        db.close().await;
    }
}
