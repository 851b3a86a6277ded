//! In-app notifications, WeChat subscribe-message grants, and the operators' view of the queues.
pub mod admin;
pub mod dto;
pub mod routes;
pub mod service;
