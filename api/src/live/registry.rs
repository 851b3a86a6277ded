//! This instance's open sockets: user → sockets and login → sockets, each socket with a bounded
//! outgoing queue. Whatever ends a socket (close, idle, overflow, revocation) removes it from
//! every map, and a user or login left with no socket is removed too, so nothing accumulates.
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
};

use bytestring::ByteString;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;

/// Frames a socket may have waiting; a socket further behind cannot keep up and is closed (its
/// client catches up over HTTP).
pub const QUEUE_CAPACITY: usize = 64;

/// Why a socket was closed by the server; also the metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCause {
    /// Its outgoing queue was full.
    Overflow,
    /// Its login was revoked, or its user's access changed.
    Revoked,
    /// This instance lost the push channel and may have missed frames.
    Resync,
}

impl CloseCause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Overflow => "overflow",
            Self::Revoked => "revoked",
            Self::Resync => "resync",
        }
    }
}

/// Who a socket belongs to, as known when it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub user_id: String,
    pub session_id: String,
    /// The community the user was in when the socket opened; a change closes the socket.
    pub community_id: Option<String>,
}

struct Entry {
    owner: Owner,
    tx: mpsc::Sender<ByteString>,
    close: CancellationToken,
    cause: Arc<Mutex<Option<CloseCause>>>,
}

#[derive(Default)]
struct Maps {
    sockets: HashMap<u64, Entry>,
    by_user: HashMap<String, Vec<u64>>,
    by_session: HashMap<String, Vec<u64>>,
}

/// Sizes of the maps, for tests and the metrics gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sizes {
    pub sockets: usize,
    pub users: usize,
    pub sessions: usize,
}

/// The registry; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Registry {
    maps: Arc<Mutex<Maps>>,
    next_id: Arc<AtomicU64>,
}

/// What a socket's task holds: its queue, the signal that the server closes it, and its place
/// in the registry, given back when this is dropped, however the task ends.
pub struct Registration {
    pub id: u64,
    pub frames: mpsc::Receiver<ByteString>,
    pub close: CancellationToken,
    cause: Arc<Mutex<Option<CloseCause>>>,
    registry: Registry,
}

