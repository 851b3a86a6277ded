//! Welfare alerts (上门查看): a member expected a delivered meal and did not open the door. The
//! alert goes at once, on the `urgent` queue, to the grid leaders of the member's unit and every
//! node above it and to the community's staff; unacknowledged, it goes again to everyone.
pub mod dto;
pub mod routes;
pub mod service;
