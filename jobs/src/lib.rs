//! Linli's background machinery: the clock, Redis access, the outbox and its relay, the queue
//! workers, the scheduler, notifications, and the WeChat client.
pub mod clock;
pub mod lock;
pub mod notify;
pub mod outbox;
pub mod redis_store;
pub mod runtime;
pub mod scheduler;
pub mod wechat;
pub mod write_txn;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use redis_store::RedisStore;
