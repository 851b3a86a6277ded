//! What every handler can reach: the database, Redis, settings, the clock, token keys, WeChat,
//! live push.
use std::sync::Arc;

use jobs::{RedisStore, SharedClock, runtime::JobContext, wechat::WeChatClient};
use sea_orm::DatabaseConnection;

use crate::{auth::token::JwtKeys, config::Settings};

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub redis: RedisStore,
    pub settings: Arc<Settings>,
    pub clock: SharedClock,
    pub jwt: JwtKeys,
    pub wechat: WeChatClient,
    /// What the job runtime needs; also used to inspect the queues.
    pub jobs: JobContext,
    /// Enrolments taken together under load (group commit).
    pub enrolments: crate::courses::EnrolQueue,
    /// Live push: publish frames and close orders after a commit (the same as `jobs.push`).
    pub push: jobs::push::Publisher,
    /// This instance's open WebSockets.
    pub live: crate::live::Registry,
}

impl AppState {
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

/// A new id: a UUIDv7, so ids sort by creation time (cursor pagination relies on it).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}
