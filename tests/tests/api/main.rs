//! Black-box tests of the HTTP API, one module per area; one binary so it links once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod canteen;
mod community;
mod courses;
mod deliveries;
mod live;
mod machinery;
mod me;
mod membership;
mod queues;
mod volunteers;
mod wishes;
