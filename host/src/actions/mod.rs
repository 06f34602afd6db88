//! Decisions taken on cards: the seal on a card's buttons (`seal`), and a click taken from
//! Feishu's callback to Mica (`click`). The plugin draws the buttons and verifies the callback;
//! which card, which requisition and whose decision it is, the host decides.

pub mod click;
pub mod seal;

pub use seal::CardSeal;

/// Plugin ids may not start with this: the kv namespaces that do are the host's.
pub const HOST_KV_PREFIX: &str = "@";
