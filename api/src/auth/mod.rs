//! Logins (WeChat and dev), access and refresh tokens, logout, and who the caller is.
pub mod current_user;
pub mod dto;
pub mod rate_limit;
pub mod roles;
pub mod routes;
pub mod service;
pub mod token;

pub use current_user::CurrentUser;
pub use roles::Role;
