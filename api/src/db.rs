//! Connecting to SQLite or PostgreSQL, applying migrations, and write transactions that are
//! safe on both (`jobs::write_txn`).
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// The service's pool: eight connections.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_pool(url, 8).await
}

/// A pool of at most `max_connections`.
pub async fn connect_pool(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .acquire_timeout(Duration::from_secs(10))
        // A ping before every acquire is a round trip (SQLite: a hand-off to the connection's
        // thread) on every query; only a connection idle for a while is checked first.
        .test_before_acquire(false)
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        ensure_sqlite_dir(url);
        options
            .max_connections(max_connections)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .pragma("mmap_size", "268435456")
            })
            .map_sqlx_sqlite_pool_opts(|pool| {
                pool.after_connect(|conn, _| {
                    Box::pin(async move {
                        let mut handle = conn.lock_handle().await?;
                        keep_query_plans(handle.as_raw_handle());
                        Ok(())
                    })
                })
            });
    } else {
        // Small on purpose: a hot row is served best by a few connections (see DESIGN.md).
        options.max_connections(max_connections).min_connections(1);
    }
    Database::connect(options).await
}

/// The file of a `sqlite:` URL; `None` for PostgreSQL and an in-memory database.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    if !url.starts_with("sqlite:") {
        return None;
    }
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// SQLite creates the file but not its folder.
fn ensure_sqlite_dir(url: &str) {
    if let Some(path) = sqlite_path(url)
        && let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(dir);
    }
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

pub use jobs::write_txn::{WriteTxn, write_txn};

/// Turns on SQLite's query planner stability guarantee for a connection: a statement keeps
/// the plan it was prepared with whatever values are bound later. Without it, a statement whose
/// plan looked at a bound value (a range on an indexed column, with the bundled SQLite's STAT4)
/// is compiled again on every execution with new values (perf: about 5% of all CPU under load).
#[allow(unsafe_code)]
fn keep_query_plans(db: std::ptr::NonNull<libsqlite3_sys::sqlite3>) {
    // SAFETY: `db` is the open connection whose handle lock the caller holds; the call takes
    // two ints (on, and no pointer to report back) and touches nothing else.
    unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db.as_ptr(),
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1,
            std::ptr::null_mut::<i32>(),
        );
    }
}
