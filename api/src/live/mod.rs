//! Live push, the receiving half: `GET /ws` (one socket per phone), this instance's registry of
//! open sockets, its one subscription to the push channel, and the sweep that closes sockets of
//! ended logins. Frames are published with `jobs::push::Publisher` (`AppState::push`), after the
//! commit that made the news, and reach every socket of their users on every instance.
pub mod hello;
pub mod presence;
pub mod registry;
pub mod routes;
pub mod socket;
pub mod subscriber;
pub mod sweep;

pub use registry::Registry;

/// Starts this instance's subscriber and sweep (`linli serve` only: a worker has no sockets).
pub fn start(state: &crate::state::AppState) {
    tokio::spawn(subscriber::run(state.redis.clone(), state.live.clone()));
    tokio::spawn(sweep::run(state.db.clone(), state.live.clone()));
    tokio::spawn(presence::run(state.redis.clone(), state.live.clone()));
}

/// Closes the sockets of these logins at once: here directly (so it holds even while Redis is
/// down) and on every other instance through the channel. Call it after the revoking commit.
pub fn close_sessions(state: &crate::state::AppState, sessions: Vec<String>) {
    state.live.close_sessions(&sessions);
    state.push.close_sessions(sessions);
}

/// Closes the sockets of these users everywhere (their access changed); their clients
/// reconnect and get a fresh `hello`. Call it after the commit.
pub fn close_users(state: &crate::state::AppState, users: Vec<String>) {
    state.live.close_users(&users);
    state.push.close_users(users);
}