impl Registration {
    /// Why the server closed it, if it did.
    pub fn cause(&self) -> Option<CloseCause> {
        *lock(&self.cause)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

/// A poisoned lock only means another thread panicked while holding it; the maps stay usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn forget(index: &mut HashMap<String, Vec<u64>>, key: &str, id: u64) {
    if let Some(ids) = index.get_mut(key) {
        ids.retain(|other| *other != id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

impl Maps {
    fn take(&mut self, id: u64) -> Option<Entry> {
        let entry = self.sockets.remove(&id)?;
        forget(&mut self.by_user, &entry.owner.user_id, id);
        forget(&mut self.by_session, &entry.owner.session_id, id);
        metrics::gauge!("ws_open_sockets").decrement(1.0);
        Some(entry)
    }

    /// Removes the socket and tells its task to close.
    fn close(&mut self, id: u64, cause: CloseCause) {
        if let Some(entry) = self.take(id) {
            *lock(&entry.cause) = Some(cause);
            entry.close.cancel();
            metrics::counter!("ws_closed_total", "reason" => cause.as_str()).increment(1);
        }
    }
}

impl Registry {
    /// Adds a socket of this owner.
    pub fn register(&self, owner: Owner) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, frames) = mpsc::channel(QUEUE_CAPACITY);
        let close = CancellationToken::new();
        let cause = Arc::new(Mutex::new(None));
        let mut maps = lock(&self.maps);
        maps.by_user
            .entry(owner.user_id.clone())
            .or_default()
            .push(id);
        maps.by_session
            .entry(owner.session_id.clone())
            .or_default()
            .push(id);
        maps.sockets.insert(
            id,
            Entry {
                owner,
                tx,
                close: close.clone(),
                cause: cause.clone(),
            },
        );
        metrics::gauge!("ws_open_sockets").increment(1.0);
        Registration {
            id,
            frames,
            close,
            cause,
            registry: self.clone(),
        }
    }

    /// Forgets a socket (its task has ended). Removing one already gone does nothing.
    pub fn remove(&self, id: u64) {
        lock(&self.maps).take(id);
    }

    /// Queues `frame` on every socket of these users; a socket whose queue is full is closed.
    pub fn deliver(&self, users: &[String], frame: &ByteString) {
        let mut maps = lock(&self.maps);
        let ids: Vec<u64> = users
            .iter()
            .filter_map(|user| maps.by_user.get(user))
            .flatten()
            .copied()
            .collect();
        for id in ids {
            let sent = match maps.sockets.get(&id) {
                Some(entry) => entry.tx.try_send(frame.clone()),
                None => continue,
            };
            match sent {
                Ok(()) => metrics::counter!("ws_frames_queued_total").increment(1),
                Err(TrySendError::Full(_)) => maps.close(id, CloseCause::Overflow),
                // The task is gone and its registration is being dropped.
                Err(TrySendError::Closed(_)) => {
                    maps.take(id);
                }
            }
        }
    }

    /// Closes every socket of these logins.
    pub fn close_sessions(&self, sessions: &[String]) {
        let mut maps = lock(&self.maps);
        let ids: Vec<u64> = sessions
            .iter()
            .filter_map(|s| maps.by_session.get(s))
            .flatten()
            .copied()
            .collect();
        for id in ids {
            maps.close(id, CloseCause::Revoked);
        }
    }

    /// Closes every socket of these users.
    pub fn close_users(&self, users: &[String]) {
        let mut maps = lock(&self.maps);
        let ids: Vec<u64> = users
            .iter()
            .filter_map(|u| maps.by_user.get(u))
            .flatten()
            .copied()
            .collect();
        for id in ids {
            maps.close(id, CloseCause::Revoked);
        }
    }

    /// Closes every socket, for this cause.
    pub fn close_all(&self, cause: CloseCause) {
        let mut maps = lock(&self.maps);
        let ids: Vec<u64> = maps.sockets.keys().copied().collect();
        for id in ids {
            maps.close(id, cause);
        }
    }

    /// The owners of the open sockets, one per socket, with its id.
    pub fn owners(&self) -> Vec<(u64, Owner)> {
        lock(&self.maps)
            .sockets
            .iter()
            .map(|(id, entry)| (*id, entry.owner.clone()))
            .collect()
    }

    /// Closes these sockets (their login or access ended).
    pub fn close_sockets(&self, ids: &[u64], cause: CloseCause) {
        let mut maps = lock(&self.maps);
        for id in ids {
            maps.close(*id, cause);
        }
    }

    pub fn sizes(&self) -> Sizes {
        let maps = lock(&self.maps);
        Sizes {
            sockets: maps.sockets.len(),
            users: maps.by_user.len(),
            sessions: maps.by_session.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(user: &str, session: &str) -> Owner {
        Owner {
            user_id: user.into(),
            session_id: session.into(),
            community_id: None,
        }
    }

    #[tokio::test]
    async fn a_frame_reaches_every_socket_of_its_user_only() {
        let registry = Registry::default();
        let mut a1 = registry.register(owner("a", "s1"));
        let mut a2 = registry.register(owner("a", "s2"));
        let mut b = registry.register(owner("b", "s3"));
        registry.deliver(&["a".into()], &ByteString::from_static("hi"));
        assert_eq!(a1.frames.try_recv().ok().as_deref(), Some("hi"));
        assert_eq!(a2.frames.try_recv().ok().as_deref(), Some("hi"));
        assert!(b.frames.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_socket_that_cannot_keep_up_is_closed_and_forgotten() {
        let registry = Registry::default();
        let slow = registry.register(owner("a", "s1"));
        let mut quick = registry.register(owner("a", "s2"));
        for _ in 0..QUEUE_CAPACITY {
            registry.deliver(&["a".into()], &ByteString::from_static("x"));
            assert!(quick.frames.try_recv().is_ok());
        }
        assert!(!slow.close.is_cancelled());
        registry.deliver(&["a".into()], &ByteString::from_static("one too many"));
        assert!(slow.close.is_cancelled());
        assert_eq!(slow.cause(), Some(CloseCause::Overflow));
        assert!(!quick.close.is_cancelled());
        assert_eq!(
            registry.sizes(),
            Sizes {
                sockets: 1,
                users: 1,
                sessions: 1
            }
        );
        drop(slow);
        drop(quick);
        assert_eq!(registry.sizes(), Sizes::default());
    }

    #[tokio::test]
    async fn closing_a_login_or_a_user_leaves_nothing_behind() {
        let registry = Registry::default();
        let s1 = registry.register(owner("a", "s1"));
        let s2 = registry.register(owner("a", "s2"));
        let other = registry.register(owner("b", "s3"));
        registry.close_sessions(&["s1".into()]);
        assert!(s1.close.is_cancelled() && !s2.close.is_cancelled());
        assert_eq!(s1.cause(), Some(CloseCause::Revoked));
        registry.close_users(&["a".into()]);
        assert!(s2.close.is_cancelled() && !other.close.is_cancelled());
        assert_eq!(
            registry.sizes(),
            Sizes {
                sockets: 1,
                users: 1,
                sessions: 1
            }
        );
        drop(other);
        assert_eq!(registry.sizes(), Sizes::default());
        // The tasks of closed sockets end later; their removal changes nothing.
        drop((s1, s2));
        assert_eq!(registry.sizes(), Sizes::default());
    }
}
