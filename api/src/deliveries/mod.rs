//! Deliveries (送餐): meals carried to members by volunteers. Assignment runs on the `dispatch`
//! queue; a door that stays closed raises a welfare alert on the `urgent` queue.
pub mod dispatch;
pub mod dto;
pub mod routes;
pub mod service;
