//! Classes (课堂): courses and their sessions, enrollment first come first served in commit
//! order, and a waitlist that moves by itself.
pub mod attendance;
pub mod dto;
pub mod routes;
pub mod service;
