//! Micro-wishes (微心愿): posted by residents (or staff and grid leaders on an elder's behalf),
//! claimed by volunteers and partners, delivered, and confirmed by the beneficiary.
pub mod dto;
pub mod routes;
pub mod service;
