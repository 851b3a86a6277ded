//! Linli's background machinery: the clock, Redis access, and the WeChat client.
//! Queues, the outbox relay, workers and the scheduler live here too.
pub mod clock;
pub mod redis_store;
pub mod wechat;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use redis_store::RedisStore;
