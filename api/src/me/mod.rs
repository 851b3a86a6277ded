//! The caller's own profile and family members (dependents).
pub mod dto;
pub mod membership;
pub mod routes;
pub mod service;
