//! Canteen (食堂): menus, reservations with prices frozen from the community's settings,
//! standing orders, the free-meal roster and the monthly report.
pub mod dto;
pub mod pricing;
pub mod report;
pub mod roster;
pub mod routes;
pub mod service;
pub mod standing;
