//! Conversations (私信): people who met through Linli talk without learning each other's phone
//! number. Opened by the domain (a wish's claim, a delivery's acceptance) or by staff; numbered
//! gaplessly per conversation; every text checked before anyone else sees it; pushed live.
pub mod context;
pub mod dto;
pub mod live;
pub mod oversight;
pub mod routes;
pub mod send;
pub mod service;
