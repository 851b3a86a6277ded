//! Volunteers (志愿者): applications and their review, teams, availability, the service-hours
//! ledger and the monthly leaderboard.
pub mod dto;
pub mod hours;
pub mod routes;
pub mod service;
