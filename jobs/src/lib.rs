//! Linli's background machinery: the clock, Redis access, the outbox and its relay, the queue
//! workers, the scheduler, notifications, live push (publishing), and the WeChat client.
pub mod clock;
pub mod lock;
pub mod notify;
pub mod outbox;
pub mod push;
pub mod redis_store;
pub mod runtime;
pub mod scheduler;
pub mod wechat;
pub mod write_txn;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use redis_store::RedisStore;

/// Rows per multi-row insert. Every full chunk has the same statement text, so a connection
/// prepares it once; an insert of all the rows at once has a new text for every count, and
/// PostgreSQL parsed and planned each of those anew (a registration rush drained twice as
/// slowly with whole-batch inserts as with these chunks).
pub const ROWS_PER_INSERT: usize = 16;
