//! Communities (社区), their settings and grid (网格), role grants, care flags and members.
pub mod admins;
pub mod dto;
pub mod routes;
pub mod service;
pub mod settings;
pub mod users;
