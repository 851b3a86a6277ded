//! The problems inbox (待处理): one list of everything a person must act on. An item is raised
//! in the same transaction as its cause, exactly once (a unique index per cause), and closed by
//! itself when the cause is dealt with through its own endpoint, or by a person with a note.
pub mod routes;
pub mod service;

pub use service::{Cause, close_for, raise};
