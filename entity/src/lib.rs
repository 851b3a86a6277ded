//! Sea-orm entities: one module per table, plain data, no logic.
pub mod care_flag;
pub mod community;
pub mod dependent;
pub mod grid_node;
pub mod idempotency_key;
pub mod login_session;
pub mod notification;
pub mod outbox;
pub mod refresh_token;
pub mod role_grant;
pub mod scheduled_job;
pub mod subscription_quota;
pub mod user;
