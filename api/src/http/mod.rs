//! The HTTP machinery every area uses: request ids and logging, extractors that answer in the
//! error envelope, refusal of impossible paths, cursor pagination, idempotency keys, and
//! masking of personal data.
pub mod client_addr;
pub mod extract;
pub mod idempotency;
pub mod mask;
pub mod pagination;
pub mod path_guard;
pub mod request_id;

pub use client_addr::ClientAddr;
pub use extract::{Json, Query};
pub use pagination::{Cursor, Page, PageParams, after_pair, cursor_time};
