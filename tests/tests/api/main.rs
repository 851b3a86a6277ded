//! Black-box tests of the HTTP API, one module per area; one binary so it links once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod canteen;
mod community;
mod conversations;
mod courses;
mod deliveries;
mod hostile;
mod lists;
mod live;
mod machinery;
mod me;
mod membership;
mod operations;
mod queues;
mod volunteers;
mod wishes;
