//! Classes (课堂): courses and their sessions, enrollment first come first served in commit
//! order or by a lottery drawn at the close, a waitlist that moves by itself, reminders before
//! every session, and check-in at the door.
pub mod attendance;
pub mod dto;
pub mod lottery;
mod queue;
pub mod reminders;
pub mod routes;
pub mod service;

pub use queue::EnrolQueue;
