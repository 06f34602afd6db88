//! The Feishu simulator and the harness the end-to-end tests use to run the real host (with the
//! real plugin component) against it.

pub mod approvals;
pub mod browser;
pub mod harness;
pub mod mica;
pub mod proxy;
pub mod sim;
pub mod tls_front;
