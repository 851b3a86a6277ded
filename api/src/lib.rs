//! Linli (邻里): the backend of a residential community's mini-program.
pub mod auth;
pub mod canteen;
pub mod community;
pub mod config;
pub mod conversations;
pub mod courses;
pub mod db;
pub mod deliveries;
pub mod error;
pub mod http;
pub mod instance_lock;
pub mod live;
pub mod me;
pub mod messaging;
pub mod moderation;
pub mod openapi;
pub mod ops;
pub mod problems;
pub mod startup;
pub mod state;
pub mod volunteers;
pub mod welfare;
pub mod wishes;

pub use config::Settings;
pub use startup::Application;
