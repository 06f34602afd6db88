//! The approval provider: payment approvals in Feishu's approval app, and the callbacks that
//! report their decisions.

pub mod create;
pub mod form;
pub mod webhook;
