//! One `linli serve` per SQLite file. Live push, the enrolment queue and SQLite's own write
//! lock assume one serving process; several instances need PostgreSQL. An exclusive lock on
//! `<db file>.lock`, held for the process's life (the OS lets go when it exits, even on
//! `kill -9`), turns a second instance away at start instead of letting it half-work.
//! `linli worker` and `linli migrate` do not take it: they may run beside `serve`.
use std::{fs::File, fs::TryLockError, path::PathBuf};

use anyhow::Context;

/// Held while the instance runs; dropping it lets another start.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

/// Takes the lock of the SQLite database of `database_url`; `None` on PostgreSQL.
pub fn acquire(database_url: &str) -> anyhow::Result<Option<InstanceLock>> {
    let Some(db_file) = crate::db::sqlite_path(database_url) else {
        return Ok(None);
    };
    let path = lock_path(&db_file);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("DATABASE_URL: cannot create {}", dir.display()))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("DATABASE_URL: cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(InstanceLock { _file: file })),
        Err(TryLockError::WouldBlock) => Err(anyhow::anyhow!(
            "DATABASE_URL: another `linli serve` already uses the SQLite database {}; SQLite is for one instance, run several on PostgreSQL",
            db_file.display()
        )),
        Err(TryLockError::Error(err)) => Err(anyhow::Error::new(err)
            .context(format!("DATABASE_URL: cannot lock {}", path.display()))),
    }
}

fn lock_path(db_file: &std::path::Path) -> PathBuf {
    let mut name = db_file.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_of_one_sqlite_file_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("linli-lock-{}", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}/x.db?mode=rwc", dir.display());
        let first = acquire(&url);
        assert!(matches!(first, Ok(Some(_))));
        let second = acquire(&url)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            second.starts_with("DATABASE_URL: another `linli serve`"),
            "{second}"
        );
        drop(first);
        assert!(matches!(acquire(&url), Ok(Some(_))));
        assert!(matches!(acquire("postgres://x@localhost/db"), Ok(None)));
        let _ = std::fs::remove_dir_all(dir);
    }
}
